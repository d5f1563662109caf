/* test_alpaca.c -- tests for worker/alpaca.c against the Alpaca simulator.
 *
 * Run by tests/test_alpaca.sh, which starts the simulators and passes:
 *   ALPACA_BASE_URL, ALPACA_DATA_URL   the main simulator (high rate limit)
 *   ALPACA_RL_URL                      a second one allowing 3 calls a minute
 *   ALPACA_API_KEY_ID, ALPACA_API_SECRET_KEY
 * The simulator's control API (/_sim/...) is driven with libcurl directly.
 * The simulator fills asynchronously, like paper trading: POST answers
 * accepted/new and a tick about 100 ms later fills, so fills are awaited
 * with bounded polls.  A small canned HTTP server in a thread gives the
 * answers the simulator never sends (numbers with exponents, "bars":null,
 * nulls and unknown fields, odd statuses).  Prints each failure and a final "N passed, M failed"
 * line; exits non-zero on any failure. */
#include "alpaca.h"
#include "decimal.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static const char *base_url, *rl_url, *key_id, *secret_key;
static char run_tag[40];
static int cid_seq;

static void sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void new_cid(char *buf, size_t len) {
    snprintf(buf, len, "ta-%s-%d", run_tag, ++cid_seq);
}

static void make_config(config_t *cfg, const char *base, const char *data,
                        const char *secret, int64_t timeout_ms) {
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->alpaca_base_url, sizeof(cfg->alpaca_base_url), "%s", base);
    snprintf(cfg->alpaca_data_url, sizeof(cfg->alpaca_data_url), "%s", data);
    snprintf(cfg->alpaca_key_id, sizeof(cfg->alpaca_key_id), "%s", key_id);
    snprintf(cfg->alpaca_secret_key, sizeof(cfg->alpaca_secret_key), "%s", secret);
    snprintf(cfg->alpaca_feed, sizeof(cfg->alpaca_feed), "iex");
    cfg->alpaca_timeout_ms = timeout_ms;
    cfg->alpaca_connect_timeout_ms = 1000;
}

/* An error never carries the keys. */
static int no_secret(const alpaca_error_t *e) {
    return strstr(e->message, secret_key) == NULL && strstr(e->message, key_id) == NULL;
}

/* ---- the control API --------------------------------------------------- */

typedef struct buf {
    char *s;
    size_t len;
} buf_t;

static size_t buf_write(char *data, size_t size, size_t n, void *ud) {
    buf_t *b = ud;
    char *s = realloc(b->s, b->len + size * n + 1);
    if (!s) return 0;
    memcpy(s + b->len, data, size * n);
    b->s = s;
    b->len += size * n;
    b->s[b->len] = '\0';
    return size * n;
}

/* GET (body NULL) or POST body to base + path.  Returns the HTTP status
 * (0 if none) and, if out is not NULL, the answer as JSON. */
static long sim_call(const char *base, const char *path, const char *body, json_t **out) {
    char url[512];
    buf_t b = {NULL, 0};
    long status = 0;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (out) *out = b.s ? json_loads(b.s, 0, NULL) : NULL;
    if (status != 200)
        printf("  note: %s %s -> HTTP %ld %.200s\n", body ? "POST" : "GET", path, status,
               b.s ? b.s : "");
    free(b.s);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static long sim_post(const char *path, const char *body) {
    return sim_call(base_url, path, body, NULL);
}

static long long sim_stat(const char *name) {
    json_t *j = NULL;
    long long v = -1;
    sim_call(base_url, "/_sim/stats", NULL, &j);
    if (json_is_integer(json_object_get(j, name)))
        v = (long long)json_integer_value(json_object_get(j, name));
    json_decref(j);
    return v;
}

static void sim_reset(void) {
    CHECK(sim_post("/_sim/reset", "{}") == 200);
    CHECK(sim_post("/_sim/quotes", "{\"AAPL\":{\"bid\":\"189.10\",\"ask\":\"189.12\"},"
                                   "\"PENY\":{\"bid\":\"0.0001\",\"ask\":\"0.5\"}}") == 200);
}

/* ---- helpers ------------------------------------------------------------- */

static void make_intent(intent_t *in, const char *symbol, const char *side,
                        const char *type, const char *qty, const char *limit) {
    memset(in, 0, sizeof(*in));
    snprintf(in->symbol, sizeof(in->symbol), "%s", symbol);
    snprintf(in->side, sizeof(in->side), "%s", side);
    snprintf(in->type, sizeof(in->type), "%s", type);
    snprintf(in->time_in_force, sizeof(in->time_in_force), "day");
    in->has_qty = decimal_parse(qty, strlen(qty), 0, &in->qty) == DECIMAL_OK;
    if (limit)
        in->has_limit_price =
            decimal_parse(limit, strlen(limit), 0, &in->limit_price) == DECIMAL_OK;
}

/* Polls the order until its status is want (or any terminal status when
 * want is NULL), at most timeout_ms.  Leaves the last answer in *o. */
static int wait_status(alpaca_t *a, const char *id, const char *want,
                       int64_t timeout_ms, alpaca_order_t *o) {
    int64_t until = timefmt_mono_ms() + timeout_ms;
    alpaca_error_t e;
    memset(o, 0, sizeof(*o));
    for (;;) {
        alpaca_order_clear(o);
        if (alpaca_get_order(a, id, o, &e) == ALPACA_OK &&
            (want ? strcmp(o->status, want) == 0 : alpaca_status_is_terminal(o->status)))
            return 1;
        if (timefmt_mono_ms() > until) return 0;
        sleep_ms(25);
    }
}

static int count_cid(const alpaca_order_t *list, size_t n, const char *cid) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += strcmp(list[i].client_order_id, cid) == 0;
    return k;
}

/* ---- happy paths ------------------------------------------------------------ */

