/* fuzz_decimal.c -- libFuzzer target for worker/decimal.c.
 *
 * Owns the hostile-input checks of the exact decimals every quantity and
 * price goes through: decimal_parse in both modes (JSON string: no
 * exponent; JSON number lexeme: exponent), decimal_cmp, the fixed-point
 * conversions (decimal_to_nanos, decimal_from_nanos, decimal_text_to_nanos)
 * and the fill arithmetic (decimal_nanos_round, decimal_fill_price).  Why:
 * these run on bytes from bots and from the broker, and a wrong digit is
 * money, so beyond crashes the target asserts the invariants the rest of
 * the worker relies on and traps (abort) when one fails:
 *
 *   - a parsed value's text is canonical: parsing it again (either mode)
 *     gives the same text, scale, sign and zero flag; scale counts its
 *     fraction digits; it fits DECIMAL_MAX_TEXT;
 *   - without an exponent the two modes agree, except that the string mode
 *     also accepts leading zeros ("007");
 *   - nanos: every value with at most 20 integer digits converts; a value
 *     with at most 9 fraction digits comes back from decimal_from_nanos as
 *     the same text, a longer one as its rounding, which converts back to
 *     the same nanos; decimal_text_to_nanos agrees with parse + to_nanos;
 *   - decimal_cmp is antisymmetric, 0 on itself and orders values as their
 *     nanos do when both convert exactly;
 *   - decimal_nanos_round gives a multiple of the unit within half a unit
 *     (below 2^120 nanos);
 *     decimal_fill_price rounds (avg2*qty2 - avg1*qty1) / (qty2 - qty1)
 *     correctly for realistic magnitudes (it documents none larger).
 *
 * Input: up to 4 lines ('\n'); each line is a decimal text checked as
 * above, and with four lines that all convert, they are qty1, avg1, qty2,
 * avg2 for decimal_fill_price.  No state between runs. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "fuzz.h"

#define FUZZ_MAX_LINES 4

static int fuzz_same(const decimal_t *a, const decimal_t *b) {
    return !strcmp(a->text, b->text) && a->scale == b->scale &&
           a->negative == b->negative && a->zero == b->zero;
}

static int fuzz_sign(decimal_nanos_t v) {
    return v < 0 ? -1 : v > 0;
}

/* The shape of a canonical text, and that it parses to itself. */
static void fuzz_check_canonical(const decimal_t *d) {
    size_t n = strnlen(d->text, DECIMAL_MAX_TEXT);
    FUZZ_ASSERT(n > 0 && n < DECIMAL_MAX_TEXT);
    const char *dot = strchr(d->text, '.');
    FUZZ_ASSERT(d->scale == (dot ? (int)(n - (size_t)(dot - d->text) - 1) : 0));
    FUZZ_ASSERT(d->negative == (d->text[0] == '-'));
    FUZZ_ASSERT(d->zero == !strcmp(d->text, "0"));
    if (dot) FUZZ_ASSERT(d->text[n - 1] != '0');
    size_t int_digits = strcspn(d->text + d->negative, ".");
    FUZZ_ASSERT(int_digits >= 1 && (int_digits == 1 || d->text[d->negative] != '0'));
    decimal_t again;
    FUZZ_ASSERT(decimal_parse(d->text, n, 0, &again) == DECIMAL_OK);
    FUZZ_ASSERT(fuzz_same(d, &again));
    FUZZ_ASSERT(decimal_parse(d->text, n, 1, &again) == DECIMAL_OK);
    FUZZ_ASSERT(fuzz_same(d, &again));
    FUZZ_ASSERT(decimal_cmp(d, &again) == 0);
}

/* Integer digits of a canonical text. */
static size_t fuzz_int_digits(const decimal_t *d) {
    return strcspn(d->text + d->negative, ".");
}

