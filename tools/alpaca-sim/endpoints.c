/* endpoints.c -- the /v2 route table and its handlers (see endpoints.h). */
#include "endpoints.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bars.h"
#include "order.h"
#include "respond.h"
#include "router.h"
#include "simtime.h"

/* Path parameters longer than this name nothing (symbols have 15
 * characters, order ids 36). */
#define ENDPOINTS_PARAM_MAX 64

/* Answers with result when rc is 0, else with err. */
static void endpoints_answer(reply_t *out, int rc, json_t *result, const apierr_t *err)
{
    if (rc == 0)
        respond_ok(out, result);
    else
        respond_error(out, err);
}

/* The status filter of GET /v2/orders.  Returns 0 or -1. */
static int endpoints_status_filter(const char *v, book_status_filter_t *out)
{
    if (strcmp(v, "open") == 0)
        *out = BOOK_OPEN;
    else if (strcmp(v, "closed") == 0)
        *out = BOOK_CLOSED;
    else if (strcmp(v, "all") == 0)
        *out = BOOK_ALL;
    else
        return -1;
    return 0;
}

/* Reads an optional query time (after, until).  Returns 0 or -1. */
static int endpoints_time(const request_t *req, const char *name, int *has, int64_t *us)
{
    const char *v = request_query(req, name);
    if (v == NULL)
        return 0;
    *has = 1;
    return simtime_parse(v, us);
}

/* GET /v2/orders query parameters.  Returns NULL, or the name of the first
 * invalid one. */
static const char *endpoints_list_query(const request_t *req, book_query_t *q)
{
    memset(q, 0, sizeof(*q));
    q->status = BOOK_OPEN;
    q->limit = 50;
    q->side = -1;
    const char *v = request_query(req, "status");
    if (v && endpoints_status_filter(v, &q->status) != 0)
        return "status";
    v = request_query(req, "limit");
    if (v) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || n < 1)
            return "limit";
        q->limit = n > 500 ? 500 : (int)n;
    }
    if (endpoints_time(req, "after", &q->has_after, &q->after_us) != 0)
        return "after";
    if (endpoints_time(req, "until", &q->has_until, &q->until_us) != 0)
        return "until";
    v = request_query(req, "direction");
    if (v && strcmp(v, "asc") != 0 && strcmp(v, "desc") != 0)
        return "direction";
    q->ascending = v && strcmp(v, "asc") == 0;
    v = request_query(req, "side");
    if (v && strcmp(v, "buy") != 0 && strcmp(v, "sell") != 0)
        return "side";
    if (v)
        q->side = strcmp(v, "buy") == 0 ? ORDER_BUY : ORDER_SELL;
    q->symbols = request_query(req, "symbols");
    return NULL;
}

static void endpoints_account(void *ctx, const request_t *req, const router_match_t *m,
                              reply_t *out)
{
    sim_t *sim = ctx;
    (void)req;
    (void)m;
    respond_ok(out, book_account(sim->book));
}

/* The simulated session is open until POST /_sim/market closes it;
 * next_close is the coming 20:00 UTC, next_open 13:30 UTC after it. */
static void endpoints_clock(void *ctx, const request_t *req, const router_match_t *m,
                            reply_t *out)
{
    sim_t *sim = ctx;
    (void)req;
    (void)m;
    char now[SIMTIME_LEN], open[SIMTIME_LEN], close[SIMTIME_LEN];
    time_t t = time(NULL);
    time_t close_t = t - (t % 86400) + 20 * 3600;
    if (close_t <= t)
        close_t += 86400;
    time_t open_t = close_t - 20 * 3600 + 86400 + 13 * 3600 + 1800;
    json_t *j = json_object();
    json_object_set_new(j, "timestamp", json_string(simtime_rfc3339_now_ns(now, sizeof(now))));
    json_object_set_new(j, "is_open", json_boolean(book_market_is_open(sim->book)));
    json_object_set_new(j, "next_open",
                        json_string(simtime_rfc3339_s(open, sizeof(open), open_t)));
    json_object_set_new(j, "next_close",
                        json_string(simtime_rfc3339_s(close, sizeof(close), close_t)));
    respond_ok(out, j);
}