static void test_quote(alpaca_t *a) {
    alpaca_quote_t q;
    alpaca_error_t e;
    CHECK(alpaca_get_quote(a, "AAPL", &q, &e) == ALPACA_OK);
    CHECK(strcmp(q.symbol, "AAPL") == 0);
    CHECK(strcmp(q.ask, "189.12") == 0);
    CHECK(strcmp(q.bid, "189.1") == 0);  /* "189.10" sent as the number 189.1 */
    CHECK(q.t[0] != '\0');
    CHECK(q.ask_size > 0 && q.bid_size > 0);
    CHECK(q.ask_exchange[0] != '\0' && q.bid_exchange[0] != '\0');

    CHECK(alpaca_get_quote(a, "PENY", &q, &e) == ALPACA_OK);
    CHECK(strcmp(q.bid, "0.0001") == 0);
    CHECK(strcmp(q.ask, "0.5") == 0);

    CHECK(alpaca_get_quote(a, "NOPE", &q, &e) == ALPACA_NOT_FOUND);
    CHECK(e.http_status == 404);
}

static void test_account(alpaca_t *a) {
    alpaca_account_t acc;
    alpaca_error_t e;
    char reason[128] = "x";
    CHECK(alpaca_get_account(a, &acc, &e) == ALPACA_OK);
    CHECK(strcmp(acc.status, "ACTIVE") == 0);
    CHECK(acc.id[0] != '\0' && acc.account_number[0] != '\0');
    CHECK(strcmp(acc.currency, "USD") == 0);
    CHECK(strcmp(acc.cash, "100000") == 0);
    CHECK(strcmp(acc.buying_power, "100000") == 0);
    CHECK(acc.equity[0] != '\0' && acc.portfolio_value[0] != '\0');
    CHECK(strcmp(acc.multiplier, "1") == 0);
    CHECK(!acc.trading_blocked && !acc.account_blocked && !acc.trade_suspended_by_user);
    CHECK(alpaca_account_can_trade(&acc, reason, sizeof(reason)) == 1);
    CHECK(reason[0] == '\0');

    /* the trading API's rate-limit headers are kept */
    alpaca_ratelimit_t rl;
    alpaca_last_ratelimit(a, &rl);
    CHECK(rl.limit == 100000);
    CHECK(rl.remaining >= 0 && rl.remaining < rl.limit);
    CHECK(rl.reset_epoch_s >= timefmt_now_ms() / 1000 - 1);
}

static void test_account_gate(alpaca_t *a) {
    alpaca_account_t acc;
    alpaca_error_t e;
    char reason[128];

    CHECK(sim_post("/_sim/account", "{\"trading_blocked\":true}") == 200);
    CHECK(alpaca_get_account(a, &acc, &e) == ALPACA_OK);
    CHECK(acc.trading_blocked == 1);
    reason[0] = '\0';
    CHECK(alpaca_account_can_trade(&acc, reason, sizeof(reason)) == 0);
    CHECK(strstr(reason, "blocked") != NULL);

    CHECK(sim_post("/_sim/account", "{\"trading_blocked\":false,"
                                    "\"status\":\"ACCOUNT_UPDATED\"}") == 200);
    CHECK(alpaca_get_account(a, &acc, &e) == ALPACA_OK);
    CHECK(strcmp(acc.status, "ACCOUNT_UPDATED") == 0);
    reason[0] = '\0';
    CHECK(alpaca_account_can_trade(&acc, reason, sizeof(reason)) == 0);
    CHECK(strstr(reason, "ACCOUNT_UPDATED") != NULL);

    /* the gate itself, for each flag */
    memset(&acc, 0, sizeof(acc));
    snprintf(acc.status, sizeof(acc.status), "ACTIVE");
    CHECK(alpaca_account_can_trade(&acc, reason, sizeof(reason)) == 1);
    acc.account_blocked = 1;
    CHECK(alpaca_account_can_trade(&acc, reason, sizeof(reason)) == 0 && reason[0]);
    acc.account_blocked = 0;
    acc.trade_suspended_by_user = 1;
    CHECK(alpaca_account_can_trade(&acc, reason, sizeof(reason)) == 0 && reason[0]);

    sim_reset();
    CHECK(alpaca_get_account(a, &acc, &e) == ALPACA_OK);
    CHECK(alpaca_account_can_trade(&acc, reason, sizeof(reason)) == 1);
}

