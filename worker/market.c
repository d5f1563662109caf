/* market.c -- quotes through breakers and a Redis cache (see market.h).
 *
 * Cache key ow:quote:{SYMBOL}, value "FETCHED_MS|T|BID|ASK|BID_SIZE|ASK_SIZE"
 * (wall-clock ms of the fetch, then the quote as Alpaca sent it), expiring
 * after QUOTE_CACHE_TTL_MS.  Bars: ow:bars:{SYMBOL}:TF:START:END, one line
 * "T|O|H|L|C|VW|V|N" per bar, expiring after BARS_CACHE_TTL_MS.  Redis failures never fail a quote: the cache is
 * skipped and Alpaca asked. */
#include "market.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "redisconn.h"
#include "timefmt.h"

struct market {
    const config_t *cfg;
    alpaca_t *client;
    redisconn_t *redis;   /* NULL: no cache */
};

market_t *market_new(const config_t *cfg, alpaca_t *client, char *err, size_t errlen) {
    market_t *m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->cfg = cfg;
    m->client = client;
    if (cfg->redis_url[0]) {
        m->redis = redisconn_new(cfg->redis_url, "order-worker-market", 500, err, errlen);
        if (!m->redis) {
            free(m);
            return NULL;
        }
    }
    return m;
}

void market_free(market_t *m) {
    if (!m) return;
    redisconn_free(m->redis);
    free(m);
}

/* Reads the cached quote; 0 with *q and its fetch time, -1 if none. */
static int cache_get(market_t *m, const char *symbol, alpaca_quote_t *q, int64_t *fetched) {
    if (!m->redis) return -1;
    char err[256];
    redisReply *r = redisconn_command(m->redis, err, sizeof(err), "GET ow:quote:{%s}", symbol);
    if (!r) return -1;
    int rc = -1;
    if (r->type == REDIS_REPLY_STRING) {
        memset(q, 0, sizeof(*q));
        snprintf(q->symbol, sizeof(q->symbol), "%s", symbol);
        long long f, bs, as;
        if (sscanf(r->str, "%lld|%47[^|]|%31[^|]|%31[^|]|%lld|%lld", &f, q->t, q->bid, q->ask,
                   &bs, &as) == 6) {
            *fetched = f;
            q->bid_size = bs;
            q->ask_size = as;
            rc = 0;
        }
    }
    freeReplyObject(r);
    return rc;
}

static void cache_put(market_t *m, const alpaca_quote_t *q) {
    if (!m->redis) return;
    char err[256], v[256];
    snprintf(v, sizeof(v), "%lld|%s|%s|%s|%lld|%lld", (long long)timefmt_now_ms(), q->t, q->bid,
             q->ask, q->bid_size, q->ask_size);
    redisReply *r = redisconn_command(m->redis, err, sizeof(err), "SET ow:quote:{%s} %s PX %lld",
                                      q->symbol, v, (long long)m->cfg->quote_cache_ttl_ms);
    if (r) freeReplyObject(r);
}

int market_quote(market_t *m, const char *symbol, market_quote_t *out, char *err,
                 size_t errlen) {
    memset(out, 0, sizeof(*out));
    alpaca_quote_t cached;
    int64_t fetched = 0, now = timefmt_now_ms();
    int have = cache_get(m, symbol, &cached, &fetched) == 0;
    if (have && now - fetched < m->cfg->quote_fresh_ms) {
        metrics_add(M_CACHE_REQUESTS, 1, "quote", "hit");
        log_msg(LOG_DEBUG, "quote_from_cache", NULL, "using cached quote for %s (%lld ms old)",
                symbol, (long long)(now - fetched));
        out->q = cached;
        out->from_cache = 1;
        out->age_ms = now - fetched;
        return 0;
    }
    metrics_add(M_CACHE_REQUESTS, 1, "quote", "miss");
    alpaca_error_t e;
    alpaca_result_t r = alpaca_get_quote(m->client, symbol, &out->q, &e);
    if (r == ALPACA_OK) {
        cache_put(m, &out->q);
        return 0;
    }
    if (have && r != ALPACA_NOT_FOUND && r != ALPACA_REJECTED) {
        metrics_add(M_CACHE_REQUESTS, 1, "quote", "stale");
        out->q = cached;
        out->from_cache = 1;
        out->stale = 1;
        out->age_ms = now - fetched;
        log_msg(LOG_INFO, "quote_from_cache", NULL,
                "using cached quote for %s (%lld ms old): %s", symbol, (long long)out->age_ms,
                e.message);
        return 0;
    }
    snprintf(err, errlen, "no quote for %s: %s", symbol, e.message);
    return -1;
}

