/* match.h -- the matching rules of the simulated paper-trading venue.
 *
 * Pure functions over one order and one quote; book.c applies what they
 * decide under its lock.  The rules (Alpaca paper trading, reference 8):
 *   market      buy at the ask, sell at the bid;
 *   limit       buy fills when ask <= limit (at the ask), sell when
 *               bid >= limit (at the bid);
 *   stop        triggers when ask >= stop (buy) or bid <= stop (sell),
 *               then fills like a market order;
 *   stop_limit  triggers the same way, then rests as a limit order.
 * Fill size: with probability partial_fill_rate an eligible fill is partial
 * and takes a random 200..800 per mille of what remains, rounded down to
 * whole shares when the order's qty is whole (else to 1e-9 shares), or to
 * whole cents of the remaining notional for notional orders.  A piece that
 * rounds to zero or to everything fills the whole remainder.  Every draw
 * is a hash of (seed, order sequence number, draw number): the same seed
 * and the same order of submissions give the same fills. */
#ifndef MATCH_H
#define MATCH_H

#include <stdint.h>

#include "market.h"
#include "order.h"

typedef struct match_fill {
    int64_t qty;        /* 1e-9 shares */
    int64_t notional;   /* 1e-2 dollars consumed (notional orders), else 0 */
    int partial;        /* the order stays open after this fill */
} match_fill_t;

/* Marks a stop or stop_limit order triggered if the quote reached its stop.
 * Returns 1 if it triggered now. */
int match_trigger(order_t *o, const quote_t *q);
/* The price (1e-4) o fills at against q now, or 0 if it is not marketable
 * (an untriggered stop is not). */
int64_t match_price(const order_t *o, const quote_t *q);
/* Decides the size of a fill at price.  allow_partial 0 forces a full fill
 * (fok, fill-on-submit).  Consumes one draw of o (o->draws). */
void match_size(order_t *o, int64_t price, double partial_fill_rate, int allow_partial,
                uint64_t seed, match_fill_t *out);

#endif