static void test_orders(alpaca_t *a) {
    alpaca_order_t o, got;
    alpaca_error_t e;
    intent_t in;
    char cid[64], cid2[64];

    /* a market buy: answered accepted/new, filled by a later tick */
    new_cid(cid, sizeof(cid));
    make_intent(&in, "AAPL", "buy", "market", "10", NULL);
    CHECK(alpaca_place_order(a, &in, cid, &o, &e) == ALPACA_OK);
    CHECK(e.http_status == 200);
    CHECK(strlen(o.id) == 36);
    CHECK(strcmp(o.client_order_id, cid) == 0);
    CHECK(strcmp(o.symbol, "AAPL") == 0 && strcmp(o.side, "buy") == 0);
    CHECK(strcmp(o.type, "market") == 0 && strcmp(o.time_in_force, "day") == 0);
    CHECK(strcmp(o.qty, "10") == 0 && o.notional[0] == '\0');
    CHECK(o.limit_price[0] == '\0' && o.stop_price[0] == '\0');
    CHECK(o.created_at[0] != '\0' && o.submitted_at[0] != '\0');
    CHECK(o.canceled_at[0] == '\0' && o.expired_at[0] == '\0' && o.failed_at[0] == '\0');
    CHECK(o.order_class[0] == '\0' || strcmp(o.order_class, "simple") == 0);
    CHECK(o.extended_hours == 0);
    CHECK(o.raw != NULL && strstr(o.raw, cid) != NULL);
    CHECK(strcmp(o.status, "accepted") == 0 || strcmp(o.status, "new") == 0 ||
          strcmp(o.status, "pending_new") == 0);
    CHECK(wait_status(a, o.id, "filled", 3000, &got));
    CHECK(strcmp(got.id, o.id) == 0);
    CHECK(strcmp(got.filled_qty, "10") == 0);
    CHECK(strcmp(got.filled_avg_price, "189.12") == 0);
    CHECK(got.filled_at[0] != '\0');
    alpaca_order_clear(&got);

    CHECK(alpaca_get_order_by_client_id(a, cid, &got, &e) == ALPACA_OK);
    CHECK(strcmp(got.id, o.id) == 0 && strcmp(got.status, "filled") == 0);
    alpaca_order_clear(&got);

    /* positions after the fill */
    alpaca_position_t *ps = NULL;
    size_t np = 0;
    CHECK(alpaca_get_positions(a, &ps, &np, &e) == ALPACA_OK);
    CHECK(np == 1);
    if (np == 1) {
        CHECK(strcmp(ps[0].symbol, "AAPL") == 0);
        CHECK(strcmp(ps[0].side, "long") == 0);
        CHECK(strcmp(ps[0].qty, "10") == 0);
        CHECK(strcmp(ps[0].avg_entry_price, "189.12") == 0);
        CHECK(ps[0].asset_id[0] != '\0' && ps[0].market_value[0] != '\0');
        CHECK(ps[0].cost_basis[0] != '\0' && ps[0].current_price[0] != '\0');
    }
    free(ps);

    /* duplicate client_order_id */
    CHECK(alpaca_place_order(a, &in, cid, &got, &e) == ALPACA_DUPLICATE);
    CHECK(e.http_status == 422 && strstr(e.message, "client_order_id must be unique"));
    CHECK(got.raw == NULL);

    /* a resting limit order: open until canceled */
    new_cid(cid2, sizeof(cid2));
    make_intent(&in, "AAPL", "buy", "limit", "1", "100");
    alpaca_order_t rest;
    CHECK(alpaca_place_order(a, &in, cid2, &rest, &e) == ALPACA_OK);
    CHECK(strcmp(rest.limit_price, "100") == 0);
    sleep_ms(300);   /* a few ticks: it must not fill */

    alpaca_order_t *list = NULL;
    size_t n = 0;
    CHECK(alpaca_list_orders(a, "open", NULL, 500, &list, &n, &e) == ALPACA_OK);
    CHECK(n == 1 && count_cid(list, n, cid2) == 1);
    if (n == 1) CHECK(strcmp(list[0].status, "new") == 0 || strcmp(list[0].status, "accepted") == 0);
    alpaca_orders_free(list, n);

    CHECK(alpaca_list_orders(a, "closed", NULL, 500, &list, &n, &e) == ALPACA_OK);
    CHECK(n == 1 && count_cid(list, n, cid) == 1 && count_cid(list, n, cid2) == 0);
    alpaca_orders_free(list, n);

    CHECK(alpaca_list_orders(a, "all", NULL, 500, &list, &n, &e) == ALPACA_OK);
    CHECK(n == 2);
    if (n == 2) {   /* direction=asc: oldest first */
        CHECK(strcmp(list[0].client_order_id, cid) == 0);
        CHECK(strcmp(list[1].client_order_id, cid2) == 0);
        CHECK(list[0].raw && list[1].raw);
    }
    alpaca_orders_free(list, n);

    CHECK(alpaca_list_orders(a, "all", NULL, 1, &list, &n, &e) == ALPACA_OK);
    CHECK(n == 1);
    alpaca_orders_free(list, n);

    /* after= is exclusive on submitted_at: after the first, only the second */
    CHECK(alpaca_list_orders(a, "all", o.submitted_at, 500, &list, &n, &e) == ALPACA_OK);
    CHECK(n == 1 && count_cid(list, n, cid2) == 1);
    alpaca_orders_free(list, n);

    CHECK(alpaca_list_orders(a, "all", NULL, 0, &list, &n, &e) == ALPACA_REJECTED);
    CHECK(list == NULL && n == 0);

    /* cancel: 204, then pending_cancel or canceled, then canceled */
    CHECK(alpaca_cancel_order(a, rest.id, &e) == ALPACA_OK);
    CHECK(e.http_status == 204);
    CHECK(alpaca_get_order(a, rest.id, &got, &e) == ALPACA_OK);
    CHECK(strcmp(got.status, "pending_cancel") == 0 || strcmp(got.status, "canceled") == 0);
    alpaca_order_clear(&got);
    CHECK(wait_status(a, rest.id, "canceled", 3000, &got));
    CHECK(got.canceled_at[0] != '\0');
    alpaca_order_clear(&got);
    /* a second cancel: no longer cancelable */
    CHECK(alpaca_cancel_order(a, rest.id, &e) == ALPACA_REJECTED);
    CHECK(e.http_status == 422 && e.message[0] != '\0');

    CHECK(alpaca_list_orders(a, "open", NULL, 500, &list, &n, &e) == ALPACA_OK);
    CHECK(n == 0 && list == NULL);
    alpaca_orders_free(list, n);

    alpaca_order_clear(&rest);
    alpaca_order_clear(&o);
}

static void test_clock(alpaca_t *a) {
    alpaca_clock_t c;
    alpaca_error_t e;
    CHECK(alpaca_get_clock(a, &c, &e) == ALPACA_OK);
    CHECK(c.timestamp[0] != '\0' && c.next_open[0] != '\0' && c.next_close[0] != '\0');
    int64_t t;
    CHECK(timefmt_parse_rfc3339(c.next_open, strlen(c.next_open), &t) == 0);
    CHECK(timefmt_parse_rfc3339(c.next_close, strlen(c.next_close), &t) == 0);

    CHECK(sim_post("/_sim/market", "{\"open\":false}") == 200);
    CHECK(alpaca_get_clock(a, &c, &e) == ALPACA_OK);
    CHECK(c.is_open == 0);
    CHECK(sim_post("/_sim/market", "{\"open\":true}") == 200);
    CHECK(alpaca_get_clock(a, &c, &e) == ALPACA_OK);
    CHECK(c.is_open == 1);
}

