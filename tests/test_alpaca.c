/* test_alpaca.c -- tests for worker/alpaca.c against the Alpaca simulator.
 *
 * Run by tests/test_alpaca.sh, which starts the simulators and passes:
 *   ALPACA_BASE_URL, ALPACA_DATA_URL   the main simulator (high rate limit)
 *   ALPACA_RL_URL                      a second one allowing 3 calls a minute
 *   ALPACA_API_KEY_ID, ALPACA_API_SECRET_KEY
 * The simulator's control API (/_sim/...) is driven with libcurl directly;
 * a test that needs the simulator in a known state resets it first.  The
 * simulator fills asynchronously, like paper trading: POST answers
 * accepted/new and a tick about 100 ms later fills, so fills are awaited
 * with bounded polls.  The answers the simulator never sends are
 * test_alpaca_canned.c's.
 *
 * Runs on tests/unit.h (`test_alpaca --list` names the tests).  rate_limited
 * spends the second simulator's 3 calls of the minute: once per run. */
#include "alpaca.h"
#include "decimal.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alpaca_fixture.h"
#include "unit.h"

static const char *base_url, *data_url, *rl_url;
static alpaca_t *a;   /* the client of the main simulator */
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

/* No orders, no faults, the account as new, and two quotes: AAPL at
 * 189.10/189.12 and PENY at 0.0001/0.5. */
