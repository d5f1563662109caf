/* book.c -- orders, fills, positions, cash, quotes and the session behind
 * one lock (see book.h for the order life and the money rules).
 *
 * Owns the state and the rules that need all of it at once: the order
 * registry (in creation order, by id, by client_order_id), reserved
 * buying power, the checks of a new order against the account, fills and
 * the order life.  What one piece can do alone lives with that piece:
 * order.c (request rules, the Order object), position.c, account.c,
 * market.c (quotes, their update and objects), resting.c (open orders per
 * symbol), match.c (when and how much fills).  Failures are apierr_t
 * values; nothing here knows about HTTP. */
#include "book.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx.h"
#include "market.h"
#include "match.h"
#include "order.h"
#include "position.h"
#include "simtime.h"
#include "strmap.h"
#include "resting.h"

struct book {
    pthread_mutex_t lock;
    rng_t *rng;
    uint64_t seed;
    book_settings_t start_settings;
    book_settings_t settings;
    int market_open;
    market_t market;
    resting_t resting;         /* open orders, parallel to market.quotes */
    order_t **orders;          /* in creation order */
    size_t norders;
    size_t orders_cap;
    strmap_t by_id;
    strmap_t by_client_id;
    position_list_t positions;
    account_t account;
    fx_money_t reserved;       /* held for open buy orders */
    int64_t last_us;           /* makes order times strictly increasing */
    uint64_t ticks;
    uint64_t orders_created;
    uint64_t duplicates;
    uint64_t rejected;
    uint64_t fills;            /* executions, partial ones included */
    uint64_t partial_fills;
    uint64_t cancel_requests;
    uint64_t cancels;          /* orders that ended canceled */
    uint64_t expirations;
    uint64_t status_counts[STATUS_COUNT];
    book_observer_fn observer;  /* order events (book_set_observer) */
    void *observer_ctx;
};

/* ---- helpers (caller holds the lock) ---------------------------------- */

static int64_t book_now(book_t *b)
{
    int64_t t = simtime_now_us();
    if (t <= b->last_us)
        t = b->last_us + 1;
    b->last_us = t;
    return t;
}

static void book_forget(book_t *b)
{
    for (size_t i = 0; i < b->norders; i++)
        free(b->orders[i]);
    b->norders = 0;
    resting_clear(&b->resting);
    strmap_clear(&b->by_id);
    strmap_clear(&b->by_client_id);
    position_clear(&b->positions);
    market_free(&b->market);
}

/* Loads the starting state.  Returns 0 or -1 (out of memory). */
static int book_start(book_t *b)
{
    if (market_init(&b->market) != 0)
        return -1;
    account_start(&b->account, b->rng);
    b->reserved = 0;
    b->settings = b->start_settings;
    b->market_open = 1;
    b->ticks = 0;
    b->orders_created = b->duplicates = b->rejected = b->fills = 0;
    b->partial_fills = b->cancel_requests = b->cancels = b->expirations = 0;
    memset(b->status_counts, 0, sizeof(b->status_counts));
    return 0;
}

/* The resting list of quote q.  Returns NULL when out of memory. */
static resting_list_t *book_resting(book_t *b, const quote_t *q)
{
    return resting_at(&b->resting, (size_t)(q - b->market.quotes), b->market.cap);
}

/* Rests open order o on q's list.  Returns 0, or -1 when out of memory. */
static int book_rest(book_t *b, const quote_t *q, order_t *o)
{
    resting_list_t *r = book_resting(b, q);
    return r ? resting_add(r, o) : -1;
}

/* Sum of |market value| of short positions. */
static fx_money_t book_short_exposure(book_t *b)
{
    fx_money_t total = 0;
    for (size_t i = 0; i < b->positions.count; i++) {
        position_t *p = &b->positions.items[i];
        quote_t *q = market_find(&b->market, p->symbol);
        if (p->qty < 0 && q)
            total -= position_market_value(p, q);
    }
    return total;
}

static fx_money_t book_buying_power(book_t *b)
{
    fx_money_t bp = b->account.cash - book_short_exposure(b) - b->reserved;
    return bp > 0 ? bp : 0;
}

/* 1e-9 shares that open orders of side on q's symbol still want; a
 * notional order counts at the quote. */
static int64_t book_open_qty(book_t *b, const quote_t *q, order_side_t side)
{
    return resting_open_qty(book_resting(b, q), side, side == ORDER_BUY ? q->ask : q->bid);
}

