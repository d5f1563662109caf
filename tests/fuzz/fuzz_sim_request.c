/* fuzz_sim_request.c -- libFuzzer target for the Alpaca simulator's request
 * handling (tools/alpaca-sim: api.c, control.c and the book, orders,
 * positions, quotes, bars and faults behind them).
 *
 * Owns the hostile-input checks of what turns a method + path + query +
 * headers + body into a reply: api_handle for /v2/ and control_handle for
 * /_sim/, dispatched as server.c does.  Why: every test and the benchmark
 * drive the worker through the simulator, and its handlers parse JSON
 * bodies, query values (limits, RFC 3339 times, page tokens, symbol lists)
 * and paths; a crash there loses a test run, a wrong answer fakes one.
 *
 * This file is a second implementation of request.h: request_query and
 * request_header read a small parsed request instead of libmicrohttpd's
 * connection (server.c is not linked).  Query values and the path are
 * %XX-decoded and header names compared case-insensitively, as
 * libmicrohttpd does; a query name without '=' has no value.
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
 * outlives an input.  The trading rate limit allows 6 calls, so the 429
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
#include <strings.h>

#include "api.h"
#include "control.h"
#include "reply.h"
#include "request.h"
#include "sim.h"
#include "fuzz.h"

#define FUZZ_MAX_REQUESTS 8
#define FUZZ_MAX_PAIRS 32
#define FUZZ_MAX_BODY (64 * 1024) /* server.c's SERVER_MAX_BODY */
/* Trading calls per key before 429: the last requests of a long sequence
 * meet the limit.  (The simulator keeps a ring of this many times per key:
 * a limit of a million cost 8 MB per input and most of the time.) */
#define FUZZ_CALLS_PER_PERIOD 6

typedef struct fuzz_pair {
    char *name;
    char *value; /* NULL: the name had no '=' (query) */
} fuzz_pair_t;

/* What req->conn points at in this target. */
typedef struct fuzz_conn {
    fuzz_pair_t query[FUZZ_MAX_PAIRS];
    size_t nquery;
    fuzz_pair_t headers[FUZZ_MAX_PAIRS];
    size_t nheaders;
} fuzz_conn_t;

const char *request_query(const request_t *req, const char *name) {
    const fuzz_conn_t *c = req->conn;
    for (size_t i = 0; i < c->nquery; i++)
        if (!strcmp(c->query[i].name, name)) return c->query[i].value;
    return NULL;
}

const char *request_header(const request_t *req, const char *name) {
    const fuzz_conn_t *c = req->conn;
    for (size_t i = 0; i < c->nheaders; i++)
        if (!strcasecmp(c->headers[i].name, name)) return c->headers[i].value;
    return NULL;
}

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

static void fuzz_parse_query(fuzz_conn_t *c, const char *q, size_t n) {
    size_t i = 0;
    while (i < n && c->nquery < FUZZ_MAX_PAIRS) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        const char *eq = memchr(q + i, '=', end - i);
        fuzz_pair_t *p = &c->query[c->nquery++];
        if (eq) {
            p->name = fuzz_unescape(q + i, (size_t)(eq - (q + i)));
            p->value = fuzz_unescape(eq + 1, end - (size_t)(eq + 1 - q));
        } else {
            p->name = fuzz_unescape(q + i, end - i);
            p->value = NULL;
        }
        i = end + 1;
    }
}

static void fuzz_conn_free(fuzz_conn_t *c) {
    for (size_t i = 0; i < c->nquery; i++) {
        free(c->query[i].name);
        free(c->query[i].value);
    }
    for (size_t i = 0; i < c->nheaders; i++) {
        free(c->headers[i].name);
        free(c->headers[i].value);
    }
}

/* Runs one request (the bytes between separators) through the handlers. */
static void fuzz_request(sim_t *sim, const char *s, size_t n) {
    fuzz_conn_t conn;
    memset(&conn, 0, sizeof(conn));

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
    if (qm) fuzz_parse_query(&conn, qm + 1, target_len - path_len - 1);

    /* Headers until an empty line; the rest is the body. */
    size_t i = nl ? line_len + 1 : n;
    while (i < n) {
        const char *e = memchr(s + i, '\n', n - i);
        size_t l = e ? (size_t)(e - (s + i)) : n - i;
        if (l == 0) {
            i++;
            break;
        }
        const char *colon = memchr(s + i, ':', l);
        if (colon && conn.nheaders < FUZZ_MAX_PAIRS) {
            const char *v = colon + 1;
            while (v < s + i + l && *v == ' ') v++;
            fuzz_pair_t *p = &conn.headers[conn.nheaders++];
            p->name = fuzz_strndup(s + i, (size_t)(colon - (s + i)));
            p->value = fuzz_strndup(v, (size_t)(s + i + l - v));
        }
        i += l + (e ? 1 : 0);
    }
    /* server.c hands over a NUL-terminated copy of the body, or NULL. */
    size_t body_len = i < n ? n - i : 0;
    char *body = body_len ? fuzz_strndup(s + i, body_len) : NULL;

    request_t req = {&conn, method, path, body, body_len};
    reply_t r;
    reply_init(&r);
    if (body_len > FUZZ_MAX_BODY)
        reply_error(&r, 413, 0, "request body too large");
    else if (strncmp(path, "/v2/", 4) == 0)
        api_handle(sim, &req, &r);
    else if (strncmp(path, "/_sim/", 6) == 0)
        control_handle(sim, &req, &r);
    else
        reply_error(&r, 404, 0, "not found");

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
    free(body);
    free(path);
    free(method);
    fuzz_conn_free(&conn);
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
    sim_begin_stop(&sim); /* sleeps (latency, hang faults) return at once */

    const char *s = (const char *)data, *end = s + size;
    for (int k = 0; k < FUZZ_MAX_REQUESTS && s < end; k++) {
        const char *next = memmem(s, (size_t)(end - s), sep, sizeof(sep) - 1);
        size_t n = next ? (size_t)(next - s) : (size_t)(end - s);
        fuzz_request(&sim, s, n);
        s = next ? next + sizeof(sep) - 1 : end;
    }
    sim_destroy(&sim);
    return 0;
}
