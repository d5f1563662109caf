/* alpaca.h -- the Alpaca client: every call the worker makes to the broker.
 *
 * One alpaca_t per lane (thread): it owns a libcurl handle, so connections
 * are kept alive between calls.  Answers are classified by HTTP status first,
 * then by message, into the few outcomes the pipeline acts on. */
#ifndef ALPACA_H
#define ALPACA_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include "budget.h"
#include "circuits.h"
#include "config.h"
#include "intent.h"

typedef enum {
    ALPACA_OK = 0,       /* 2xx, answer parsed */
    ALPACA_REJECTED,     /* a business refusal (403, 422, other 4xx): final */
    ALPACA_DUPLICATE,    /* 422 "client_order_id must be unique": it exists */
    ALPACA_NOT_FOUND,    /* 404 */
    ALPACA_RATE_LIMITED, /* 429: wait until err.retry_at_ms */
    ALPACA_UNAUTHORIZED, /* 401: keys wrong; no order can be placed */
    ALPACA_TRANSIENT,    /* 5xx, 408, timeout, connection error, unreadable
                            answer: outcome unknown, safe only to look up */
    ALPACA_BREAKER_OPEN, /* the circuit of this operation is open: nothing
                            was sent (circuits.h) */
    ALPACA_NO_BUDGET     /* no token of the shared budget before the call's
                            deadline: nothing was sent (budget.h) */
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
    char submitted_at[48];
    char canceled_at[48];
    char expired_at[48];
    char failed_at[48];
    char order_class[16];
    int extended_hours;
    char *raw;                /* the order object as received (malloc'd JSON) */
} alpaca_order_t;

typedef struct alpaca_account {
    char id[64];
    char account_number[64];
    char status[32];           /* ACTIVE, ACCOUNT_UPDATED, ... */
    char currency[8];
    char buying_power[48];
    char regt_buying_power[48];
    char non_marginable_buying_power[48];
    char cash[48];
    char equity[48];
    char last_equity[48];
    char portfolio_value[48];
    char long_market_value[48];
    char short_market_value[48];
    char multiplier[8];
    int trading_blocked;
    int account_blocked;
    int trade_suspended_by_user;
    int shorting_enabled;
} alpaca_account_t;

/* Whether orders may be placed: status ACTIVE and no block.  When not,
 * why is written to reason. */
int alpaca_account_can_trade(const alpaca_account_t *acc, char *reason,
                             size_t reason_len);

typedef struct alpaca alpaca_t;

alpaca_t *alpaca_new(const config_t *cfg);
void alpaca_free(alpaca_t *a);

/* Puts every call of this client behind the breakers of c (shared by the
 * clients of a process; NULL: no breakers). */
void alpaca_set_circuits(alpaca_t *a, circuits_t *c);

/* Makes every trading-API call of this client take a token of b first
 * (NULL: unpaced). */
void alpaca_set_budget(alpaca_t *a, budget_t *b);

/* For the calls that follow: their place in the budget's queue, how long
 * they may wait for a token (monotonic ms; INT64_MAX: as long as it takes)
 * and a flag that stops the wait (may be NULL). */
void alpaca_set_call_context(alpaca_t *a, budget_priority_t prio, int64_t deadline_mono_ms,
                             const atomic_int *abandon);

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

/* Latest quote (data API, GET /v2/stocks/{symbol}/quotes/latest?feed=).
 * Prices as exact decimal text ("189.12"); "0" when Alpaca sends 0. */
typedef struct alpaca_quote {
    char symbol[24];
    char t[48];          /* quote time, RFC 3339 as sent */
    char ask[32], bid[32];
    long long ask_size, bid_size;
    char ask_exchange[8], bid_exchange[8];
} alpaca_quote_t;
alpaca_result_t alpaca_get_quote(alpaca_t *a, const char *symbol,
                                 alpaca_quote_t *out, alpaca_error_t *err);

/* Bars (data API, GET /v2/stocks/{symbol}/bars), every page followed until
 * next_page_token is null.  timeframe e.g. "1Min", "1Day"; start/end RFC
 * 3339 or NULL; limit per page (0: Alpaca's default).  *bars is malloc'd
 * (free with free()); *n may be 0. */
typedef struct alpaca_bar {
    char t[48];
    char o[32], h[32], l[32], c[32], vw[32];
    long long v, n;
} alpaca_bar_t;
alpaca_result_t alpaca_get_bars(alpaca_t *a, const char *symbol,
                                const char *timeframe, const char *start,
                                const char *end, int limit,
                                alpaca_bar_t **bars, size_t *n,
                                alpaca_error_t *err);