/* qty_available of the reference: the position less what open orders on
 * the other side hold (never past zero). */
static int64_t book_qty_available(book_t *b, const position_t *p, const quote_t *q)
{
    if (p->qty > 0) {
        int64_t a = p->qty - book_open_qty(b, q, ORDER_SELL);
        return a > 0 ? a : 0;
    }
    int64_t a = p->qty + book_open_qty(b, q, ORDER_BUY);
    return a < 0 ? a : 0;
}

/* Tells the observer about an event of o (fills give qty and price). */
static void book_emit(book_t *b, book_event_kind_t kind, const order_t *o, int64_t qty,
                      int64_t price, int64_t position_qty)
{
    if (b->observer == NULL)
        return;
    book_event_t ev = {kind, o, qty, price, position_qty};
    b->observer(b->observer_ctx, &ev);
}

/* The signed position in o's symbol (0 when flat). */
static int64_t book_position_qty(book_t *b, const order_t *o)
{
    position_t *p = position_find(&b->positions, o->req.symbol);
    return p ? p->qty : 0;
}

static void book_set_status(book_t *b, order_t *o, order_status_t s)
{
    b->status_counts[o->status]--;
    o->status = s;
    b->status_counts[s]++;
}

/* Keeps o's reserved buying power at reserve_total x its open share. */
static void book_release(book_t *b, order_t *o)
{
    fx_money_t keep = 0;
    if (o->reserve_total == 0)
        return;
    if (order_is_open(o)) {
        if (o->req.has_qty)
            keep = o->reserve_total * order_remaining_qty(o) / o->req.qty;
        else
            keep = o->reserve_total * (o->req.notional - o->filled_notional) / o->req.notional;
    }
    b->reserved -= o->reserved - keep;
    o->reserved = keep;
}

/* Ends an open order as canceled or expired. */
static void book_close(book_t *b, order_t *o, order_status_t s)
{
    int64_t now = book_now(b);
    if (s == STATUS_EXPIRED) {
        o->expired_us = now;
        b->expirations++;
    } else {
        o->canceled_us = now;
        b->cancels++;
    }
    o->updated_us = now;
    book_set_status(b, o, s);
    book_release(b, o);
    book_emit(b, s == STATUS_EXPIRED ? BOOK_EVENT_EXPIRED : BOOK_EVENT_CANCELED, o, 0, 0,
              book_position_qty(b, o));
}

/* Books one execution of o at price.  Returns 0 or -1 (out of memory). */
static int book_fill(book_t *b, order_t *o, int64_t price, const match_fill_t *f)
{
    position_t *p = position_open(&b->positions, o->req.symbol);
    if (p == NULL)
        return -1;
    int64_t signed_qty = o->req.side == ORDER_BUY ? f->qty : -f->qty;
    fx_money_t value = fx_qty_times_price(f->qty, price);
    position_apply_fill(p, signed_qty, price);
    int64_t position_qty = p->qty;
    position_drop_flat(&b->positions, p);
    b->account.cash += o->req.side == ORDER_BUY ? -value : value;
    o->filled_qty += f->qty;
    o->filled_value += value;
    o->filled_notional += f->notional;
    o->updated_us = book_now(b);
    if (f->partial) {
        if (o->status != STATUS_PENDING_CANCEL)
            book_set_status(b, o, STATUS_PARTIALLY_FILLED);
        b->partial_fills++;
    } else {
        o->filled_us = o->updated_us;
        book_set_status(b, o, STATUS_FILLED);
    }
    book_release(b, o);
    b->fills++;
    book_emit(b, f->partial ? BOOK_EVENT_PARTIAL_FILL : BOOK_EVENT_FILL, o, f->qty, price,
              position_qty);
    return 0;
}

/* Moves one open order along at a tick (see book.h). */
static void book_step(book_t *b, order_t *o, const quote_t *q)
{
    if (b->market_open) {
        if (o->status == STATUS_ACCEPTED) {
            o->updated_us = book_now(b);
            book_set_status(b, o, STATUS_NEW);
            book_emit(b, BOOK_EVENT_NEW, o, 0, 0, book_position_qty(b, o));
        }
        if (match_trigger(o, q))
            o->updated_us = book_now(b);
        int64_t price = match_price(o, q);
        if (price > 0) {
            match_fill_t f;
            match_size(o, price, b->settings.partial_fill_rate, o->req.tif != TIF_FOK, b->seed,
                       &f);
            book_fill(b, o, price, &f);
        }
        if ((o->req.tif == TIF_IOC || o->req.tif == TIF_FOK) && order_is_open(o))
            book_close(b, o, STATUS_CANCELED);
    }
    if (o->status == STATUS_PENDING_CANCEL)
        book_close(b, o, STATUS_CANCELED);
}

