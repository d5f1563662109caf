/* order.h -- one Alpaca order: request validation and the Order object.
 *
 * order_parse_request() applies every rule that needs no state (fields,
 * types, decimals, sub-penny prices, client_order_id length) and reports
 * the first one broken as Alpaca's error (apierr.h); the book (book.c) then applies the
 * rules that need state (asset exists, unique client_order_id, buying
 * power).  Lifecycle: accepted -> new -> partially_filled -> filled, or
 * pending_cancel -> canceled, or expired; book.c moves orders along it.
 * order_to_json() renders the full Order object of the reference:
 * decimals as strings, times as RFC 3339, nulls where Alpaca has nulls. */
#ifndef ORDER_H
#define ORDER_H

#include <jansson.h>
#include <stdint.h>

#include "apierr.h"
#include "fx.h"
#include "market.h"
#include "rng.h"

#define ORDER_CLIENT_ID_MAX 48
/* The largest quantity an order may get, qty or bought by its notional:
 * with the bounds of order.c it keeps every product far from overflow. */
#define ORDER_MAX_QTY (10000000LL * FX_SHARE) /* 1e7 shares */

typedef enum { ORDER_BUY = 0, ORDER_SELL } order_side_t;
typedef enum { ORDER_MARKET = 0, ORDER_LIMIT, ORDER_STOP, ORDER_STOP_LIMIT } order_type_t;
typedef enum { TIF_DAY = 0, TIF_GTC, TIF_OPG, TIF_CLS, TIF_IOC, TIF_FOK } order_tif_t;
typedef enum {
    STATUS_ACCEPTED = 0,
    STATUS_NEW,
    STATUS_PARTIALLY_FILLED,
    STATUS_PENDING_CANCEL,
    STATUS_FILLED,
    STATUS_CANCELED,
    STATUS_EXPIRED,
    STATUS_REJECTED,
    STATUS_COUNT
} order_status_t;

typedef struct order_request {
    char symbol[MARKET_SYMBOL_MAX];
    char client_order_id[ORDER_CLIENT_ID_MAX + 1]; /* "" when not given */
    order_side_t side;
    order_type_t type;
    order_tif_t tif;
    int has_qty;
    int64_t qty;          /* 1e-9 shares */
    int has_notional;
    int64_t notional;     /* 1e-2 dollars */
    int has_limit;
    int64_t limit_price;  /* 1e-4 dollars */
    int has_stop;
    int64_t stop_price;   /* 1e-4 dollars */
    int extended_hours;
} order_request_t;

typedef struct order {
    uint64_t seq;                 /* 1, 2, ... in creation order: seeds its fill draws */
    uint32_t draws;               /* fill decisions drawn so far */
    int triggered;                /* stop or stop_limit whose stop was reached */
    char id[RNG_UUID_LEN];
    char asset_id[RNG_UUID_LEN];
    order_request_t req;          /* client_order_id always set */
    order_status_t status;
    const char *position_intent;  /* buy_to_open, ... */
    int64_t filled_qty;           /* 1e-9 shares */
    fx_money_t filled_value;      /* 1e-13 dollars: sum of fill qty x price */
    int64_t filled_notional;      /* 1e-2 dollars of a notional order done */
    fx_money_t reserve_total;     /* buying power held at submission (buys, short sales) */
    fx_money_t reserved;          /* the part still held: reserve_total x open share */
    int64_t created_us;
    int64_t updated_us;
    int64_t filled_us;            /* 0 = null */
    int64_t canceled_us;          /* 0 = null */
    int64_t expired_us;           /* 0 = null */
} order_t;

/* Validates a POST /v2/orders body.  Returns 0, or -1 with err set. */
int order_parse_request(const json_t *body, order_request_t *req, apierr_t *err);
/* The rule that needs the quote but no other state: a stop (stop,
 * stop_limit) must be beyond the market, above the ask for a buy, below
 * the bid for a sell.  Returns 0, or -1 with err set (422, with
 * market_price and stop_price). */
int order_check_stop(const order_request_t *r, const quote_t *q, apierr_t *err);
/* The size rules, checked after the buying power (an order the account
 * cannot pay for is refused 403 whatever its size, as Alpaca does): qty
 * up to ORDER_MAX_QTY, notional up to $1e9 and to ORDER_MAX_QTY shares at
 * `price` (the side's quote).  Returns 0, or -1 with err set (400). */
int order_check_size(const order_request_t *req, int64_t price, apierr_t *err);
json_t *order_to_json(const order_t *o);
/* accepted, new, partially_filled or pending_cancel. */
int order_is_open(const order_t *o);
/* 1e-9 shares still to fill (qty orders; 0 for notional orders). */
int64_t order_remaining_qty(const order_t *o);
/* filled_value / filled_qty as a price with 9 decimals (1e-9 dollars),
 * rounded half up: the exact volume-weighted average of the fills. */
fx_money_t order_avg_price_e9(const order_t *o);
const char *order_status_name(order_status_t s);
/* 1 if s is an order id's shape: UUID text 8-4-4-4-12 hex. */
int order_id_valid(const char *s);

#endif