/* Checks one decimal text; returns 1 with its nanos when it converts. */
static int fuzz_one(const char *s, size_t len, decimal_nanos_t *nanos) {
    decimal_t as_string, as_number;
    decimal_status_t st0 = decimal_parse(s, len, 0, &as_string);
    decimal_status_t st1 = decimal_parse(s, len, 1, &as_number);
    FUZZ_ASSERT(st0 == DECIMAL_OK || st0 == DECIMAL_SYNTAX || st0 == DECIMAL_RANGE);
    FUZZ_ASSERT(st1 == DECIMAL_OK || st1 == DECIMAL_SYNTAX || st1 == DECIMAL_RANGE);

    /* Without an exponent the number grammar is the string grammar minus
     * leading zeros: whatever the number mode takes, the string mode takes
     * the same way. */
    if (!memchr(s, 'e', len) && !memchr(s, 'E', len) && st1 != DECIMAL_SYNTAX) {
        FUZZ_ASSERT(st0 == st1);
        if (st1 == DECIMAL_OK) FUZZ_ASSERT(fuzz_same(&as_string, &as_number));
    }
    if (st0 == DECIMAL_OK) fuzz_check_canonical(&as_string);
    const decimal_t *d = &as_number;
    decimal_nanos_t v = 0, via_text = 0;
    int ok = 0;
    if (st1 == DECIMAL_OK) {
        fuzz_check_canonical(d);
        ok = decimal_to_nanos(d, &v) == 0;
    }

    /* decimal_text_to_nanos is parse (number grammar) + to_nanos; an empty
     * text is 0. */
    if (!memchr(s, '\0', len)) {
        char *z = malloc(len + 1);
        FUZZ_ASSERT(z != NULL);
        if (len) memcpy(z, s, len);
        z[len] = '\0';
        int ok_text = decimal_text_to_nanos(z, &via_text) == 0;
        free(z);
        if (len == 0) {
            FUZZ_ASSERT(ok_text && via_text == 0);
        } else {
            FUZZ_ASSERT(ok_text == ok);
            if (ok) FUZZ_ASSERT(via_text == v);
        }
    }
    if (st1 != DECIMAL_OK) return 0;
    if (fuzz_int_digits(d) <= 20) FUZZ_ASSERT(ok);
    if (!ok) return 0;
    FUZZ_ASSERT(fuzz_sign(v) == (d->zero ? 0 : d->negative ? -1 : 1) ||
                (v == 0 && d->scale > 9));

    /* Back to text: exact when it had at most 9 fraction digits, else the
     * rounding, which is a fixed point of the conversion. */
    decimal_t back;
    decimal_from_nanos(v, &back);
    fuzz_check_canonical(&back);
    if (d->scale <= 9) FUZZ_ASSERT(fuzz_same(d, &back));
    decimal_nanos_t v2;
    FUZZ_ASSERT(decimal_to_nanos(&back, &v2) == 0 && v2 == v);

    /* Rounding to 0..9 places: a multiple of the unit within half of it
     * (for values below 2^120 nanos: it rounds fill prices, and it does
     * not claim to round values at the edge of 128 bits). */
    decimal_nanos_t unit = 1000000000, bound = (decimal_nanos_t)1 << 120;
    for (int places = 0; places <= 9 && v < bound && v > -bound; places++, unit /= 10) {
        decimal_nanos_t r = decimal_nanos_round(v, places);
        decimal_nanos_t diff = r > v ? r - v : v - r;
        FUZZ_ASSERT(r % unit == 0);
        FUZZ_ASSERT(2 * diff <= unit);
        if (places == 9) FUZZ_ASSERT(r == v);
    }
    *nanos = v;
    return 1;
}

/* Realistic bounds for the fill arithmetic: a billion shares (1e18 nanos)
 * at up to a million dollars (1e15 nanos); products stay far inside
 * 128 bits. */
#define FUZZ_MAX_QTY ((decimal_nanos_t)1000000000 * 1000000000)
#define FUZZ_MAX_PRICE ((decimal_nanos_t)1000000 * 1000000000)

static void fuzz_fill_price(const decimal_nanos_t v[4]) {
    decimal_nanos_t q1 = v[0], a1 = v[1], q2 = v[2], a2 = v[3];
    if (q1 < 0 || q2 <= q1 || q2 > FUZZ_MAX_QTY || a1 < 0 || a2 < 0 ||
        a1 > FUZZ_MAX_PRICE || a2 > FUZZ_MAX_PRICE)
        return;
    decimal_nanos_t p = decimal_fill_price(q1, a1, q2, a2);
    decimal_nanos_t num = a2 * q2 - a1 * q1, den = q2 - q1;
    decimal_nanos_t err = p * den - num;
    if (err < 0) err = -err;
    FUZZ_ASSERT(2 * err <= den);
}

/* Cross-line checks: cmp is antisymmetric and agrees with the nanos. */
static void fuzz_pair(const char *a, size_t alen, const char *b, size_t blen) {
    decimal_t x, y;
    if (decimal_parse(a, alen, 1, &x) != DECIMAL_OK ||
        decimal_parse(b, blen, 1, &y) != DECIMAL_OK)
        return;
    int c = decimal_cmp(&x, &y);
    FUZZ_ASSERT(c >= -1 && c <= 1);
    FUZZ_ASSERT(decimal_cmp(&y, &x) == -c);
    decimal_nanos_t nx, ny;
    if (x.scale <= 9 && y.scale <= 9 && decimal_to_nanos(&x, &nx) == 0 &&
        decimal_to_nanos(&y, &ny) == 0)
        FUZZ_ASSERT(c == (nx < ny ? -1 : nx > ny));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    const char *line[FUZZ_MAX_LINES];
    size_t len[FUZZ_MAX_LINES];
    decimal_nanos_t v[FUZZ_MAX_LINES];
    int n = 0, all_ok = 1;

    while (n < FUZZ_MAX_LINES) {
        const char *nl = memchr(s, '\n', size - (size_t)(s - (const char *)data));
        line[n] = s;
        len[n] = nl ? (size_t)(nl - s) : size - (size_t)(s - (const char *)data);
        n++;
        if (!nl) break;
        s = nl + 1;
    }
    for (int i = 0; i < n; i++)
        if (!fuzz_one(line[i], len[i], &v[i])) all_ok = 0;
    for (int i = 0; i + 1 < n; i++) fuzz_pair(line[i], len[i], line[i + 1], len[i + 1]);
    if (n == FUZZ_MAX_LINES && all_ok) fuzz_fill_price(v);
    return 0;
}