/* The price an order is valued at for buying power: a market order at
 * the side's quote, a stop at its stop, a limit at its limit. */
static int64_t book_order_price(const order_request_t *r, const quote_t *q)
{
    return r->type == ORDER_MARKET ? (r->side == ORDER_BUY ? q->ask : q->bid)
           : r->type == ORDER_STOP ? r->stop_price
                                   : r->limit_price;
}

/* Buying power an order needs: for a buy, the cost of the part that does
 * not cover a short position; for a sell, the value of the part that opens
 * or adds to a short position (a sell within a long position needs none). */
static fx_money_t book_order_cost(book_t *b, const order_request_t *r, const quote_t *q)
{
    position_t *p = position_find(&b->positions, r->symbol);
    int64_t price = book_order_price(r, q);
    if (r->side == ORDER_SELL)  /* book_check_sell: within a long position, or whole shares */
        return p && p->qty > 0 ? 0 : fx_qty_times_price(r->qty, price);
    int64_t short_qty = (p && p->qty < 0) ? -p->qty : 0;
    if (r->has_notional) {
        fx_money_t cost = fx_rescale(r->notional, 2, FX_MONEY_SCALE);
        cost -= fx_qty_times_price(short_qty, price);
        return cost > 0 ? cost : 0;
    }
    int64_t opening = r->qty - short_qty;
    return opening > 0 ? fx_qty_times_price(opening, price) : 0;
}

/* The 403s of a sell (see book.h).  Returns 0 if it may go on, or -1 with
 * err set. */
static int book_check_sell(book_t *b, const order_request_t *r, const quote_t *q, apierr_t *err)
{
    position_t *p = position_find(&b->positions, r->symbol);
    int64_t held = p ? p->qty : 0;
    if (held > 0) {
        fx_money_t by_notional = q->bid > 0 ? fx_notional_qty(r->notional, q->bid) : 0;
        int64_t want = r->has_qty ? r->qty
                       : by_notional > INT64_MAX ? INT64_MAX
                                                 : (int64_t)by_notional;
        int64_t avail = held - book_open_qty(b, q, ORDER_SELL);
        if (avail < 0)
            avail = 0;
        if (want > avail) {
            char w[FX_TEXT_MAX], a[FX_TEXT_MAX];
            apierr_setf(err, APIERR_FORBIDDEN,
                        "insufficient qty available for order (requested: %s, available: %s)",
                        fx_format(w, sizeof(w), want, FX_QTY_SCALE),
                        fx_format(a, sizeof(a), avail, FX_QTY_SCALE));
            return -1;
        }
        return 0;
    }
    if (!b->account.shorting_enabled) {
        apierr_setf(err, APIERR_FORBIDDEN, "account is not allowed to short");
        return -1;
    }
    if (r->has_notional || r->qty % FX_SHARE != 0) {
        apierr_setf(err, APIERR_FORBIDDEN, "fractional orders are not allowed to short");
        return -1;
    }
    return 0;
}

/* The rules of an order that need the book, in Alpaca's order: the asset,
 * the account's gate, a unique client_order_id, the notional's size, the
 * stop's side, a sell's quantity, a buy's buying power.  *cost gets the
 * buying power a buy holds.  Returns 0, or -1 with err set. */
