/* decimal.c -- exact decimal numbers: parsing to canonical text, comparing.
 *
 * Owns the one conversion from what a client sent ("10", 0.5, 1.5e2) to the
 * canonical decimal text the rest of the worker stores and sends.  Nothing
 * here goes through a double: the digits are copied, the exponent only moves
 * the decimal point.  Pure functions, no state, safe from any thread. */
#include <string.h>

#include "decimal.h"

/* Exponents are accumulated up to this bound and saturate there; any number
 * that needs a larger shift is far outside DECIMAL_MAX_TEXT anyway. */
#define DECIMAL_EXP_CAP 1000000000000000LL

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Digit k of the concatenation integer-digits ++ fraction-digits. */
static char digit_at(const char *s, size_t int_start, size_t int_len,
                     size_t frac_start, long long k) {
    if ((size_t)k < int_len) return s[int_start + (size_t)k];
    return s[frac_start + ((size_t)k - int_len)];
}

decimal_status_t decimal_parse(const char *s, size_t len, int allow_exponent,
                               decimal_t *out) {
    size_t i = 0, int_start, int_len, frac_start = 0, frac_len = 0;
    long long exp = 0, ndigits, first, last, point, n, total, pos;
    int neg = 0;
    char *p;

    memset(out, 0, sizeof(*out));
    if (i < len && s[i] == '-') {
        neg = 1;
        i++;
    }
    int_start = i;
    while (i < len && is_digit(s[i])) i++;
    int_len = i - int_start;
    if (int_len == 0) return DECIMAL_SYNTAX;
    /* JSON numbers forbid leading zeros ("01"); strings may have them. */
    if (allow_exponent && int_len > 1 && s[int_start] == '0')
        return DECIMAL_SYNTAX;
    if (i < len && s[i] == '.') {
        i++;
        frac_start = i;
        while (i < len && is_digit(s[i])) i++;
        frac_len = i - frac_start;
        if (frac_len == 0) return DECIMAL_SYNTAX;
    }
    if (allow_exponent && i < len && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        size_t estart;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            eneg = s[i] == '-';
            i++;
        }
        estart = i;
        while (i < len && is_digit(s[i])) {
            if (exp < DECIMAL_EXP_CAP) exp = exp * 10 + (s[i] - '0');
            i++;
        }
        if (i == estart) return DECIMAL_SYNTAX;
        if (eneg) exp = -exp;
    }
    if (i != len) return DECIMAL_SYNTAX;

    /* The digits D = integer ++ fraction; the decimal point sits after
     * int_len + exp of them.  Keep only D[first..last], the significant
     * digits, and place the point relative to them. */
    ndigits = (long long)(int_len + frac_len);
    first = 0;
    while (first < ndigits &&
           digit_at(s, int_start, int_len, frac_start, first) == '0')
        first++;
    if (first == ndigits) {
        strcpy(out->text, "0");
        out->zero = 1;
        return DECIMAL_OK;
    }
    last = ndigits - 1;
    while (digit_at(s, int_start, int_len, frac_start, last) == '0') last--;
    n = last - first + 1;
    point = (long long)int_len + exp - first; /* digits of sig before '.' */

    if (point >= n) total = point;              /* 1200 */
    else if (point <= 0) total = 2 - point + n; /* 0.0012 */
    else total = n + 1;                         /* 12.5 */
    if (total + neg + 1 > DECIMAL_MAX_TEXT) return DECIMAL_RANGE;

    p = out->text;
    if (neg) *p++ = '-';
    if (point >= n) {
        for (pos = 0; pos < n; pos++)
            *p++ = digit_at(s, int_start, int_len, frac_start, first + pos);
        for (pos = n; pos < point; pos++) *p++ = '0';
        out->scale = 0;
    } else if (point <= 0) {
        *p++ = '0';
        *p++ = '.';
        for (pos = point; pos < 0; pos++) *p++ = '0';
        for (pos = 0; pos < n; pos++)
            *p++ = digit_at(s, int_start, int_len, frac_start, first + pos);
        out->scale = (int)(n - point);
    } else {
        for (pos = 0; pos < n; pos++) {
            if (pos == point) *p++ = '.';
            *p++ = digit_at(s, int_start, int_len, frac_start, first + pos);
        }
        out->scale = (int)(n - point);
    }
    *p = '\0';
    out->negative = neg;
    return DECIMAL_OK;
}

