/* alpaca.h -- the Alpaca client: every call the worker makes to the broker.
 *
 * One alpaca_t per lane (thread): it owns a libcurl handle, so connections
 * are kept alive between calls.  Answers are classified by HTTP status first,
 * then by message, into the few outcomes the pipeline acts on; their types
 * and parsers are alpaca_parse.h's. */
#ifndef ALPACA_H
#define ALPACA_H

#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include "alpaca_parse.h"
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

/* on: the caller took the token of the next trading-API call itself
 * (budget_take), so that call does not take one; off: it takes its own. */
void alpaca_set_prepaid(alpaca_t *a, int on);
int alpaca_prepaid(const alpaca_t *a);

/* ---- placements in flight together (alpaca_batch.c) -------------------- */

/* Most orders one alpaca_batch_place call sends. */
#define ALPACA_BATCH_MAX 64

typedef struct alpaca_batch alpaca_batch_t;

/* max clients (1 .. ALPACA_BATCH_MAX) driven by one libcurl multi handle
 * that keeps their connections alive (multiplexed over HTTP/2 where the
 * server speaks it), behind the breakers c and telling the budget b what
 * Alpaca's answers say (each may be NULL).  One per lane: never share it
 * between threads.  NULL without memory. */
alpaca_batch_t *alpaca_batch_new(const config_t *cfg, int max, circuits_t *c, budget_t *b);
void alpaca_batch_free(alpaca_batch_t *b);
int alpaca_batch_max(const alpaca_batch_t *b);

/* POST /v2/orders for in[0..n-1] with cids[i] (n at most alpaca_batch_max),
 * all in flight at once; res[i], out[i] and err[i] are what
 * alpaca_place_order would have given for in[i].  Each call is guarded by
 * its breaker as a single call is, but takes no token: the caller took one
 * of the budget for each order. */
void alpaca_batch_place(alpaca_batch_t *b, const intent_t *const *in, const char *const *cids,
                        int n, alpaca_order_t *out, alpaca_error_t *err, alpaca_result_t *res);

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

/* Latest quote (data API, GET /v2/stocks/{symbol}/quotes/latest?feed=). */
alpaca_result_t alpaca_get_quote(alpaca_t *a, const char *symbol,
                                 alpaca_quote_t *out, alpaca_error_t *err);

/* Bars (data API, GET /v2/stocks/{symbol}/bars), every page followed until
 * next_page_token is null.  timeframe e.g. "1Min", "1Day"; start/end RFC
 * 3339 or NULL; limit per page (0: Alpaca's default).  *bars is malloc'd
 * (free with free()); *n may be 0. */
alpaca_result_t alpaca_get_bars(alpaca_t *a, const char *symbol,
                                const char *timeframe, const char *start,
                                const char *end, int limit,
                                alpaca_bar_t **bars, size_t *n,
                                alpaca_error_t *err);

/* GET /v2/positions.  *out malloc'd (free()); *n may be 0. */
alpaca_result_t alpaca_get_positions(alpaca_t *a, alpaca_position_t **out,
                                     size_t *n, alpaca_error_t *err);

/* GET /v2/orders?status=&after=&limit=&direction=asc.  status "open",
 * "closed" or "all"; after (submitted_at, exclusive, RFC 3339) may be NULL;
 * limit 1..500.  *out malloc'd: free with alpaca_orders_free(). */
alpaca_result_t alpaca_list_orders(alpaca_t *a, const char *status,
                                   const char *after, int limit,
                                   alpaca_order_t **out, size_t *n,
                                   alpaca_error_t *err);

/* DELETE /v2/orders/{id}: 204 means the cancel request was accepted (the
 * order becomes canceled asynchronously); 422 if it can no longer be
 * canceled (ALPACA_REJECTED). */
alpaca_result_t alpaca_cancel_order(alpaca_t *a, const char *order_id,
                                    alpaca_error_t *err);

/* GET /v2/clock */
alpaca_result_t alpaca_get_clock(alpaca_t *a, alpaca_clock_t *out,
                                 alpaca_error_t *err);

/* What the last trading-API answer said of the rate limit (X-Ratelimit-*);
 * -1 where the header was absent. */
void alpaca_last_ratelimit(const alpaca_t *a, alpaca_ratelimit_t *out);

#endif
