/* market.h -- the simulated market: assets and their latest quotes.
 *
 * A dozen liquid US symbols start with realistic prices and a one or two
 * cent spread; POST /_sim/quotes changes them or adds symbols.  Prices are
 * in 1e-4 dollar units (fx.h).  Not thread-safe: the order book's lock
 * guards the market, because fills must see the same quotes the orders
 * were checked against.
 *
 * The random walk: at each step a quote moves by -3..+3 cents, drawn from
 * a hash of (seed, symbol, step number), bid and ask together so that the
 * spread is kept; a move that would put the bid below $0.01 puts it at
 * $0.01.  The same seed gives every symbol the same path. */
#ifndef MARKET_H
#define MARKET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "apierr.h"
#include "rng.h"

#define MARKET_SYMBOL_MAX 16 /* 15 characters and the NUL */

typedef struct quote {
    char symbol[MARKET_SYMBOL_MAX];
    char asset_id[RNG_UUID_LEN];
    char exchange[8];
    int64_t bid;      /* 1e-4 dollars */
    int64_t ask;
    int bid_size;
    int ask_size;
    int64_t ref_price;  /* midpoint of the first quote: anchors the bars */
    uint64_t steps;     /* random-walk steps taken */
} quote_t;

typedef struct market {
    quote_t *quotes;
    size_t count;
    size_t cap;
} market_t;

/* Loads the built-in symbols.  Returns 0 or -1 (out of memory). */
int market_init(market_t *m);
void market_free(market_t *m);
quote_t *market_find(market_t *m, const char *symbol);
/* Sets the quote of symbol, adding the symbol if it is new.  Returns the
 * quote or NULL (out of memory). */
quote_t *market_set(market_t *m, const char *symbol, int64_t bid, int64_t ask);
/* 1 if symbol is 1-15 of A-Z 0-9 . / */
int market_symbol_valid(const char *symbol);
/* Moves q one step of its random walk. */
void market_walk(quote_t *q, uint64_t seed);
/* Midpoint (rounded down to 1e-4), the simulator's "current price". */
int64_t market_mid(const quote_t *q);
/* 1 if symbol is one of the comma separated symbols in list. */
int market_list_has(const char *list, const char *symbol);

/* Applies a POST /_sim/quotes body (symbol -> {bid, ask, bid_size,
 * ask_size}; a new symbol needs both prices).  Checks every entry first,
 * so a bad one changes nothing.  Returns how many symbols were set, or -1
 * with err set. */
int market_update(market_t *m, const json_t *body, apierr_t *err);
/* GET /_sim/quotes: symbol -> {"bid", "ask"} as decimal strings. */
json_t *market_to_json(const market_t *m);
/* The Quote object of the market data API, stamped now. */
json_t *market_quote_json(const quote_t *q);
/* The Asset object of the trading API. */
json_t *market_asset_json(const quote_t *q);

#endif