static void endpoints_submit(void *ctx, const request_t *req, const router_match_t *m,
                             reply_t *out)
{
    sim_t *sim = ctx;
    (void)m;
    json_t *body = respond_read_body(req, out);
    if (body == NULL)
        return;
    json_t *order = NULL;
    apierr_t err;
    int rc = book_submit(sim->book, body, &order, &err);
    json_decref(body);
    endpoints_answer(out, rc, order, &err);
}

static void endpoints_list(void *ctx, const request_t *req, const router_match_t *m,
                           reply_t *out)
{
    sim_t *sim = ctx;
    (void)m;
    book_query_t q;
    const char *bad = endpoints_list_query(req, &q);
    if (bad)
        respond_failf(out, APIERR_INVALID, "invalid %s", bad);
    else
        respond_ok(out, book_list_orders(sim->book, &q));
}

static void endpoints_by_client_id(void *ctx, const request_t *req, const router_match_t *m,
                                   reply_t *out)
{
    sim_t *sim = ctx;
    (void)m;
    const char *cid = request_query(req, "client_order_id");
    json_t *order = NULL;
    apierr_t err;
    if (cid == NULL || cid[0] == '\0') {
        respond_failf(out, APIERR_INVALID, "client_order_id is required");
        return;
    }
    int rc = book_get_by_client_id(sim->book, cid, &order, &err);
    endpoints_answer(out, rc, order, &err);
}

/* The order id of the path ("" for /v2/orders/; too long: no order's). */
static void endpoints_order_id(const router_match_t *m, char id[ENDPOINTS_PARAM_MAX])
{
    if (router_param(m, "id", id, ENDPOINTS_PARAM_MAX) >= ENDPOINTS_PARAM_MAX)
        id[0] = '\0';
}

static void endpoints_get_order(void *ctx, const request_t *req, const router_match_t *m,
                                reply_t *out)
{
    sim_t *sim = ctx;
    (void)req;
    char id[ENDPOINTS_PARAM_MAX];
    json_t *order = NULL;
    apierr_t err;
    endpoints_order_id(m, id);
    int rc = book_get_order(sim->book, id, &order, &err);
    endpoints_answer(out, rc, order, &err);
}

static void endpoints_cancel(void *ctx, const request_t *req, const router_match_t *m,
                             reply_t *out)
{
    sim_t *sim = ctx;
    (void)req;
    char id[ENDPOINTS_PARAM_MAX];
    apierr_t err;
    endpoints_order_id(m, id);
    if (book_cancel(sim->book, id, &err) == 0)
        reply_json(out, 204, NULL);
    else
        respond_error(out, &err);
}

static void endpoints_positions(void *ctx, const request_t *req, const router_match_t *m,
                                reply_t *out)
{
    sim_t *sim = ctx;
    (void)req;
    (void)m;
    respond_ok(out, book_positions(sim->book));
}

/* A book look-up by symbol (book_position, book_asset). */
typedef int (*endpoints_lookup_fn)(book_t *b, const char *symbol, json_t **out, apierr_t *err);

/* Answers what lookup finds for the path's symbol.  A symbol cut to
 * ENDPOINTS_PARAM_MAX - 1 characters names nothing (symbols are shorter)
 * and still prints as given in messages (%.32s). */
static void endpoints_by_symbol(sim_t *sim, const router_match_t *m, endpoints_lookup_fn lookup,
                                reply_t *out)
{
    char symbol[ENDPOINTS_PARAM_MAX];
    json_t *result = NULL;
    apierr_t err;
    router_param(m, "symbol", symbol, sizeof(symbol));
    int rc = lookup(sim->book, symbol, &result, &err);
    endpoints_answer(out, rc, result, &err);
}

static void endpoints_position(void *ctx, const request_t *req, const router_match_t *m,
                               reply_t *out)
{
    (void)req;
    endpoints_by_symbol(ctx, m, book_position, out);
}

static void endpoints_asset(void *ctx, const request_t *req, const router_match_t *m,
                            reply_t *out)
{
    (void)req;
    endpoints_by_symbol(ctx, m, book_asset, out);
}

