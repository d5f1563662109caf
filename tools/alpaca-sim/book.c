/* book.c -- orders, fills, positions, cash, quotes and the session behind
 * one lock (see book.h for the order life and the money rules). */
#include "book.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account.h"
#include "fixed.h"
#include "market.h"
#include "match.h"
#include "order.h"
#include "position.h"
#include "strmap.h"
#include "timefmt.h"

#define ERR_INVALID 40010001L
#define ERR_FORBIDDEN 40310000L
#define BOOK_MAX_QTY (10000000LL * 1000000000LL) /* 1e7 shares, as order.c */
#define BOOK_SHARE 1000000000LL                  /* 1 share in 1e-9 units */
#define BOOK_CENTS_TO_MONEY 100000000000LL       /* 1e-2 -> 1e-13 dollars */

/* The open orders of one symbol, oldest first. */
typedef struct book_resting {
    order_t **orders;
    size_t count;
    size_t cap;
} book_resting_t;

struct book {
    pthread_mutex_t lock;
    rng_t *rng;
    uint64_t seed;
    book_settings_t start_settings;
    book_settings_t settings;
    int market_open;
    market_t market;
    book_resting_t *resting;   /* parallel to market.quotes */
    size_t nresting;
    order_t **orders;          /* in creation order */
    size_t norders;
    size_t orders_cap;
    strmap_t by_id;
    strmap_t by_client_id;
    position_t *positions;
    size_t npositions;
    size_t positions_cap;
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
};

/* ---- helpers (caller holds the lock) ---------------------------------- */

