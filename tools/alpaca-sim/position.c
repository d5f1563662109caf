/* position.c -- the account's positions, position arithmetic and the
 * Position object (see position.h). */
#include "position.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

position_t *position_find(position_list_t *l, const char *symbol)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].symbol, symbol) == 0)
            return &l->items[i];
    return NULL;
}

position_t *position_open(position_list_t *l, const char *symbol)
{
    position_t *p = position_find(l, symbol);
    if (p)
        return p;
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        position_t *np = realloc(l->items, ncap * sizeof(*np));
        if (np == NULL)
            return NULL;
        l->items = np;
        l->cap = ncap;
    }
    p = &l->items[l->count++];
    memset(p, 0, sizeof(*p));
    snprintf(p->symbol, sizeof(p->symbol), "%s", symbol);
    return p;
}

void position_drop_flat(position_list_t *l, position_t *p)
{
    if (p->qty != 0)
        return;
    size_t i = (size_t)(p - l->items);
    l->items[i] = l->items[--l->count];
}

void position_clear(position_list_t *l)
{
    l->count = 0;
}

void position_list_free(position_list_t *l)
{
    free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}

const char *position_intent(const position_t *p, order_side_t side)
{
    int64_t held = p ? p->qty : 0;
    if (side == ORDER_BUY)
        return held < 0 ? "buy_to_close" : "buy_to_open";
    return held > 0 ? "sell_to_close" : "sell_to_open";
}

void position_apply_fill(position_t *p, int64_t signed_qty, int64_t price)
{
    int same_direction = p->qty == 0 || (p->qty > 0) == (signed_qty > 0);
    if (same_direction) {
        p->qty += signed_qty;
        p->cost += fx_qty_times_price(signed_qty, price);
        return;
    }
    int64_t held = p->qty > 0 ? p->qty : -p->qty;
    int64_t moving = signed_qty > 0 ? signed_qty : -signed_qty;
    if (moving < held) {
        /* Partly closed: remove cost at the average entry price. */
        fx_money_t removed = p->cost * moving / held;
        p->cost -= removed;
        p->qty += signed_qty;
        return;
    }
    /* Closed, and maybe reopened on the other side at the fill price. */
    p->qty += signed_qty;
    p->cost = fx_qty_times_price(p->qty, price);
}

fx_money_t position_market_value(const position_t *p, const quote_t *q)
{
    return fx_qty_times_price(p->qty, market_mid(q));
}

/* a / b as a decimal with 9 fraction digits (rounded half away from zero). */
static json_t *position_ratio(fx_money_t a, fx_money_t b, int scale)
{
    if (b == 0)
        return json_string("0");
    fx_money_t num = a;
    for (int i = 0; i < scale; i++)
        num *= 10;
    fx_money_t q = num / b, r = num % b;
    if (r < 0)
        r = -r;
    fx_money_t bb = b < 0 ? -b : b;
    if (r * 2 >= bb)
        q += ((num < 0) != (b < 0)) ? -1 : 1;
    return fx_json_string(q, scale);
}

json_t *position_to_json(const position_t *p, const quote_t *q, int64_t qty_available)
{
    int64_t price = market_mid(q);
    fx_money_t mv = position_market_value(p, q);
    fx_money_t pl = mv - p->cost;
    fx_money_t abs_cost = p->cost < 0 ? -p->cost : p->cost;
    json_t *j = json_object();
    json_object_set_new(j, "asset_id", json_string(q->asset_id));
    json_object_set_new(j, "symbol", json_string(p->symbol));
    json_object_set_new(j, "exchange", json_string(q->exchange));
    json_object_set_new(j, "asset_class", json_string("us_equity"));
    json_object_set_new(j, "asset_marginable", json_true());
    /* cost (1e-13) / qty (1e-9) -> price with 9 decimals */
    json_object_set_new(j, "avg_entry_price", position_ratio(p->cost, (fx_money_t)p->qty * 10000, 9));
    json_object_set_new(j, "qty", fx_json_string(p->qty, FX_QTY_SCALE));
    json_object_set_new(j, "qty_available", fx_json_string(qty_available, FX_QTY_SCALE));
    json_object_set_new(j, "side", json_string(p->qty < 0 ? "short" : "long"));
    json_object_set_new(j, "market_value", fx_json_string(mv, FX_MONEY_SCALE));
    json_object_set_new(j, "cost_basis", fx_json_string(p->cost, FX_MONEY_SCALE));
    json_object_set_new(j, "unrealized_pl", fx_json_string(pl, FX_MONEY_SCALE));
    json_object_set_new(j, "unrealized_plpc", position_ratio(pl, abs_cost, 9));
    json_object_set_new(j, "unrealized_intraday_pl", fx_json_string(pl, FX_MONEY_SCALE));
    json_object_set_new(j, "unrealized_intraday_plpc", position_ratio(pl, abs_cost, 9));
    json_object_set_new(j, "current_price", fx_json_string(price, FX_PRICE_SCALE));
    json_object_set_new(j, "lastday_price", fx_json_string(price, FX_PRICE_SCALE));
    json_object_set_new(j, "change_today", json_string("0"));
    return j;
}
