/* book.h -- the simulated brokerage account: orders, fills, positions,
 * cash, the market they trade in and its session.
 *
 * All of it sits behind one mutex, so an order is checked, filled and
 * booked against one consistent view.  Handlers call one book_* function
 * per request; it returns Alpaca's object (a new JSON reference) or fails
 * with Alpaca's error (apierr.h), and knows nothing of HTTP.  The
 * matching engine (engine.c) calls book_tick() every tick_ms.
 *
 * Order life (paper trading): POST /v2/orders answers 200 with the order
 * `accepted`; at the next tick it becomes `new` and, when the session is
 * open, is matched against the quote (match.h), possibly in several
 * partial fills over several ticks.  ioc orders cancel what did not fill
 * at their first tick; fok orders fill completely or are canceled.
 * DELETE puts an open order in `pending_cancel`; at the next tick it is
 * still matched (a fill may win the race), then `canceled`.  Closing the
 * session expires every open day, opg and cls order; while it is closed,
 * new orders stay `accepted` and nothing fills.  With fill_on_submit, a
 * marketable order is filled completely inside the POST (the old
 * behaviour, for fast benchmarks) and an unmarketable one answers `new`.
 * Resting orders are indexed by symbol, so a tick costs one pass over the
 * open orders.
 *
 * Money rules (documented for the tests and the worker):
 *   cash starts at 100000; buys lower it and sells raise it by qty x price;
 *   buying_power = max(0, cash - |short market value| - held for open buys);
 *   an open buy holds the cost of its part that does not cover a short
 *   (ask x qty for market, limit x qty for limit and stop_limit, stop x qty
 *   for stop, the notional for notional orders), released in proportion
 *   as it fills and wholly when it is canceled or expires;
 *   a buy is refused (403) when that cost exceeds buying_power;
 *   a sell while long is refused (403) beyond qty_available (the position
 *   less what open sell orders hold); a sell while flat or short is a short
 *   sale: refused when shorting is disabled or the quantity fractional. */
#ifndef BOOK_H
#define BOOK_H

#include <jansson.h>
#include <stdint.h>

#include "account.h"
#include "apierr.h"
#include "order.h"
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

/* Settings changeable at run time (GET|POST /_sim/config). */
typedef struct book_settings {
    double partial_fill_rate;  /* 0..1, share of eligible fills that are partial */
    int quote_walk;            /* quotes move by a seeded random walk each tick */
    int64_t tick_ms;           /* engine period; 0 = no automatic ticks (POST /_sim/tick) */
    int fill_on_submit;        /* fill marketable orders inside the POST */
} book_settings_t;

/* What happened to an order, as it happens (book_set_observer). */
typedef enum {
    BOOK_EVENT_NEW = 0,        /* accepted -> new */
    BOOK_EVENT_PARTIAL_FILL,   /* an execution that leaves some to fill */
    BOOK_EVENT_FILL,           /* the execution that completes the order */
    BOOK_EVENT_PENDING_CANCEL, /* DELETE asked for the cancel */
    BOOK_EVENT_CANCELED,
    BOOK_EVENT_EXPIRED,
    BOOK_EVENT_COUNT
} book_event_kind_t;

typedef struct book_event {
    book_event_kind_t kind;
    const order_t *order;      /* after the event; valid during the call only */
    int64_t qty;               /* fills: this execution's 1e-9 shares, else 0 */
    int64_t price;             /* fills: this execution's price (1e-4), else 0 */
    int64_t position_qty;      /* the symbol's signed position after the event (1e-9) */
} book_event_t;

/* Called for every event of every order, in the order they happen, with
 * the book's lock held: it must not call the book, nor wait. */
typedef void (*book_observer_fn)(void *ctx, const book_event_t *ev);

/* Returns NULL when out of memory.  start is also what book_reset restores. */
book_t *book_create(rng_t *rng, uint64_t seed, const book_settings_t *start);
void book_destroy(book_t *b);
/* Sets the one observer of order events (NULL: none).  It stays through
 * book_reset. */
void book_set_observer(book_t *b, book_observer_fn fn, void *ctx);
/* Forgets orders, positions and counters; restores the account, the
 * quotes, the session (open) and the starting settings. */
void book_reset(book_t *b);

/* One engine tick: walk the quotes, move orders along, match, cancel. */
void book_tick(book_t *b);
void book_get_settings(book_t *b, book_settings_t *out);
void book_set_settings(book_t *b, const book_settings_t *s);
/* Opens or closes the session; closing expires day/opg/cls orders (and
 * ends pending cancels).  Returns how many orders expired. */
long book_set_market_open(book_t *b, int open);
int book_market_is_open(book_t *b);
/* POST /_sim/account (account_parse_update). */
void book_update_account(book_t *b, const account_update_t *u);
/* The price anchoring symbol's bars (1e-4).  Returns 0, or -1 if unknown. */
int book_bar_anchor(book_t *b, const char *symbol, int64_t *price);

/* The functions below that take an apierr_t return 0 with *out set to a
 * new JSON reference, or -1 with err set. */

/* POST /v2/orders: the new Order. */
int book_submit(book_t *b, const json_t *body, json_t **out, apierr_t *err);
int book_get_order(book_t *b, const char *id, json_t **out, apierr_t *err);
int book_get_by_client_id(book_t *b, const char *client_order_id, json_t **out,
                          apierr_t *err);
/* GET /v2/orders: the Orders q selects. */
json_t *book_list_orders(book_t *b, const book_query_t *q);
/* DELETE /v2/orders/{id}: asks for the cancel.  Returns 0 or -1 with err set. */
int book_cancel(book_t *b, const char *id, apierr_t *err);
json_t *book_account(book_t *b);
json_t *book_positions(book_t *b);
int book_position(book_t *b, const char *symbol, json_t **out, apierr_t *err);
int book_asset(book_t *b, const char *symbol, json_t **out, apierr_t *err);
/* The market data API's {"symbol", "quote"}. */
int book_latest_quote(book_t *b, const char *symbol, json_t **out, apierr_t *err);
/* {"quotes": symbol -> Quote} for the comma separated symbols. */
int book_latest_quotes(book_t *b, const char *symbols, json_t **out, apierr_t *err);
/* POST /_sim/quotes (market_update); resting orders are matched at the
 * next tick.  Returns the number of symbols set, or -1 with err set. */
int book_set_quotes(book_t *b, const json_t *body, apierr_t *err);
json_t *book_get_quotes(book_t *b);
/* Adds the book's counters to stats. */
void book_add_stats(book_t *b, json_t *stats);

#endif
