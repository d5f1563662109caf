/* decimal.h -- exact decimal numbers for quantities and prices.
 *
 * Money never passes through binary floating point here.  A decimal is kept
 * as its canonical text ("10", "0.5", "187.25") plus the count of fraction
 * digits, which is all the validator, the ledger (PostgreSQL numeric) and the
 * Alpaca client (JSON strings) need. */
#ifndef DECIMAL_H
#define DECIMAL_H

#include <stddef.h>

#define DECIMAL_MAX_TEXT 48  /* canonical text including the NUL */

typedef struct decimal {
    char text[DECIMAL_MAX_TEXT]; /* canonical: optional '-', no leading zeros
                                    ("0.5", not ".5" or "00.5"), no trailing
                                    fraction zeros, no exponent */
    int scale;                   /* fraction digits in text */
    int negative;                /* 1 if below zero */
    int zero;                    /* 1 if the value is zero */
} decimal_t;

typedef enum {
    DECIMAL_OK = 0,
    DECIMAL_SYNTAX,   /* not a decimal number */
    DECIMAL_RANGE     /* more digits than DECIMAL_MAX_TEXT can hold */
} decimal_status_t;

/* Parses len bytes at s.  With allow_exponent (a JSON number's lexeme) the
 * JSON number grammar is accepted, "1.5e2" included, and the value is shifted
 * exactly; without it (a JSON string) only -?digits[.digits] is accepted. */
decimal_status_t decimal_parse(const char *s, size_t len, int allow_exponent,
                               decimal_t *out);

/* -1, 0 or 1 as a is below, equal to or above b. */
int decimal_cmp(const decimal_t *a, const decimal_t *b);

/* Fixed-point arithmetic for fills: a value in billionths (1e-9), the
 * finest unit of Alpaca's quantities.  decimal_to_nanos rounds a value with
 * more than 9 fraction digits half away from zero; it returns -1 if the
 * value does not fit. */
typedef __int128 decimal_nanos_t;
int decimal_to_nanos(const decimal_t *d, decimal_nanos_t *out);
void decimal_from_nanos(decimal_nanos_t v, decimal_t *out);

/* Parses text straight to nanos with the JSON number grammar
 * (decimal_parse with allow_exponent: "1.5e2" is read, "007" is not); an
 * empty text is 0.  Returns -1 if it is not a decimal or does not fit. */
int decimal_text_to_nanos(const char *text, decimal_nanos_t *out);

/* The price of the shares filled between two cumulative states of an order:
 * (avg2 * qty2 - avg1 * qty1) / (qty2 - qty1), rounded half away from zero
 * to 1e-9.  All in nanos; qty2 must exceed qty1. */
decimal_nanos_t decimal_fill_price(decimal_nanos_t qty1, decimal_nanos_t avg1,
                                   decimal_nanos_t qty2, decimal_nanos_t avg2);

/* v rounded half away from zero to `places` fraction digits (0..9). */
decimal_nanos_t decimal_nanos_round(decimal_nanos_t v, int places);

#endif
