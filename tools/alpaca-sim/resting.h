/* resting.h -- the open orders of each symbol, oldest first.
 *
 * One list per quote of the market, at the quote's index in market.quotes
 * (symbols are only ever added there, so an index keeps its symbol until
 * the book's reset), so that a tick visits each open order once, next to
 * its quote, instead of scanning every order ever made.  A list holds
 * pointers into the book's orders; resting_prune drops the ones no longer
 * open.  Not thread-safe: the order book's lock guards it. */
#ifndef RESTING_H
#define RESTING_H

#include <stddef.h>
#include <stdint.h>

#include "order.h"

typedef struct resting_list {
    order_t **orders;
    size_t count;
    size_t cap;
} resting_list_t;

typedef struct resting {
    resting_list_t *lists;
    size_t count;
} resting_t;

/* The list at index i, the table grown to at least room lists (and i + 1)
 * if needed; NULL when out of memory. */
resting_list_t *resting_at(resting_t *r, size_t i, size_t room);
/* Appends o to l.  Returns 0, or -1 when out of memory. */
int resting_add(resting_list_t *l, order_t *o);
/* 1e-9 shares the open orders of side in l still want; a notional order
 * counts at price at (1e-4; none when at is 0). */
int64_t resting_open_qty(const resting_list_t *l, order_side_t side, int64_t at);
/* Drops from l the orders that are no longer open, keeping the order. */
void resting_prune(resting_list_t *l);
/* Empties every list (resting_free frees the storage too). */
void resting_clear(resting_t *r);
void resting_free(resting_t *r);

#endif
