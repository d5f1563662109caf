/* position.h -- one symbol's position and the arithmetic of a fill.
 *
 * qty is signed (negative = short) in 1e-9 shares; cost is the signed cost
 * basis in 1e-13 dollars (quantity x entry price, summed).  Closing part of
 * a position removes cost at the average entry price; a fill that crosses
 * zero opens the remainder at the fill price.  A position_list_t holds the
 * account's open positions; a flat one is dropped.  Not thread-safe: the
 * order book's lock guards positions. */
#ifndef POSITION_H
#define POSITION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "fx.h"
#include "market.h"
#include "order.h"

typedef struct position {
    char symbol[MARKET_SYMBOL_MAX];
    int64_t qty;       /* signed, 1e-9 shares */
    fx_money_t cost;   /* signed, 1e-13 dollars */
} position_t;

typedef struct position_list {
    position_t *items;
    size_t count;
    size_t cap;
} position_list_t;

/* The position in symbol, or NULL (flat). */
position_t *position_find(position_list_t *l, const char *symbol);
/* The position in symbol, added flat if there is none; NULL when out of
 * memory.  The pointer is good until the next position_open or drop. */
position_t *position_open(position_list_t *l, const char *symbol);
/* Removes p from l if it is flat (qty 0). */
void position_drop_flat(position_list_t *l, position_t *p);
/* Forgets every position (position_list_free frees the storage too). */
void position_clear(position_list_t *l);
void position_list_free(position_list_t *l);

/* The position_intent of an order of side against p (NULL: flat):
 * buy_to_open, buy_to_close, sell_to_open or sell_to_close. */
const char *position_intent(const position_t *p, order_side_t side);

/* Applies a fill of signed_qty (buy > 0, sell < 0) at price (1e-4). */
void position_apply_fill(position_t *p, int64_t signed_qty, int64_t price);
/* qty x current price (1e-13 dollars, signed); current price is the
 * quote's midpoint. */
fx_money_t position_market_value(const position_t *p, const quote_t *q);
/* The Position object of the reference, every decimal a string;
 * qty_available is the position less what open orders hold. */
json_t *position_to_json(const position_t *p, const quote_t *q, int64_t qty_available);

#endif