/* ---- bars ---------------------------------------------------------------- */

static char *bars_encode(const alpaca_bar_t *b, size_t n) {
    size_t cap = n * 256 + 1, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s|%s|%s|%s|%s|%s|%lld|%lld\n", b[i].t,
                                b[i].o, b[i].h, b[i].l, b[i].c, b[i].vw, b[i].v, b[i].n);
    return out;
}

static int bars_decode(const char *text, alpaca_bar_t **bars, size_t *n) {
    size_t lines = 0;
    for (const char *c = text; *c; c++) lines += *c == '\n';
    alpaca_bar_t *b = lines ? calloc(lines, sizeof(*b)) : NULL;
    if (lines && !b) return -1;
    size_t k = 0;
    for (const char *line = text; *line && k < lines;) {
        if (sscanf(line, "%47[^|]|%31[^|]|%31[^|]|%31[^|]|%31[^|]|%31[^|]|%lld|%lld", b[k].t,
                   b[k].o, b[k].h, b[k].l, b[k].c, b[k].vw, &b[k].v, &b[k].n) != 8) {
            free(b);
            return -1;
        }
        k++;
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : line + strlen(line);
    }
    *bars = b;
    *n = k;
    return 0;
}

int market_bars(market_t *m, const char *symbol, const char *timeframe, const char *start,
                const char *end, alpaca_bar_t **bars, size_t *n, int *from_cache,
                char *err, size_t errlen) {
    *bars = NULL;
    *n = 0;
    *from_cache = 0;
    char key[256];
    snprintf(key, sizeof(key), "ow:bars:{%s}:%s:%s:%s", symbol, timeframe, start ? start : "",
             end ? end : "");
    alpaca_error_t e;
    alpaca_result_t r = alpaca_get_bars(m->client, symbol, timeframe, start, end, 0, bars, n, &e);
    char rerr[256];
    if (r == ALPACA_OK) {
            metrics_add(M_CACHE_REQUESTS, 1, "bars", "miss");
        char *v = m->redis ? bars_encode(*bars, *n) : NULL;
        if (v) {
            redisReply *rr = redisconn_command(m->redis, rerr, sizeof(rerr), "SET %s %s PX %lld",
                                               key, v, (long long)m->cfg->bars_cache_ttl_ms);
            if (rr) freeReplyObject(rr);
            free(v);
        }
        return 0;
    }
    redisReply *rr = m->redis && r != ALPACA_NOT_FOUND && r != ALPACA_REJECTED
                         ? redisconn_command(m->redis, rerr, sizeof(rerr), "GET %s", key)
                         : NULL;
    int ok = rr && rr->type == REDIS_REPLY_STRING && bars_decode(rr->str, bars, n) == 0;
    if (rr) freeReplyObject(rr);
    if (ok) {
        metrics_add(M_CACHE_REQUESTS, 1, "bars", "stale");
        *from_cache = 1;
        log_msg(LOG_INFO, "bars_from_cache", NULL, "using cached bars for %s %s: %s", symbol,
                timeframe, e.message);
        return 0;
    }
    snprintf(err, errlen, "no bars for %s: %s", symbol, e.message);
    return -1;
}