/* GET /v2/positions.  *out malloc'd (free()); *n may be 0. */
typedef struct alpaca_position {
    char symbol[24];
    char asset_id[64];
    char side[8];              /* long | short */
    char qty[48];              /* signed: negative when short */
    char qty_available[48];
    char avg_entry_price[48];
    char market_value[48];
    char cost_basis[48];
    char current_price[48];
    char unrealized_pl[48];
} alpaca_position_t;
alpaca_result_t alpaca_get_positions(alpaca_t *a, alpaca_position_t **out,
                                     size_t *n, alpaca_error_t *err);

/* GET /v2/orders?status=&after=&limit=&direction=asc.  status "open",
 * "closed" or "all"; after (submitted_at, exclusive, RFC 3339) may be NULL;
 * limit 1..500.  *out malloc'd: free with alpaca_orders_free(). */
alpaca_result_t alpaca_list_orders(alpaca_t *a, const char *status,
                                   const char *after, int limit,
                                   alpaca_order_t **out, size_t *n,
                                   alpaca_error_t *err);
void alpaca_orders_free(alpaca_order_t *orders, size_t n);

/* DELETE /v2/orders/{id}: 204 means the cancel request was accepted (the
 * order becomes canceled asynchronously); 422 if it can no longer be
 * canceled (ALPACA_REJECTED). */
alpaca_result_t alpaca_cancel_order(alpaca_t *a, const char *order_id,
                                    alpaca_error_t *err);

/* GET /v2/clock */
typedef struct alpaca_clock {
    int is_open;
    char timestamp[48], next_open[48], next_close[48];
} alpaca_clock_t;
alpaca_result_t alpaca_get_clock(alpaca_t *a, alpaca_clock_t *out,
                                 alpaca_error_t *err);

/* What the last trading-API answer said of the rate limit (X-Ratelimit-*);
 * -1 where the header was absent. */
typedef struct alpaca_ratelimit {
    long long limit, remaining, reset_epoch_s;
} alpaca_ratelimit_t;
void alpaca_last_ratelimit(const alpaca_t *a, alpaca_ratelimit_t *out);

/* Frees out->raw (the rest of the struct is plain storage). */
void alpaca_order_clear(alpaca_order_t *o);

/* 1 if the order status is final at the broker (filled, canceled, expired,
 * rejected, replaced). */
int alpaca_status_is_terminal(const char *status);

/* ---- parsing answers --------------------------------------------------------
 * The pure half of the client: what the calls above do with an answer's
 * bytes, with no I/O and no state, so that tests and fuzzers reach every
 * parser without a server.  body is len bytes (not necessarily
 * NUL-terminated).  Each returns 0, or -1 with *bad naming what is wrong (a
 * static string; the calls report it as ALPACA_TRANSIENT "unreadable ...
 * in answer") and *out left empty (nothing to free). */

/* One order object (POST /v2/orders, GET /v2/orders/{id}, by client id);
 * free out with alpaca_order_clear(). */
int alpaca_parse_order(const char *body, size_t len, alpaca_order_t *out,
                       const char **bad);
/* An array of orders (GET /v2/orders); free with alpaca_orders_free(). */
int alpaca_parse_orders(const char *body, size_t len, alpaca_order_t **out,
                        size_t *n, const char **bad);
int alpaca_parse_account(const char *body, size_t len, alpaca_account_t *out,
                         const char **bad);
/* An array of positions; *out malloc'd (free()). */
int alpaca_parse_positions(const char *body, size_t len, alpaca_position_t **out,
                           size_t *n, const char **bad);
int alpaca_parse_clock(const char *body, size_t len, alpaca_clock_t *out,
                       const char **bad);
/* symbol (may be NULL) names the quote when the answer does not. */
int alpaca_parse_quote(const char *body, size_t len, const char *symbol,
                       alpaca_quote_t *out, const char **bad);
/* One page of bars, appended to *bars (*n bars used of *cap allocated;
 * start from NULL, 0, 0 and free(*bars) when done, whatever the result).
 * *next_token is the page's next_page_token (malloc'd), or NULL on the last
 * page. */
int alpaca_parse_bars_page(const char *body, size_t len, alpaca_bar_t **bars,
                           size_t *n, size_t *cap, char **next_token,
                           const char **bad);
/* An error answer: fills http_status, code and message ({"code": N,
 * "message": "..."}, or "HTTP <status>" when the body says nothing). */
void alpaca_parse_error(const char *body, size_t len, long http_status,
                        alpaca_error_t *err);
/* One header line of an answer: a status line ("HTTP/...") resets *rl to
 * -1s; X-Ratelimit-Limit, -Remaining and -Reset (case-insensitive, integer
 * values) are stored; anything else is ignored. */
void alpaca_parse_header(const char *line, size_t len, alpaca_ratelimit_t *rl);

#endif
