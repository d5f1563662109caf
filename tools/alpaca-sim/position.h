/* position.h -- one symbol's position and the arithmetic of a fill.
 *
 * qty is signed (negative = short) in 1e-9 shares; cost is the signed cost
 * basis in 1e-13 dollars (quantity x entry price, summed).  Closing part of
 * a position removes cost at the average entry price; a fill that crosses
 * zero opens the remainder at the fill price.  Not thread-safe: the order
 * book's lock guards positions. */
#ifndef POSITION_H
#define POSITION_H

#include <jansson.h>
#include <stdint.h>

#include "fixed.h"
#include "market.h"

typedef struct position {
    char symbol[MARKET_SYMBOL_MAX];
    int64_t qty;       /* signed, 1e-9 shares */
    fx_money_t cost;   /* signed, 1e-13 dollars */
} position_t;

/* Applies a fill of signed_qty (buy > 0, sell < 0) at price (1e-4). */
void position_apply_fill(position_t *p, int64_t signed_qty, int64_t price);
/* qty x current price (1e-13 dollars, signed); current price is the
 * quote's midpoint. */
fx_money_t position_market_value(const position_t *p, const quote_t *q);
/* The Position object of the reference, every decimal a string;
 * qty_available is the position less what open orders hold. */
json_t *position_to_json(const position_t *p, const quote_t *q, int64_t qty_available);

#endif
