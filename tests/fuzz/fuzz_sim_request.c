/* fuzz_sim_request.c -- libFuzzer target for the Alpaca simulator's request
 * handling (tools/alpaca-sim: api.c, control.c and the book, orders,
 * positions, quotes, bars and faults behind them).
 *
 * Owns the hostile-input checks of what turns a method + path + query +
 * headers + body into a reply: app_handle, the handler server.c calls
 * (413, /v2/ to api.c, /_sim/ to control.c, else 404).  Why: every test
 * and the benchmark drive the worker through the simulator, and its
 * handlers parse JSON bodies, query values (limits, RFC 3339 times, page
 * tokens, symbol lists) and paths; a crash there loses a test run, a wrong
 * answer fakes one.
 *
 * This file stands in for libmicrohttpd (server.c is not linked): it reads
 * the request line, headers and body from the input and builds the
 * request with request.h's calls, as server.c does from libmicrohttpd's.
 * Query values and the path are %XX-decoded as libmicrohttpd does; a query
 * name without '=' has no value; request.c looks names up.
 *
 * Input: up to FUZZ_MAX_REQUESTS requests separated by a line "%%", each
 *
 *   METHOD SP PATH[?QUERY] LF
 *   Name: value LF          (any number of header lines)
 *   LF
 *   BODY                    (the rest)
 *
 * A sequence reaches state: an order placed, then listed, cancelled,
 * ticked (POST /_sim/tick) and read back.  Every input gets a fresh sim_t
 * (sim_init is a few small allocations) with a fixed seed, no engine thread
 * and the stop flag already raised, so injected latency and hangs return at
 * once: runs repeat (only wall-clock times in answers vary) and nothing
 * outlives an input; a stream hub observes the book (GET /stream gets its
 * handshake's answer, never a connection).  The trading rate limit allows 6 calls, so the 429
 * path is reached by the longest sequences; keys are required (APCA-API-KEY-ID: fuzz-key, APCA-API-SECRET-KEY:
 * fuzz-secret), so the 401 path is reachable too.
 *
 * Asserted for every reply that is not dropped (abort): a status from 100
 * to 599, and a body, when there is one, that json_dumps can print as
 * server.c does (jansson refuses NaN and infinities: an answer the server
 * could not send). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "reply.h"
#include "request.h"
#include "sim.h"
#include "stream.h"
#include "fuzz.h"

#define FUZZ_MAX_REQUESTS 8
#define FUZZ_MAX_PAIRS 32
/* Trading calls per key before 429: the last requests of a long sequence
 * meet the limit.  (The simulator keeps a ring of this many times per key:
 * a limit of a million cost 8 MB per input and most of the time.) */
#define FUZZ_CALLS_PER_PERIOD 6

static char *fuzz_strndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    FUZZ_ASSERT(d != NULL);
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int fuzz_hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A copy of s[0..n) with %XX decoded (a decoded NUL ends the C string, as
 * it does for libmicrohttpd's callers). */
static char *fuzz_unescape(const char *s, size_t n) {
    char *d = fuzz_strndup(s, n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = fuzz_hex(s[i + 1])) >= 0 &&
            (l = fuzz_hex(s[i + 2])) >= 0) {
            d[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            d[o++] = s[i];
        }
    }
    d[o] = '\0';
    return d;
}

/* Adds name[0..n) (and its value after '=', if any) to req, decoded. */
static void fuzz_add_query(request_t *req, const char *s, size_t n) {
    const char *eq = memchr(s, '=', n);
    char *name = fuzz_unescape(s, eq ? (size_t)(eq - s) : n);
    char *value = eq ? fuzz_unescape(eq + 1, n - (size_t)(eq + 1 - s)) : NULL;
    FUZZ_ASSERT(request_add_query(req, name, value) == 0);
    free(name);
    free(value);
}

static void fuzz_parse_query(request_t *req, const char *q, size_t n) {
    size_t i = 0, count = 0;
    while (i < n && count++ < FUZZ_MAX_PAIRS) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        fuzz_add_query(req, q + i, end - i);
        i = end + 1;
    }
}

/* Header lines "Name: value" of s[0..n) until an empty line.  Returns
 * where the body starts. */
