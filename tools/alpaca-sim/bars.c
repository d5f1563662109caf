/* bars.c -- deterministic historical bars and their pagination (see bars.h). */
#include "bars.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fx.h"
#include "market.h"
#include "rng.h"
#include "simtime.h"

#define BARS_DEFAULT_LIMIT 1000
#define BARS_MAX_LIMIT 10000
#define BARS_DAY 86400
#define BARS_DAY_OFFSET (4 * 3600)  /* daily bars at 04:00Z */
#define BARS_TOKEN_MAX 96
/* Where a page_token may start: years 0000 to 9999, the range of start
 * and end (anything wider overflowed the stepping arithmetic). */
#define BARS_MIN_T (-62167219200LL)
#define BARS_MAX_T 253402300799LL

static const char bars_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Parses a timeframe into seconds.  Returns 0 or -1. */
static int bars_timeframe(const char *s, int64_t *secs)
{
    char *end;
    if (s == NULL || !(s[0] >= '1' && s[0] <= '9'))
        return -1;
    long n = strtol(s, &end, 10);
    if (strcmp(end, "Min") == 0 && n <= 59)
        *secs = n * 60;
    else if (strcmp(end, "Hour") == 0 && n <= 23)
        *secs = n * 3600;
    else if (strcmp(end, "Day") == 0 && n == 1)
        *secs = BARS_DAY;
    else
        return -1;
    return 0;
}