static int book_check_order(book_t *b, const order_request_t *req, const quote_t *q,
                            fx_money_t *cost, apierr_t *err)
{
    const char *refusal = account_gate(&b->account);
    if (q == NULL) {
        apierr_set(err, APIERR_UNKNOWN_ASSET);
        return -1;
    }
    if (refusal) {
        apierr_setf(err, APIERR_FORBIDDEN, "%s", refusal);
        return -1;
    }
    if (req->client_order_id[0] != '\0' && strmap_get(&b->by_client_id, req->client_order_id)) {
        b->duplicates++;
        apierr_setf(err, APIERR_INVALID, "client_order_id must be unique");
        return -1;
    }
    if (order_check_stop(req, q, err) != 0 ||
        (req->side == ORDER_SELL && book_check_sell(b, req, q, err) != 0))
        return -1;
    /* Buying power before any size rule: an order the account cannot pay
     * for is refused 403 whatever its size.  A short sale holds it as a
     * buy does. */
    *cost = book_order_cost(b, req, q);
    fx_money_t bp = book_buying_power(b);
    if (*cost > bp) {
        char t[FX_TEXT_MAX];
        apierr_setf(err, APIERR_FORBIDDEN, "insufficient buying power");
        apierr_add_field(err, "buying_power", fx_format(t, sizeof(t), bp, FX_MONEY_SCALE));
        apierr_add_field(err, "cost_basis", fx_format(t, sizeof(t), *cost, FX_MONEY_SCALE));
        return -1;
    }
    return order_check_size(req, req->side == ORDER_BUY ? q->ask : q->bid, err);
}