static int64_t book_now(book_t *b)
{
    int64_t t = timefmt_now_us();
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
    for (size_t i = 0; i < b->nresting; i++)
        b->resting[i].count = 0;
    strmap_clear(&b->by_id);
    strmap_clear(&b->by_client_id);
    b->npositions = 0;
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
static book_resting_t *book_resting_for(book_t *b, const quote_t *q)
{
    size_t i = (size_t)(q - b->market.quotes);
    if (i >= b->nresting) {
        size_t n = b->market.cap > i ? b->market.cap : i + 1;
        book_resting_t *nr = realloc(b->resting, n * sizeof(*nr));
        if (nr == NULL)
            return NULL;
        memset(nr + b->nresting, 0, (n - b->nresting) * sizeof(*nr));
        b->resting = nr;
        b->nresting = n;
    }
    return &b->resting[i];
}

static int book_rest(book_t *b, const quote_t *q, order_t *o)
{
    book_resting_t *r = book_resting_for(b, q);
    if (r == NULL)
        return -1;
    if (r->count == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        order_t **no = realloc(r->orders, ncap * sizeof(*no));
        if (no == NULL)
            return -1;
        r->orders = no;
        r->cap = ncap;
    }
    r->orders[r->count++] = o;
    return 0;
}

static position_t *book_find_position(book_t *b, const char *symbol)
{
    for (size_t i = 0; i < b->npositions; i++)
        if (strcmp(b->positions[i].symbol, symbol) == 0)
            return &b->positions[i];
    return NULL;
}

static position_t *book_position_for(book_t *b, const char *symbol)
{
    position_t *p = book_find_position(b, symbol);
    if (p)
        return p;
    if (b->npositions == b->positions_cap) {
        size_t ncap = b->positions_cap ? b->positions_cap * 2 : 16;
        position_t *np = realloc(b->positions, ncap * sizeof(*np));
        if (np == NULL)
            return NULL;
        b->positions = np;
        b->positions_cap = ncap;
    }
    p = &b->positions[b->npositions++];
    memset(p, 0, sizeof(*p));
    snprintf(p->symbol, sizeof(p->symbol), "%s", symbol);
    return p;
}

static void book_drop_flat_position(book_t *b, position_t *p)
{
    if (p->qty != 0)
        return;
    size_t i = (size_t)(p - b->positions);
    b->positions[i] = b->positions[--b->npositions];
}

/* Sum of |market value| of short positions. */
static fx_money_t book_short_exposure(book_t *b)
{
    fx_money_t total = 0;
    for (size_t i = 0; i < b->npositions; i++) {
        position_t *p = &b->positions[i];
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
    book_resting_t *r = book_resting_for(b, q);
    int64_t total = 0;
    int64_t at = side == ORDER_BUY ? q->ask : q->bid;
    for (size_t i = 0; r && i < r->count; i++) {
        const order_t *o = r->orders[i];
        if (o->req.side != side || !order_is_open(o))
            continue;
        if (o->req.has_qty)
            total += order_remaining_qty(o);
        else if (at > 0)
            total += (int64_t)((fx_money_t)(o->req.notional - o->filled_notional) *
                               BOOK_CENTS_TO_MONEY / at);
    }
    return total;
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
}

/* Books one execution of o at price.  Returns 0 or -1 (out of memory). */
static int book_fill(book_t *b, order_t *o, int64_t price, const match_fill_t *f)
{
    position_t *p = book_position_for(b, o->req.symbol);
    if (p == NULL)
        return -1;
    int64_t signed_qty = o->req.side == ORDER_BUY ? f->qty : -f->qty;
    fx_money_t value = fx_qty_times_price(f->qty, price);
    position_apply_fill(p, signed_qty, price);
    book_drop_flat_position(b, p);
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
    return 0;
}

/* Moves one open order along at a tick (see book.h). */
static void book_step(book_t *b, order_t *o, const quote_t *q)
{
    if (b->market_open) {
        if (o->status == STATUS_ACCEPTED) {
            o->updated_us = book_now(b);
            book_set_status(b, o, STATUS_NEW);
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

static const char *book_position_intent(book_t *b, const order_request_t *r)
{
    position_t *p = book_find_position(b, r->symbol);
    int64_t held = p ? p->qty : 0;
    if (r->side == ORDER_BUY)
        return held < 0 ? "buy_to_close" : "buy_to_open";
    return held > 0 ? "sell_to_close" : "sell_to_open";
}

/* Buying power a buy needs: the cost of the part that does not cover a
 * short position. */
static fx_money_t book_buy_cost(book_t *b, const order_request_t *r, const quote_t *q)
{
    position_t *p = book_find_position(b, r->symbol);
    int64_t short_qty = (p && p->qty < 0) ? -p->qty : 0;
    int64_t price = r->type == ORDER_MARKET  ? q->ask
                    : r->type == ORDER_STOP ? r->stop_price
                                            : r->limit_price;
    if (r->has_notional) {
        fx_money_t cost = (fx_money_t)r->notional * BOOK_CENTS_TO_MONEY;
        cost -= fx_qty_times_price(short_qty, price);
        return cost > 0 ? cost : 0;
    }
    int64_t opening = r->qty - short_qty;
    return opening > 0 ? fx_qty_times_price(opening, price) : 0;
}

/* The 403s of a sell (see book.h).  Returns 0 if it may go on. */
static int book_check_sell(book_t *b, const order_request_t *r, const quote_t *q, reply_t *out)
{
    position_t *p = book_find_position(b, r->symbol);
    int64_t held = p ? p->qty : 0;
    if (held > 0) {
        int64_t want = r->has_qty ? r->qty
                       : q->bid > 0 ? (int64_t)((fx_money_t)r->notional * BOOK_CENTS_TO_MONEY /
                                                q->bid)
                                    : 0;
        int64_t avail = held - book_open_qty(b, q, ORDER_SELL);
        if (avail < 0)
            avail = 0;
        if (want > avail) {
            char w[FX_TEXT_MAX], a[FX_TEXT_MAX];
            reply_error(out, 403, ERR_FORBIDDEN,
                        "insufficient qty available for order (requested: %s, available: %s)",
                        fx_format(w, sizeof(w), want, FX_QTY_SCALE),
                        fx_format(a, sizeof(a), avail, FX_QTY_SCALE));
            return -1;
        }
        return 0;
    }
    if (!b->account.shorting_enabled) {
        reply_error(out, 403, ERR_FORBIDDEN, "account is not allowed to short");
        return -1;
    }
    if (r->has_notional || r->qty % BOOK_SHARE != 0) {
        reply_error(out, 403, ERR_FORBIDDEN, "fractional orders are not allowed to short");
        return -1;
    }
    return 0;
}

/* A stop must be on the far side of the market (422 otherwise). */
static int book_check_stop(const order_request_t *r, const quote_t *q, reply_t *out)
{
    if (r->type != ORDER_STOP && r->type != ORDER_STOP_LIMIT)
        return 0;
    int buy = r->side == ORDER_BUY;
    int64_t market = buy ? q->ask : q->bid;
    if (buy ? r->stop_price > market : r->stop_price < market)
        return 0;
    json_t *e = json_object();
    json_object_set_new(e, "code", json_integer(42210000));
    json_object_set_new(e, "market_price", fx_json_string(market, FX_PRICE_SCALE));
    json_object_set_new(e, "message", json_string(buy ? "stop price must be greater than current price"
                                                      : "stop price must be less than current price"));
    json_object_set_new(e, "stop_price", fx_json_string(r->stop_price, FX_PRICE_SCALE));
    reply_json(out, 422, e);
    return -1;
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
    for (size_t i = 0; i < b->nresting; i++)
        free(b->resting[i].orders);
    free(b->resting);
    free(b->orders);
    free(b->positions);
    strmap_free(&b->by_id);
    strmap_free(&b->by_client_id);
    pthread_mutex_destroy(&b->lock);
    free(b);
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

int book_is_uuid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    if (strlen(s) != 36)
        return 0;
    for (int i = 0, d = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return 0;
            d++;
            continue;
        }
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* ---- engine, session, settings ----------------------------------------- */

void book_tick(book_t *b)
{
    pthread_mutex_lock(&b->lock);
    b->ticks++;
    if (b->market_open && b->settings.quote_walk)
        for (size_t i = 0; i < b->market.count; i++)
            market_walk(&b->market.quotes[i], b->seed);
    for (size_t i = 0; i < b->nresting && i < b->market.count; i++) {
        book_resting_t *r = &b->resting[i];
        size_t keep = 0;
        for (size_t k = 0; k < r->count; k++) {
            order_t *o = r->orders[k];
            book_step(b, o, &b->market.quotes[i]);
            if (order_is_open(o))
                r->orders[keep++] = o;
        }
        r->count = keep;
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

void book_set_market_open(book_t *b, int open, reply_t *out)
{
    long expired = 0;
    pthread_mutex_lock(&b->lock);
    if (b->market_open && !open) {
        for (size_t i = 0; i < b->nresting; i++) {
            book_resting_t *r = &b->resting[i];
            size_t keep = 0;
            for (size_t k = 0; k < r->count; k++) {
                order_t *o = r->orders[k];
                order_tif_t tif = o->req.tif;
                if (o->status == STATUS_PENDING_CANCEL) {
                    book_close(b, o, STATUS_CANCELED);
                } else if (tif == TIF_DAY || tif == TIF_OPG || tif == TIF_CLS) {
                    book_close(b, o, STATUS_EXPIRED);
                    expired++;
                }
                if (order_is_open(o))
                    r->orders[keep++] = o;
            }
            r->count = keep;
        }
    }
    b->market_open = open ? 1 : 0;
    pthread_mutex_unlock(&b->lock);
    json_t *j = json_object();
    json_object_set_new(j, "open", json_boolean(open));
    json_object_set_new(j, "expired", json_integer(expired));
    reply_json(out, 200, j);
}

void book_set_account(book_t *b, const json_t *body, reply_t *out)
{
    account_update_t u;
    char err[160];
    if (account_parse_update(body, &u, err, sizeof(err)) != 0) {
        reply_error(out, 400, 0, "%s", err);
        return;
    }
    pthread_mutex_lock(&b->lock);
    account_apply(&b->account, &u);
    pthread_mutex_unlock(&b->lock);
    book_account(b, out);
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

void book_submit(book_t *b, const json_t *body, reply_t *out)
{
    order_request_t req;
    if (order_parse_request(body, &req, out) != 0) {
        pthread_mutex_lock(&b->lock);
        b->rejected++;
        pthread_mutex_unlock(&b->lock);
        return;
    }
    pthread_mutex_lock(&b->lock);
    quote_t *q = market_find(&b->market, req.symbol);
    const char *refusal = account_gate(&b->account);
    if (q == NULL) {
        b->rejected++;
        reply_error(out, 422, ERR_INVALID, "asset not found");
        goto done;
    }
    if (refusal) {
        b->rejected++;
        reply_error(out, 403, ERR_FORBIDDEN, "%s", refusal);
        goto done;
    }
    if (req.client_order_id[0] != '\0' && strmap_get(&b->by_client_id, req.client_order_id)) {
        b->duplicates++;
        b->rejected++;
        reply_error(out, 422, ERR_INVALID, "client_order_id must be unique");
        goto done;
    }
    if (req.has_notional) {
        /* The shares a notional order buys must stay within qty's bound. */
        int64_t at = req.side == ORDER_BUY ? q->ask : q->bid;
        if (at <= 0 || (fx_money_t)req.notional * 100000000000LL / at > BOOK_MAX_QTY) {
            b->rejected++;
            reply_error(out, 422, ERR_INVALID, "notional is too large");
            goto done;
        }
    }
    if (book_check_stop(&req, q, out) != 0 ||
        (req.side == ORDER_SELL && book_check_sell(b, &req, q, out) != 0)) {
        b->rejected++;
        goto done;
    }
    fx_money_t cost = 0;
    if (req.side == ORDER_BUY) {
        cost = book_buy_cost(b, &req, q);
        fx_money_t bp = book_buying_power(b);
        if (cost > bp) {
            b->rejected++;
            json_t *e = json_object();
            json_object_set_new(e, "buying_power", fx_json_string(bp, FX_MONEY_SCALE));
            json_object_set_new(e, "code", json_integer(ERR_FORBIDDEN));
            json_object_set_new(e, "cost_basis", fx_json_string(cost, FX_MONEY_SCALE));
            json_object_set_new(e, "message", json_string("insufficient buying power"));
            reply_json(out, 403, e);
            goto done;
        }
    }
    order_t *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        reply_error(out, 500, 50010000L, "internal server error");
        goto done;
    }
    o->req = req;
    o->seq = b->orders_created + 1;
    rng_uuid4(b->rng, o->id);
    if (o->req.client_order_id[0] == '\0')
        rng_uuid4(b->rng, o->req.client_order_id);
    snprintf(o->asset_id, sizeof(o->asset_id), "%s", q->asset_id);
    o->position_intent = book_position_intent(b, &req);
    o->status = STATUS_ACCEPTED;
    o->created_us = o->updated_us = book_now(b);
    if (book_add_order(b, o) != 0) {
        free(o);
        reply_error(out, 500, 50010000L, "internal server error");
        goto done;
    }
    o->reserve_total = o->reserved = cost;
    b->reserved += cost;
    if (b->settings.fill_on_submit && b->market_open && book_fill_now(b, o, q) != 0) {
        reply_error(out, 500, 50010000L, "internal server error");
        goto done;
    }
    if (order_is_open(o) && book_rest(b, q, o) != 0) {
        book_close(b, o, STATUS_CANCELED);
        reply_error(out, 500, 50010000L, "internal server error");
        goto done;
    }
    reply_json(out, 200, order_to_json(o));
done:
    pthread_mutex_unlock(&b->lock);
}

/* Looks an order up by id, answering 422/404 itself when it cannot. */
static order_t *book_lookup(book_t *b, const char *id, reply_t *out)
{
    if (!book_is_uuid(id)) {
        reply_error(out, 422, ERR_INVALID, "order_id is missing");
        return NULL;
    }
    order_t *o = strmap_get(&b->by_id, id);
    if (o == NULL)
        reply_error(out, 404, 40410000L, "order not found");
    return o;
}

void book_get_order(book_t *b, const char *id, reply_t *out)
{
    pthread_mutex_lock(&b->lock);
    order_t *o = book_lookup(b, id, out);
    if (o)
        reply_json(out, 200, order_to_json(o));
    pthread_mutex_unlock(&b->lock);
}

void book_get_by_client_id(book_t *b, const char *client_order_id, reply_t *out)
{
    pthread_mutex_lock(&b->lock);
    order_t *o = strmap_get(&b->by_client_id, client_order_id);
    if (o)
        reply_json(out, 200, order_to_json(o));
    else
        reply_error(out, 404, 40410000L, "order not found");
    pthread_mutex_unlock(&b->lock);
}

/* 1 if symbol is one of the comma separated symbols in list. */
static int book_csv_has(const char *list, const char *symbol)
{
    size_t n = strlen(symbol);
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, symbol, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
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
    if (q->symbols && q->symbols[0] && !book_csv_has(q->symbols, o->req.symbol))
        return 0;
    return 1;
}

void book_list_orders(book_t *b, const book_query_t *q, reply_t *out)
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
    reply_json(out, 200, list);
}

void book_cancel(book_t *b, const char *id, reply_t *out)
{
    pthread_mutex_lock(&b->lock);
    order_t *o = book_lookup(b, id, out);
    if (o && !order_is_open(o)) {
        reply_error(out, 422, 42210000L, "order is already in \"%s\" state",
                    order_status_name(o->status));
    } else if (o) {
        /* Canceled at the next tick, unless it fills first (book.h). */
        if (o->status != STATUS_PENDING_CANCEL) {
            o->updated_us = book_now(b);
            book_set_status(b, o, STATUS_PENDING_CANCEL);
            b->cancel_requests++;
        }
        reply_json(out, 204, NULL);
    }
    pthread_mutex_unlock(&b->lock);
}

/* ---- account, positions, assets ---------------------------------------- */

void book_account(book_t *b, reply_t *out)
{
    json_t *j = json_object();
    pthread_mutex_lock(&b->lock);
    fx_money_t long_mv = 0, short_mv = 0;
    for (size_t i = 0; i < b->npositions; i++) {
        quote_t *q = market_find(&b->market, b->positions[i].symbol);
        fx_money_t mv = q ? position_market_value(&b->positions[i], q) : 0;
        if (mv >= 0)
            long_mv += mv;
        else
            short_mv += mv;
    }
    fx_money_t cash = b->account.cash;
    fx_money_t equity = cash + long_mv + short_mv;
    fx_money_t bp = book_buying_power(b);
    fx_money_t gross = long_mv - short_mv;
    account_add_json(&b->account, j);
    json_object_set_new(j, "buying_power", fx_json_string(bp, FX_MONEY_SCALE));
    json_object_set_new(j, "regt_buying_power", fx_json_string(bp, FX_MONEY_SCALE));
    json_object_set_new(j, "non_marginable_buying_power", fx_json_string(bp, FX_MONEY_SCALE));
    json_object_set_new(j, "options_buying_power", fx_json_string(bp, FX_MONEY_SCALE));
    json_object_set_new(j, "cash", fx_json_string(cash, FX_MONEY_SCALE));
    json_object_set_new(j, "accrued_fees", json_string("0"));
    json_object_set_new(j, "pending_transfer_in", json_string("0"));
    json_object_set_new(j, "pending_transfer_out", json_string("0"));
    json_object_set_new(j, "portfolio_value", fx_json_string(equity, FX_MONEY_SCALE));
    json_object_set_new(j, "equity", fx_json_string(equity, FX_MONEY_SCALE));
    json_object_set_new(j, "last_equity", fx_json_string(account_start_cash(), FX_MONEY_SCALE));
    json_object_set_new(j, "long_market_value", fx_json_string(long_mv, FX_MONEY_SCALE));
    json_object_set_new(j, "short_market_value", fx_json_string(short_mv, FX_MONEY_SCALE));
    json_object_set_new(j, "initial_margin", fx_json_string(gross, FX_MONEY_SCALE));
    json_object_set_new(j, "maintenance_margin", fx_json_string(gross / 4, FX_MONEY_SCALE));
    json_object_set_new(j, "last_maintenance_margin", json_string("0"));
    json_object_set_new(j, "sma", json_string("0"));
    json_object_set_new(j, "multiplier", json_string("1"));
    pthread_mutex_unlock(&b->lock);
    reply_json(out, 200, j);
}

void book_positions(book_t *b, reply_t *out)
{
    json_t *list = json_array();
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->npositions; i++) {
        quote_t *q = market_find(&b->market, b->positions[i].symbol);
        if (q)
            json_array_append_new(list, position_to_json(&b->positions[i], q,
                                                         book_qty_available(b, &b->positions[i], q)));
    }
    pthread_mutex_unlock(&b->lock);
    reply_json(out, 200, list);
}

void book_position(book_t *b, const char *symbol, reply_t *out)
{
    pthread_mutex_lock(&b->lock);
    position_t *p = book_find_position(b, symbol);
    quote_t *q = market_find(&b->market, symbol);
    if (p && q)
        reply_json(out, 200, position_to_json(p, q, book_qty_available(b, p, q)));
    else
        reply_error(out, 404, 40410000L, "position does not exist");
    pthread_mutex_unlock(&b->lock);
}

void book_asset(book_t *b, const char *symbol, reply_t *out)
{
    pthread_mutex_lock(&b->lock);
    quote_t *q = market_find(&b->market, symbol);
    if (q == NULL) {
        reply_error(out, 404, 40410000L, "asset not found for %.32s", symbol);
    } else {
        json_t *j = json_object();
        json_object_set_new(j, "id", json_string(q->asset_id));
        json_object_set_new(j, "class", json_string("us_equity"));
        json_object_set_new(j, "exchange", json_string(q->exchange));
        json_object_set_new(j, "symbol", json_string(q->symbol));
        json_object_set_new(j, "name", json_string(q->symbol));
        json_object_set_new(j, "status", json_string("active"));
        json_object_set_new(j, "tradable", json_true());
        json_object_set_new(j, "marginable", json_true());
        json_object_set_new(j, "shortable", json_true());
        json_object_set_new(j, "easy_to_borrow", json_true());
        json_object_set_new(j, "fractionable", json_true());
        json_object_set_new(j, "attributes", json_array());
        reply_json(out, 200, j);
    }
    pthread_mutex_unlock(&b->lock);
}

/* ---- market data -------------------------------------------------------- */

static json_t *book_quote_json(const quote_t *q)
{
    char t[TIMEFMT_LEN];
    const char *tape = strcmp(q->exchange, "NYSE") == 0   ? "A"
                       : strcmp(q->exchange, "ARCA") == 0 ? "B"
                                                          : "C";
    json_t *j = json_object();
    json_object_set_new(j, "t", json_string(timefmt_rfc3339_now_ns(t, sizeof(t))));
    json_object_set_new(j, "ax", json_string("V"));
    json_object_set_new(j, "ap", fx_json_price_number(q->ask));
    json_object_set_new(j, "as", json_integer(q->ask_size));
    json_object_set_new(j, "bx", json_string("V"));
    json_object_set_new(j, "bp", fx_json_price_number(q->bid));
    json_object_set_new(j, "bs", json_integer(q->bid_size));
    json_t *c = json_array();
    json_array_append_new(c, json_string("R"));
    json_object_set_new(j, "c", c);
    json_object_set_new(j, "z", json_string(tape));
    return j;
}

void book_latest_quote(book_t *b, const char *symbol, reply_t *out)
{
    if (!market_symbol_valid(symbol)) {
        reply_error(out, 422, 0, "invalid symbol: %.32s", symbol);
        return;
    }
    pthread_mutex_lock(&b->lock);
    quote_t *q = market_find(&b->market, symbol);
    if (q == NULL) {
        reply_error(out, 404, 0, "symbol not found: %s", symbol);
    } else {
        json_t *j = json_object();
        json_object_set_new(j, "symbol", json_string(q->symbol));
        json_object_set_new(j, "quote", book_quote_json(q));
        reply_json(out, 200, j);
    }
    pthread_mutex_unlock(&b->lock);
}

void book_latest_quotes(book_t *b, const char *symbols, reply_t *out)
{
    if (symbols == NULL || symbols[0] == '\0') {
        reply_error(out, 400, 0, "symbols is required");
        return;
    }
    json_t *quotes = json_object();
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->market.count; i++) {
        const quote_t *q = &b->market.quotes[i];
        if (book_csv_has(symbols, q->symbol))
            json_object_set_new(quotes, q->symbol, book_quote_json(q));
    }
    pthread_mutex_unlock(&b->lock);
    json_t *j = json_object();
    json_object_set_new(j, "quotes", quotes);
    reply_json(out, 200, j);
}

/* Reads one side of a /_sim/quotes entry: absent -> 0, else a positive
 * price with at most 4 decimals.  Returns 0 or -1. */
static int book_quote_price(const json_t *v, int64_t *out)
{
    char text[FX_TEXT_MAX];
    int is_number;
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (fx_json_text(v, text, sizeof(text), &is_number) != 0 ||
        fx_parse(text, FX_PRICE_SCALE, is_number, out) != FX_OK || *out <= 0)
        return -1;
    return 0;
}

void book_set_quotes(book_t *b, const json_t *body, reply_t *out)
{
    if (!json_is_object(body)) {
        reply_error(out, 400, 0, "body must be an object of symbol -> {bid, ask}");
        return;
    }
    pthread_mutex_lock(&b->lock);
    /* Check everything first so that a bad entry changes nothing. */
    const char *symbol;
    json_t *entry;
    json_object_foreach((json_t *)body, symbol, entry) {
        int64_t bid, ask;
        quote_t *q = market_symbol_valid(symbol) ? market_find(&b->market, symbol) : NULL;
        if (!market_symbol_valid(symbol)) {
            reply_error(out, 400, 0, "invalid symbol: %.32s", symbol);
            goto done;
        }
        if (!json_is_object(entry) || book_quote_price(json_object_get(entry, "bid"), &bid) ||
            book_quote_price(json_object_get(entry, "ask"), &ask)) {
            reply_error(out, 400, 0, "%s: bid and ask must be positive decimals (at most 4 places)",
                        symbol);
            goto done;
        }
        if (q == NULL && (bid == 0 || ask == 0)) {
            reply_error(out, 400, 0, "%s: a new symbol needs both bid and ask", symbol);
            goto done;
        }
        if ((bid ? bid : q->bid) > (ask ? ask : q->ask)) {
            reply_error(out, 400, 0, "%s: bid above ask", symbol);
            goto done;
        }
    }
    int updated = 0;
    json_object_foreach((json_t *)body, symbol, entry) {
        int64_t bid, ask;
        book_quote_price(json_object_get(entry, "bid"), &bid);
        book_quote_price(json_object_get(entry, "ask"), &ask);
        quote_t *q = market_find(&b->market, symbol);
        q = market_set(&b->market, symbol, bid ? bid : q->bid, ask ? ask : q->ask);
        if (q == NULL) {
            reply_error(out, 500, 0, "out of memory");
            goto done;
        }
        json_t *size = json_object_get(entry, "bid_size");
        if (json_is_integer(size) && json_integer_value(size) > 0)
            q->bid_size = (int)json_integer_value(size);
        size = json_object_get(entry, "ask_size");
        if (json_is_integer(size) && json_integer_value(size) > 0)
            q->ask_size = (int)json_integer_value(size);
        updated++;
    }
    json_t *j = json_object();
    json_object_set_new(j, "updated", json_integer(updated));
    reply_json(out, 200, j);
done:
    pthread_mutex_unlock(&b->lock);
}

void book_get_quotes(book_t *b, reply_t *out)
{
    json_t *j = json_object();
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->market.count; i++) {
        const quote_t *q = &b->market.quotes[i];
        json_t *e = json_object();
        json_object_set_new(e, "bid", fx_json_string(q->bid, FX_PRICE_SCALE));
        json_object_set_new(e, "ask", fx_json_string(q->ask, FX_PRICE_SCALE));
        json_object_set_new(j, q->symbol, e);
    }
    pthread_mutex_unlock(&b->lock);
    reply_json(out, 200, j);
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
    json_object_set_new(stats, "positions", json_integer((json_int_t)b->npositions));
    pthread_mutex_unlock(&b->lock);
    json_object_set_new(stats, "orders_by_status", by_status);
}
