/* resting.c -- the per-symbol lists of open orders (see resting.h). */
#include "resting.h"

#include <stdlib.h>
#include <string.h>

resting_list_t *resting_at(resting_t *r, size_t i, size_t room)
{
    if (i >= r->count) {
        size_t n = room > i ? room : i + 1;
        resting_list_t *nl = realloc(r->lists, n * sizeof(*nl));
        if (nl == NULL)
            return NULL;
        memset(nl + r->count, 0, (n - r->count) * sizeof(*nl));
        r->lists = nl;
        r->count = n;
    }
    return &r->lists[i];
}

int resting_add(resting_list_t *l, order_t *o)
{
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        order_t **no = realloc(l->orders, ncap * sizeof(*no));
        if (no == NULL)
            return -1;
        l->orders = no;
        l->cap = ncap;
    }
    l->orders[l->count++] = o;
    return 0;
}

int64_t resting_open_qty(const resting_list_t *l, order_side_t side, int64_t at)
{
    int64_t total = 0;
    for (size_t i = 0; l && i < l->count; i++) {
        const order_t *o = l->orders[i];
        if (o->req.side != side || !order_is_open(o))
            continue;
        if (o->req.has_qty)
            total += order_remaining_qty(o);
        else if (at > 0)
            total += (int64_t)fx_notional_qty(o->req.notional - o->filled_notional, at);
    }
    return total;
}

void resting_prune(resting_list_t *l)
{
    size_t keep = 0;
    for (size_t k = 0; k < l->count; k++)
        if (order_is_open(l->orders[k]))
            l->orders[keep++] = l->orders[k];
    l->count = keep;
}

void resting_clear(resting_t *r)
{
    for (size_t i = 0; i < r->count; i++)
        r->lists[i].count = 0;
}

void resting_free(resting_t *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->lists[i].orders);
    free(r->lists);
    r->lists = NULL;
    r->count = 0;
}
