/* test_alpaca_canned.c -- tests for worker/alpaca.c (and alpaca_parse.c)
 * against a canned HTTP server: the answers the simulator never sends
 * (numbers with exponents, "bars":null, nulls and unknown fields, odd
 * statuses, rate-limit headers in any case), and the pure parsers without
 * a server.
 *
 * The server is a thread of this program on a free loopback port: each test
 * gives it a table of answers (the first entry whose match is in the
 * request line answers) and reads back the last request line.  Run by
 * tests/test_alpaca.sh like test_alpaca.c (it needs only the keys,
 * ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY, of what that script passes).
 * Runs on tests/unit.h (`test_alpaca_canned --list` names the tests). */
#include "alpaca.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alpaca_fixture.h"
#include "unit.h"

static alpaca_t *a;   /* the client of the canned server */

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


/* Starts the server on a free loopback port: its URL in url, 0; or -1. */
static int canned_start(pthread_t *th, char *url, size_t len) {
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cs.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (cs.fd < 0 || bind(cs.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(cs.fd, (struct sockaddr *)&sa, &sl) != 0 || listen(cs.fd, 16) != 0 ||
        pthread_create(th, NULL, canned_main, NULL) != 0) {
        if (cs.fd >= 0)
            close(cs.fd);
        return -1;
    }
    snprintf(url, len, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    return 0;
}

static void canned_stop(pthread_t th) {
    pthread_mutex_lock(&cs.lock);
    cs.stop = 1;
    pthread_mutex_unlock(&cs.lock);
    pthread_join(th, NULL);
    close(cs.fd);
}

/* Market data numbers: exponents, integers, zero, nulls. */
static void test_canned_quotes(void) {
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
    alpaca_error_t e;
    canned_set(quote, NCANNED(quote));
    EXPECT_RESULT(alpaca_get_quote(a, "A B/C", &q, &e), ALPACA_OK, &e);
    EXPECT_STR(q.ask, "0.00001");
    EXPECT_STR(q.bid, "0");
    EXPECT_INT(q.ask_size, 3);
    EXPECT_INT(q.bid_size, 0);
    EXPECT_STR(q.ask_exchange, "V");
    EXPECT_STR(q.bid_exchange, "");
    EXPECT_STR(q.t, "2022-04-12T17:16:36.390749849Z");
    EXPECT_RESULT(alpaca_get_quote(a, "BIG", &q, &e), ALPACA_OK, &e);
    EXPECT_STR(q.ask, "1234567.891");
    EXPECT_STR(q.bid, "1000000000000000000000");
    EXPECT_INT(q.ask_size, 1);
    EXPECT_RESULT(alpaca_get_quote(a, "NOQ", &q, &e), ALPACA_TRANSIENT, &e);
    EXPECT_MSG(strstr(e.message, "unreadable") != NULL, "message \"%s\"", e.message);
}

/* Bars: a token that needs escaping, then "bars":null ends; a token that
 * repeats is an error, not a loop. */
static void test_canned_bars(void) {
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
    alpaca_error_t e;
    char last[1024];
    int requests;
    canned_set(bars, NCANNED(bars));
    EXPECT_RESULT(alpaca_get_bars(a, "X", "1Day", "2024-01-01T00:00:00Z", NULL, 2, &b, &nb, &e),
                  ALPACA_OK, &e);
    canned_last(last, sizeof(last), &requests);
    EXPECT_INT(requests, 2);
    if (EXPECT_INT(nb, 1)) {
        EXPECT_STR(b[0].o, "168.99");
        EXPECT_STR(b[0].h, "169.81");
        EXPECT_STR(b[0].l, "168");
        EXPECT_STR(b[0].c, "169");
        EXPECT_STR(b[0].vw, "169.233976");
        EXPECT_INT(b[0].v, 7170);
        EXPECT_INT(b[0].n, 206);
    }
    free(b);
    EXPECT_RESULT(alpaca_get_bars(a, "LOOP", "1Min", NULL, NULL, 0, &b, &nb, &e),
                  ALPACA_TRANSIENT, &e);
    EXPECT_MSG(b == NULL && nb == 0 && strstr(e.message, "repeats") != NULL,
               "%zu bars, message \"%s\" (expected none and \"repeats\")", nb, e.message);
}

/* Orders: nulls, unknown fields, order_type only, a list of them. */
static void test_canned_orders(void) {
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
    alpaca_error_t e;
    canned_set(orders, NCANNED(orders));
    EXPECT_RESULT(alpaca_get_order(a, "61e69015-8549-4bfd-b9c3-01e75843f47d", &o, &e), ALPACA_OK,
                  &e);
    EXPECT_STR(o.type, "market");
    EXPECT_STR(o.notional, "500");
    EXPECT_STR(o.qty, "");
    EXPECT_STR(o.filled_qty, "0");
    EXPECT_STR(o.filled_avg_price, "");
    EXPECT_STR(o.order_class, "simple");
    EXPECT_INT(o.extended_hours, 1);
    EXPECT_STR(o.submitted_at, "2021-03-16T18:38:01.9Z");
    EXPECT_STR(o.filled_at, "");
    EXPECT(o.raw && strstr(o.raw, "some_new_field") != NULL);
    alpaca_order_clear(&o);
    EXPECT_RESULT(alpaca_get_order(a, "long", &o, &e), ALPACA_TRANSIENT, &e);
    EXPECT_MSG(o.raw == NULL && strstr(e.message, "id") != NULL, "message \"%s\"", e.message);
    EXPECT_RESULT(alpaca_get_order(a, "noid", &o, &e), ALPACA_TRANSIENT, &e);
    alpaca_order_t *list = NULL;
    size_t n = 0;
    EXPECT_RESULT(alpaca_list_orders(a, "closed", "2024-01-01T00:00:00+01:00", 2, &list, &n, &e),
                  ALPACA_OK, &e);
    EXPECT(n == 0 && list == NULL);
    EXPECT_RESULT(alpaca_list_orders(a, "open", NULL, 50, &list, &n, &e), ALPACA_OK, &e);
    if (EXPECT_INT(n, 2)) {
        EXPECT_STR(list[0].id, "x");
        EXPECT_STR(list[1].id, "y");
    }
    alpaca_orders_free(list, n);
}

/* Classification: status first, then message; rate-limit headers in any
 * case and with spaces, and none on an answer that has none. */
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

static void test_canned_rate_limit_headers(void) {
    alpaca_account_t acc;
    alpaca_clock_t clk;
    alpaca_ratelimit_t rl;
    alpaca_error_t e;
    canned_set(errors, NCANNED(errors));
    EXPECT_RESULT(alpaca_get_account(a, &acc, &e), ALPACA_OK, &e);
    EXPECT_STR(acc.cash, "12.5");
    EXPECT_STR(acc.equity, "");
    EXPECT_INT(acc.shorting_enabled, 1);
    alpaca_last_ratelimit(a, &rl);
    EXPECT_INT(rl.limit, 200);
    EXPECT_INT(rl.remaining, 7);
    EXPECT_INT(rl.reset_epoch_s, 1700000000);
    int64_t now = timefmt_now_ms();
    EXPECT_RESULT(alpaca_get_clock(a, &clk, &e), ALPACA_RATE_LIMITED, &e);
    int64_t later = timefmt_now_ms();
    EXPECT_MSG(e.retry_at_ms >= now + 900 && e.retry_at_ms <= later + 1100,
               "retry_at_ms (expected %lld to %lld, got %lld)", (long long)now + 900,
               (long long)later + 1100, (long long)e.retry_at_ms);
    alpaca_last_ratelimit(a, &rl);
    EXPECT_INT(rl.limit, -1); /* that answer had none */
    EXPECT_INT(rl.remaining, -1);
}

static void test_canned_error_mapping(void) {
    alpaca_position_t *ps = NULL;
    size_t np = 0;
    alpaca_error_t e;
    char last[1024];
    int requests;
    canned_set(errors, NCANNED(errors));
    EXPECT_RESULT(alpaca_cancel_order(a, "dup403", &e), ALPACA_REJECTED, &e);
    EXPECT_INT(e.http_status, 403);
    EXPECT_RESULT(alpaca_cancel_order(a, "dup422", &e), ALPACA_DUPLICATE, &e);
    EXPECT_RESULT(alpaca_cancel_order(a, "e400", &e), ALPACA_REJECTED, &e);
    EXPECT_INT(e.http_status, 400);
    EXPECT_INT(e.code, 40010000);
    EXPECT_STR(e.message, "bad body");
    EXPECT_RESULT(alpaca_cancel_order(a, "e500", &e), ALPACA_TRANSIENT, &e);
    EXPECT_INT(e.http_status, 500);
    EXPECT_STR(e.message, "HTTP 500");
    EXPECT_RESULT(alpaca_cancel_order(a, "e302", &e), ALPACA_TRANSIENT, &e);
    EXPECT_RESULT(alpaca_cancel_order(a, "ok", &e), ALPACA_OK, &e);
    EXPECT_INT(e.http_status, 204);
    canned_last(last, sizeof(last), &requests);
    EXPECT_STR(last, "DELETE /v2/orders/ok HTTP/1.1");
    EXPECT_RESULT(alpaca_get_positions(a, &ps, &np, &e), ALPACA_TRANSIENT, &e);
    EXPECT(ps == NULL && np == 0);
    EXPECT_INT(e.http_status, 200);
    EXPECT_MSG(no_secret(&e), "message \"%s\" carries a key", e.message);
}

/* The pure parsers (alpaca_parse_*), without a server. */
static void test_parsers(void) {
    const char *bad = NULL;
    /* Sizes and volumes beyond long long saturate (the cast was undefined;
     * found by tests/fuzz/fuzz_alpaca). */
    static const char quote[] =
        "{\"symbol\":\"AAPL\",\"quote\":{\"ap\":1e-05,\"bp\":189.1,\"as\":1.9e21,\"bs\":-1e300}}";
    alpaca_quote_t q;
    EXPECT_INT(alpaca_parse_quote(quote, strlen(quote), "AAPL", &q, &bad), 0);
    EXPECT_INT(q.ask_size, LLONG_MAX);
    EXPECT_INT(q.bid_size, LLONG_MIN);
    EXPECT_STR(q.ask, "0.00001");
    EXPECT_STR(q.bid, "189.1");
    static const char bars[] =
        "{\"bars\":[{\"t\":\"2022-04-11T08:00:00Z\",\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,"
        "\"v\":1.9e21,\"n\":3.7,\"vw\":1.2}],\"next_page_token\":null}";
    alpaca_bar_t *b = NULL;
    size_t n = 0, cap = 0;
    char *next = NULL;
    EXPECT_INT(alpaca_parse_bars_page(bars, strlen(bars), &b, &n, &cap, &next, &bad), 0);
    if (EXPECT_INT(n, 1)) {
        EXPECT_INT(b[0].v, LLONG_MAX);
        EXPECT_INT(b[0].n, 3);
    }
    EXPECT(next == NULL);
    free(b);
    /* A failed order parse leaves an empty order (nothing to free). */
    static const char order[] = "{\"id\":\"x\",\"status\":7,\"symbol\":"
                                "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
    alpaca_order_t o;
    EXPECT_INT(alpaca_parse_order(order, strlen(order), &o, &bad), -1);
    EXPECT_STR(bad, "symbol");
    EXPECT(o.raw == NULL && o.id[0] == '\0' && o.status[0] == '\0');
    /* A header line cut short of its name is ignored; a status line resets. */
    alpaca_ratelimit_t rl = {5, 5, 5};
    alpaca_parse_header("x-ratelimit-limit", 17, &rl);
    alpaca_parse_header("X-RateLimit-Remaining: 7 \r\n", 27, &rl);
    EXPECT_INT(rl.limit, 5);
    EXPECT_INT(rl.remaining, 7);
    alpaca_parse_header("HTTP/1.1 200 OK\r\n", 17, &rl);
    EXPECT(rl.limit == -1 && rl.remaining == -1 && rl.reset_epoch_s == -1);
}

static const unit_test_t TESTS[] = {
    {"parsers", test_parsers},
    {"canned_quotes", test_canned_quotes},
    {"canned_bars", test_canned_bars},
    {"canned_orders", test_canned_orders},
    {"canned_rate_limit_headers", test_canned_rate_limit_headers},
    {"canned_error_mapping", test_canned_error_mapping},
    {NULL, NULL}};

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0)
        return unit_main(TESTS, argc, argv);
    if (fixture_keys() != 0) {
        fprintf(stderr, "test_alpaca_canned: set ALPACA_API_KEY_ID, ALPACA_API_SECRET_KEY "
                        "(tests/test_alpaca.sh does)\n");
        return 2;
    }
    pthread_t th;
    char url[64];
    if (canned_start(&th, url, sizeof(url)) != 0) {
        printf("FAIL: the canned server does not start\n");
        return 1;
    }
    int rc = fixture_run(TESTS, argc, argv, url, url, &a);
    canned_stop(th);
    return rc;
}
