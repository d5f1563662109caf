/* alpaca.h -- the Alpaca client: every call the worker makes to the broker.
 *
 * One alpaca_t per lane (thread): it owns a libcurl handle, so connections
 * are kept alive between calls.  Answers are classified by HTTP status first,
 * then by message, into the few outcomes the pipeline acts on. */
#ifndef ALPACA_H
#define ALPACA_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "intent.h"

typedef enum {
    ALPACA_OK = 0,       /* 2xx, answer parsed */
    ALPACA_REJECTED,     /* a business refusal (403, 422, other 4xx): final */
    ALPACA_DUPLICATE,    /* 422 "client_order_id must be unique": it exists */
    ALPACA_NOT_FOUND,    /* 404 */
    ALPACA_RATE_LIMITED, /* 429: wait until err.retry_at_ms */
    ALPACA_UNAUTHORIZED, /* 401: keys wrong; no order can be placed */
    ALPACA_TRANSIENT     /* 5xx, 408, timeout, connection error, unreadable
                            answer: outcome unknown, safe only to look up */
} alpaca_result_t;

typedef struct alpaca_error {
    long http_status;      /* 0 when no answer arrived */
    long code;             /* Alpaca's 8-digit code, 0 if none */
    char message[256];     /* the broker's message, or what failed locally */
    int64_t retry_at_ms;   /* for 429: wall-clock ms when the limit resets */
} alpaca_error_t;

typedef struct alpaca_order {
    char id[64];
    char client_order_id[64];
    char status[32];
    char symbol[24];
    char side[8];
    char type[16];
    char time_in_force[8];
    char qty[48];             /* empty when null */
    char notional[48];
    char filled_qty[48];      /* "0" when none */
    char filled_avg_price[48];/* empty when null */
    char limit_price[48];
    char stop_price[48];
    char created_at[48];
    char updated_at[48];
    char filled_at[48];
    char *raw;                /* the order object as received (malloc'd JSON) */
} alpaca_order_t;

typedef struct alpaca_account {
    char id[64];
    char status[32];
    char buying_power[48];
    char cash[48];
    int trading_blocked;
    int account_blocked;
    int trade_suspended_by_user;
} alpaca_account_t;

typedef struct alpaca alpaca_t;

alpaca_t *alpaca_new(const config_t *cfg);
void alpaca_free(alpaca_t *a);

/* POST /v2/orders for the intent, with the given client_order_id. */
alpaca_result_t alpaca_place_order(alpaca_t *a, const intent_t *in,
                                   const char *client_order_id,
                                   alpaca_order_t *out, alpaca_error_t *err);

/* GET /v2/orders:by_client_order_id */
alpaca_result_t alpaca_get_order_by_client_id(alpaca_t *a, const char *cid,
                                              alpaca_order_t *out,
                                              alpaca_error_t *err);

/* GET /v2/orders/{id} */
alpaca_result_t alpaca_get_order(alpaca_t *a, const char *order_id,
                                 alpaca_order_t *out, alpaca_error_t *err);

/* GET /v2/account */
alpaca_result_t alpaca_get_account(alpaca_t *a, alpaca_account_t *out,
                                   alpaca_error_t *err);

/* Frees out->raw (the rest of the struct is plain storage). */
void alpaca_order_clear(alpaca_order_t *o);

/* 1 if the order status is final at the broker (filled, canceled, expired,
 * rejected, replaced). */
int alpaca_status_is_terminal(const char *status);

#endif