/* A hash of (seed, symbol, a, b) as a number in [-1, 1]. */
static double bars_unit(uint64_t key, int64_t a, int64_t b)
{
    uint64_t h = rng_hash(key, (uint64_t)a, (uint64_t)b);
    return (double)(h >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

/* The price (1e-4, whole cents) at time t. */
static int64_t bars_price(uint64_t key, int64_t anchor, int64_t t)
{
    static const int64_t scale[] = {8 * BARS_DAY, BARS_DAY, 3600, 300, 60};
    static const double amp[] = {0.02, 0.01, 0.005, 0.0025, 0.001};
    double noise = 0;
    for (int i = 0; i < 5; i++) {
        int64_t cell = t / scale[i];
        double f = (double)(t % scale[i]) / (double)scale[i];
        double a = bars_unit(key, scale[i], cell), b = bars_unit(key, scale[i], cell + 1);
        noise += amp[i] * (a + (b - a) * f);
    }
    double cents = (double)anchor * (1.0 + noise) / FX_CENT;
    int64_t p = (cents > 0 ? (int64_t)(cents + 0.5) : 0) * FX_CENT;
    return p < FX_CENT ? FX_CENT : p;
}

/* 1 if a bar of timeframe tf starts at t (weekdays; intraday 08-24 UTC).
 * Days are floored, so that times before 1970 (negative) have sessions too:
 * truncated, no bar was ever in session there and a request starting in
 * 1011 walked a billion minutes. */
static int bars_in_session(int64_t t, int64_t tf)
{
    int64_t day = t >= 0 ? t / BARS_DAY : -((-t + BARS_DAY - 1) / BARS_DAY);
    int weekday = (int)(((day + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday (4) */
    if (weekday == 0 || weekday == 6)
        return 0;
    return tf >= BARS_DAY || t - day * BARS_DAY >= 8 * 3600;
}

static json_t *bars_one(uint64_t key, int64_t anchor, int64_t t, int64_t tf)
{
    char when[SIMTIME_LEN];
    int64_t o = bars_price(key, anchor, t), c = bars_price(key, anchor, t + tf);
    uint64_t h = rng_hash(key, (uint64_t)t, (uint64_t)tf);
    int64_t hi = (o > c ? o : c) + (int64_t)(h % 6) * FX_CENT;
    int64_t lo = (o < c ? o : c) - (int64_t)((h >> 8) % 6) * FX_CENT;
    if (lo < FX_CENT)
        lo = FX_CENT;
    int64_t v = 100 + (int64_t)((h >> 16) % 5000) * (tf / 60);
    int64_t n = 1 + v / 40;
    int64_t vw = (hi + lo + c) / 3;
    json_t *j = json_object();
    json_object_set_new(j, "t", json_string(simtime_rfc3339_s(when, sizeof(when), (time_t)t)));
    json_object_set_new(j, "o", fx_json_price_number(o));
    json_object_set_new(j, "h", fx_json_price_number(hi));
    json_object_set_new(j, "l", fx_json_price_number(lo));
    json_object_set_new(j, "c", fx_json_price_number(c));
    json_object_set_new(j, "v", json_integer(v));
    json_object_set_new(j, "n", json_integer(n));
    json_object_set_new(j, "vw", fx_json_price_number(vw));
    return j;
}

static void bars_encode(const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint32_t)(unsigned char)in[i + 2];
        out[o++] = bars_b64[(v >> 18) & 63];
        out[o++] = bars_b64[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = bars_b64[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = bars_b64[v & 63];
    }
    out[o] = '\0';
}

/* Decodes base64url text.  Returns 0 or -1. */
static int bars_decode(const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in), o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(bars_b64, in[i]);
        if (in[i] == '\0' || p == NULL)
            return -1;
        acc = (acc << 6) | (uint32_t)(p - bars_b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= outlen)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    return 0;
}

/* Reads an optional RFC 3339 value (absent or empty: def) into epoch
 * seconds.  Returns 0 or -1. */
static int bars_time_param(const char *v, int64_t def, int64_t *out)
{
    int64_t us;
    if (v == NULL || v[0] == '\0') {
        *out = def;
        return 0;
    }
    if (simtime_parse(v, &us) != 0)
        return -1;
    *out = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    return 0;
}

/* Where the page starts: start, or the page_token's time.  Returns 0 or
 * -1 (an invalid token). */
static int bars_page_start(const bars_query_t *q, int64_t *start)
{
    const char *v = q->page_token;
    if (v == NULL || v[0] == '\0')
        return 0;
    char text[BARS_TOKEN_MAX], sym[MARKET_SYMBOL_MAX + 1], tfs[16];
    long long next;
    if (strlen(v) >= BARS_TOKEN_MAX || bars_decode(v, text, sizeof(text)) != 0 ||
        sscanf(text, "%16[^|]|%15[^|]|%lld", sym, tfs, &next) != 3 ||
        strcmp(sym, q->symbol) != 0 || strcmp(tfs, q->timeframe) != 0 || next < BARS_MIN_T ||
        next > BARS_MAX_T)
        return -1;
    *start = next;
    return 0;
}

/* The validated window of q: timeframe (s), first and last time, page
 * size.  Returns 0 or -1 with err set. */
static int bars_window(const bars_query_t *q, int64_t *tf, int64_t *start, int64_t *end,
                       long *limit, apierr_t *err)
{
    int64_t now = simtime_now_us() / 1000000;
    if (!market_symbol_valid(q->symbol)) {
        apierr_setf(err, APIERR_BAD_VALUE, "invalid symbol: %.32s", q->symbol);
        return -1;
    }
    if (bars_timeframe(q->timeframe, tf) != 0) {
        apierr_setf(err, APIERR_BAD_VALUE, "invalid timeframe");
        return -1;
    }
    if (bars_time_param(q->start, now - now % BARS_DAY, start) != 0) {
        apierr_setf(err, APIERR_BAD_VALUE, "invalid start");
        return -1;
    }
    if (bars_time_param(q->end, now, end) != 0) {
        apierr_setf(err, APIERR_BAD_VALUE, "invalid end");
        return -1;
    }
    *limit = BARS_DEFAULT_LIMIT;
    if (q->limit) {
        char *e;
        *limit = strtol(q->limit, &e, 10);
        if (q->limit[0] == '\0' || *e != '\0' || *limit < 1 || *limit > BARS_MAX_LIMIT) {
            apierr_setf(err, APIERR_BAD_VALUE, "invalid limit: must be between 1 and %d",
                        BARS_MAX_LIMIT);
            return -1;
        }
    }
    if (bars_page_start(q, start) != 0) {
        apierr_setf(err, APIERR_BAD_VALUE, "invalid page_token");
        return -1;
    }
    if (*end > now)
        *end = now;
    return 0;
}

int bars_page(const bars_query_t *q, uint64_t seed, book_t *book, json_t **out,
              apierr_t *err)
{
    int64_t tf, start, end, anchor;
    long limit;
    if (bars_window(q, &tf, &start, &end, &limit, err) != 0)
        return -1;
    int64_t offset = tf >= BARS_DAY ? BARS_DAY_OFFSET : 0;
    int64_t t = start - offset;
    t = (t >= 0 ? (t + tf - 1) / tf : -((-t) / tf)) * tf + offset;

    json_t *bars = json_array();
    json_t *token = json_null();
    if (book_bar_anchor(book, q->symbol, &anchor) == 0) {
        uint64_t key = rng_hash(seed, rng_hash_text(q->symbol), 0xba25);
        long count = 0;
        for (; t <= end; t += tf) {
            if (!bars_in_session(t, tf))
                continue;
            if (count == limit) {
                char text[BARS_TOKEN_MAX], enc[BARS_TOKEN_MAX * 2];
                snprintf(text, sizeof(text), "%s|%s|%lld", q->symbol, q->timeframe, (long long)t);
                bars_encode(text, enc, sizeof(enc));
                token = json_string(enc);
                break;
            }
            json_array_append_new(bars, bars_one(key, anchor, t, tf));
            count++;
        }
    }
    *out = json_object();
    json_object_set_new(*out, "bars", bars);
    json_object_set_new(*out, "symbol", json_string(q->symbol));
    json_object_set_new(*out, "next_page_token", token);
    return 0;
}