static int bar_is_decimal(const char *s) {
    decimal_t d;
    return s[0] != '\0' && decimal_parse(s, strlen(s), 0, &d) == DECIMAL_OK && !d.negative;
}

static void test_bars(alpaca_t *a) {
    alpaca_bar_t *all = NULL, *paged = NULL;
    size_t nall = 0, npaged = 0;
    alpaca_error_t e;
    /* a fixed weekday afternoon (UTC): the simulator has minute bars then */
    const char *start = "2024-03-05T14:00:00Z", *end = "2024-03-05T15:00:00Z";

    /* one large page, then pages of 7: the same bars */
    CHECK(alpaca_get_bars(a, "AAPL", "1Min", start, end, 10000, &all, &nall, &e) == ALPACA_OK);
    CHECK(nall >= 59 && nall <= 61);
    long long before = sim_stat("data_requests");
    CHECK(alpaca_get_bars(a, "AAPL", "1Min", start, end, 7, &paged, &npaged, &e) == ALPACA_OK);
    long long pages = sim_stat("data_requests") - before;
    CHECK(npaged == nall);
    CHECK(pages == (long long)((nall + 6) / 7) || pages == (long long)((nall + 6) / 7) + 1);
    int same = npaged == nall, ordered = 1, readable = 1;
    for (size_t i = 0; same && i < nall; i++) {
        same = strcmp(all[i].t, paged[i].t) == 0 && strcmp(all[i].o, paged[i].o) == 0 &&
               strcmp(all[i].c, paged[i].c) == 0 && strcmp(all[i].vw, paged[i].vw) == 0 &&
               all[i].v == paged[i].v && all[i].n == paged[i].n;
        if (i > 0 && strcmp(all[i - 1].t, all[i].t) >= 0) ordered = 0;
        if (!bar_is_decimal(all[i].o) || !bar_is_decimal(all[i].h) ||
            !bar_is_decimal(all[i].l) || !bar_is_decimal(all[i].c) ||
            !bar_is_decimal(all[i].vw) || all[i].v <= 0 || all[i].n <= 0)
            readable = 0;
    }
    CHECK(same);
    CHECK(ordered);
    CHECK(readable);
    if (nall > 0) {
        CHECK(strcmp(all[0].t, start) == 0);
        /* prices in cents: at most 2 fraction digits, no float noise */
        const char *dot = strchr(all[0].o, '.');
        CHECK(dot == NULL || strlen(dot + 1) <= 2);
    }
    free(all);
    free(paged);

    /* a Saturday: no bars, not an error */
    all = NULL;
    nall = 99;
    CHECK(alpaca_get_bars(a, "AAPL", "1Min", "2024-03-09T14:00:00Z", "2024-03-09T15:00:00Z",
                          0, &all, &nall, &e) == ALPACA_OK);
    CHECK(nall == 0 && all == NULL);
    free(all);

    CHECK(alpaca_get_bars(a, "AAPL", "7Week", start, end, 0, &all, &nall, &e) ==
          ALPACA_REJECTED);
    CHECK(e.http_status == 422 && all == NULL && nall == 0);
}

/* ---- error mapping ---------------------------------------------------------- */

static void test_rejections(alpaca_t *a) {
    alpaca_order_t o;
    alpaca_error_t e;
    intent_t in;
    char cid[64];

    new_cid(cid, sizeof(cid));
    make_intent(&in, "AAPL", "buy", "market", "100000", NULL);
    CHECK(alpaca_place_order(a, &in, cid, &o, &e) == ALPACA_REJECTED);
    CHECK(e.http_status == 403);
    CHECK(e.code == 40310000);
    CHECK(strcmp(e.message, "insufficient buying power") == 0);
    CHECK(o.raw == NULL && o.id[0] == '\0');

    new_cid(cid, sizeof(cid));
    make_intent(&in, "AAPL", "buy", "limit", "1", "189.123");
    CHECK(alpaca_place_order(a, &in, cid, &o, &e) == ALPACA_REJECTED);
    CHECK(e.http_status == 422);
    CHECK(strstr(e.message, "sub-penny") != NULL);

    CHECK(alpaca_get_order(a, "6f0f8a0e-3c1d-4b7a-9e51-0c1b2d3e4f50", &o, &e) ==
          ALPACA_NOT_FOUND);
    CHECK(e.http_status == 404 && e.code == 40410000);
    CHECK(alpaca_get_order_by_client_id(a, "no-such-order", &o, &e) == ALPACA_NOT_FOUND);
    /* an id that needs escaping reaches the server as one path part */
    CHECK(alpaca_get_order(a, "bad id?x=1", &o, &e) == ALPACA_REJECTED);
    CHECK(e.http_status == 422);
    CHECK(alpaca_cancel_order(a, "6f0f8a0e-3c1d-4b7a-9e51-0c1b2d3e4f50", &e) ==
          ALPACA_NOT_FOUND);
}

static void test_unauthorized(void) {
    config_t cfg;
    alpaca_account_t acc;
    alpaca_error_t e;
    alpaca_quote_t q;
    make_config(&cfg, base_url, base_url, "wrong-secret", 2000);
    alpaca_t *bad = alpaca_new(&cfg);
    CHECK(bad != NULL);
    CHECK(alpaca_get_account(bad, &acc, &e) == ALPACA_UNAUTHORIZED);
    CHECK(e.http_status == 401 && e.message[0] != '\0');
    CHECK(no_secret(&e) && strstr(e.message, "wrong-secret") == NULL);
    CHECK(alpaca_get_quote(bad, "AAPL", &q, &e) == ALPACA_UNAUTHORIZED);
    alpaca_free(bad);
}