static void endpoints_latest_quotes(void *ctx, const request_t *req, const router_match_t *m,
                                    reply_t *out)
{
    sim_t *sim = ctx;
    (void)m;
    json_t *quotes = NULL;
    apierr_t err;
    int rc = book_latest_quotes(sim->book, request_query(req, "symbols"), &quotes, &err);
    endpoints_answer(out, rc, quotes, &err);
}

static void endpoints_bars(void *ctx, const request_t *req, const router_match_t *m,
                           reply_t *out)
{
    sim_t *sim = ctx;
    char symbol[ENDPOINTS_PARAM_MAX];
    router_param(m, "symbol", symbol, sizeof(symbol));
    bars_query_t q = {symbol,
                      request_query(req, "timeframe"),
                      request_query(req, "start"),
                      request_query(req, "end"),
                      request_query(req, "limit"),
                      request_query(req, "page_token")};
    json_t *page = NULL;
    apierr_t err;
    int rc = bars_page(&q, sim->cfg.seed, sim->book, &page, &err);
    endpoints_answer(out, rc, page, &err);
}

/* The market data API's feeds. */
static int endpoints_feed_valid(const char *feed)
{
    return feed == NULL || strcmp(feed, "iex") == 0 || strcmp(feed, "sip") == 0 ||
           strcmp(feed, "delayed_sip") == 0 || strcmp(feed, "otc") == 0;
}

static void endpoints_latest_quote(void *ctx, const request_t *req, const router_match_t *m,
                                   reply_t *out)
{
    sim_t *sim = ctx;
    char symbol[ENDPOINTS_PARAM_MAX];
    json_t *quote = NULL;
    apierr_t err;
    if (router_param(m, "symbol", symbol, sizeof(symbol)) >= sizeof(symbol)) {
        respond_failf(out, APIERR_BAD_VALUE, "invalid symbol");
        return;
    }
    if (!endpoints_feed_valid(request_query(req, "feed"))) {
        respond_failf(out, APIERR_BAD_REQUEST, "invalid feed");
        return;
    }
    int rc = book_latest_quote(sim->book, symbol, &quote, &err);
    endpoints_answer(out, rc, quote, &err);
}

/* First match wins: the exact /v2/stocks/quotes/latest before the
 * patterns it would otherwise meet.  A bars symbol has no '/' and at most
 * 63 characters (longer: no such path); a quote's may have '/'. */
static const route_t endpoints_routes[] = {
    {"GET", "/v2/account", endpoints_account},
    {"GET", "/v2/clock", endpoints_clock},
    {"POST", "/v2/orders", endpoints_submit},
    {"GET", "/v2/orders", endpoints_list},
    {"GET", "/v2/orders:by_client_order_id", endpoints_by_client_id},
    {"GET", "/v2/orders/", endpoints_get_order},        /* no id: 422 like a bad one */
    {"DELETE", "/v2/orders/", endpoints_cancel},
    {"GET", "/v2/orders/{id}", endpoints_get_order},
    {"DELETE", "/v2/orders/{id}", endpoints_cancel},
    {"GET", "/v2/positions", endpoints_positions},
    {"GET", "/v2/positions/{symbol...}", endpoints_position},
    {"GET", "/v2/assets/{symbol...}", endpoints_asset},
    {"GET", "/v2/stocks/quotes/latest", endpoints_latest_quotes},
    {"GET", "/v2/stocks/{symbol:63}/bars", endpoints_bars},
    {"GET", "/v2/stocks/{symbol...}/quotes/latest", endpoints_latest_quote},
};

void endpoints_route(sim_t *sim, const request_t *req, reply_t *out)
{
    size_t n = sizeof(endpoints_routes) / sizeof(endpoints_routes[0]);
    switch (router_dispatch(endpoints_routes, n, sim, req, out)) {
    case ROUTER_HANDLED:
        break;
    case ROUTER_NO_METHOD:
        respond_fail(out, APIERR_METHOD_NOT_ALLOWED);
        break;
    case ROUTER_NO_PATH:
        respond_fail(out, APIERR_NO_ROUTE);
        break;
    }
}