static size_t fuzz_parse_headers(request_t *req, const char *s, size_t i, size_t n) {
    size_t count = 0;
    while (i < n) {
        const char *e = memchr(s + i, '\n', n - i);
        size_t l = e ? (size_t)(e - (s + i)) : n - i;
        if (l == 0)
            return i + 1;
        const char *colon = memchr(s + i, ':', l);
        if (colon && count++ < FUZZ_MAX_PAIRS) {
            const char *v = colon + 1;
            while (v < s + i + l && *v == ' ') v++;
            char *name = fuzz_strndup(s + i, (size_t)(colon - (s + i)));
            char *value = fuzz_strndup(v, (size_t)(s + i + l - v));
            FUZZ_ASSERT(request_add_header(req, name, value) == 0);
            free(name);
            free(value);
        }
        i += l + (e ? 1 : 0);
    }
    return i;
}

/* Runs one request (the bytes between separators) through app_handle. */
static void fuzz_request(sim_t *sim, const char *s, size_t n) {
    /* Request line: METHOD SP TARGET. */
    const char *nl = memchr(s, '\n', n);
    size_t line_len = nl ? (size_t)(nl - s) : n;
    const char *sp = memchr(s, ' ', line_len);
    if (!sp) return;
    char *method = fuzz_strndup(s, (size_t)(sp - s));
    const char *target = sp + 1;
    size_t target_len = line_len - (size_t)(target - s);
    const char *qm = memchr(target, '?', target_len);
    size_t path_len = qm ? (size_t)(qm - target) : target_len;
    char *path = fuzz_unescape(target, path_len);
    request_t req;
    request_init(&req, method, path);
    if (qm) fuzz_parse_query(&req, qm + 1, target_len - path_len - 1);

    /* Headers until an empty line; the rest is the body (none: NULL). */
    size_t i = fuzz_parse_headers(&req, s, nl ? line_len + 1 : n, n);
    if (i < n) FUZZ_ASSERT(request_append_body(&req, s + i, n - i) == 0);

    reply_t r;
    reply_init(&r);
    app_handle(sim, &req, &r);
    if (!r.drop) {
        FUZZ_ASSERT(r.status >= 100 && r.status <= 599);
        if (r.body) {
            /* What server_send prints; NULL there closes the connection. */
            char *text = json_dumps(r.body, JSON_COMPACT | JSON_REAL_PRECISION(15));
            if (!text) fprintf(stderr, "fuzz_sim_request: %s %s: unprintable reply\n", method, path);
            FUZZ_ASSERT(text != NULL);
            free(text);
        }
    }
    reply_clear(&r);
    request_free(&req);
    free(path);
    free(method);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char sep[] = "\n%%\n";
    sim_config_t cfg;
    sim_t sim;

    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.host, sizeof(cfg.host), "127.0.0.1");
    cfg.seed = 42;
    cfg.auth_required = 1;
    snprintf(cfg.key_id, sizeof(cfg.key_id), "fuzz-key");
    snprintf(cfg.secret_key, sizeof(cfg.secret_key), "fuzz-secret");
    cfg.calls_per_min = FUZZ_CALLS_PER_PERIOD;
    cfg.rate_period_ms = 60000;
    cfg.start.partial_fill_rate = 0.5;
    cfg.start.quote_walk = 1;
    cfg.start.tick_ms = 0;
    cfg.start.fill_on_submit = 0;
    FUZZ_ASSERT(sim_init(&sim, &cfg) == 0);
    stream_t *stream = stream_create(&sim);
    FUZZ_ASSERT(stream != NULL);
    sim_begin_stop(&sim); /* sleeps (latency, hang faults) return at once */

    const char *s = (const char *)data, *end = s + size;
    for (int k = 0; k < FUZZ_MAX_REQUESTS && s < end; k++) {
        const char *next = memmem(s, (size_t)(end - s), sep, sizeof(sep) - 1);
        size_t n = next ? (size_t)(next - s) : (size_t)(end - s);
        fuzz_request(&sim, s, n);
        s = next ? next + sizeof(sep) - 1 : end;
    }
    stream_destroy(stream);
    sim_destroy(&sim);
    return 0;
}