static int book_add_order(book_t *b, order_t *o)
{
    if (b->norders == b->orders_cap) {
        size_t ncap = b->orders_cap ? b->orders_cap * 2 : 256;
        order_t **no = realloc(b->orders, ncap * sizeof(*no));
        if (no == NULL)
            return -1;
        b->orders = no;
        b->orders_cap = ncap;
    }
    if (strmap_put(&b->by_id, o->id, o) != 0 ||
        strmap_put(&b->by_client_id, o->req.client_order_id, o) != 0)
        return -1;
    b->orders[b->norders++] = o;
    b->status_counts[o->status]++;
    b->orders_created++;
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

book_t *book_create(rng_t *rng, uint64_t seed, const book_settings_t *start)
{
    book_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->rng = rng;
    b->seed = seed;
    b->start_settings = *start;
    strmap_init(&b->by_id);
    strmap_init(&b->by_client_id);
    if (book_start(b) != 0) {
        book_destroy(b);
        return NULL;
    }
    return b;
}

void book_destroy(book_t *b)
{
    if (b == NULL)
        return;
    book_forget(b);
    resting_free(&b->resting);
    free(b->orders);
    position_list_free(&b->positions);
    strmap_free(&b->by_id);
    strmap_free(&b->by_client_id);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

void book_set_observer(book_t *b, book_observer_fn fn, void *ctx)
{
    pthread_mutex_lock(&b->lock);
    b->observer = fn;
    b->observer_ctx = ctx;
    pthread_mutex_unlock(&b->lock);
}

void book_reset(book_t *b)
{
    pthread_mutex_lock(&b->lock);
    book_forget(b);
    if (book_start(b) != 0) {
        /* Out of memory: keep an empty market rather than half of one. */
        market_free(&b->market);
    }
    pthread_mutex_unlock(&b->lock);
}

/* ---- engine, session, settings ----------------------------------------- */

void book_tick(book_t *b)
{
    pthread_mutex_lock(&b->lock);
    b->ticks++;
    if (b->market_open && b->settings.quote_walk)
        for (size_t i = 0; i < b->market.count; i++)
            market_walk(&b->market.quotes[i], b->seed);
    for (size_t i = 0; i < b->resting.count && i < b->market.count; i++) {
        resting_list_t *r = &b->resting.lists[i];
        for (size_t k = 0; k < r->count; k++)
            book_step(b, r->orders[k], &b->market.quotes[i]);
        resting_prune(r);
    }
    pthread_mutex_unlock(&b->lock);
}

void book_get_settings(book_t *b, book_settings_t *out)
{
    pthread_mutex_lock(&b->lock);
    *out = b->settings;
    pthread_mutex_unlock(&b->lock);
}

void book_set_settings(book_t *b, const book_settings_t *s)
{
    pthread_mutex_lock(&b->lock);
    b->settings = *s;
    pthread_mutex_unlock(&b->lock);
}

int book_market_is_open(book_t *b)
{
    pthread_mutex_lock(&b->lock);
    int open = b->market_open;
    pthread_mutex_unlock(&b->lock);
    return open;
}

long book_set_market_open(book_t *b, int open)
{
    long expired = 0;
    pthread_mutex_lock(&b->lock);
    if (b->market_open && !open) {
        for (size_t i = 0; i < b->resting.count; i++) {
            resting_list_t *r = &b->resting.lists[i];
            for (size_t k = 0; k < r->count; k++) {
                order_t *o = r->orders[k];
                order_tif_t tif = o->req.tif;
                if (o->status == STATUS_PENDING_CANCEL) {
                    book_close(b, o, STATUS_CANCELED);
                } else if (tif == TIF_DAY || tif == TIF_OPG || tif == TIF_CLS) {
                    book_close(b, o, STATUS_EXPIRED);
                    expired++;
                }
            }
            resting_prune(r);
        }
    }
    b->market_open = open ? 1 : 0;
    pthread_mutex_unlock(&b->lock);
    return expired;
}

void book_update_account(book_t *b, const account_update_t *u)
{
    pthread_mutex_lock(&b->lock);
    account_apply(&b->account, u);
    pthread_mutex_unlock(&b->lock);
}

int book_bar_anchor(book_t *b, const char *symbol, int64_t *price)
{
    pthread_mutex_lock(&b->lock);
    quote_t *q = market_find(&b->market, symbol);
    if (q)
        *price = q->ref_price;
    pthread_mutex_unlock(&b->lock);
    return q ? 0 : -1;
}

/* ---- orders ------------------------------------------------------------- */

/* Fills o inside the POST (fill_on_submit).  Returns 0 or -1 (no memory). */
static int book_fill_now(book_t *b, order_t *o, const quote_t *q)
{
    book_set_status(b, o, STATUS_NEW);
    book_emit(b, BOOK_EVENT_NEW, o, 0, 0, book_position_qty(b, o));
    match_trigger(o, q);
    int64_t price = match_price(o, q);
    if (price > 0) {
        match_fill_t f;
        match_size(o, price, 0.0, 0, b->seed, &f);
        return book_fill(b, o, price, &f);
    }
    if (o->req.tif == TIF_IOC || o->req.tif == TIF_FOK)
        book_close(b, o, STATUS_CANCELED);
    return 0;
}

/* Makes the order of req (checked; a buy holding cost), books it, fills it
 * now with fill_on_submit and rests it if it is open.  Returns the order,
 * or NULL with err set (out of memory: 500). */
static order_t *book_place(book_t *b, const order_request_t *req, const quote_t *q,
                           fx_money_t cost, apierr_t *err)
{
    order_t *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        apierr_set(err, APIERR_INTERNAL);
        return NULL;
    }
    o->req = *req;
    o->seq = b->orders_created + 1;
    rng_uuid4(b->rng, o->id);
    if (o->req.client_order_id[0] == '\0')
        rng_uuid4(b->rng, o->req.client_order_id);
    snprintf(o->asset_id, sizeof(o->asset_id), "%s", q->asset_id);
    o->position_intent = position_intent(position_find(&b->positions, req->symbol), req->side);
    o->status = STATUS_ACCEPTED;
    o->created_us = o->updated_us = book_now(b);
    if (book_add_order(b, o) != 0) {
        free(o);
        apierr_set(err, APIERR_INTERNAL);
        return NULL;
    }
    o->reserve_total = o->reserved = cost;
    b->reserved += cost;
    if (b->settings.fill_on_submit && b->market_open && book_fill_now(b, o, q) != 0) {
        apierr_set(err, APIERR_INTERNAL);
        return NULL;
    }
    if (order_is_open(o) && book_rest(b, q, o) != 0) {
        book_close(b, o, STATUS_CANCELED);
        apierr_set(err, APIERR_INTERNAL);
        return NULL;
    }
    return o;
}

int book_submit(book_t *b, const json_t *body, json_t **out, apierr_t *err)
{
    order_request_t req;
    if (order_parse_request(body, &req, err) != 0) {
        pthread_mutex_lock(&b->lock);
        b->rejected++;
        pthread_mutex_unlock(&b->lock);
        return -1;
    }
    pthread_mutex_lock(&b->lock);
    quote_t *q = market_find(&b->market, req.symbol);
    fx_money_t cost;
    order_t *o = NULL;
    if (book_check_order(b, &req, q, &cost, err) != 0)
        b->rejected++;
    else
        o = book_place(b, &req, q, cost, err);
    if (o)
        *out = order_to_json(o);
    pthread_mutex_unlock(&b->lock);
    return o ? 0 : -1;
}

/* Looks an order up by id.  Returns it, or NULL with err set (422, 404). */
static order_t *book_lookup(book_t *b, const char *id, apierr_t *err)
{
    if (!order_id_valid(id)) {
        apierr_setf(err, APIERR_INVALID, "order_id is missing");
        return NULL;
    }
    order_t *o = strmap_get(&b->by_id, id);
    if (o == NULL)
        apierr_set(err, APIERR_ORDER_NOT_FOUND);
    return o;
}

int book_get_order(book_t *b, const char *id, json_t **out, apierr_t *err)
{
    pthread_mutex_lock(&b->lock);
    order_t *o = book_lookup(b, id, err);
    if (o)
        *out = order_to_json(o);
    pthread_mutex_unlock(&b->lock);
    return o ? 0 : -1;
}

int book_get_by_client_id(book_t *b, const char *client_order_id, json_t **out,
                          apierr_t *err)
{
    pthread_mutex_lock(&b->lock);
    order_t *o = strmap_get(&b->by_client_id, client_order_id);
    if (o)
        *out = order_to_json(o);
    else
        apierr_set(err, APIERR_ORDER_NOT_FOUND);
    pthread_mutex_unlock(&b->lock);
    return o ? 0 : -1;
}

static int book_matches(const order_t *o, const book_query_t *q)
{
    if (q->status == BOOK_OPEN && !order_is_open(o))
        return 0;
    if (q->status == BOOK_CLOSED && order_is_open(o))
        return 0;
    if (q->has_after && o->created_us <= q->after_us)
        return 0;
    if (q->has_until && o->created_us >= q->until_us)
        return 0;
    if (q->side >= 0 && (int)o->req.side != q->side)
        return 0;
    if (q->symbols && q->symbols[0] && !market_list_has(q->symbols, o->req.symbol))
        return 0;
    return 1;
}

json_t *book_list_orders(book_t *b, const book_query_t *q)
{
    json_t *list = json_array();
    pthread_mutex_lock(&b->lock);
    int taken = 0;
    for (size_t k = 0; k < b->norders && taken < q->limit; k++) {
        const order_t *o = b->orders[q->ascending ? k : b->norders - 1 - k];
        if (book_matches(o, q)) {
            json_array_append_new(list, order_to_json(o));
            taken++;
        }
    }
    pthread_mutex_unlock(&b->lock);
    return list;
}

int book_cancel(book_t *b, const char *id, apierr_t *err)
{
    pthread_mutex_lock(&b->lock);
    order_t *o = book_lookup(b, id, err);
    if (o && !order_is_open(o)) {
        apierr_setf(err, APIERR_UNPROCESSABLE, "order is already in \"%s\" state",
                    order_status_name(o->status));
        o = NULL;
    } else if (o && o->status != STATUS_PENDING_CANCEL) {
        /* Canceled at the next tick, unless it fills first (book.h). */
        o->updated_us = book_now(b);
        book_set_status(b, o, STATUS_PENDING_CANCEL);
        b->cancel_requests++;
        book_emit(b, BOOK_EVENT_PENDING_CANCEL, o, 0, 0, book_position_qty(b, o));
    }
    pthread_mutex_unlock(&b->lock);
    return o ? 0 : -1;
}

/* ---- account, positions, assets ---------------------------------------- */

json_t *book_account(book_t *b)
{
    pthread_mutex_lock(&b->lock);
    fx_money_t long_mv = 0, short_mv = 0;
    for (size_t i = 0; i < b->positions.count; i++) {
        const position_t *p = &b->positions.items[i];
        quote_t *q = market_find(&b->market, p->symbol);
        fx_money_t mv = q ? position_market_value(p, q) : 0;
        if (mv >= 0)
            long_mv += mv;
        else
            short_mv += mv;
    }
    json_t *j = account_to_json(&b->account, long_mv, short_mv, book_buying_power(b));
    pthread_mutex_unlock(&b->lock);
    return j;
}

json_t *book_positions(book_t *b)
{
    json_t *list = json_array();
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->positions.count; i++) {
        const position_t *p = &b->positions.items[i];
        quote_t *q = market_find(&b->market, p->symbol);
        if (q)
            json_array_append_new(list, position_to_json(p, q, book_qty_available(b, p, q)));
    }
    pthread_mutex_unlock(&b->lock);
    return list;
}