static void test_rate_limited(void) {
    config_t cfg;
    alpaca_account_t acc;
    alpaca_error_t e;
    alpaca_ratelimit_t rl;
    make_config(&cfg, rl_url, rl_url, secret_key, 2000);
    alpaca_t *a = alpaca_new(&cfg);
    alpaca_last_ratelimit(a, &rl);
    CHECK(rl.limit == -1 && rl.remaining == -1 && rl.reset_epoch_s == -1);
    for (int i = 0; i < 3; i++) {
        CHECK(alpaca_get_account(a, &acc, &e) == ALPACA_OK);
        alpaca_last_ratelimit(a, &rl);
        CHECK(rl.limit == 3 && rl.remaining == 2 - i);
    }
    int64_t now = timefmt_now_ms();
    CHECK(alpaca_get_account(a, &acc, &e) == ALPACA_RATE_LIMITED);
    CHECK(e.http_status == 429 && e.code == 42910000);
    CHECK(e.retry_at_ms > now && e.retry_at_ms <= now + 61000);
    alpaca_last_ratelimit(a, &rl);
    CHECK(rl.limit == 3 && rl.remaining == 0);
    CHECK(rl.reset_epoch_s * 1000 == e.retry_at_ms);
    /* the data API has a limit of its own: not refused, and it leaves the
     * trading API's numbers alone */
    alpaca_quote_t q;
    CHECK(alpaca_get_quote(a, "AAPL", &q, &e) == ALPACA_OK);
    alpaca_last_ratelimit(a, &rl);
    CHECK(rl.limit == 3 && rl.remaining == 0);
    alpaca_free(a);
}

static void test_transient(alpaca_t *a) {
    alpaca_account_t acc;
    alpaca_order_t o;
    alpaca_error_t e;
    intent_t in;
    char cid[64];
    config_t cfg;

    /* 503 */
    CHECK(sim_post("/_sim/faults", "{\"error_rate\":1}") == 200);
    CHECK(alpaca_get_account(a, &acc, &e) == ALPACA_TRANSIENT);
    CHECK(e.http_status == 503);
    CHECK(sim_post("/_sim/faults", "{\"error_rate\":1,\"error_status\":408}") == 200);
    CHECK(alpaca_get_account(a, &acc, &e) == ALPACA_TRANSIENT);
    CHECK(e.http_status == 408);
    CHECK(sim_post("/_sim/faults", "{}") == 200);
    CHECK(alpaca_get_account(a, &acc, &e) == ALPACA_OK);

    /* a hung request, with a 500 ms timeout */
    make_config(&cfg, base_url, base_url, secret_key, 500);
    alpaca_t *quick = alpaca_new(&cfg);
    CHECK(sim_post("/_sim/faults", "{\"hang_rate\":1}") == 200);
    int64_t t0 = timefmt_mono_ms();
    CHECK(alpaca_get_account(quick, &acc, &e) == ALPACA_TRANSIENT);
    int64_t took = timefmt_mono_ms() - t0;
    CHECK(took >= 400 && took < 1200);
    CHECK(e.http_status == 0 && e.message[0] != '\0' && no_secret(&e));
    CHECK(sim_post("/_sim/faults", "{}") == 200);
    /* the same handle works again afterwards */
    CHECK(alpaca_get_account(quick, &acc, &e) == ALPACA_OK);
    alpaca_free(quick);

    /* connection refused: a port bound but not listening */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
          getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    char dead[64];
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    make_config(&cfg, dead, dead, secret_key, 2000);
    alpaca_t *nobody = alpaca_new(&cfg);
    t0 = timefmt_mono_ms();
    CHECK(alpaca_get_account(nobody, &acc, &e) == ALPACA_TRANSIENT);
    CHECK(timefmt_mono_ms() - t0 < 1000);
    CHECK(e.http_status == 0 && e.message[0] != '\0' && no_secret(&e));
    alpaca_free(nobody);
    close(fd);

    /* a lost answer: the order exists, once */
    alpaca_result_t r;
    long long created = sim_stat("orders_created");
    new_cid(cid, sizeof(cid));
    make_intent(&in, "AAPL", "buy", "market", "1", NULL);
    CHECK(sim_post("/_sim/faults", "{\"drop_response_rate\":1}") == 200);
    r = alpaca_place_order(a, &in, cid, &o, &e);
    if (r != ALPACA_TRANSIENT) printf("  drop: result %d, HTTP %ld, %s\n", (int)r, e.http_status, e.message);
    CHECK(r == ALPACA_TRANSIENT);
    CHECK(e.http_status == 0 && o.raw == NULL);
    CHECK(strstr(e.message, "POST /v2/orders") != NULL && no_secret(&e));
    CHECK(sim_post("/_sim/faults", "{}") == 200);
    CHECK(alpaca_get_order_by_client_id(a, cid, &o, &e) == ALPACA_OK);
    CHECK(strcmp(o.client_order_id, cid) == 0);
    alpaca_order_clear(&o);
    alpaca_order_t *list = NULL;
    size_t n = 0;
    CHECK(alpaca_list_orders(a, "all", NULL, 500, &list, &n, &e) == ALPACA_OK);
    CHECK(count_cid(list, n, cid) == 1);
    alpaca_orders_free(list, n);
    CHECK(sim_stat("orders_created") == created + 1);
    /* resubmitting with the same id says it landed */
    CHECK(alpaca_place_order(a, &in, cid, &o, &e) == ALPACA_DUPLICATE);
    CHECK(sim_stat("orders_created") == created + 1);
}

/* ---- a canned server: answers the simulator cannot give ---------------- */

/* The first entry whose match is a substring of the request line answers. */
typedef struct canned {
    const char *match;
    int status;
    const char *headers;   /* extra header lines, each ending in \r\n */
    const char *body;
} canned_t;

static struct {
    pthread_mutex_t lock;
    int fd, stop;
    const canned_t *table;
    size_t n;
    char last[1024];       /* the last request line */
    int requests;
} cs = {PTHREAD_MUTEX_INITIALIZER, -1, 0, NULL, 0, "", 0};

