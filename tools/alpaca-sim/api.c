/* api.c -- /v2 routing, authentication, rate limit and faults (see api.h). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bars.h"
#include "timefmt.h"

#define HANG_MS 60000

static int api_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Compares without stopping at the first difference (no timing hint). */
static int api_secret_equal(const char *given, const char *want)
{
    if (given == NULL)
        return 0;
    size_t gl = strlen(given), wl = strlen(want);
    unsigned char diff = (unsigned char)(gl != wl);
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)(want[i] ^ (i < gl ? given[i] : 0));
    return diff == 0;
}

static const char *api_status_text(int status)
{
    switch (status) {
    case 429: return "rate limit exceeded";
    case 500: return "internal server error";
    case 502: return "bad gateway";
    case 503: return "service unavailable";
    case 504: return "gateway timeout";
    default: return "simulated failure";
    }
}

static void api_method_not_allowed(reply_t *out)
{
    reply_error(out, 405, 40510000L, "method not allowed");
}

static int api_is(const request_t *req, const char *method)
{
    return strcmp(req->method, method) == 0;
}

/* GET /v2/orders query parameters. */
static int api_parse_list_query(const request_t *req, book_query_t *q, reply_t *out)
{
    memset(q, 0, sizeof(*q));
    q->status = BOOK_OPEN;
    q->limit = 50;
    q->side = -1;
    const char *v = request_query(req, "status");
    if (v) {
        if (strcmp(v, "open") == 0)
            q->status = BOOK_OPEN;
        else if (strcmp(v, "closed") == 0)
            q->status = BOOK_CLOSED;
        else if (strcmp(v, "all") == 0)
            q->status = BOOK_ALL;
        else {
            reply_error(out, 422, 40010001L, "invalid status");
            return -1;
        }
    }
    v = request_query(req, "limit");
    if (v) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || n < 1) {
            reply_error(out, 422, 40010001L, "invalid limit");
            return -1;
        }
        q->limit = n > 500 ? 500 : (int)n;
    }
    v = request_query(req, "after");
    if (v) {
        if (timefmt_parse(v, &q->after_us) != 0) {
            reply_error(out, 422, 40010001L, "invalid after");
            return -1;
        }
        q->has_after = 1;
    }
    v = request_query(req, "until");
    if (v) {
        if (timefmt_parse(v, &q->until_us) != 0) {
            reply_error(out, 422, 40010001L, "invalid until");
            return -1;
        }
        q->has_until = 1;
    }
    v = request_query(req, "direction");
    if (v) {
        if (strcmp(v, "asc") == 0)
            q->ascending = 1;
        else if (strcmp(v, "desc") != 0) {
            reply_error(out, 422, 40010001L, "invalid direction");
            return -1;
        }
    }
    v = request_query(req, "side");
    if (v) {
        if (strcmp(v, "buy") == 0)
            q->side = 0;
        else if (strcmp(v, "sell") == 0)
            q->side = 1;
        else {
            reply_error(out, 422, 40010001L, "invalid side");
            return -1;
        }
    }
    q->symbols = request_query(req, "symbols");
    return 0;
}