static void sim_reset(void) {
    EXPECT_INT(sim_post("/_sim/reset", "{}"), 200);
    EXPECT_INT(sim_post("/_sim/quotes", "{\"AAPL\":{\"bid\":\"189.10\",\"ask\":\"189.12\"},"
                                        "\"PENY\":{\"bid\":\"0.0001\",\"ask\":\"0.5\"}}"),
               200);
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
static int wait_status(const char *id, const char *want, int64_t timeout_ms, alpaca_order_t *o) {
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

/* wait_status(id, want, timeout_ms, o) as a check. */
static int expect_status(const char *id, const char *want, int64_t timeout_ms, alpaca_order_t *o,
                         const char *file, int line) {
    return unit_check(wait_status(id, want, timeout_ms, o), file, line,
                      "order %s (expected status %s within %lld ms, got \"%s\")", id, want,
                      (long long)timeout_ms, o->status);
}
#define EXPECT_STATUS(id, want, timeout_ms, o) \
    expect_status((id), (want), (timeout_ms), (o), __FILE__, __LINE__)

static int count_cid(const alpaca_order_t *list, size_t n, const char *cid) {
    int k = 0;
    for (size_t i = 0; i < n; i++) k += strcmp(list[i].client_order_id, cid) == 0;
    return k;
}

/* Places a market buy of 10 AAPL under a fresh client order id (cid). */
static alpaca_result_t place_market(char *cid, size_t len, intent_t *in, alpaca_order_t *o,
                                    alpaca_error_t *e) {
    new_cid(cid, len);
    make_intent(in, "AAPL", "buy", "market", "10", NULL);
    return alpaca_place_order(a, in, cid, o, e);
}

/* ---- happy paths ------------------------------------------------------------ */

static void test_quote(void) {
    alpaca_quote_t q;
    alpaca_error_t e;
    sim_reset();
    EXPECT_RESULT(alpaca_get_quote(a, "AAPL", &q, &e), ALPACA_OK, &e);
    EXPECT_STR(q.symbol, "AAPL");
    EXPECT_STR(q.ask, "189.12");
    EXPECT_STR(q.bid, "189.1"); /* "189.10" sent as the number 189.1 */
    EXPECT(q.t[0] != '\0');
    EXPECT_MSG(q.ask_size > 0 && q.bid_size > 0, "sizes (expected > 0, got ask %lld bid %lld)",
               (long long)q.ask_size, (long long)q.bid_size);
    EXPECT(q.ask_exchange[0] != '\0' && q.bid_exchange[0] != '\0');

    EXPECT_RESULT(alpaca_get_quote(a, "PENY", &q, &e), ALPACA_OK, &e);
    EXPECT_STR(q.bid, "0.0001");
    EXPECT_STR(q.ask, "0.5");

    EXPECT_RESULT(alpaca_get_quote(a, "NOPE", &q, &e), ALPACA_NOT_FOUND, &e);
    EXPECT_INT(e.http_status, 404);
}

static void test_account(void) {
    alpaca_account_t acc;
    alpaca_error_t e;
    char reason[128] = "x";
    sim_reset();
    EXPECT_RESULT(alpaca_get_account(a, &acc, &e), ALPACA_OK, &e);
    EXPECT_STR(acc.status, "ACTIVE");
    EXPECT(acc.id[0] != '\0' && acc.account_number[0] != '\0');
    EXPECT_STR(acc.currency, "USD");
    EXPECT_STR(acc.cash, "100000");
    EXPECT_STR(acc.buying_power, "100000");
    EXPECT(acc.equity[0] != '\0' && acc.portfolio_value[0] != '\0');
    EXPECT_STR(acc.multiplier, "1");
    EXPECT(!acc.trading_blocked && !acc.account_blocked && !acc.trade_suspended_by_user);
    EXPECT_INT(alpaca_account_can_trade(&acc, reason, sizeof(reason)), 1);
    EXPECT_STR(reason, "");

    /* the trading API's rate-limit headers are kept */
    alpaca_ratelimit_t rl;
    alpaca_last_ratelimit(a, &rl);
    EXPECT_INT(rl.limit, 100000);
    EXPECT_MSG(rl.remaining >= 0 && rl.remaining < rl.limit,
               "remaining (expected 0 to %lld, got %lld)", (long long)rl.limit - 1,
               (long long)rl.remaining);
    EXPECT_MSG(rl.reset_epoch_s >= timefmt_now_ms() / 1000 - 1,
               "reset_epoch_s %lld is in the past", (long long)rl.reset_epoch_s);
}

static void test_account_gate(void) {
    alpaca_account_t acc;
    alpaca_error_t e;
    char reason[128];
    sim_reset();
    EXPECT_INT(sim_post("/_sim/account", "{\"trading_blocked\":true}"), 200);
    EXPECT_RESULT(alpaca_get_account(a, &acc, &e), ALPACA_OK, &e);
    EXPECT_INT(acc.trading_blocked, 1);
    reason[0] = '\0';
    EXPECT_INT(alpaca_account_can_trade(&acc, reason, sizeof(reason)), 0);
    EXPECT_MSG(strstr(reason, "blocked") != NULL, "reason \"%s\" (expected \"blocked\" in it)",
               reason);

    EXPECT_INT(sim_post("/_sim/account", "{\"trading_blocked\":false,"
                                         "\"status\":\"ACCOUNT_UPDATED\"}"),
               200);
    EXPECT_RESULT(alpaca_get_account(a, &acc, &e), ALPACA_OK, &e);
    EXPECT_STR(acc.status, "ACCOUNT_UPDATED");
    reason[0] = '\0';
    EXPECT_INT(alpaca_account_can_trade(&acc, reason, sizeof(reason)), 0);
    EXPECT_MSG(strstr(reason, "ACCOUNT_UPDATED") != NULL,
               "reason \"%s\" (expected the status in it)", reason);

    /* the gate itself, for each flag */
    memset(&acc, 0, sizeof(acc));
    snprintf(acc.status, sizeof(acc.status), "ACTIVE");
    EXPECT_INT(alpaca_account_can_trade(&acc, reason, sizeof(reason)), 1);
    acc.account_blocked = 1;
    EXPECT(alpaca_account_can_trade(&acc, reason, sizeof(reason)) == 0 && reason[0]);
    acc.account_blocked = 0;
    acc.trade_suspended_by_user = 1;
    EXPECT(alpaca_account_can_trade(&acc, reason, sizeof(reason)) == 0 && reason[0]);

    sim_reset();
    EXPECT_RESULT(alpaca_get_account(a, &acc, &e), ALPACA_OK, &e);
    EXPECT_INT(alpaca_account_can_trade(&acc, reason, sizeof(reason)), 1);
}

/* A market buy: answered accepted/new, filled by a later tick; the
 * position it makes; its client_order_id refused a second time. */
static void test_market_order_fills(void) {
    alpaca_order_t o, got;
    alpaca_error_t e;
    intent_t in;
    char cid[64];
    sim_reset();
    if (!EXPECT_RESULT(place_market(cid, sizeof(cid), &in, &o, &e), ALPACA_OK, &e))
        return;
    EXPECT_INT(e.http_status, 200);
    EXPECT_INT(strlen(o.id), 36);
    EXPECT_STR(o.client_order_id, cid);
    EXPECT_STR(o.symbol, "AAPL");
    EXPECT_STR(o.side, "buy");
    EXPECT_STR(o.type, "market");
    EXPECT_STR(o.time_in_force, "day");
    EXPECT_STR(o.qty, "10");
    EXPECT_STR(o.notional, "");
    EXPECT(o.limit_price[0] == '\0' && o.stop_price[0] == '\0');
    EXPECT(o.created_at[0] != '\0' && o.submitted_at[0] != '\0');
    EXPECT(o.canceled_at[0] == '\0' && o.expired_at[0] == '\0' && o.failed_at[0] == '\0');
    EXPECT_MSG(o.order_class[0] == '\0' || strcmp(o.order_class, "simple") == 0,
               "order_class \"%s\" (expected \"\" or simple)", o.order_class);
    EXPECT_INT(o.extended_hours, 0);
    EXPECT(o.raw != NULL && strstr(o.raw, cid) != NULL);
    EXPECT_MSG(strcmp(o.status, "accepted") == 0 || strcmp(o.status, "new") == 0 ||
                   strcmp(o.status, "pending_new") == 0,
               "status \"%s\" (expected accepted, new or pending_new)", o.status);
    EXPECT_STATUS(o.id, "filled", 3000, &got);
    EXPECT_STR(got.id, o.id);
    EXPECT_STR(got.filled_qty, "10");
    EXPECT_STR(got.filled_avg_price, "189.12");
    EXPECT(got.filled_at[0] != '\0');
    alpaca_order_clear(&got);

    EXPECT_RESULT(alpaca_get_order_by_client_id(a, cid, &got, &e), ALPACA_OK, &e);
    EXPECT_STR(got.id, o.id);
    EXPECT_STR(got.status, "filled");
    alpaca_order_clear(&got);

    alpaca_position_t *ps = NULL;
    size_t np = 0;
    EXPECT_RESULT(alpaca_get_positions(a, &ps, &np, &e), ALPACA_OK, &e);
    if (EXPECT_INT(np, 1)) {
        EXPECT_STR(ps[0].symbol, "AAPL");
        EXPECT_STR(ps[0].side, "long");
        EXPECT_STR(ps[0].qty, "10");
        EXPECT_STR(ps[0].avg_entry_price, "189.12");
        EXPECT(ps[0].asset_id[0] != '\0' && ps[0].market_value[0] != '\0');
        EXPECT(ps[0].cost_basis[0] != '\0' && ps[0].current_price[0] != '\0');
    }
    free(ps);

    /* duplicate client_order_id */
    EXPECT_RESULT(alpaca_place_order(a, &in, cid, &got, &e), ALPACA_DUPLICATE, &e);
    EXPECT_INT(e.http_status, 422);
    EXPECT_MSG(strstr(e.message, "client_order_id must be unique") != NULL, "message \"%s\"",
               e.message);
    EXPECT(got.raw == NULL);
    alpaca_order_clear(&o);
}

/* After a filled market buy, a resting limit order: open until canceled,
 * listed by status, oldest first, after= exclusive; canceled once. */
static void test_resting_limit_order(void) {
    alpaca_order_t o, got, rest;
    alpaca_error_t e;
    intent_t in;
    char cid[64], cid2[64];
    sim_reset();
    if (!EXPECT_RESULT(place_market(cid, sizeof(cid), &in, &o, &e), ALPACA_OK, &e))
        return;
    EXPECT_STATUS(o.id, "filled", 3000, &got);
    alpaca_order_clear(&got);
    new_cid(cid2, sizeof(cid2));
    make_intent(&in, "AAPL", "buy", "limit", "1", "100");
    EXPECT_RESULT(alpaca_place_order(a, &in, cid2, &rest, &e), ALPACA_OK, &e);
    EXPECT_STR(rest.limit_price, "100");
    sleep_ms(300); /* a few ticks: it must not fill */

    alpaca_order_t *list = NULL;
    size_t n = 0;
    EXPECT_RESULT(alpaca_list_orders(a, "open", NULL, 500, &list, &n, &e), ALPACA_OK, &e);
    EXPECT_MSG(n == 1 && count_cid(list, n, cid2) == 1, "open: %zu orders (expected the limit)",
               n);
    if (n == 1)
        EXPECT_MSG(strcmp(list[0].status, "new") == 0 || strcmp(list[0].status, "accepted") == 0,
                   "status \"%s\" (expected new or accepted)", list[0].status);
    alpaca_orders_free(list, n);

    EXPECT_RESULT(alpaca_list_orders(a, "closed", NULL, 500, &list, &n, &e), ALPACA_OK, &e);
    EXPECT_MSG(n == 1 && count_cid(list, n, cid) == 1 && count_cid(list, n, cid2) == 0,
               "closed: %zu orders (expected the market buy)", n);
    alpaca_orders_free(list, n);

    EXPECT_RESULT(alpaca_list_orders(a, "all", NULL, 500, &list, &n, &e), ALPACA_OK, &e);
    if (EXPECT_INT(n, 2)) { /* direction=asc: oldest first */
        EXPECT_STR(list[0].client_order_id, cid);
        EXPECT_STR(list[1].client_order_id, cid2);
        EXPECT(list[0].raw && list[1].raw);
    }
    alpaca_orders_free(list, n);

    EXPECT_RESULT(alpaca_list_orders(a, "all", NULL, 1, &list, &n, &e), ALPACA_OK, &e);
    EXPECT_INT(n, 1);
    alpaca_orders_free(list, n);

    /* after= is exclusive on submitted_at: after the first, only the second */
    EXPECT_RESULT(alpaca_list_orders(a, "all", o.submitted_at, 500, &list, &n, &e), ALPACA_OK, &e);
    EXPECT_MSG(n == 1 && count_cid(list, n, cid2) == 1, "after=: %zu orders (expected the limit)",
               n);
    alpaca_orders_free(list, n);

    EXPECT_RESULT(alpaca_list_orders(a, "all", NULL, 0, &list, &n, &e), ALPACA_REJECTED, &e);
    EXPECT(list == NULL && n == 0);

    /* cancel: 204, then pending_cancel or canceled, then canceled */
    EXPECT_RESULT(alpaca_cancel_order(a, rest.id, &e), ALPACA_OK, &e);
    EXPECT_INT(e.http_status, 204);
    EXPECT_RESULT(alpaca_get_order(a, rest.id, &got, &e), ALPACA_OK, &e);
    EXPECT_MSG(strcmp(got.status, "pending_cancel") == 0 || strcmp(got.status, "canceled") == 0,
               "status \"%s\" (expected pending_cancel or canceled)", got.status);
    alpaca_order_clear(&got);
    EXPECT_STATUS(rest.id, "canceled", 3000, &got);
    EXPECT(got.canceled_at[0] != '\0');
    alpaca_order_clear(&got);
    /* a second cancel: no longer cancelable */
    EXPECT_RESULT(alpaca_cancel_order(a, rest.id, &e), ALPACA_REJECTED, &e);
    EXPECT(e.http_status == 422 && e.message[0] != '\0');

    EXPECT_RESULT(alpaca_list_orders(a, "open", NULL, 500, &list, &n, &e), ALPACA_OK, &e);
    EXPECT(n == 0 && list == NULL);
    alpaca_orders_free(list, n);

    alpaca_order_clear(&rest);
    alpaca_order_clear(&o);
}

static void test_clock(void) {
    alpaca_clock_t c;
    alpaca_error_t e;
    int64_t t;
    EXPECT_RESULT(alpaca_get_clock(a, &c, &e), ALPACA_OK, &e);
    EXPECT(c.timestamp[0] != '\0' && c.next_open[0] != '\0' && c.next_close[0] != '\0');
    EXPECT_INT(timefmt_parse_rfc3339(c.next_open, strlen(c.next_open), &t), 0);
    EXPECT_INT(timefmt_parse_rfc3339(c.next_close, strlen(c.next_close), &t), 0);

    EXPECT_INT(sim_post("/_sim/market", "{\"open\":false}"), 200);
    EXPECT_RESULT(alpaca_get_clock(a, &c, &e), ALPACA_OK, &e);
    EXPECT_INT(c.is_open, 0);
    EXPECT_INT(sim_post("/_sim/market", "{\"open\":true}"), 200);
    EXPECT_RESULT(alpaca_get_clock(a, &c, &e), ALPACA_OK, &e);
    EXPECT_INT(c.is_open, 1);
}

static int bar_is_decimal(const char *s) {
    decimal_t d;
    return s[0] != '\0' && decimal_parse(s, strlen(s), 0, &d) == DECIMAL_OK && !d.negative;
}

/* One large page, then pages of 7: the same bars, in order, readable. */
static void test_bars_pages_agree(void) {
    alpaca_bar_t *all = NULL, *paged = NULL;
    size_t nall = 0, npaged = 0;
    alpaca_error_t e;
    /* a fixed weekday afternoon (UTC): the simulator has minute bars then */
    const char *start = "2024-03-05T14:00:00Z", *end = "2024-03-05T15:00:00Z";

    EXPECT_RESULT(alpaca_get_bars(a, "AAPL", "1Min", start, end, 10000, &all, &nall, &e),
                  ALPACA_OK, &e);
    EXPECT_MSG(nall >= 59 && nall <= 61, "bars (expected 59 to 61, got %zu)", nall);
    long long before = sim_stat("data_requests");
    EXPECT_RESULT(alpaca_get_bars(a, "AAPL", "1Min", start, end, 7, &paged, &npaged, &e),
                  ALPACA_OK, &e);
    long long pages = sim_stat("data_requests") - before;
    EXPECT_INT(npaged, nall);
    EXPECT_MSG(pages == (long long)((nall + 6) / 7) || pages == (long long)((nall + 6) / 7) + 1,
               "pages (expected %zu or one more, got %lld)", (nall + 6) / 7, pages);
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
    EXPECT(same);
    EXPECT(ordered);
    EXPECT(readable);
    if (nall > 0) {
        EXPECT_STR(all[0].t, start);
        /* prices in cents: at most 2 fraction digits, no float noise */
        const char *dot = strchr(all[0].o, '.');
        EXPECT_MSG(dot == NULL || strlen(dot + 1) <= 2, "open \"%s\" (expected cents)", all[0].o);
    }
    free(all);
    free(paged);
}

/* A Saturday: no bars, not an error; a timeframe Alpaca does not have. */
static void test_bars_weekend_and_bad_timeframe(void) {
    alpaca_bar_t *all = NULL;
    size_t nall = 99;
    alpaca_error_t e;
    EXPECT_RESULT(alpaca_get_bars(a, "AAPL", "1Min", "2024-03-09T14:00:00Z",
                                  "2024-03-09T15:00:00Z", 0, &all, &nall, &e),
                  ALPACA_OK, &e);
    EXPECT(nall == 0 && all == NULL);
    free(all);
    EXPECT_RESULT(alpaca_get_bars(a, "AAPL", "7Week", "2024-03-05T14:00:00Z",
                                  "2024-03-05T15:00:00Z", 0, &all, &nall, &e),
                  ALPACA_REJECTED, &e);
    EXPECT_INT(e.http_status, 422);
    EXPECT(all == NULL && nall == 0);
}

/* ---- error mapping ---------------------------------------------------------- */

/* The broker's refusals of an order: final, with its status, code and message. */
static void test_order_refusals(void) {
    alpaca_order_t o;
    alpaca_error_t e;
    intent_t in;
    char cid[64];
    sim_reset();
    new_cid(cid, sizeof(cid));
    make_intent(&in, "AAPL", "buy", "market", "100000", NULL);
    EXPECT_RESULT(alpaca_place_order(a, &in, cid, &o, &e), ALPACA_REJECTED, &e);
    EXPECT_INT(e.http_status, 403);
    EXPECT_INT(e.code, 40310000);
    EXPECT_STR(e.message, "insufficient buying power");
    EXPECT(o.raw == NULL && o.id[0] == '\0');

    new_cid(cid, sizeof(cid));
    make_intent(&in, "AAPL", "buy", "limit", "1", "189.123");
    EXPECT_RESULT(alpaca_place_order(a, &in, cid, &o, &e), ALPACA_REJECTED, &e);
    EXPECT_INT(e.http_status, 422);
    EXPECT_MSG(strstr(e.message, "sub-penny") != NULL, "message \"%s\"", e.message);
}

static void test_unknown_orders(void) {
    alpaca_order_t o;
    alpaca_error_t e;
    EXPECT_RESULT(alpaca_get_order(a, "6f0f8a0e-3c1d-4b7a-9e51-0c1b2d3e4f50", &o, &e),
                  ALPACA_NOT_FOUND, &e);
    EXPECT_INT(e.http_status, 404);
    EXPECT_INT(e.code, 40410000);
    EXPECT_RESULT(alpaca_get_order_by_client_id(a, "no-such-order", &o, &e), ALPACA_NOT_FOUND,
                  &e);
    /* an id that needs escaping reaches the server as one path part */
    EXPECT_RESULT(alpaca_get_order(a, "bad id?x=1", &o, &e), ALPACA_REJECTED, &e);
    EXPECT_INT(e.http_status, 422);
    EXPECT_RESULT(alpaca_cancel_order(a, "6f0f8a0e-3c1d-4b7a-9e51-0c1b2d3e4f50", &e),
                  ALPACA_NOT_FOUND, &e);
}

static void test_unauthorized(void) {
    config_t cfg;
    alpaca_account_t acc;
    alpaca_error_t e;
    alpaca_quote_t q;
    make_config(&cfg, base_url, base_url, "wrong-secret", 2000);
    alpaca_t *bad = alpaca_new(&cfg);
    if (!EXPECT(bad != NULL))
        return;
    EXPECT_RESULT(alpaca_get_account(bad, &acc, &e), ALPACA_UNAUTHORIZED, &e);
    EXPECT(e.http_status == 401 && e.message[0] != '\0');
    EXPECT_MSG(no_secret(&e) && strstr(e.message, "wrong-secret") == NULL,
               "message \"%s\" carries a key", e.message);
    EXPECT_RESULT(alpaca_get_quote(bad, "AAPL", &q, &e), ALPACA_UNAUTHORIZED, &e);
    alpaca_free(bad);
}

/* The second simulator allows 3 trading calls a minute: the fourth is a
 * 429 with the time it resets; the data API's limit is its own. */
static void test_rate_limited(void) {
    config_t cfg;
    alpaca_account_t acc;
    alpaca_error_t e;
    alpaca_ratelimit_t rl;
    make_config(&cfg, rl_url, rl_url, secret_key, 2000);
    alpaca_t *r = alpaca_new(&cfg);
    if (!EXPECT(r != NULL))
        return;
    alpaca_last_ratelimit(r, &rl);
    EXPECT(rl.limit == -1 && rl.remaining == -1 && rl.reset_epoch_s == -1);
    for (int i = 0; i < 3; i++) {
        EXPECT_RESULT(alpaca_get_account(r, &acc, &e), ALPACA_OK, &e);
        alpaca_last_ratelimit(r, &rl);
        EXPECT_INT(rl.limit, 3);
        EXPECT_INT(rl.remaining, 2 - i);
    }
    int64_t now = timefmt_now_ms();
    EXPECT_RESULT(alpaca_get_account(r, &acc, &e), ALPACA_RATE_LIMITED, &e);
    EXPECT_INT(e.http_status, 429);
    EXPECT_INT(e.code, 42910000);
    EXPECT_MSG(e.retry_at_ms > now && e.retry_at_ms <= now + 61000,
               "retry_at_ms (expected %lld to %lld, got %lld)", (long long)now + 1,
               (long long)now + 61000, (long long)e.retry_at_ms);
    alpaca_last_ratelimit(r, &rl);
    EXPECT_INT(rl.limit, 3);
    EXPECT_INT(rl.remaining, 0);
    EXPECT_INT(rl.reset_epoch_s * 1000, e.retry_at_ms);
    /* the data API has a limit of its own: not refused, and it leaves the
     * trading API's numbers alone */
    alpaca_quote_t q;
    EXPECT_RESULT(alpaca_get_quote(r, "AAPL", &q, &e), ALPACA_OK, &e);
    alpaca_last_ratelimit(r, &rl);
    EXPECT_INT(rl.limit, 3);
    EXPECT_INT(rl.remaining, 0);
    alpaca_free(r);
}

/* 503 and 408 are transient; the next call without the fault succeeds. */
static void test_server_errors(void) {
    alpaca_account_t acc;
    alpaca_error_t e;
    sim_reset();
    EXPECT_INT(sim_post("/_sim/faults", "{\"error_rate\":1}"), 200);
    EXPECT_RESULT(alpaca_get_account(a, &acc, &e), ALPACA_TRANSIENT, &e);
    EXPECT_INT(e.http_status, 503);
    EXPECT_INT(sim_post("/_sim/faults", "{\"error_rate\":1,\"error_status\":408}"), 200);
    EXPECT_RESULT(alpaca_get_account(a, &acc, &e), ALPACA_TRANSIENT, &e);
    EXPECT_INT(e.http_status, 408);
    EXPECT_INT(sim_post("/_sim/faults", "{}"), 200);
    EXPECT_RESULT(alpaca_get_account(a, &acc, &e), ALPACA_OK, &e);
}

/* A hung request, with a 500 ms timeout: transient, in time, and the same
 * handle works again afterwards. */
static void test_hung_request(void) {
    alpaca_account_t acc;
    alpaca_error_t e;
    config_t cfg;
    sim_reset();
    make_config(&cfg, base_url, base_url, secret_key, 500);
    alpaca_t *quick = alpaca_new(&cfg);
    if (!EXPECT(quick != NULL))
        return;
    EXPECT_INT(sim_post("/_sim/faults", "{\"hang_rate\":1}"), 200);
    int64_t t0 = timefmt_mono_ms();
    EXPECT_RESULT(alpaca_get_account(quick, &acc, &e), ALPACA_TRANSIENT, &e);
    int64_t took = timefmt_mono_ms() - t0;
    EXPECT_MSG(took >= 400 && took < 1200, "took (expected 400 to 1199 ms, got %lld)",
               (long long)took);
    EXPECT_MSG(e.http_status == 0 && e.message[0] != '\0' && no_secret(&e),
               "error (expected no HTTP status, a message without keys; got HTTP %ld \"%s\")",
               e.http_status, e.message);
    EXPECT_INT(sim_post("/_sim/faults", "{}"), 200);
    EXPECT_RESULT(alpaca_get_account(quick, &acc, &e), ALPACA_OK, &e);
    alpaca_free(quick);
}

/* Connection refused (a port bound but not listening): transient, at once. */
static void test_connection_refused(void) {
    alpaca_account_t acc;
    alpaca_error_t e;
    config_t cfg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
           getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
    char dead[64];
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", ntohs(sa.sin_port));
    make_config(&cfg, dead, dead, secret_key, 2000);
    alpaca_t *nobody = alpaca_new(&cfg);
    int64_t t0 = timefmt_mono_ms();
    EXPECT_RESULT(alpaca_get_account(nobody, &acc, &e), ALPACA_TRANSIENT, &e);
    int64_t took = timefmt_mono_ms() - t0;
    EXPECT_MSG(took < 1000, "took (expected under 1000 ms, got %lld)", (long long)took);
    EXPECT_MSG(e.http_status == 0 && e.message[0] != '\0' && no_secret(&e),
               "error (expected no HTTP status, a message without keys; got HTTP %ld \"%s\")",
               e.http_status, e.message);
    alpaca_free(nobody);
    if (fd >= 0)
        close(fd);
}

/* A lost answer: transient, and the order exists, once; resubmitting with
 * the same id says it landed. */
static void test_lost_answer(void) {
    alpaca_order_t o;
    alpaca_error_t e;
    intent_t in;
    char cid[64];
    sim_reset();
    long long created = sim_stat("orders_created");
    new_cid(cid, sizeof(cid));
    make_intent(&in, "AAPL", "buy", "market", "1", NULL);
    EXPECT_INT(sim_post("/_sim/faults", "{\"drop_response_rate\":1}"), 200);
    EXPECT_RESULT(alpaca_place_order(a, &in, cid, &o, &e), ALPACA_TRANSIENT, &e);
    EXPECT(e.http_status == 0 && o.raw == NULL);
    EXPECT_MSG(strstr(e.message, "POST /v2/orders") != NULL && no_secret(&e),
               "message \"%s\" (expected the call named, no key)", e.message);
    EXPECT_INT(sim_post("/_sim/faults", "{}"), 200);
    EXPECT_RESULT(alpaca_get_order_by_client_id(a, cid, &o, &e), ALPACA_OK, &e);
    EXPECT_STR(o.client_order_id, cid);
    alpaca_order_clear(&o);
    alpaca_order_t *list = NULL;
    size_t n = 0;
    EXPECT_RESULT(alpaca_list_orders(a, "all", NULL, 500, &list, &n, &e), ALPACA_OK, &e);
    EXPECT_INT(count_cid(list, n, cid), 1);
    alpaca_orders_free(list, n);
    EXPECT_INT(sim_stat("orders_created"), created + 1);
    EXPECT_RESULT(alpaca_place_order(a, &in, cid, &o, &e), ALPACA_DUPLICATE, &e);
    EXPECT_INT(sim_stat("orders_created"), created + 1);
}

static const unit_test_t TESTS[] = {
    {"quote", test_quote},
    {"account", test_account},
    {"market_order_fills", test_market_order_fills},
    {"resting_limit_order", test_resting_limit_order},
    {"clock", test_clock},
    {"bars_pages_agree", test_bars_pages_agree},
    {"bars_weekend_and_bad_timeframe", test_bars_weekend_and_bad_timeframe},
    {"order_refusals", test_order_refusals},
    {"unknown_orders", test_unknown_orders},
    {"unauthorized", test_unauthorized},
    {"rate_limited", test_rate_limited},
    {"server_errors", test_server_errors},
    {"hung_request", test_hung_request},
    {"connection_refused", test_connection_refused},
    {"lost_answer", test_lost_answer},
    {"account_gate", test_account_gate},
    {NULL, NULL}};

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0)
        return unit_main(TESTS, argc, argv);
    base_url = getenv("ALPACA_BASE_URL");
    data_url = getenv("ALPACA_DATA_URL");
    rl_url = getenv("ALPACA_RL_URL");
    if (!base_url || !data_url || !rl_url || fixture_keys() != 0) {
        fprintf(stderr, "test_alpaca: set ALPACA_BASE_URL, ALPACA_DATA_URL, ALPACA_RL_URL, "
                        "ALPACA_API_KEY_ID, ALPACA_API_SECRET_KEY (tests/test_alpaca.sh does)\n");
        return 2;
    }
    snprintf(run_tag, sizeof(run_tag), "%d-%lld", (int)getpid(), (long long)timefmt_now_ms());
    return fixture_run(TESTS, argc, argv, base_url, data_url, &a);
}