static void canned_serve_one(int c) {
    char req[8192];
    size_t len = 0;
    while (len + 1 < sizeof(req)) {
        ssize_t k = read(c, req + len, sizeof(req) - 1 - len);
        if (k <= 0) return;
        len += (size_t)k;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n")) break;
    }
    char *eol = strstr(req, "\r\n");
    if (eol) *eol = '\0';
    pthread_mutex_lock(&cs.lock);
    snprintf(cs.last, sizeof(cs.last), "%.1000s", req);
    cs.requests++;
    const canned_t *hit = NULL;
    for (size_t i = 0; !hit && i < cs.n; i++)
        if (strstr(req, cs.table[i].match)) hit = &cs.table[i];
    char head[1024];
    const char *body = hit ? hit->body : "{\"message\":\"no canned answer\"}";
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     hit ? hit->status : 599, strlen(body), hit ? hit->headers : "");
    pthread_mutex_unlock(&cs.lock);
    if (write(c, head, (size_t)n) != n || write(c, body, strlen(body)) < 0) return;
}

static void *canned_main(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&cs.lock);
        int stop = cs.stop;
        pthread_mutex_unlock(&cs.lock);
        if (stop) return NULL;
        struct pollfd p = {cs.fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        int c = accept(cs.fd, NULL, NULL);
        if (c < 0) continue;
        canned_serve_one(c);
        close(c);
    }
}

static void canned_set(const canned_t *table, size_t n) {
    pthread_mutex_lock(&cs.lock);
    cs.table = table;
    cs.n = n;
    cs.last[0] = '\0';
    cs.requests = 0;
    pthread_mutex_unlock(&cs.lock);
}

static void canned_last(char *buf, size_t len, int *requests) {
    pthread_mutex_lock(&cs.lock);
    snprintf(buf, len, "%s", cs.last);
    *requests = cs.requests;
    pthread_mutex_unlock(&cs.lock);
}

#define NCANNED(t) (sizeof(t) / sizeof((t)[0]))

static const char order_json[] =
    "{\"id\":\"61e69015-8549-4bfd-b9c3-01e75843f47d\",\"client_order_id\":\"c1\","
    "\"created_at\":\"2021-03-16T18:38:01.942282Z\",\"submitted_at\":\"2021-03-16T18:38:01.9Z\","
    "\"filled_at\":null,\"expired_at\":null,\"canceled_at\":null,\"failed_at\":null,"
    "\"symbol\":\"AAPL\",\"notional\":\"500\",\"qty\":null,\"filled_qty\":null,"
    "\"filled_avg_price\":null,\"order_class\":\"simple\",\"order_type\":\"market\","
    "\"side\":\"buy\",\"time_in_force\":\"day\",\"status\":\"accepted\","
    "\"extended_hours\":true,\"legs\":null,\"some_new_field\":{\"x\":[1,2]},\"hwm\":null}";