static void api_clock(sim_t *sim, reply_t *out)
{
    char now[TIMEFMT_LEN], open[32], close[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    /* The simulated session is open until POST /_sim/market closes it;
     * next_close is the coming 20:00 UTC, next_open 13:30 UTC after it. */
    time_t close_t = t - (t % 86400) + 20 * 3600;
    if (close_t <= t)
        close_t += 86400;
    time_t open_t = close_t - 20 * 3600 + 86400 + 13 * 3600 + 1800;
    gmtime_r(&close_t, &tm);
    strftime(close, sizeof(close), "%Y-%m-%dT%H:%M:%SZ", &tm);
    gmtime_r(&open_t, &tm);
    strftime(open, sizeof(open), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *j = json_object();
    json_object_set_new(j, "timestamp", json_string(timefmt_rfc3339_now_ns(now, sizeof(now))));
    json_object_set_new(j, "is_open", json_boolean(book_market_is_open(sim->book)));
    json_object_set_new(j, "next_open", json_string(open));
    json_object_set_new(j, "next_close", json_string(close));
    reply_json(out, 200, j);
}

static void api_submit(sim_t *sim, const request_t *req, reply_t *out)
{
    json_error_t jerr;
    json_t *body = req->body ? json_loadb(req->body, req->body_len, 0, &jerr) : NULL;
    if (body == NULL) {
        reply_error(out, 400, 40010000L, "request body format is invalid");
        return;
    }
    book_submit(sim->book, body, out);
    json_decref(body);
}

#define QUOTE_SUFFIX "/quotes/latest"
#define BARS_SUFFIX "/bars"

/* /v2/stocks/{symbol}/bars with symbol copied into out.  Returns 1 if so. */
static int api_bars_symbol(const char *u, char *out, size_t outlen)
{
    size_t n = strlen(u), sl = strlen(BARS_SUFFIX);
    if (!api_starts_with(u, "/v2/stocks/") || n <= 11 + sl || strcmp(u + n - sl, BARS_SUFFIX) != 0)
        return 0;
    size_t len = n - sl - 11;
    if (len >= outlen || memchr(u + 11, '/', len) != NULL)
        return 0;
    memcpy(out, u + 11, len);
    out[len] = '\0';
    return 1;
}

/* /v2/stocks/{symbol}/quotes/latest */
static int api_is_quote_path(const char *u)
{
    size_t n = strlen(u), sl = strlen(QUOTE_SUFFIX);
    return api_starts_with(u, "/v2/stocks/") && n > 11 + sl &&
           strcmp(u + n - sl, QUOTE_SUFFIX) == 0;
}

static void api_latest_quote(sim_t *sim, const request_t *req, reply_t *out)
{
    const char *u = req->url;
    char symbol[64];
    size_t len = strlen(u) - strlen(QUOTE_SUFFIX) - 11;
    const char *feed = request_query(req, "feed");
    if (len >= sizeof(symbol)) {
        reply_error(out, 422, 0, "invalid symbol");
        return;
    }
    memcpy(symbol, u + 11, len);
    symbol[len] = '\0';
    if (feed && strcmp(feed, "iex") != 0 && strcmp(feed, "sip") != 0 &&
        strcmp(feed, "delayed_sip") != 0 && strcmp(feed, "otc") != 0) {
        reply_error(out, 400, 0, "invalid feed");
        return;
    }
    book_latest_quote(sim->book, symbol, out);
}

/* Routes an authorised, admitted request.  Returns 0 if the path is known
 * (out is set), -1 if it is not. */
static int api_route_known(sim_t *sim, const request_t *req, reply_t *out)
{
    const char *u = req->url;
    char symbol[64];
    book_t *book = sim->book;
    int get = api_is(req, "GET");
    if (strcmp(u, "/v2/account") == 0) {
        if (get)
            book_account(book, out);
        else
            api_method_not_allowed(out);
    } else if (strcmp(u, "/v2/clock") == 0) {
        if (get)
            api_clock(sim, out);
        else
            api_method_not_allowed(out);
    } else if (strcmp(u, "/v2/orders") == 0) {
        book_query_t q;
        if (api_is(req, "POST"))
            api_submit(sim, req, out);
        else if (!get)
            api_method_not_allowed(out);
        else if (api_parse_list_query(req, &q, out) == 0)
            book_list_orders(book, &q, out);
    } else if (strcmp(u, "/v2/orders:by_client_order_id") == 0) {
        const char *cid = request_query(req, "client_order_id");
        if (!get)
            api_method_not_allowed(out);
        else if (cid == NULL || cid[0] == '\0')
            reply_error(out, 422, 40010001L, "client_order_id is required");
        else
            book_get_by_client_id(book, cid, out);
    } else if (api_starts_with(u, "/v2/orders/") && strchr(u + 11, '/') == NULL) {
        if (get)
            book_get_order(book, u + 11, out);
        else if (api_is(req, "DELETE"))
            book_cancel(book, u + 11, out);
        else
            api_method_not_allowed(out);
    } else if (strcmp(u, "/v2/positions") == 0) {
        if (get)
            book_positions(book, out);
        else
            api_method_not_allowed(out);
    } else if (api_starts_with(u, "/v2/positions/") && u[14] != '\0') {
        if (get)
            book_position(book, u + 14, out);
        else
            api_method_not_allowed(out);
    } else if (api_starts_with(u, "/v2/assets/") && u[11] != '\0') {
        if (get)
            book_asset(book, u + 11, out);
        else
            api_method_not_allowed(out);
    } else if (strcmp(u, "/v2/stocks/quotes/latest") == 0) {
        if (get)
            book_latest_quotes(book, request_query(req, "symbols"), out);
        else
            api_method_not_allowed(out);
    } else if (api_bars_symbol(u, symbol, sizeof(symbol))) {
        if (get)
            bars_reply(req, symbol, sim->cfg.seed, book, out);
        else
            api_method_not_allowed(out);
    } else if (api_is_quote_path(u)) {
        if (get)
            api_latest_quote(sim, req, out);
        else
            api_method_not_allowed(out);
    } else {
        return -1;
    }
    return 0;
}

static void api_route(sim_t *sim, const request_t *req, reply_t *out)
{
    if (api_route_known(sim, req, out) != 0)
        reply_error(out, 404, 0, "not found");
}

void api_handle(sim_t *sim, const request_t *req, reply_t *out)
{
    stats_t *st = &sim->stats;
    int is_data = api_starts_with(req->url, "/v2/stocks/");
    atomic_fetch_add(&st->requests_total, 1);
    atomic_fetch_add(is_data ? &st->data_requests : &st->trading_requests, 1);
    if (!strcmp(req->method, "POST") && !strcmp(req->url, "/v2/orders"))
        atomic_fetch_add(&st->order_posts, 1);

    const char *key = request_header(req, "APCA-API-KEY-ID");
    if (sim->cfg.auth_required &&
        !(api_secret_equal(key, sim->cfg.key_id) &
          api_secret_equal(request_header(req, "APCA-API-SECRET-KEY"), sim->cfg.secret_key))) {
        atomic_fetch_add(&st->responses_401, 1);
        reply_error(out, 401, 40110000L, "request is not authorized");
        stats_count_status(st, out->status);
        return;
    }

    if (!is_data) {
        ratelimit_info_t info;
        int ok = ratelimit_take(&sim->ratelimit, key ? key : "", timefmt_mono_ms(), &info);
        if (ok < 0) {
            reply_error(out, 500, 50010000L, "internal server error");
            stats_count_status(st, out->status);
            return;
        }
        out->has_ratelimit = 1;
        out->rl_limit = info.limit;
        out->rl_remaining = info.remaining;
        out->rl_reset = info.reset_epoch_s;
        if (!ok) {
            atomic_fetch_add(&st->responses_429, 1);
            reply_error(out, 429, 42910000L, "rate limit exceeded");
            stats_count_status(st, out->status);
            return;
        }
    }

    faults_plan_t plan;
    faults_plan(&sim->faults, timefmt_mono_ms(), &plan);
    if (plan.hang) {
        atomic_fetch_add(&st->fault_hangs, 1);
        atomic_fetch_add(&st->hanging_now, 1);
        sim_sleep_ms(sim, HANG_MS);
        atomic_fetch_sub(&st->hanging_now, 1);
        out->drop = 1;
        return;
    }
    if (plan.latency_ms > 0)
        sim_sleep_ms(sim, plan.latency_ms);
    if (plan.fail_status) {
        atomic_fetch_add(plan.outage ? &st->fault_outage_errors : &st->fault_errors, 1);
        reply_error(out, plan.fail_status, (long)plan.fail_status * 100000L + 10000L, "%s",
                    api_status_text(plan.fail_status));
        stats_count_status(st, out->status);
        return;
    }

    api_route(sim, req, out);
    if (plan.drop && out->status == 200 && strcmp(req->url, "/v2/orders") == 0 &&
        api_is(req, "POST")) {
        atomic_fetch_add(&st->fault_drops, 1);
        out->drop = 1;
        return;
    }
    stats_count_status(st, out->status);
}
