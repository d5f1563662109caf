/* book.h -- the simulated brokerage account: orders, fills, positions,
 * cash and the market they trade in.
 *
 * All of it sits behind one mutex, so an order is checked, filled and
 * booked against one consistent view.  Handlers call one book_* function
 * per request; each fills a reply_t with Alpaca's status and body.
 *
 * Money rules (documented for the tests and the worker):
 *   cash starts at 100000; buys lower it and sells raise it by qty x price;
 *   buying_power = max(0, cash - |short market value| - held for open buys);
 *   a buy is refused (403) when the part of it that does not cover a short
 *   costs more than buying_power (cost: ask for market, limit for limit and
 *   stop_limit, stop for stop, the notional for notional orders);
 *   sells are never refused: shorting is allowed. */
#ifndef BOOK_H
#define BOOK_H

#include <jansson.h>
#include <stdint.h>

#include "reply.h"
#include "rng.h"

typedef struct book book_t;

typedef enum { BOOK_OPEN = 0, BOOK_CLOSED, BOOK_ALL } book_status_filter_t;

typedef struct book_query {
    book_status_filter_t status;
    int limit;              /* 1..500 */
    int has_after;
    int64_t after_us;       /* exclusive, on submitted_at */
    int has_until;
    int64_t until_us;       /* exclusive */
    int ascending;
    int side;               /* -1 any, else order_side_t */
    const char *symbols;    /* comma list or NULL */
} book_query_t;

/* Returns NULL when out of memory. */
book_t *book_create(rng_t *rng);
void book_destroy(book_t *b);
/* Forgets orders, positions and counters; restores cash and the quotes. */
void book_reset(book_t *b);

void book_submit(book_t *b, const json_t *body, reply_t *out);
void book_get_order(book_t *b, const char *id, reply_t *out);
void book_get_by_client_id(book_t *b, const char *client_order_id, reply_t *out);
void book_list_orders(book_t *b, const book_query_t *q, reply_t *out);
void book_cancel(book_t *b, const char *id, reply_t *out);
void book_account(book_t *b, reply_t *out);
void book_positions(book_t *b, reply_t *out);
void book_position(book_t *b, const char *symbol, reply_t *out);
void book_asset(book_t *b, const char *symbol, reply_t *out);
void book_latest_quote(book_t *b, const char *symbol, reply_t *out);
void book_latest_quotes(book_t *b, const char *symbols, reply_t *out);
/* POST /_sim/quotes; fills resting orders that became marketable. */
void book_set_quotes(book_t *b, const json_t *body, reply_t *out);
void book_get_quotes(book_t *b, reply_t *out);
/* Adds the book's counters to stats. */
void book_add_stats(book_t *b, json_t *stats);

/* 1 if s is UUID text 8-4-4-4-12 hex. */
int book_is_uuid(const char *s);

#endif