/* Compares the magnitudes of two canonical texts (sign already removed). */
static int cmp_magnitude(const char *a, const char *b) {
    size_t ai = strcspn(a, "."), bi = strcspn(b, ".");
    int c;

    /* Canonical integer parts have no leading zeros: longer is larger. */
    if (ai != bi) return ai < bi ? -1 : 1;
    c = memcmp(a, b, ai);
    if (c != 0) return c < 0 ? -1 : 1;
    a += ai;
    b += bi;
    if (*a == '.') a++;
    if (*b == '.') b++;
    while (*a || *b) {
        char da = *a ? *a : '0', db = *b ? *b : '0';
        if (da != db) return da < db ? -1 : 1;
        if (*a) a++;
        if (*b) b++;
    }
    return 0;
}

int decimal_cmp(const decimal_t *a, const decimal_t *b) {
    int m;

    if (a->negative != b->negative) return a->negative ? -1 : 1;
    m = cmp_magnitude(a->text + a->negative, b->text + b->negative);
    return a->negative ? -m : m;
}

/* ---- fixed point ------------------------------------------------------- */

#define NANOS_PER_UNIT 1000000000
#define NANOS_MAX ((decimal_nanos_t)(((unsigned __int128)1 << 127) - 1))

int decimal_to_nanos(const decimal_t *d, decimal_nanos_t *out) {
    const char *t = d->text + (d->negative ? 1 : 0);
    decimal_nanos_t v = 0;
    int frac = -1, round_up = 0;
    for (; *t; t++) {
        if (*t == '.') {
            frac = 0;
            continue;
        }
        if (frac >= 9) {
            /* The first dropped digit decides the rounding. */
            if (frac == 9) round_up = *t >= '5';
            frac++;
            continue;
        }
        if (v > ((decimal_nanos_t)1 << 100)) return -1;
        v = v * 10 + (*t - '0');
        if (frac >= 0) frac++;
    }
    /* Scaling to 1e-9 must not overflow either (31 integer digits did). */
    for (int f = frac < 0 ? 0 : frac > 9 ? 9 : frac; f < 9; f++) {
        if (v > NANOS_MAX / 10) return -1;
        v *= 10;
    }
    v += round_up;
    *out = d->negative ? -v : v;
    return 0;
}

void decimal_from_nanos(decimal_nanos_t v, decimal_t *out) {
    char digits[64];
    int n = 0, neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-v) : (unsigned __int128)v;
    do {
        digits[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    while (n < 10) digits[n++] = '0';  /* at least one integer digit */
    /* digits[] is reversed: digits[0..8] are the fraction. */
    int first_frac = 0;
    while (first_frac < 9 && digits[first_frac] == '0') first_frac++;
    char *o = out->text;
    if (neg) *o++ = '-';
    for (int i = n - 1; i >= 9; i--) *o++ = digits[i];
    out->scale = 0;
    if (first_frac < 9) {
        *o++ = '.';
        for (int i = 8; i >= first_frac; i--) *o++ = digits[i];
        out->scale = 9 - first_frac;
    }
    *o = '\0';
    out->negative = neg;
    out->zero = v == 0;
}

int decimal_text_to_nanos(const char *text, decimal_nanos_t *out) {
    if (!text || !*text) {
        *out = 0;
        return 0;
    }
    decimal_t d;
    if (decimal_parse(text, strlen(text), 1, &d) != DECIMAL_OK) return -1;
    return decimal_to_nanos(&d, out);
}

decimal_nanos_t decimal_fill_price(decimal_nanos_t qty1, decimal_nanos_t avg1,
                                   decimal_nanos_t qty2, decimal_nanos_t avg2) {
    /* Products are in 1e-18; one division brings the result back to 1e-9. */
    decimal_nanos_t num = avg2 * qty2 - avg1 * qty1;
    decimal_nanos_t den = qty2 - qty1;
    decimal_nanos_t q = num / den, r = num % den;
    if (r < 0) r = -r;
    if (2 * r >= (den < 0 ? -den : den)) q += num < 0 ? -1 : 1;
    return q;
}

decimal_nanos_t decimal_nanos_round(decimal_nanos_t v, int places) {
    decimal_nanos_t unit = 1;
    for (int i = places; i < 9; i++) unit *= 10;
    decimal_nanos_t r = v % unit, q = v - r;
    if (r < 0) r = -r;
    if (2 * r >= unit) q += v < 0 ? -unit : unit;
    return q;
}
