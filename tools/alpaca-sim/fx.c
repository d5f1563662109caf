/* fx.c -- exact decimal parsing and formatting (see fx.h).
 *
 * Owns the conversion between Alpaca's decimal text and the integer units
 * the order book computes with.  Nothing here touches shared state. */
#include "fx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fx_money_t fx_pow10(int n)
{
    fx_money_t p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* Reads an exponent [eE][+-]digits at *pp, if there is one, into *exp10
 * and moves *pp past it. */
static fx_status_t fx_exponent(const char **pp, int allow_exp, long *exp10)
{
    const char *p = *pp;
    *exp10 = 0;
    if (*p != 'e' && *p != 'E')
        return FX_OK;
    if (!allow_exp)
        return FX_SYNTAX;
    p++;
    int eneg = 0;
    if (*p == '+' || *p == '-')
        eneg = (*p++ == '-');
    if (!(*p >= '0' && *p <= '9'))
        return FX_SYNTAX;
    while (*p >= '0' && *p <= '9') {
        *exp10 = *exp10 * 10 + (*p - '0');
        if (*exp10 > 400)
            return FX_RANGE;
        p++;
    }
    if (eneg)
        *exp10 = -*exp10;
    *pp = p;
    return FX_OK;
}

/* The digits digits[0..nd) times 10^shift, into *out; digits a negative
 * shift drops must all be zero. */
static fx_status_t fx_shift(const char *digits, size_t nd, long shift, int64_t *out)
{
    fx_money_t v = 0;
    const fx_money_t limit = (fx_money_t)INT64_MAX;
    size_t keep = nd;
    if (shift < 0) {
        if ((long)nd + shift < 0) {
            for (size_t i = 0; i < nd; i++)
                if (digits[i] != '0')
                    return FX_PRECISION;
            *out = 0;
            return FX_OK;
        }
        keep = nd - (size_t)(-shift);
        for (size_t i = keep; i < nd; i++)
            if (digits[i] != '0')
                return FX_PRECISION;
    }
    for (size_t i = 0; i < keep; i++) {
        v = v * 10 + (digits[i] - '0');
        if (v > limit)
            return FX_RANGE;
    }
    for (long i = 0; i < shift; i++) {
        v *= 10;
        if (v > limit)
            return FX_RANGE;
    }
    *out = (int64_t)v;
    return FX_OK;
}

fx_status_t fx_parse(const char *s, int scale, int allow_exp, int64_t *out)
{
    const char *p = s;
    int negative = 0;
    if (*p == '-') {
        negative = 1;
        p++;
    }
    /* Collect the digits without the point, remembering where it was. */
    char digits[80];
    size_t nd = 0;
    int frac_digits = 0, seen_point = 0, int_digits = 0;
    while (*p) {
        if (*p >= '0' && *p <= '9') {
            if (nd + 1 >= sizeof(digits))
                return FX_RANGE;
            digits[nd++] = *p;
            if (seen_point)
                frac_digits++;
            else
                int_digits++;
        } else if (*p == '.' && !seen_point) {
            seen_point = 1;
        } else {
            break;
        }
        p++;
    }
    if (int_digits == 0 || (seen_point && frac_digits == 0))
        return FX_SYNTAX;
    long exp10;
    fx_status_t st = fx_exponent(&p, allow_exp, &exp10);
    if (st != FX_OK)
        return st;
    if (*p != '\0')
        return FX_SYNTAX;
    /* value = digits * 10^(exp10 - frac_digits); we want value * 10^scale. */
    int64_t v;
    st = fx_shift(digits, nd, exp10 - frac_digits + scale, &v);
    if (st == FX_OK)
        *out = negative ? -v : v;
    return st;
}

int fx_json_text(const json_t *v, char *buf, size_t len, int *is_number)
{
    *is_number = 0;
    if (json_is_string(v)) {
        if (json_string_length(v) + 1 > len)
            return -1;
        memcpy(buf, json_string_value(v), json_string_length(v) + 1);
        return 0;
    }
    *is_number = 1;
    if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        /* The shortest text that reads back as the same double is the
         * text the sender most likely wrote. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, len, "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                return 0;
        }
        return 0;
    }
    return -1;
}

char *fx_format(char *buf, size_t len, fx_money_t v, int scale)
{
    char tmp[FX_TEXT_MAX];
    int negative = v < 0;
    unsigned __int128 u = negative ? (unsigned __int128)(-v) : (unsigned __int128)v;
    size_t n = 0;
    /* Write digits backwards, at least scale+1 of them. */
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while ((u > 0 || n <= (size_t)scale) && n < sizeof(tmp));
    /* tmp[0..scale-1] are fraction digits (reversed). */
    size_t first = 0;
    while ((int)first < scale && tmp[first] == '0')
        first++;
    char out[FX_TEXT_MAX + 4];
    size_t o = 0;
    if (negative)
        out[o++] = '-';
    for (size_t i = n; i > (size_t)scale; i--)
        out[o++] = tmp[i - 1];
    if ((int)first < scale) {
        out[o++] = '.';
        for (size_t i = (size_t)scale; i > first; i--)
            out[o++] = tmp[i - 1];
    }
    out[o] = '\0';
    if (strcmp(out, "-0") == 0)
        strcpy(out, "0");
    snprintf(buf, len, "%s", out);
    return buf;
}

fx_money_t fx_rescale(fx_money_t v, int from, int to)
{
    if (to >= from)
        return v * fx_pow10(to - from);
    fx_money_t d = fx_pow10(from - to);
    fx_money_t q = v / d, r = v % d;
    if (r < 0)
        r = -r;
    if (r * 2 >= d)
        q += v < 0 ? -1 : 1;
    return q;
}

fx_money_t fx_qty_times_price(int64_t qty, int64_t price)
{
    return (fx_money_t)qty * (fx_money_t)price;
}

fx_money_t fx_notional_qty(int64_t cents, int64_t price)
{
    return fx_rescale(cents, 2, FX_MONEY_SCALE) / price;
}

json_t *fx_json_string(fx_money_t v, int scale)
{
    char buf[FX_TEXT_MAX];
    return json_string(fx_format(buf, sizeof(buf), v, scale));
}

json_t *fx_json_price_number(int64_t price)
{
    return json_real((double)price / 10000.0);
}