int book_position(book_t *b, const char *symbol, json_t **out, apierr_t *err)
{
    pthread_mutex_lock(&b->lock);
    position_t *p = position_find(&b->positions, symbol);
    quote_t *q = market_find(&b->market, symbol);
    if (p && q)
        *out = position_to_json(p, q, book_qty_available(b, p, q));
    else
        apierr_setf(err, APIERR_NOT_FOUND, "position does not exist");
    pthread_mutex_unlock(&b->lock);
    return p && q ? 0 : -1;
}

int book_asset(book_t *b, const char *symbol, json_t **out, apierr_t *err)
{
    pthread_mutex_lock(&b->lock);
    quote_t *q = market_find(&b->market, symbol);
    if (q)
        *out = market_asset_json(q);
    else
        apierr_setf(err, APIERR_NOT_FOUND, "asset not found for %.32s", symbol);
    pthread_mutex_unlock(&b->lock);
    return q ? 0 : -1;
}

/* ---- market data and quotes -------------------------------------------- */

int book_latest_quote(book_t *b, const char *symbol, json_t **out, apierr_t *err)
{
    if (!market_symbol_valid(symbol)) {
        apierr_setf(err, APIERR_BAD_VALUE, "invalid symbol: %.32s", symbol);
        return -1;
    }
    pthread_mutex_lock(&b->lock);
    quote_t *q = market_find(&b->market, symbol);
    if (q == NULL) {
        apierr_setf(err, APIERR_NO_SUCH_SYMBOL, "symbol not found: %s", symbol);
    } else {
        *out = json_object();
        json_object_set_new(*out, "symbol", json_string(q->symbol));
        json_object_set_new(*out, "quote", market_quote_json(q));
    }
    pthread_mutex_unlock(&b->lock);
    return q ? 0 : -1;
}

