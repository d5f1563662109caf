/* market.h -- market data as the worker sees it: latest quotes (and bars)
 * from Alpaca through their circuit breakers, cached in Redis.
 *
 * A cached quote younger than QUOTE_FRESH_MS is used without calling Alpaca
 * (the seed's market-data cache: most calls never leave the fleet).  When
 * Alpaca cannot answer (its breaker is open, or the call fails), a cached
 * quote up to QUOTE_CACHE_TTL_MS old is served instead, marked stale, and
 * the seed's "using cached quote" is logged.  Without Redis, quotes come
 * from Alpaca only.  One market_t per thread. */
#ifndef MARKET_H
#define MARKET_H

#include <stddef.h>
#include <stdint.h>
#include "alpaca.h"
#include "config.h"

typedef struct market market_t;

typedef struct market_quote {
    alpaca_quote_t q;
    int from_cache;     /* 1: served from Redis */
    int stale;          /* 1: Alpaca could not be asked; older than fresh */
    int64_t age_ms;     /* how old the quote is, by when it was fetched */
} market_quote_t;

/* client: the Alpaca client to call through (not owned). */
market_t *market_new(const config_t *cfg, alpaca_t *client, char *err, size_t errlen);
void market_free(market_t *m);

/* The latest quote of symbol.  Returns 0 with *out, or -1 with err when
 * neither Alpaca nor the cache has one. */
int market_quote(market_t *m, const char *symbol, market_quote_t *out, char *err,
                 size_t errlen);

/* Bars of symbol (see alpaca_get_bars), cached for BARS_CACHE_TTL_MS under
 * the exact request; served from the cache when Alpaca cannot answer.
 * *bars is malloc'd (free()); *stale set when served from the cache. */
int market_bars(market_t *m, const char *symbol, const char *timeframe, const char *start,
                const char *end, alpaca_bar_t **bars, size_t *n, int *from_cache,
                char *err, size_t errlen);

#endif
