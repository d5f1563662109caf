/* test_tradestream.c -- unit tests of worker/tradestream.c and
 * tradestream_parse.c: Alpaca's trade_updates stream client.
 *
 * The pure half first: messages classified (authorization, listening,
 * trade_update with its order, unknown events, malformed ones), the URL
 * split and derived, the backoff's bounds.  Then the client against a
 * libwebsockets server run in this process on a port the kernel chooses
 * (127.0.0.1 only), scripted per test (srv_*): it checks the authenticate
 * frame's keys, answers authorized or unauthorized, answers listen, and
 * sends the frames a test queues (text or binary, whole or in fragments),
 * drops connections or goes silent (reads nothing, so answers no ping).
 * What is checked: events arrive whole and in order; the epoch moves at
 * each listening session, queue overflow and unreadable message; a dropped
 * or silent connection is replaced within the bounds the settings promise;
 * refused keys are retried with backoff; stop returns promptly whether
 * connected or backing off; and the secret key appears in no log line
 * (stderr is captured per test), no status and no metric.  Run under ASan
 * by the suite and under valgrind by hand:
 *   valgrind --leak-check=full --error-exitcode=1 build/bin/test_tradestream */
#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "tradestream.h"
#include "unit.h"

#define KEY_ID "PKTESTKEY0001"
#define SECRET "s3cr3t-Trade-Stream-Value-42"

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* CPU time used by the process (every thread). */
static int64_t cpu_us(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* Polls cond every 2 ms for up to ms; its last value. */
#define WAIT_UNTIL(cond, ms)                                                   \
    ({                                                                         \
        int64_t until_ = now_us() + (int64_t)(ms) * 1000;                      \
        while (!(cond) && now_us() < until_) usleep(2000);                     \
        (cond);                                                                \
    })

/* ---- messages ------------------------------------------------------------------ */

/* A trade_update as Alpaca sends it (the order abridged). */
static char *update_json(const char *event, int n, const char *status, const char *filled) {
    char *m = NULL;
    if (asprintf(&m,
                 "{\"stream\":\"trade_updates\",\"data\":{\"event\":\"%s\",\"execution_id\":"
                 "\"exec-%d\",\"order\":{\"id\":\"ord-%d\",\"client_order_id\":\"cid-%d\","
                 "\"created_at\":\"2022-04-19T17:45:04.1Z\",\"symbol\":\"AAPL\",\"qty\":\"10\","
                 "\"filled_qty\":\"%s\",\"filled_avg_price\":\"105.8988475\",\"order_type\":"
                 "\"market\",\"side\":\"buy\",\"time_in_force\":\"day\",\"status\":\"%s\","
                 "\"extended_hours\":false},\"position_qty\":\"0\",\"price\":\"105.8988475\","
                 "\"qty\":\"1790.86\",\"timestamp\":\"2022-04-19T17:45:05.024916716Z\"}}",
                 event, n, n, n, filled, status) < 0)
        abort();
    return m;
}

static void test_parse_authorization(void) {
    tradestream_event_t ev;
    const char *bad = NULL;
    const char *ok = "{\"stream\":\"authorization\",\"data\":{\"status\":\"authorized\","
                     "\"action\":\"authenticate\"}}";
    const char *no = "{\"stream\":\"authorization\",\"data\":{\"status\":\"unauthorized\","
                     "\"action\":\"authenticate\"}}";
    const char *odd = "{\"stream\":\"authorization\",\"data\":{\"status\":\"maybe\"}}";
    EXPECT_INT(tradestream_parse(ok, strlen(ok), &ev, &bad), TRADESTREAM_MSG_AUTHORIZED);
    EXPECT_INT(tradestream_parse(no, strlen(no), &ev, &bad), TRADESTREAM_MSG_UNAUTHORIZED);
    EXPECT_INT(tradestream_parse(odd, strlen(odd), &ev, &bad), -1);
    EXPECT(bad && strstr(bad, "status"));
    EXPECT_STR(ev.event, "");
}

static void test_parse_listening(void) {
    tradestream_event_t ev;
    const char *bad = NULL;
    const char *yes = "{\"stream\":\"listening\",\"data\":{\"streams\":[\"trade_updates\"]}}";
    const char *other = "{\"stream\":\"listening\",\"data\":{\"streams\":[\"account_updates\"]}}";
    const char *none = "{\"stream\":\"listening\",\"data\":{}}";
    EXPECT_INT(tradestream_parse(yes, strlen(yes), &ev, &bad), TRADESTREAM_MSG_LISTENING);
    EXPECT_INT(tradestream_parse(other, strlen(other), &ev, &bad), -1);
    EXPECT_INT(tradestream_parse(none, strlen(none), &ev, &bad), -1);
    EXPECT(bad && strstr(bad, "trade_updates"));
}

static void test_parse_trade_update(void) {
    char *m = update_json("fill", 7, "filled", "1790.86");
    tradestream_event_t ev;
    const char *bad = NULL;
    /* Not NUL-terminated where it ends: only len bytes are read. */
    size_t len = strlen(m);
    char *copy = malloc(len);
    memcpy(copy, m, len);
    EXPECT_INT(tradestream_parse(copy, len, &ev, &bad), TRADESTREAM_MSG_TRADE_UPDATE);
    EXPECT_STR(ev.event, "fill");
    EXPECT_STR(ev.execution_id, "exec-7");
    EXPECT_STR(ev.price, "105.8988475");
    EXPECT_STR(ev.qty, "1790.86");
    EXPECT_STR(ev.position_qty, "0");
    EXPECT_STR(ev.timestamp, "2022-04-19T17:45:05.024916716Z");
    EXPECT_STR(ev.order.id, "ord-7");
    EXPECT_STR(ev.order.client_order_id, "cid-7");
    EXPECT_STR(ev.order.status, "filled");
    EXPECT_STR(ev.order.filled_qty, "1790.86");
    EXPECT_STR(ev.order.filled_avg_price, "105.8988475");
    EXPECT_STR(ev.order.type, "market");  /* from order_type, as REST answers are read */
    EXPECT_INT(ev.received_mono_us, 0);
    EXPECT(ev.order.raw && strstr(ev.order.raw, "\"id\":\"ord-7\""));
    /* The raw order reads back as the same order (what the ledger stores). */
    alpaca_order_t again;
    EXPECT_INT(alpaca_parse_order(ev.order.raw, strlen(ev.order.raw), &again, &bad), 0);
    EXPECT_STR(again.filled_qty, ev.order.filled_qty);
    alpaca_order_clear(&again);
    tradestream_event_clear(&ev);
    EXPECT(ev.order.raw == NULL);
    free(copy);
    free(m);
}

/* The order's raw text (what the ledger stores) is its own bytes, compact:
 * numbers as sent, not as a double would print them; a REST answer's too. */
static void test_parse_raw_as_sent(void) {
    const char *m = "{ \"stream\": \"trade_updates\", \"data\": { \"event\": \"fill\",\n"
                    "  \"order\": { \"id\": \"o2\", \"status\": \"filled\", "
                    "\"filled_qty\": 1.50, \"note\": \"a b\\\"c\" } } }";
    const char *want = "{\"id\":\"o2\",\"status\":\"filled\",\"filled_qty\":1.50,"
                       "\"note\":\"a b\\\"c\"}";
    tradestream_event_t ev;
    const char *bad = NULL;
    EXPECT_INT(tradestream_parse(m, strlen(m), &ev, &bad), TRADESTREAM_MSG_TRADE_UPDATE);
    EXPECT_STR(ev.order.raw ? ev.order.raw : "(null)", want);
    EXPECT_STR(ev.order.filled_qty, "1.5");
    tradestream_event_clear(&ev);
    const char *body = strstr(m, "{ \"id\"");
    alpaca_order_t o;
    EXPECT_INT(alpaca_parse_order(body, strlen(body) - 4, &o, &bad), 0);
    EXPECT_STR(o.raw ? o.raw : "(null)", want);
    alpaca_order_clear(&o);
}

/* The event's name read without the parse; anything but a plain
 * trade_updates message is left to tradestream_parse. */
static void test_peek_event(void) {
    char name[32];
    char *m = update_json("new", 3, "new", "0");
    EXPECT_INT(tradestream_peek_event(m, strlen(m), name, sizeof(name)), 1);
    EXPECT_STR(name, "new");
    EXPECT_INT(tradestream_event_moves(name), 0);
    free(m);
    m = update_json("partial_fill", 3, "partially_filled", "1");
    EXPECT_INT(tradestream_peek_event(m, strlen(m), name, sizeof(name)), 1);
    EXPECT_STR(name, "partial_fill");
    EXPECT_INT(tradestream_event_moves(name), 1);
    free(m);
    static const char *const not_plain[] = {
        "{\"stream\":\"authorization\",\"data\":{\"status\":\"authorized\"}}",
        "{\"stream\":\"trade_updates\",\"data\":{\"event\":\"n\\u0065w\"}}",
        "{\"stream\":\"trade_updates\",\"data\":{\"event\":7}}",
        "{\"stream\":\"trade_updates\",\"data\":{\"event\":\"new\"",
        "{\"stream\":\"trade_updates\",\"data\":{\"event\":\"0123456789012345678901234567890123\"}}",
        "[\"trade_updates\"]",
        "",
    };
    for (size_t i = 0; i < sizeof(not_plain) / sizeof(not_plain[0]); i++)
        EXPECT_INT(tradestream_peek_event(not_plain[i], strlen(not_plain[i]), name, sizeof(name)),
                   0);
}

static void test_parse_unknown_event(void) {
    char *m = update_json("held_for_review", 1, "held", "0");
    tradestream_event_t ev;
    const char *bad = NULL;
    EXPECT_INT(tradestream_parse(m, strlen(m), &ev, &bad), TRADESTREAM_MSG_TRADE_UPDATE);
    EXPECT_STR(ev.event, "held_for_review");
    EXPECT_STR(ev.order.status, "held");
    tradestream_event_clear(&ev);
    free(m);
    /* Absent optional fields are "" (a new event carries no execution). */
    const char *bare = "{\"stream\":\"trade_updates\",\"data\":{\"event\":\"new\",\"order\":"
                       "{\"id\":\"o1\",\"status\":\"new\"}}}";
    EXPECT_INT(tradestream_parse(bare, strlen(bare), &ev, &bad), TRADESTREAM_MSG_TRADE_UPDATE);
    EXPECT_STR(ev.execution_id, "");
    EXPECT_STR(ev.price, "");
    EXPECT_STR(ev.timestamp, "");
    EXPECT_STR(ev.order.filled_qty, "0");
    tradestream_event_clear(&ev);
}

static void test_parse_malformed(void) {
    static const struct {
        const char *msg, *why;
    } cases[] = {
        {"", "not a JSON object"},
        {"{\"stream\":", "not a JSON object"},
        {"[1,2]", "not a JSON object"},
        {"\"trade_updates\"", "not a JSON object"},
        {"{\"stream\":\"trade_updates\",\"data\":{\"event\":\"fill\"}}", "without order"},
        {"{\"stream\":\"trade_updates\",\"data\":{\"event\":\"fill\",\"order\":[]}}", "without order"},
        {"{\"stream\":\"trade_updates\",\"data\":{\"event\":\"fill\",\"order\":{\"status\":\"x\"}}}",
         "no id"},
        {"{\"stream\":\"trade_updates\",\"data\":{\"order\":{\"id\":\"o\"}}}", "without event"},
        {"{\"stream\":\"trade_updates\",\"data\":{\"event\":\"fill\",\"order\":{\"id\":\"\"}}}",
         "empty id"},
        {"{\"stream\":\"trade_updates\"}", "without data"},
        {"{\"stream\":\"trade_updates\",\"data\":{\"event\":\"fill\",\"price\":105.5,"
         "\"order\":{\"id\":\"o\"}}}", "price"},
        {"{\"stream\":\"trade_updates\",\"data\":{\"event\":\"a_name_longer_than_thirty_one_chars\","
         "\"order\":{\"id\":\"o\"}}}", "event"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tradestream_event_t ev;
        memset(&ev, 0x5a, sizeof(ev));
        const char *bad = NULL;
        int kind = tradestream_parse(cases[i].msg, strlen(cases[i].msg), &ev, &bad);
        EXPECT_MSG(kind == -1, "case %zu: kind %d, want -1", i, kind);
        EXPECT_MSG(bad && strstr(bad, cases[i].why), "case %zu: bad \"%s\", want \"%s\"", i,
                   bad ? bad : "(null)", cases[i].why);
        EXPECT_MSG(ev.order.raw == NULL && ev.event[0] == '\0', "case %zu: event left behind", i);
    }
    /* Well-formed but of no interest. */
    tradestream_event_t ev;
    const char *bad;
    const char *other = "{\"stream\":\"account_updates\",\"data\":{}}";
    EXPECT_INT(tradestream_parse(other, strlen(other), &ev, &bad), TRADESTREAM_MSG_OTHER);
    EXPECT_INT(tradestream_parse("{}", 2, &ev, &bad), TRADESTREAM_MSG_OTHER);
}

static void test_url(void) {
    tradestream_url_t u;
    const char *bad = NULL;
    char out[256];
    EXPECT_INT(tradestream_url_parse("wss://paper-api.alpaca.markets/stream", &u, &bad), 0);
    EXPECT_INT(u.tls, 1);
    EXPECT_STR(u.host, "paper-api.alpaca.markets");
    EXPECT_INT(u.port, 443);
    EXPECT_STR(u.path, "/stream");
    EXPECT_INT(tradestream_url_parse("ws://127.0.0.1:62150/stream", &u, &bad), 0);
    EXPECT_INT(u.tls, 0);
    EXPECT_INT(u.port, 62150);
    EXPECT_INT(tradestream_url_parse("ws://localhost", &u, &bad), 0);
    EXPECT_STR(u.path, "/");
    EXPECT_INT(u.port, 80);
    EXPECT_INT(tradestream_url_parse("https://api.alpaca.markets/stream", &u, &bad), -1);
    EXPECT_INT(tradestream_url_parse("ws://:80/stream", &u, &bad), -1);
    EXPECT_INT(tradestream_url_parse("ws://h:0/", &u, &bad), -1);
    EXPECT_INT(tradestream_url_parse("ws://h:x/", &u, &bad), -1);
    EXPECT_INT(tradestream_url_parse("wss://k:s@h/stream", &u, &bad), -1);
    EXPECT_INT(tradestream_url_derive("https://paper-api.alpaca.markets", out, sizeof(out), &bad), 0);
    EXPECT_STR(out, "wss://paper-api.alpaca.markets/stream");
    EXPECT_INT(tradestream_url_derive("https://api.alpaca.markets/v2/", out, sizeof(out), &bad), 0);
    EXPECT_STR(out, "wss://api.alpaca.markets/stream");
    EXPECT_INT(tradestream_url_derive("http://127.0.0.1:62101", out, sizeof(out), &bad), 0);
    EXPECT_STR(out, "ws://127.0.0.1:62101/stream");
    EXPECT_INT(tradestream_url_derive("ftp://x", out, sizeof(out), &bad), -1);
    EXPECT_INT(tradestream_url_derive("http://a-long-host-name", out, 10, &bad), -1);
}

static void test_backoff(void) {
    /* Full jitter: uniform over [0, min(max, base * 2^n)]. */
    EXPECT_INT(tradestream_backoff_ms(500, 30000, 0, 0), 0);
    EXPECT_INT(tradestream_backoff_ms(500, 30000, 0, 500), 500);
    EXPECT_INT(tradestream_backoff_ms(500, 30000, 0, 501), 0);
    EXPECT_INT(tradestream_backoff_ms(500, 30000, 3, 4000), 4000);
    EXPECT_INT(tradestream_backoff_ms(500, 30000, 3, 4001), 0);
    EXPECT_INT(tradestream_backoff_ms(500, 30000, 10, 30000), 30000);
    EXPECT_INT(tradestream_backoff_ms(500, 30000, 4000000000u, UINT64_MAX), UINT64_MAX % 30001);
    EXPECT_INT(tradestream_backoff_ms(0, 30000, 5, 12345), 0);
    int64_t most = 0;
    for (uint64_t r = 0; r < 100000; r += 7) {
        int64_t d = tradestream_backoff_ms(500, 30000, 2, r * 2654435761u);
        if (d > most) most = d;
        if (d < 0 || d > 2000) UNIT_ABORT("delay %lld out of [0, 2000]", (long long)d);
    }
    EXPECT(most > 1900);
}

/* ---- the scripted server --------------------------------------------------------- */

#define CLOSE_FRAME (-1)

typedef struct sframe {
    struct sframe *next;
    int flags;                   /* lws_write's, or CLOSE_FRAME: close after the previous */
    size_t len;
    unsigned char data[];        /* LWS_PRE bytes, then the payload */
} sframe_t;

typedef struct server {
    struct lws_context *ctx;
    pthread_t thread;
    atomic_int stop;
    int port;
    pthread_mutex_t lock;
    /* the script (under lock) */
    int deny;                    /* answer unauthorized to any keys */
    int cmd_drop, cmd_silent;    /* for the current connection, once */
    sframe_t *head, *tail;
    /* what happened (under lock) */
    int connections, authorized, refused, listens, bad_keys;
    int64_t conn_us[256];
    /* the service thread's */
    struct lws *cur;
    int cur_silent;
    SSL_CTX *client_tls;         /* see srv_start_tls */
} server_t;

static server_t *srv_of(struct lws *wsi) { return lws_context_user(lws_get_context(wsi)); }

/* Queues frames (caller holds lock). */
static void srv_push_locked(server_t *sv, const char *data, size_t len, int flags) {
    sframe_t *f = malloc(sizeof(*f) + LWS_PRE + len + 1);
    if (!f) abort();
    f->next = NULL;
    f->flags = flags;
    f->len = len;
    memcpy(f->data + LWS_PRE, data, len);
    if (sv->tail) sv->tail->next = f;
    else sv->head = f;
    sv->tail = f;
}

static void srv_clear_locked(server_t *sv) {
    while (sv->head) {
        sframe_t *f = sv->head;
        sv->head = f->next;
        free(f);
    }
    sv->tail = NULL;
}

/* Queues one message in nfrags fragments, binary or text, and wakes the
 * server. */
static void srv_send(server_t *sv, const char *msg, int binary, int nfrags) {
    size_t len = strlen(msg), per = (len + (size_t)nfrags - 1) / (size_t)nfrags, off = 0;
    pthread_mutex_lock(&sv->lock);
    for (int i = 0; i < nfrags; i++) {
        size_t n = off + per > len ? len - off : per;
        int flags = i == 0 ? (binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) : LWS_WRITE_CONTINUATION;
        if (i < nfrags - 1) flags |= LWS_WRITE_NO_FIN;
        srv_push_locked(sv, msg + off, n, flags);
        off += n;
    }
    pthread_mutex_unlock(&sv->lock);
    lws_cancel_service(sv->ctx);
}

static void srv_command(server_t *sv, int drop, int silent) {
    pthread_mutex_lock(&sv->lock);
    sv->cmd_drop |= drop;
    sv->cmd_silent |= silent;
    pthread_mutex_unlock(&sv->lock);
    lws_cancel_service(sv->ctx);
}

static void srv_deny(server_t *sv) {
    pthread_mutex_lock(&sv->lock);
    sv->deny = 1;
    pthread_mutex_unlock(&sv->lock);
}

static int srv_get(server_t *sv, int *field) {
    pthread_mutex_lock(&sv->lock);
    int v = *field;
    pthread_mutex_unlock(&sv->lock);
    return v;
}

/* A client message: authenticate (keys checked) or listen. */
static void srv_answer(server_t *sv, const char *in, size_t len) {
    json_t *j = json_loadb(in, len, 0, NULL);
    const char *action = json_string_value(json_object_get(j, "action"));
    json_t *data = json_object_get(j, "data");
    pthread_mutex_lock(&sv->lock);
    if (action && !strcmp(action, "authenticate")) {
        const char *k = json_string_value(json_object_get(data, "key_id"));
        const char *sk = json_string_value(json_object_get(data, "secret_key"));
        int good = k && sk && !strcmp(k, KEY_ID) && !strcmp(sk, SECRET);
        if (!good) sv->bad_keys++;
        const char *status = good && !sv->deny ? "authorized" : "unauthorized";
        char answer[160];
        snprintf(answer, sizeof(answer), "{\"stream\":\"authorization\",\"data\":{\"status\":\"%s\","
                 "\"action\":\"authenticate\"}}", status);
        srv_push_locked(sv, answer, strlen(answer), LWS_WRITE_BINARY);
        if (good && !sv->deny) {
            sv->authorized++;
        } else {
            sv->refused++;
            srv_push_locked(sv, "", 0, CLOSE_FRAME);
        }
    } else if (action && !strcmp(action, "listen")) {
        const char *answer = "{\"stream\":\"listening\",\"data\":{\"streams\":[\"trade_updates\"]}}";
        srv_push_locked(sv, answer, strlen(answer), LWS_WRITE_BINARY);
        sv->listens++;
    }
    pthread_mutex_unlock(&sv->lock);
    json_decref(j);
}

static int srv_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                        void *in, size_t len) {
    server_t *sv = srv_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        if (sv->cur) lws_set_timeout(sv->cur, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        sv->cur = wsi;
        sv->cur_silent = 0;
        pthread_mutex_lock(&sv->lock);
        if (sv->connections < 256) sv->conn_us[sv->connections] = now_us();
        sv->connections++;
        srv_clear_locked(sv);
        pthread_mutex_unlock(&sv->lock);
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (wsi == sv->cur) sv->cur = NULL;
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (wsi != sv->cur || sv->cur_silent) return 0;
        srv_answer(sv, in, len);
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        if (wsi != sv->cur || sv->cur_silent) return 0;
        pthread_mutex_lock(&sv->lock);
        sframe_t *f = sv->head;
        if (f) {
            sv->head = f->next;
            if (!sv->head) sv->tail = NULL;
        }
        int more = sv->head != NULL;
        pthread_mutex_unlock(&sv->lock);
        if (!f) return 0;
        int close = f->flags == CLOSE_FRAME;
        int w = close ? 0 : lws_write(wsi, f->data + LWS_PRE, f->len, (enum lws_write_protocol)f->flags);
        free(f);
        if (close || w < 0) return -1;
        if (more) lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        pthread_mutex_lock(&sv->lock);
        int drop = sv->cmd_drop, silent = sv->cmd_silent, pending = sv->head != NULL;
        sv->cmd_drop = sv->cmd_silent = 0;
        if (drop) srv_clear_locked(sv);
        pthread_mutex_unlock(&sv->lock);
        if (!sv->cur) return 0;
        if (drop) {
            lws_set_timeout(sv->cur, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            sv->cur = NULL;
        } else if (silent) {
            /* Reads nothing more, so answers no ping, and sends nothing. */
            sv->cur_silent = 1;
            lws_rx_flow_control(sv->cur, 0);
        } else if (pending && !sv->cur_silent) {
            lws_callback_on_writable(sv->cur);
        }
        return 0;
    }
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols SRV_PROTOCOLS[] = {
    {"alpaca-stream", srv_callback, 0, 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *srv_run(void *arg) {
    server_t *sv = arg;
    while (!atomic_load(&sv->stop))
        if (lws_service(sv->ctx, 0) < 0) break;
    return NULL;
}

/* The server on a port the kernel chooses on 127.0.0.1; with TLS when
 * cert and key (PEM files) are given. */
static server_t *srv_start_tls(const char *cert, const char *key) {
    server_t *sv = calloc(1, sizeof(*sv));
    pthread_mutex_init(&sv->lock, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = cert ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    /* libwebsockets 4.1.6 makes a client TLS context for a server too, and
     * finds it again at destroy through an OpenSSL ex_data index that every
     * TLS context's creation replaces: the client's, made later, would make
     * it leak.  This one is the test's own, freed by srv_stop(). */
    if (cert) {
        sv->client_tls = SSL_CTX_new(TLS_client_method());
        if (!sv->client_tls) abort();
        info.provided_client_ssl_ctx = sv->client_tls;
    }
    info.protocols = SRV_PROTOCOLS;
    info.user = sv;
    info.fd_limit_per_thread = 16;
    info.port = 0;               /* the kernel chooses */
    info.iface = "127.0.0.1";
    info.vhost_name = "stream";
    info.ssl_cert_filepath = cert;
    info.ssl_private_key_filepath = key;
    sv->ctx = lws_create_context(&info);
    if (!sv->ctx) abort();
    struct lws_vhost *vh = lws_get_vhost_by_name(sv->ctx, "stream");
    if (!vh) abort();
    sv->port = lws_get_vhost_listen_port(vh);
    if (sv->port <= 0 || pthread_create(&sv->thread, NULL, srv_run, sv)) abort();
    return sv;
}

static server_t *srv_start(void) { return srv_start_tls(NULL, NULL); }

static void srv_stop(server_t *sv) {
    atomic_store(&sv->stop, 1);
    lws_cancel_service(sv->ctx);
    pthread_join(sv->thread, NULL);
    lws_context_destroy(sv->ctx);
    SSL_CTX_free(sv->client_tls);
    srv_clear_locked(sv);
    pthread_mutex_destroy(&sv->lock);
    free(sv);
}

/* ---- the client's side -------------------------------------------------------- */

static void client_config(config_t *cfg, int port, int64_t ping_ms, int64_t backoff_ms,
                          int64_t backoff_max_ms) {
    memset(cfg, 0, sizeof(*cfg));
    cfg->alpaca_stream = 1;
    snprintf(cfg->alpaca_stream_url, sizeof(cfg->alpaca_stream_url),
             "ws://127.0.0.1:%d/stream", port);
    snprintf(cfg->alpaca_key_id, sizeof(cfg->alpaca_key_id), "%s", KEY_ID);
    snprintf(cfg->alpaca_secret_key, sizeof(cfg->alpaca_secret_key), "%s", SECRET);
    cfg->alpaca_stream_ping_ms = ping_ms;
    cfg->alpaca_stream_backoff_ms = backoff_ms;
    cfg->alpaca_stream_backoff_max_ms = backoff_max_ms;
}

static tradestream_status_t status_of(tradestream_t *s) {
    tradestream_status_t st;
    tradestream_status(s, &st);
    return st;
}

/* stderr captured per test, so that its lines can be searched. */
static int saved_stderr = -1, capture_fd = -1;

static void capture_begin(void) {
    char path[] = "/tmp/test_tradestream.XXXXXX";
    capture_fd = mkstemp(path);
    if (capture_fd < 0) abort();
    unlink(path);
    saved_stderr = dup(2);
    dup2(capture_fd, 2);
}

/* Restores stderr and returns what was written (malloc'd); echoes it when
 * the test failed or TEST_TRADESTREAM_LOGS is set. */
static char *capture_end(void) {
    dup2(saved_stderr, 2);
    close(saved_stderr);
    off_t size = lseek(capture_fd, 0, SEEK_END);
    char *text = malloc((size_t)size + 1);
    ssize_t got = pread(capture_fd, text, (size_t)size, 0);
    text[got > 0 ? got : 0] = '\0';
    close(capture_fd);
    if (atomic_load(&unit_run_state.test_failed) || getenv("TEST_TRADESTREAM_LOGS"))
        fprintf(stderr, "--- logs:\n%s", text);
    return text;
}

/* The metrics' text holds this. */
static int metrics_have(const char *text) {
    size_t n;
    char *m = metrics_render(&n);
    int has = m && strstr(m, text);
    free(m);
    return has;
}

/* One test's world: stderr captured, the scripted server, the client. */
typedef struct fixture {
    server_t *sv;
    tradestream_t *s;
    config_t cfg;
} fixture_t;

/* Captures stderr, starts the server (refusing every key if deny), and
 * fills cfg for it (which the test may change before fx_client). */
static void fx_begin(fixture_t *f, int64_t ping_ms, int64_t backoff_ms, int64_t backoff_max_ms,
                     int deny) {
    capture_begin();
    f->sv = srv_start();
    if (deny) srv_deny(f->sv);
    f->s = NULL;
    client_config(&f->cfg, f->sv->port, ping_ms, backoff_ms, backoff_max_ms);
}

/* Starts the client on cfg: 0, or -1 (a failed check). */
static int fx_client(fixture_t *f) {
    char err[256] = "";
    f->s = tradestream_start(&f->cfg, err, sizeof(err));
    EXPECT_MSG(f->s != NULL, "start: %s", err);
    return f->s ? 0 : -1;
}

/* Stops the client (unless the test did: f->s NULL) and the server, ends
 * the capture, and checks that the secret key is in no log line, status or
 * metric.  Returns the logs (malloc'd). */
static char *fx_end(fixture_t *f) {
    if (f->s) {
        tradestream_status_t st;
        tradestream_status(f->s, &st);
        EXPECT(!strstr(st.last_error, SECRET));
        tradestream_stop(f->s);
        f->s = NULL;
    }
    if (f->sv) srv_stop(f->sv);
    f->sv = NULL;
    char *logs = capture_end();
    EXPECT_MSG(!strstr(logs, SECRET), "the secret key is in the logs");
    EXPECT_MSG(!strstr(logs, "secret_key"), "an authenticate frame is in the logs");
    EXPECT(!metrics_have(SECRET));
    return logs;
}

/* Stops the client alone, checking that it takes under a second; prints
 * how long it took. */
static void fx_stop_client(fixture_t *f, const char *when) {
    int64_t t0 = now_us();
    tradestream_stop(f->s);
    f->s = NULL;
    int64_t took = now_us() - t0;
    printf("  stop %s: %.1f ms\n", when, (double)took / 1000.0);
    EXPECT_MSG(took < 1000000, "stop %s took %lld us", when, (long long)took);
}

#define FX_CLIENT_OR_ABORT(f)                       \
    do {                                            \
        if (fx_client(f) < 0) {                     \
            free(fx_end(f));                        \
            UNIT_ABORT("the client did not start"); \
        }                                           \
    } while (0)

/* Declares the fixture f, started (fx_begin's arguments), with its client
 * s and its server sv; aborts the test if the client does not start. */
#define FX_START(ping, backoff, max, deny)  \
    fixture_t f;                            \
    fx_begin(&f, ping, backoff, max, deny); \
    FX_CLIENT_OR_ABORT(&f);                 \
    tradestream_t *s = f.s;                 \
    server_t *sv = f.sv;                    \
    (void)s, (void)sv


/* The next event within ms; 0 (a failed check) if none. */
static int next_event(tradestream_t *s, tradestream_event_t *ev, int ms) {
    int rc = tradestream_next(s, ev, ms);
    EXPECT_MSG(rc == 1, "no event within %d ms (rc %d)", ms, rc);
    return rc == 1;
}

/* The server sends a fill of order ord-n; the client must deliver it (with
 * this epoch, unless 0) within 3 s. */
static void send_and_expect(server_t *sv, tradestream_t *s, int n, uint64_t epoch) {
    char *u = update_json("fill", n, "filled", "10");
    srv_send(sv, u, 1, 1);
    free(u);
    tradestream_event_t ev;
    if (!next_event(s, &ev, 3000)) return;
    char id[32];
    snprintf(id, sizeof(id), "ord-%d", n);
    EXPECT_STR(ev.order.id, id);
    if (epoch) EXPECT_INT(ev.epoch, epoch);
    tradestream_event_clear(&ev);
}

static void test_events_in_order(void) {
    int64_t t0 = now_us();
    FX_START(1000, 20, 100, 0);
    EXPECT(WAIT_UNTIL(status_of(s).listening, 3000));
    printf("  connect -> listening: %.1f ms\n", (double)(now_us() - t0) / 1000.0);
    /* Idle, the service threads sleep in poll() (no busy loop). */
    int64_t cpu0 = cpu_us();
    usleep(500000);
    int64_t idle_cpu = cpu_us() - cpu0;
    printf("  CPU while idle for 500 ms: %.1f ms\n", (double)idle_cpu / 1000.0);
    EXPECT_MSG(idle_cpu < 50000, "%lld us of CPU in 500 ms idle", (long long)idle_cpu);
    EXPECT_INT(status_of(s).epoch, 1);
    EXPECT_INT(srv_get(sv, &sv->bad_keys), 0);
    /* Text and binary, whole and fragmented, and a message of another
     * stream that is skipped.  Events that do not move an order (new, and
     * an unknown one) are counted and not queued. */
    static const struct {
        const char *event, *status;
        int binary, frags, moves;
    } sent[] = {
        {"new", "new", 0, 1, 0},           {"partial_fill", "partially_filled", 1, 1, 1},
        {"partial_fill", "partially_filled", 1, 3, 1}, {"held_for_review", "held", 0, 4, 0},
        {"fill", "filled", 1, 2, 1},       {"canceled", "canceled", 0, 1, 1},
    };
    size_t n = sizeof(sent) / sizeof(sent[0]), queued = 0;
    for (size_t i = 0; i < n; i++) {
        char *m = update_json(sent[i].event, (int)i, sent[i].status, "1");
        srv_send(sv, m, sent[i].binary, sent[i].frags);
        free(m);
        if (i == 2) srv_send(sv, "{\"stream\":\"account_updates\",\"data\":{}}", 1, 1);
    }
    int64_t last = 0;
    for (size_t i = 0; i < n; i++) {
        if (!sent[i].moves) continue;
        queued++;
        tradestream_event_t ev;
        if (!next_event(s, &ev, 3000)) break;
        char id[32];
        snprintf(id, sizeof(id), "ord-%zu", i);
        EXPECT_STR(ev.event, sent[i].event);
        EXPECT_STR(ev.order.id, id);
        EXPECT_STR(ev.order.status, sent[i].status);
        EXPECT_INT(ev.epoch, 1);
        EXPECT(ev.received_mono_us >= last && ev.received_mono_us <= now_us());
        last = ev.received_mono_us;
        tradestream_event_clear(&ev);
    }
    tradestream_status_t st = status_of(s);
    EXPECT_INT(st.events, queued);
    EXPECT(metrics_have("order_worker_stream_events_total{event=\"new\"}"));
    EXPECT_INT(st.dropped, 0);
    EXPECT_INT(st.reconnects, 0);
    EXPECT_INT(srv_get(sv, &sv->connections), 1);
    /* Nothing more: next() waits its time and returns 0. */
    tradestream_event_t ev;
    int64_t w0 = now_us();
    EXPECT_INT(tradestream_next(s, &ev, 50), 0);
    EXPECT(now_us() - w0 >= 45000);
    EXPECT(metrics_have("order_worker_stream_listening 1"));
    EXPECT(metrics_have("order_worker_stream_events_total{event=\"other\"}"));
    EXPECT(metrics_have("order_worker_stream_connects_total{result=\"listening\"}"));
    fx_stop_client(&f, "while connected");
    char *logs = fx_end(&f);
    EXPECT(strstr(logs, "\"event\":\"stream_connected\""));
    EXPECT(strstr(logs, "\"event\":\"stream_listening\""));
    free(logs);
}

static void test_reconnect_after_close(void) {
    FX_START(1000, 50, 400, 0);
    for (int round = 1; round <= 3; round++) {
        EXPECT_MSG(WAIT_UNTIL(status_of(s).listening && status_of(s).epoch == (uint64_t)round,
                              3000),
                   "round %d: not listening at epoch %d", round, round);
        send_and_expect(sv, s, round, (uint64_t)round);
        if (round == 3) break;
        int64_t dropped_at = now_us();
        srv_command(sv, 1, 0);
        EXPECT(WAIT_UNTIL(srv_get(sv, &sv->connections) == round + 1, 3000));
        /* After a session that listened, the first retry waits at most
         * ALPACA_STREAM_BACKOFF_MS (plus the loop's latency). */
        int64_t gap = sv->conn_us[round] - dropped_at;
        printf("  round %d: dropped -> reconnected in %.1f ms\n", round, (double)gap / 1000.0);
        EXPECT_MSG(gap < (50 + 150) * 1000, "reconnected after %lld us", (long long)gap);
    }
    tradestream_status_t st = status_of(s);
    EXPECT_INT(st.epoch, 3);
    EXPECT_INT(st.reconnects, 2);
    EXPECT_INT(st.events, 3);
    EXPECT(st.last_error[0] != '\0');
    char *logs = fx_end(&f);
    EXPECT(strstr(logs, "\"event\":\"stream_lost\""));
    free(logs);
}

static void test_silent_server(void) {
    const int ping = 200;
    FX_START(ping, 20, 40, 0);
    EXPECT(WAIT_UNTIL(status_of(s).listening, 3000));
    /* Pings are answered while the server reads: still one connection
     * after several intervals. */
    usleep(3 * ping * 1000);
    EXPECT_INT(srv_get(sv, &sv->connections), 1);
    EXPECT(status_of(s).listening);
    int64_t silent_at = now_us();
    srv_command(sv, 0, 1);
    /* Detected within two intervals (the next ping, then one interval
     * without an answer), then a retry within the backoff. */
    EXPECT(WAIT_UNTIL(srv_get(sv, &sv->connections) == 2, 10 * ping));
    int64_t gap = sv->conn_us[1] - silent_at;
    printf("  silent -> new connection in %.1f ms (ping %d ms)\n", (double)gap / 1000.0, ping);
    EXPECT_MSG(gap <= (2 * ping + 40 + 100) * 1000, "replaced after %lld us", (long long)gap);
    EXPECT_MSG(gap >= ping * 1000, "replaced after %lld us: too soon", (long long)gap);
    EXPECT(WAIT_UNTIL(status_of(s).listening && status_of(s).epoch == 2, 3000));
    tradestream_status_t st = status_of(s);
    EXPECT_MSG(strstr(st.last_error, "silent"), "last_error \"%s\"", st.last_error);
    char *logs = fx_end(&f);
    EXPECT(strstr(logs, "stream_lost") && strstr(logs, "silent"));
    free(logs);
}

static void test_unauthorized_backoff(void) {
    FX_START(1000, 20, 160, 1);
    const int attempts = 10;
    EXPECT(WAIT_UNTIL(srv_get(sv, &sv->connections) >= attempts, 8000));
    /* Retry n waits at most min(160, 20 * 2^n) ms: 20, 40, 80, 160, 160...
     * And it does wait: once the cap is 160, six retries all under 25 ms
     * would happen once in 70,000 runs with full jitter, but always
     * without a backoff (a refused attempt takes a few ms here). */
    int64_t longest = 0;
    for (int i = 1; i < attempts; i++) {
        int64_t gap = sv->conn_us[i] - sv->conn_us[i - 1];
        int64_t cap = 20 << (i - 1);
        if (cap > 160) cap = 160;
        printf("  retry %d after %.1f ms (cap %lld ms)\n", i, (double)gap / 1000.0,
               (long long)cap);
        EXPECT_MSG(gap <= (cap + 60) * 1000, "retry %d after %lld us", i, (long long)gap);
        if (i >= 4 && gap > longest) longest = gap;
    }
    EXPECT_MSG(longest >= 25000, "retries 4 to %d all within %lld us: no backoff", attempts - 1,
               (long long)longest);
    tradestream_status_t st = status_of(s);
    EXPECT_INT(st.listening, 0);
    EXPECT_INT(st.epoch, 0);
    EXPECT_MSG(strstr(st.last_error, "unauthorized"), "last_error \"%s\"", st.last_error);
    EXPECT_INT(srv_get(sv, &sv->bad_keys), 0);
    EXPECT(metrics_have("order_worker_stream_connects_total{result=\"unauthorized\"}"));
    char *logs = fx_end(&f);
    EXPECT(strstr(logs, "\"event\":\"stream_unauthorized\""));
    EXPECT(strstr(logs, "retrying in"));
    free(logs);
}

static void test_wrong_secret(void) {
    /* Wrong keys: the server refuses them, and the refused value is not
     * printed either. */
    fixture_t f;
    fx_begin(&f, 1000, 20, 40, 0);
    snprintf(f.cfg.alpaca_secret_key, sizeof(f.cfg.alpaca_secret_key), "%s-rotated", SECRET);
    FX_CLIENT_OR_ABORT(&f);
    EXPECT(WAIT_UNTIL(srv_get(f.sv, &f.sv->bad_keys) >= 2, 3000));
    EXPECT_INT(status_of(f.s).listening, 0);
    free(fx_end(&f));
}

static void test_oversized_message(void) {
    FX_START(1000, 20, 40, 0);
    EXPECT(WAIT_UNTIL(status_of(s).listening, 3000));
    /* A trade_update of exactly the limit (padded with spaces) passes... */
    char *u = update_json("fill", 1, "filled", "10");
    size_t ulen = strlen(u), big = TRADESTREAM_MAX_MESSAGE;
    char *m = malloc(big + 2);
    memcpy(m, u, ulen - 1);
    memset(m + ulen - 1, ' ', big - ulen + 1);
    m[big - 1] = '}';
    m[big] = '\0';
    free(u);
    srv_send(sv, m, 1, 16);
    tradestream_event_t ev;
    if (next_event(s, &ev, 5000)) {
        EXPECT_STR(ev.order.id, "ord-1");
        tradestream_event_clear(&ev);
    }
    EXPECT_INT(srv_get(sv, &sv->connections), 1);
    /* ...one byte more breaks the connection, which is replaced. */
    m[big - 1] = ' ';
    m[big] = '}';
    m[big + 1] = '\0';
    srv_send(sv, m, 1, 17);
    free(m);
    EXPECT(WAIT_UNTIL(srv_get(sv, &sv->connections) == 2, 5000));
    EXPECT(WAIT_UNTIL(status_of(s).listening && status_of(s).epoch == 2, 3000));
    EXPECT_MSG(strstr(status_of(s).last_error, "over"), "last_error \"%s\"",
               status_of(s).last_error);
    send_and_expect(sv, s, 2, 2);
    free(fx_end(&f));
}

static void test_unreadable_message(void) {
    FX_START(1000, 20, 40, 0);
    EXPECT(WAIT_UNTIL(status_of(s).listening, 3000));
    /* Malformed JSON and a trade_update without its order: each may have
     * been an order's move, so each moves the epoch; the connection stays. */
    srv_send(sv, "{\"stream\":\"trade_updates\",\"data\":{\"event\":\"fill\"", 1, 1);
    srv_send(sv, "{\"stream\":\"trade_updates\",\"data\":{\"event\":\"fill\"}}", 0, 1);
    send_and_expect(sv, s, 2, 3);
    tradestream_status_t st = status_of(s);
    EXPECT_INT(st.dropped, 2);
    EXPECT_INT(st.events, 1);
    EXPECT_INT(srv_get(sv, &sv->connections), 1);
    char *logs = fx_end(&f);
    EXPECT(strstr(logs, "stream_unreadable"));
    free(logs);
}

static void test_queue_overflow(void) {
    FX_START(5000, 20, 40, 0);
    EXPECT(WAIT_UNTIL(status_of(s).listening, 3000));
    const int extra = 3, total = TRADESTREAM_QUEUE_MAX + extra;
    for (int i = 0; i < total; i++) {
        char *u = update_json("partial_fill", i, "partially_filled", "1");
        srv_send(sv, u, 1, 1);
        free(u);
    }
    EXPECT(WAIT_UNTIL(status_of(s).events + status_of(s).dropped == (uint64_t)total, 30000));
    tradestream_status_t st = status_of(s);
    EXPECT_INT(st.events, TRADESTREAM_QUEUE_MAX);
    EXPECT_INT(st.dropped, extra);
    EXPECT_INT(st.epoch, 1 + extra);
    /* The queued ones come out in order, with the epoch of their time. */
    int in_order = 1;
    for (int i = 0; i < TRADESTREAM_QUEUE_MAX; i++) {
        tradestream_event_t ev;
        if (tradestream_next(s, &ev, 1000) != 1) {
            in_order = 0;
            break;
        }
        char id[32];
        snprintf(id, sizeof(id), "ord-%d", i);
        if (strcmp(ev.order.id, id) || ev.epoch != 1) in_order = 0;
        tradestream_event_clear(&ev);
    }
    EXPECT(in_order);
    EXPECT(metrics_have("order_worker_stream_queue_dropped_total 3"));
    char *logs = fx_end(&f);
    EXPECT(strstr(logs, "stream_queue_full"));
    free(logs);
}

typedef struct waiter {
    tradestream_t *s;
    int rc;
    int64_t took_us;
} waiter_t;

static void *wait_next(void *arg) {
    waiter_t *w = arg;
    tradestream_event_t ev;
    int64_t t0 = now_us();
    w->rc = tradestream_next(w->s, &ev, 5000);
    w->took_us = now_us() - t0;
    if (w->rc == 1) tradestream_event_clear(&ev);
    return NULL;
}

static void test_interrupt_and_stop(void) {
    FX_START(1000, 20, 40, 0);
    /* interrupt() wakes a waiting next() with 0... */
    waiter_t w = {s, 99, 0};
    pthread_t t;
    pthread_create(&t, NULL, wait_next, &w);
    usleep(50000);
    tradestream_interrupt(s);
    pthread_join(t, NULL);
    EXPECT_INT(w.rc, 0);
    EXPECT_MSG(w.took_us < 1000000, "interrupted after %lld us", (long long)w.took_us);
    /* ...and, given before, makes the next one return 0 at once. */
    tradestream_interrupt(s);
    tradestream_event_t ev;
    int64_t t0 = now_us();
    EXPECT_INT(tradestream_next(s, &ev, 5000), 0);
    EXPECT(now_us() - t0 < 100000);
    /* stop() while another thread waits in next(): it gets -1 first. */
    waiter_t w2 = {s, 99, 0};
    pthread_create(&t, NULL, wait_next, &w2);
    usleep(50000);
    fx_stop_client(&f, "while next() waits");
    pthread_join(t, NULL);
    EXPECT_INT(w2.rc, -1);
    free(fx_end(&f));
}

static void test_stop_while_backing_off(void) {
    FX_START(1000, 60000, 60000, 1);
    EXPECT(WAIT_UNTIL(srv_get(sv, &sv->refused) == 1 && !status_of(s).listening &&
                          status_of(s).last_error[0], 3000));
    usleep(20000);
    fx_stop_client(&f, "while backing off");
    free(fx_end(&f));
}

static void test_nothing_listening(void) {
    /* A port nobody listens on: refused, retried, never listening. */
    fixture_t f;
    fx_begin(&f, 1000, 10, 20, 0);
    srv_stop(f.sv);
    f.sv = NULL;
    FX_CLIENT_OR_ABORT(&f);
    tradestream_t *s = f.s;
    EXPECT(WAIT_UNTIL(status_of(s).reconnects >= 3, 3000));
    tradestream_status_t st = status_of(s);
    EXPECT_INT(st.listening, 0);
    EXPECT_MSG(strstr(st.last_error, "connect"), "last_error \"%s\"", st.last_error);
    fx_stop_client(&f, "while connecting");
    char *logs = fx_end(&f);
    EXPECT(strstr(logs, "stream_connect_failed"));
    free(logs);
}

/* A self-signed certificate for DNS:localhost and its key, as PEM files
 * in dir (cert.pem, key.pem).  0, or -1. */
static int make_certificate(const char *dir) {
    char path[300];
    int rc = -1;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!pkey || !x) goto out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    const char *exts[][2] = {{"subjectAltName", "DNS:localhost"},
                             {"basicConstraints", "critical,CA:TRUE"}};
    for (size_t i = 0; i < 2; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        if (!e) goto out;
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (!X509_sign(x, pkey, EVP_sha256())) goto out;
    snprintf(path, sizeof(path), "%s/cert.pem", dir);
    FILE *f = fopen(path, "w");
    if (!f) goto out;
    int ok = PEM_write_X509(f, x);
    fclose(f);
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    f = fopen(path, "w");
    if (!f || !ok) goto out;
    ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    rc = ok ? 0 : -1;
out:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

/* One wss:// client against the TLS server, with ca (NULL: the system's
 * store) as SSL_CERT_FILE; whether it listened within 2 s. */
static int tls_listens(server_t *sv, const char *host, const char *ca, char *why, size_t len) {
    config_t cfg;
    char err[256] = "";
    client_config(&cfg, sv->port, 1000, 20, 40);
    snprintf(cfg.alpaca_stream_url, sizeof(cfg.alpaca_stream_url), "wss://%s:%d/stream", host,
             sv->port);
    if (ca) setenv("SSL_CERT_FILE", ca, 1);
    else unsetenv("SSL_CERT_FILE");
    tradestream_t *s = tradestream_start(&cfg, err, sizeof(err));
    unsetenv("SSL_CERT_FILE");
    if (!s) {
        snprintf(why, len, "start: %s", err);
        return 0;
    }
    int listened = WAIT_UNTIL(status_of(s).listening, 2000);
    snprintf(why, len, "%s", status_of(s).last_error);
    if (listened) send_and_expect(sv, s, 9, 0);
    tradestream_stop(s);
    return listened;
}

static void test_tls(void) {
    /* wss:// verifies the server's certificate against the CA store and
     * its host name: a self-signed certificate for localhost is refused
     * with the system's store, accepted when it is the store
     * (SSL_CERT_FILE), and refused for another name (127.0.0.1). */
    char dir[] = "/tmp/test_tradestream_tls.XXXXXX", cert[300], key[300], why[256];
    if (!mkdtemp(dir)) UNIT_ABORT("mkdtemp");
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    if (make_certificate(dir) < 0) UNIT_ABORT("no test certificate");
    capture_begin();
    server_t *sv = srv_start_tls(cert, key);
    EXPECT_MSG(!tls_listens(sv, "localhost", NULL, why, sizeof(why)),
               "listened with a certificate the system does not trust");
    printf("  untrusted: %s\n", why);
    EXPECT_MSG(tls_listens(sv, "localhost", cert, why, sizeof(why)),
               "did not listen with its CA trusted: %s", why);
    EXPECT_MSG(!tls_listens(sv, "127.0.0.1", cert, why, sizeof(why)),
               "listened with a certificate for another host name");
    printf("  wrong host name: %s\n", why);
    EXPECT_INT(srv_get(sv, &sv->authorized), 1);
    srv_stop(sv);
    char *logs = capture_end();
    EXPECT(!strstr(logs, SECRET));
    free(logs);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

static void test_start_errors(void) {
    config_t cfg;
    char err[256] = "";
    client_config(&cfg, 1, 1000, 10, 20);
    snprintf(cfg.alpaca_stream_url, sizeof(cfg.alpaca_stream_url), "http://127.0.0.1:1/");
    EXPECT(tradestream_start(&cfg, err, sizeof(err)) == NULL);
    EXPECT_MSG(strstr(err, "ALPACA_STREAM_URL"), "err \"%s\"", err);
}

static const unit_test_t TESTS[] = {
    {"parse_authorization", test_parse_authorization},
    {"parse_listening", test_parse_listening},
    {"parse_trade_update", test_parse_trade_update},
    {"parse_raw_as_sent", test_parse_raw_as_sent},
    {"peek_event", test_peek_event},
    {"parse_unknown_event", test_parse_unknown_event},
    {"parse_malformed", test_parse_malformed},
    {"url", test_url},
    {"backoff", test_backoff},
    {"start_errors", test_start_errors},
    {"events_in_order", test_events_in_order},
    {"reconnect_after_close", test_reconnect_after_close},
    {"silent_server", test_silent_server},
    {"unauthorized_backoff", test_unauthorized_backoff},
    {"wrong_secret", test_wrong_secret},
    {"oversized_message", test_oversized_message},
    {"unreadable_message", test_unreadable_message},
    {"queue_overflow", test_queue_overflow},
    {"interrupt_and_stop", test_interrupt_and_stop},
    {"stop_while_backing_off", test_stop_while_backing_off},
    {"nothing_listening", test_nothing_listening},
    {"tls", test_tls},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    log_init("test", LOG_DEBUG, LOG_FORMAT_JSON);
    /* The test server's context may come first: libwebsockets' notices
     * off from the start (tradestream_start() then routes the rest). */
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    int rc = unit_main(TESTS, argc, argv);
    metrics_free();
    return rc;
}