int book_latest_quotes(book_t *b, const char *symbols, json_t **out, apierr_t *err)
{
    if (symbols == NULL || symbols[0] == '\0') {
        apierr_setf(err, APIERR_BAD_REQUEST, "symbols is required");
        return -1;
    }
    json_t *quotes = json_object();
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->market.count; i++) {
        const quote_t *q = &b->market.quotes[i];
        if (market_list_has(symbols, q->symbol))
            json_object_set_new(quotes, q->symbol, market_quote_json(q));
    }
    pthread_mutex_unlock(&b->lock);
    *out = json_object();
    json_object_set_new(*out, "quotes", quotes);
    return 0;
}

int book_set_quotes(book_t *b, const json_t *body, apierr_t *err)
{
    pthread_mutex_lock(&b->lock);
    int updated = market_update(&b->market, body, err);
    pthread_mutex_unlock(&b->lock);
    return updated;
}

json_t *book_get_quotes(book_t *b)
{
    pthread_mutex_lock(&b->lock);
    json_t *j = market_to_json(&b->market);
    pthread_mutex_unlock(&b->lock);
    return j;
}

/* ---- stats -------------------------------------------------------------- */

void book_add_stats(book_t *b, json_t *stats)
{
    json_t *by_status = json_object();
    pthread_mutex_lock(&b->lock);
    json_object_set_new(stats, "orders_created", json_integer((json_int_t)b->orders_created));
    json_object_set_new(stats, "duplicate_client_order_ids",
                        json_integer((json_int_t)b->duplicates));
    json_object_set_new(stats, "orders_rejected", json_integer((json_int_t)b->rejected));
    json_object_set_new(stats, "fills", json_integer((json_int_t)b->fills));
    json_object_set_new(stats, "partial_fills", json_integer((json_int_t)b->partial_fills));
    json_object_set_new(stats, "cancel_requests", json_integer((json_int_t)b->cancel_requests));
    json_object_set_new(stats, "cancels", json_integer((json_int_t)b->cancels));
    json_object_set_new(stats, "expirations", json_integer((json_int_t)b->expirations));
    json_object_set_new(stats, "ticks", json_integer((json_int_t)b->ticks));
    json_object_set_new(stats, "market_open", json_boolean(b->market_open));
    for (int s = 0; s < STATUS_COUNT; s++)
        json_object_set_new(by_status, order_status_name((order_status_t)s),
                            json_integer((json_int_t)b->status_counts[s]));
    json_object_set_new(stats, "open_orders",
                        json_integer((json_int_t)(b->status_counts[STATUS_ACCEPTED] +
                                                  b->status_counts[STATUS_NEW] +
                                                  b->status_counts[STATUS_PARTIALLY_FILLED] +
                                                  b->status_counts[STATUS_PENDING_CANCEL])));
    json_object_set_new(stats, "positions", json_integer((json_int_t)b->positions.count));
    pthread_mutex_unlock(&b->lock);
    json_object_set_new(stats, "orders_by_status", by_status);
}