static void test_canned(void) {
    pthread_t th;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cs.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (cs.fd < 0 || bind(cs.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(cs.fd, (struct sockaddr *)&sa, &sl) != 0 || listen(cs.fd, 16) != 0 ||
        pthread_create(&th, NULL, canned_main, NULL) != 0) {
        CHECK(!"canned server starts");
        return;
    }
    char url[64], last[1024];
    int requests;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    config_t cfg;
    make_config(&cfg, url, url, secret_key, 2000);
    alpaca_t *a = alpaca_new(&cfg);
    alpaca_error_t e;

    /* market data numbers: exponents, integers, zero, nulls */
    static const canned_t quote[] = {
        {"/v2/stocks/A%20B%2FC/quotes/latest?feed=iex ", 200, "",
         "{\"symbol\":\"A B/C\",\"quote\":{\"t\":\"2022-04-12T17:16:36.390749849Z\","
         "\"ax\":\"V\",\"ap\":0.00001,\"as\":3,\"bx\":null,\"bp\":0,\"bs\":null,"
         "\"c\":[\"R\"],\"z\":\"C\"},\"extra\":1}"},
        {"/v2/stocks/BIG/", 200, "",
         "{\"symbol\":\"BIG\",\"quote\":{\"ap\":1234567.891,\"bp\":1e21,\"as\":1.0}}"},
        {"/v2/stocks/NOQ/", 200, "", "{\"symbol\":\"NOQ\",\"quote\":null}"},
    };
    alpaca_quote_t q;
    canned_set(quote, NCANNED(quote));
    CHECK(alpaca_get_quote(a, "A B/C", &q, &e) == ALPACA_OK);
    CHECK(strcmp(q.ask, "0.00001") == 0);
    CHECK(strcmp(q.bid, "0") == 0);
    CHECK(q.ask_size == 3 && q.bid_size == 0);
    CHECK(strcmp(q.ask_exchange, "V") == 0 && q.bid_exchange[0] == '\0');
    CHECK(strcmp(q.t, "2022-04-12T17:16:36.390749849Z") == 0);
    CHECK(alpaca_get_quote(a, "BIG", &q, &e) == ALPACA_OK);
    CHECK(strcmp(q.ask, "1234567.891") == 0);
    CHECK(strcmp(q.bid, "1000000000000000000000") == 0);
    CHECK(q.ask_size == 1);
    CHECK(alpaca_get_quote(a, "NOQ", &q, &e) == ALPACA_TRANSIENT);
    CHECK(strstr(e.message, "unreadable") != NULL);

    /* bars: a token that needs escaping, then "bars":null ends */
    static const canned_t bars[] = {
        {"page_token=a%2Bb%2Fc%3D ", 200, "",
         "{\"bars\":null,\"symbol\":\"X\",\"next_page_token\":null}"},
        {"page_token=loop ", 200, "", "{\"bars\":[],\"next_page_token\":\"loop\"}"},
        {"/v2/stocks/LOOP/bars", 200, "", "{\"bars\":[],\"next_page_token\":\"loop\"}"},
        {"/v2/stocks/X/bars?timeframe=1Day&start=2024-01-01T00%3A00%3A00Z&limit=2&feed=iex ",
         200, "",
         "{\"bars\":[{\"t\":\"2024-01-02T05:00:00Z\",\"o\":168.99,\"h\":169.81,\"l\":168,"
         "\"c\":169,\"v\":7170,\"n\":206,\"vw\":169.233976}],\"symbol\":\"X\","
         "\"next_page_token\":\"a+b/c=\"}"},
    };
    alpaca_bar_t *b = NULL;
    size_t nb = 0;
    canned_set(bars, NCANNED(bars));
    CHECK(alpaca_get_bars(a, "X", "1Day", "2024-01-01T00:00:00Z", NULL, 2, &b, &nb, &e) ==
          ALPACA_OK);
    canned_last(last, sizeof(last), &requests);
    CHECK(requests == 2);
    CHECK(nb == 1);
    if (nb == 1) {
        CHECK(strcmp(b[0].o, "168.99") == 0 && strcmp(b[0].h, "169.81") == 0);
        CHECK(strcmp(b[0].l, "168") == 0 && strcmp(b[0].c, "169") == 0);
        CHECK(strcmp(b[0].vw, "169.233976") == 0);
        CHECK(b[0].v == 7170 && b[0].n == 206);
    }
    free(b);
    CHECK(alpaca_get_bars(a, "LOOP", "1Min", NULL, NULL, 0, &b, &nb, &e) == ALPACA_TRANSIENT);
    CHECK(b == NULL && nb == 0 && strstr(e.message, "repeats") != NULL);

    /* orders: nulls, unknown fields, order_type only, list of them */
    static const canned_t orders[] = {
        {"GET /v2/orders/61e69015", 200, "", order_json},
        {"GET /v2/orders/long", 200, "",
         "{\"id\":\"61e69015-8549-4bfd-b9c3-01e75843f47d61e69015-8549-4bfd-b9c3-01e75843f47d\"}"},
        {"GET /v2/orders/noid", 200, "", "{\"status\":\"new\"}"},
        {"GET /v2/orders?status=closed&after=2024-01-01T00%3A00%3A00%2B01%3A00&limit=2&"
         "direction=asc ", 200, "", "[]"},
        {"GET /v2/orders?", 200, "", "[" "{\"id\":\"x\",\"status\":\"new\"}," "{\"id\":\"y\"}]"},
    };
    alpaca_order_t o;
    canned_set(orders, NCANNED(orders));
    CHECK(alpaca_get_order(a, "61e69015-8549-4bfd-b9c3-01e75843f47d", &o, &e) == ALPACA_OK);
    CHECK(strcmp(o.type, "market") == 0 && strcmp(o.notional, "500") == 0);
    CHECK(o.qty[0] == '\0' && strcmp(o.filled_qty, "0") == 0 && o.filled_avg_price[0] == '\0');
    CHECK(strcmp(o.order_class, "simple") == 0 && o.extended_hours == 1);
    CHECK(strcmp(o.submitted_at, "2021-03-16T18:38:01.9Z") == 0 && o.filled_at[0] == '\0');
    CHECK(o.raw && strstr(o.raw, "some_new_field") != NULL);
    alpaca_order_clear(&o);
    CHECK(alpaca_get_order(a, "long", &o, &e) == ALPACA_TRANSIENT);
    CHECK(o.raw == NULL && strstr(e.message, "id") != NULL);
    CHECK(alpaca_get_order(a, "noid", &o, &e) == ALPACA_TRANSIENT);
    alpaca_order_t *list = NULL;
    size_t n = 0;
    CHECK(alpaca_list_orders(a, "closed", "2024-01-01T00:00:00+01:00", 2, &list, &n, &e) ==
          ALPACA_OK);
    CHECK(n == 0 && list == NULL);
    CHECK(alpaca_list_orders(a, "open", NULL, 50, &list, &n, &e) == ALPACA_OK);
    CHECK(n == 2 && strcmp(list[0].id, "x") == 0 && strcmp(list[1].id, "y") == 0);
    alpaca_orders_free(list, n);

    /* classification: status first, then message */
    static const canned_t errors[] = {
        {"/v2/account ", 200,
         "x-ratelimit-limit: 200\r\nX-RATELIMIT-REMAINING:  7 \r\nX-RateLimit-Reset: 1700000000\r\n",
         "{\"status\":\"ACTIVE\",\"daytrade_count\":\"0\",\"cash\":\"12.5\",\"equity\":null,"
         "\"shorting_enabled\":true}"},
        {"/v2/clock ", 429, "", "{\"code\":42910000,\"message\":\"rate limit exceeded\"}"},
        {"DELETE /v2/orders/dup403 ", 403, "",
         "{\"code\":40310000,\"message\":\"client_order_id must be unique\"}"},
        {"DELETE /v2/orders/dup422 ", 422, "",
         "{\"code\":40010001,\"message\":\"client_order_id must be unique\"}"},
        {"DELETE /v2/orders/e400 ", 400, "", "{\"code\":40010000,\"message\":\"bad body\"}"},
        {"DELETE /v2/orders/e500 ", 500, "", "<html>oops</html>"},
        {"DELETE /v2/orders/e302 ", 302, "", ""},
        {"DELETE /v2/orders/ok ", 204, "", ""},
        {"/v2/positions ", 200, "", "not json"},
    };
    alpaca_account_t acc;
    alpaca_clock_t clk;
    alpaca_ratelimit_t rl;
    alpaca_position_t *ps = NULL;
    size_t np = 0;
    canned_set(errors, NCANNED(errors));
    CHECK(alpaca_get_account(a, &acc, &e) == ALPACA_OK);
    CHECK(strcmp(acc.cash, "12.5") == 0 && acc.equity[0] == '\0' && acc.shorting_enabled == 1);
    alpaca_last_ratelimit(a, &rl);
    CHECK(rl.limit == 200 && rl.remaining == 7 && rl.reset_epoch_s == 1700000000);
    int64_t now = timefmt_now_ms();
    CHECK(alpaca_get_clock(a, &clk, &e) == ALPACA_RATE_LIMITED);
    CHECK(e.retry_at_ms >= now + 900 && e.retry_at_ms <= timefmt_now_ms() + 1100);
    alpaca_last_ratelimit(a, &rl);
    CHECK(rl.limit == -1 && rl.remaining == -1);   /* that answer had none */
    CHECK(alpaca_cancel_order(a, "dup403", &e) == ALPACA_REJECTED && e.http_status == 403);
    CHECK(alpaca_cancel_order(a, "dup422", &e) == ALPACA_DUPLICATE);
    CHECK(alpaca_cancel_order(a, "e400", &e) == ALPACA_REJECTED);
    CHECK(e.http_status == 400 && e.code == 40010000 && strcmp(e.message, "bad body") == 0);
    CHECK(alpaca_cancel_order(a, "e500", &e) == ALPACA_TRANSIENT);
    CHECK(e.http_status == 500 && strcmp(e.message, "HTTP 500") == 0);
    CHECK(alpaca_cancel_order(a, "e302", &e) == ALPACA_TRANSIENT);
    CHECK(alpaca_cancel_order(a, "ok", &e) == ALPACA_OK && e.http_status == 204);
    canned_last(last, sizeof(last), &requests);
    CHECK(strcmp(last, "DELETE /v2/orders/ok HTTP/1.1") == 0);
    CHECK(alpaca_get_positions(a, &ps, &np, &e) == ALPACA_TRANSIENT);
    CHECK(ps == NULL && np == 0 && e.http_status == 200 && no_secret(&e));

    alpaca_free(a);
    pthread_mutex_lock(&cs.lock);
    cs.stop = 1;
    pthread_mutex_unlock(&cs.lock);
    pthread_join(th, NULL);
    close(cs.fd);
}

/* The pure parsers (alpaca_parse_*), without a server. */
static void test_parsers(void) {
    const char *bad = NULL;
    /* Sizes and volumes beyond long long saturate (the cast was undefined;
     * found by tests/fuzz/fuzz_alpaca). */
    static const char quote[] =
        "{\"symbol\":\"AAPL\",\"quote\":{\"ap\":1e-05,\"bp\":189.1,\"as\":1.9e21,\"bs\":-1e300}}";
    alpaca_quote_t q;
    CHECK(alpaca_parse_quote(quote, strlen(quote), "AAPL", &q, &bad) == 0);
    CHECK(q.ask_size == LLONG_MAX && q.bid_size == LLONG_MIN);
    CHECK(!strcmp(q.ask, "0.00001") && !strcmp(q.bid, "189.1"));
    static const char bars[] =
        "{\"bars\":[{\"t\":\"2022-04-11T08:00:00Z\",\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,"
        "\"v\":1.9e21,\"n\":3.7,\"vw\":1.2}],\"next_page_token\":null}";
    alpaca_bar_t *b = NULL;
    size_t n = 0, cap = 0;
    char *next = NULL;
    CHECK(alpaca_parse_bars_page(bars, strlen(bars), &b, &n, &cap, &next, &bad) == 0);
    CHECK(n == 1 && b[0].v == LLONG_MAX && b[0].n == 3 && next == NULL);
    free(b);
    /* A failed order parse leaves an empty order (nothing to free). */
    static const char order[] = "{\"id\":\"x\",\"status\":7,\"symbol\":"
                                "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
    alpaca_order_t o;
    CHECK(alpaca_parse_order(order, strlen(order), &o, &bad) == -1 && !strcmp(bad, "symbol"));
    CHECK(o.raw == NULL && o.id[0] == '\0' && o.status[0] == '\0');
    /* A header line cut short of its name is ignored; a status line resets. */
    alpaca_ratelimit_t rl = {5, 5, 5};
    alpaca_parse_header("x-ratelimit-limit", 17, &rl);
    alpaca_parse_header("X-RateLimit-Remaining: 7 \r\n", 27, &rl);
    CHECK(rl.limit == 5 && rl.remaining == 7);
    alpaca_parse_header("HTTP/1.1 200 OK\r\n", 17, &rl);
    CHECK(rl.limit == -1 && rl.remaining == -1 && rl.reset_epoch_s == -1);
}

int main(void) {
    base_url = getenv("ALPACA_BASE_URL");
    rl_url = getenv("ALPACA_RL_URL");
    key_id = getenv("ALPACA_API_KEY_ID");
    secret_key = getenv("ALPACA_API_SECRET_KEY");
    const char *data_url = getenv("ALPACA_DATA_URL");
    if (!base_url || !rl_url || !key_id || !secret_key || !data_url || !key_id[0] ||
        !secret_key[0]) {
        fprintf(stderr, "test_alpaca: set ALPACA_BASE_URL, ALPACA_DATA_URL, ALPACA_RL_URL, "
                        "ALPACA_API_KEY_ID, ALPACA_API_SECRET_KEY (tests/test_alpaca.sh does)\n");
        return 2;
    }
    test_parsers();
    snprintf(run_tag, sizeof(run_tag), "%d-%lld", (int)getpid(), (long long)timefmt_now_ms());
    curl_global_init(CURL_GLOBAL_DEFAULT);

    config_t cfg;
    make_config(&cfg, base_url, data_url, secret_key, 2000);
    alpaca_t *a = alpaca_new(&cfg);
    if (!a) {
        fprintf(stderr, "test_alpaca: alpaca_new failed\n");
        return 1;
    }
    sim_reset();
    test_quote(a);
    test_account(a);
    test_orders(a);
    test_clock(a);
    test_bars(a);
    sim_reset();
    test_rejections(a);
    test_unauthorized();
    test_rate_limited();
    sim_reset();
    test_transient(a);
    sim_reset();
    test_account_gate(a);
    sim_post("/_sim/faults", "{}");
    test_canned();

    alpaca_free(a);
    curl_global_cleanup();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
