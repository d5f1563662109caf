/* fx.h -- exact fixed-point numbers for the simulator (prefix fx_).
 *
 * Alpaca sends and receives prices, quantities and money as decimal text.
 * The simulator keeps them as integers in fixed units so that arithmetic is
 * exact and the text it prints back never shows binary floating point noise:
 *   quantities   int64 in 1e-9 shares   (FX_QTY_SCALE 9)
 *   prices       int64 in 1e-4 dollars  (FX_PRICE_SCALE 4)
 *   money        __int128 in 1e-13 dollars (quantity x price, exact)
 * A number given as a JSON number is turned into the shortest decimal text
 * that reads back as the same double ("187.25", never "187.24999999").
 *
 * Why not worker/decimal.c (prefix decimal_): the worker keeps a decimal as
 * its canonical text and converts to one unit (1e-9) by rounding, because
 * it passes client decimals on unchanged.  The simulator computes with
 * integers at three scales (the money products need __int128) and must
 * refuse, not round, digits beyond a field's scale: Alpaca answers those
 * with their own errors ("at most 9 decimal places", the sub-penny rule),
 * which fx_parse's FX_PRECISION tells apart from bad syntax.  Rebuilding
 * one on the other would change answers at the edges (exponents, lengths,
 * leading zeros), so the two stay apart, each under its own prefix. */
#ifndef FX_H
#define FX_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define FX_QTY_SCALE 9
#define FX_PRICE_SCALE 4
#define FX_MONEY_SCALE 13
#define FX_TEXT_MAX 64
#define FX_SHARE 1000000000LL         /* one share in quantity units (1e-9) */
#define FX_CENT 100                   /* one cent in price units (1e-4) */

typedef __int128 fx_money_t;

typedef enum {
    FX_OK = 0,
    FX_SYNTAX,      /* not a decimal number */
    FX_PRECISION,   /* non-zero digits beyond the allowed scale */
    FX_RANGE        /* does not fit */
} fx_status_t;

/* Parses decimal text -?digits[.digits][e[+-]digits] into an integer in
 * units of 10^-scale.  The exponent form is accepted only with allow_exp
 * (text produced from a JSON number). */
fx_status_t fx_parse(const char *s, int scale, int allow_exp, int64_t *out);

/* Writes the decimal text of a JSON string, integer or real into buf.
 * Returns 0, or -1 when the value is of another JSON type or too long.
 * *is_number tells whether the value was a JSON number. */
int fx_json_text(const json_t *v, char *buf, size_t len, int *is_number);

/* Formats v (units of 10^-scale) as canonical decimal text: no exponent,
 * no trailing fraction zeros, "-" for negatives.  Returns buf. */
char *fx_format(char *buf, size_t len, fx_money_t v, int scale);

/* Rescales v from units of 10^-from to 10^-to, rounding half away from
 * zero when digits are dropped. */
fx_money_t fx_rescale(fx_money_t v, int from, int to);

/* qty (1e-9) x price (1e-4) = money (1e-13), exact. */
fx_money_t fx_qty_times_price(int64_t qty, int64_t price);

/* The quantity (1e-9 shares) that cents (1e-2 dollars) buy at price
 * (1e-4), rounded down: cents x 1e11 / price. */
fx_money_t fx_notional_qty(int64_t cents, int64_t price);

/* Builds a JSON string holding the decimal text of v. */
json_t *fx_json_string(fx_money_t v, int scale);

/* Builds a JSON real holding a price (1e-4 units); jansson prints it with
 * 15 significant digits (see server.c), which is exact for prices. */
json_t *fx_json_price_number(int64_t price);

#endif
