/* bars.h -- GET /v2/stocks/{symbol}/bars: made-up but repeatable history.
 *
 * A bar's prices are a function of (seed, symbol, time) only: the price at
 * time t is the symbol's anchor (its first quote's midpoint) moved by up to
 * about +-4% of smooth noise (value noise at 8-day, 1-day, 1-hour, 5-minute
 * and 1-minute scales, each a hash of seed, symbol and the cell), rounded
 * to cents.  A bar opens at price(t), closes at price(t + timeframe), and
 * its high/low reach a hashed few cents beyond; v, n and vw are hashed too.
 * So the same request gives the same bars in every run with the same seed,
 * and consecutive bars join (close = next open).
 *
 * Bars exist on weekdays (UTC): intraday ones from 08:00 to 24:00 UTC
 * (4:00-20:00 ET in summer), daily ones at 04:00Z (midnight ET).  Query:
 * timeframe {1..59}Min, {1..23}Hour, 1Day (else 422); start and end
 * RFC 3339 (defaults: today 00:00Z and now; end is capped at now);
 * limit 1..10000 (default 1000); page_token as returned in
 * next_page_token, which is an opaque base64url text of where the next
 * page starts, or null on the last page.  Unknown symbols give "bars":[]. */
#ifndef BARS_H
#define BARS_H

#include <jansson.h>
#include <stdint.h>

#include "apierr.h"
#include "book.h"

/* A bars request as text: the symbol from the path, the rest the query's
 * values (NULL when absent). */
typedef struct bars_query {
    const char *symbol;
    const char *timeframe;
    const char *start;
    const char *end;
    const char *limit;
    const char *page_token;
} bars_query_t;

/* The page of bars q asks for: {"bars", "symbol", "next_page_token"}.
 * Returns 0 with *out set, or -1 with err set (422). */
int bars_page(const bars_query_t *q, uint64_t seed, book_t *book, json_t **out,
              apierr_t *err);

#endif
