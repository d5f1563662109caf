/* tradestream.c -- Alpaca's trade_updates stream, held open (see
 * tradestream.h).
 *
 * Owns one libwebsockets client context and the thread that services it,
 * the connection's life (connect, authenticate, listen, ping, reconnect)
 * and the queue of events between that thread and the consumer's.  Why a
 * thread of its own: libwebsockets runs a poll loop, and the follower that
 * consumes the events blocks on the ledger and on REST calls; the queue
 * decouples the two, and its bound keeps a stuck consumer from growing the
 * process (overflow drops, counts and moves the epoch: the consumer
 * reconciles).
 *
 * Everything below "the service thread" runs on that thread only (lws
 * callbacks and sul timers), so the connection's state needs no lock; the
 * queue and the status are shared with the consumer under `lock`.  The
 * context is created by tradestream_start() before the thread starts and
 * destroyed by tradestream_stop() after it is joined, so that
 * lws_cancel_service() never meets a destroyed context.
 *
 * One connection at a time.  Each attempt gets an id, carried as the wsi's
 * opaque user data: callbacks of an older connection that is still being
 * torn down are recognised and ignored.  An attempt ends once, in
 * conn_ended(), which records why, counts it, logs it and schedules the
 * next attempt: the delay is full jitter over BACKOFF * 2^n (capped), n
 * counting the attempts since the last session that reached listening.
 *
 * Liveness: every ALPACA_STREAM_PING_MS a tick sends a websocket ping; if no
 * frame of any kind (message, pong) arrived since the previous ping, the
 * connection is taken as silent and replaced.  An attempt that is not
 * listening within two intervals of its start is given up too.
 *
 * Secrets: the secret key is written into the authenticate frame only,
 * built in a buffer that is wiped once written; libwebsockets' own logging
 * is limited to errors and warnings (which never quote a frame), and a line
 * mentioning secret_key would be withheld anyway. */
#include "tradestream.h"

#include <libwebsockets.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

enum { PHASE_CONNECTING, PHASE_OPEN, PHASE_AUTHORIZED, PHASE_LISTENING };
enum { END_FAILED, END_UNAUTHORIZED };

typedef struct node {
    struct node *next;
    tradestream_event_t ev;
} node_t;

struct tradestream {
    /* settings, fixed at start */
    tradestream_url_t url;
    char url_text[560];        /* for the log: scheme://host:port/path */
    char key_id[256], secret[256];
    int64_t ping_us, backoff_ms, backoff_max_ms;

    struct lws_context *ctx;
    pthread_t thread;
    atomic_int stop;

    /* the service thread's alone */
    struct lws *wsi;           /* the current connection once known */
    uintptr_t conn_id;         /* the current attempt's id (opaque user data) */
    int conn_live;             /* an attempt is in progress */
    int phase;
    int want_auth, want_listen, want_ping;
    unsigned attempt;          /* failed attempts since the last listening session */
    uint64_t attempts_total;
    int64_t attempt_start_us, ping_sent_us, last_rx_us;
    int ping_outstanding;
    char peer_close[160];      /* the server's close code and reason */
    char *msg;                 /* the message being received */
    size_t msg_len, msg_cap;
    uint64_t rng;
    int overflowing;           /* a run of drops is being logged once */
    lws_sorted_usec_list_t sul_connect, sul_tick;

    /* shared with the consumer: under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    node_t *head, *tail;
    size_t queued;
    int interrupted, stopping, waiters;
    tradestream_status_t st;
};

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t next_random(tradestream_t *s) {
    /* xorshift64*: plenty for spreading reconnections apart. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545F4914F6CDD1DULL;
}

/* The metric label of an event: the names Alpaca documents, else "other"
 * (a label's values must stay few whatever the server sends). */
static const char *event_label(const char *event) {
    static const char *const known[] = {
        "new", "fill", "partial_fill", "canceled", "expired", "done_for_day", "replaced",
        "rejected", "pending_new", "stopped", "pending_cancel", "pending_replace",
        "calculated", "suspended", "order_replace_rejected", "order_cancel_rejected",
        "accepted", "restated", NULL};
    for (const char *const *k = known; *k; k++)
        if (!strcmp(event, *k)) return *k;
    return "other";
}

/* ---- the queue (any thread, under lock) ------------------------------------- */

/* Moves the epoch: the consumer must reconcile.  Caller holds lock. */
static void epoch_bump_locked(tradestream_t *s) { s->st.epoch++; }

/* Queues *ev (ownership of its order's raw moves) if it moves an order,
 * or drops it when the queue is full. */
static void queue_push(tradestream_t *s, tradestream_event_t *ev) {
    metrics_add(M_STREAM_EVENTS, 1, event_label(ev->event), NULL);
    if (!tradestream_event_moves(ev->event)) {
        tradestream_event_clear(ev);
        return;
    }
    node_t *n = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->queued < TRADESTREAM_QUEUE_MAX) n = malloc(sizeof(*n));
    if (!n) {
        s->st.dropped++;
        epoch_bump_locked(s);
        uint64_t epoch = s->st.epoch;
        pthread_mutex_unlock(&s->lock);
        metrics_add(M_STREAM_QUEUE_DROPPED, 1, NULL, NULL);
        if (!s->overflowing)
            log_msg(LOG_WARN, "stream_queue_full", NULL,
                    "%d trade_updates wait for the follower: dropping %s of order %s and "
                    "those that follow until it catches up (epoch %llu: it reconciles)",
                    TRADESTREAM_QUEUE_MAX, ev->event, ev->order.id, (unsigned long long)epoch);
        s->overflowing = 1;
        tradestream_event_clear(ev);
        return;
    }
    ev->epoch = s->st.epoch;
    n->ev = *ev;
    n->next = NULL;
    if (s->tail) s->tail->next = n;
    else s->head = n;
    s->tail = n;
    s->queued++;
    s->st.events++;
    int drained = s->queued < TRADESTREAM_QUEUE_MAX / 2;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (drained) s->overflowing = 0;
    memset(ev, 0, sizeof(*ev));
}

int tradestream_next(tradestream_t *s, tradestream_event_t *ev, int64_t wait_ms) {
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (wait_ms > 0) {
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    s->waiters++;
    while (!s->head && !s->interrupted && !s->stopping && wait_ms > 0)
        if (pthread_cond_timedwait(&s->cond, &s->lock, &until)) break;
    if (s->stopping) {
        rc = -1;
    } else if (s->interrupted) {
        s->interrupted = 0;
    } else if (s->head) {
        node_t *n = s->head;
        s->head = n->next;
        if (!s->head) s->tail = NULL;
        s->queued--;
        *ev = n->ev;
        free(n);
        rc = 1;
    }
    s->waiters--;
    if (s->stopping) pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void tradestream_interrupt(tradestream_t *s) {
    pthread_mutex_lock(&s->lock);
    s->interrupted = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void tradestream_status(tradestream_t *s, tradestream_status_t *out) {
    pthread_mutex_lock(&s->lock);
    *out = s->st;
    pthread_mutex_unlock(&s->lock);
}

/* ---- the service thread: one connection's life ------------------------------- */

static void connect_now(lws_sorted_usec_list_t *sul);
static void tick(lws_sorted_usec_list_t *sul);

/* The attempt in progress ended: record, count, log, and schedule the next
 * one.  The caller closes the wsi if it still lives (returning -1 from its
 * callback, or killing it). */
static void conn_ended(tradestream_t *s, int how, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conn_ended(tradestream_t *s, int how, const char *fmt, ...) {
    if (!s->conn_live) return;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    int was_listening = s->phase == PHASE_LISTENING;
    s->conn_live = 0;
    s->wsi = NULL;
    s->msg_len = 0;
    lws_sul_cancel(&s->sul_tick);
    pthread_mutex_lock(&s->lock);
    s->st.listening = 0;
    snprintf(s->st.last_error, sizeof(s->st.last_error), "%s", why);
    pthread_mutex_unlock(&s->lock);
    if (atomic_load(&s->stop)) return;   /* tradestream_stop(): no retry, no noise */

    if (was_listening) s->attempt = 0;
    int64_t delay = tradestream_backoff_ms(s->backoff_ms, s->backoff_max_ms, s->attempt,
                                           next_random(s));
    if (s->attempt < 64) s->attempt++;
    lws_sul_schedule(s->ctx, 0, &s->sul_connect, connect_now, delay * 1000);
    if (was_listening) {
        metrics_set(M_STREAM_LISTENING, 0, NULL, NULL);
        metrics_add(M_STREAM_CONNECTS, 1, "lost", NULL);
        log_msg(LOG_WARN, "stream_lost", NULL,
                "trade_updates stream lost: %s; reconnecting in %lld ms (what it missed "
                "meanwhile is reconciled over REST)", why, (long long)delay);
    } else if (how == END_UNAUTHORIZED) {
        metrics_add(M_STREAM_CONNECTS, 1, "unauthorized", NULL);
        log_msg(LOG_ERROR, "stream_unauthorized", NULL,
                "Alpaca refused the API keys on the trade_updates stream (%s); retrying in "
                "%lld ms in case the keys are being rotated", why, (long long)delay);
    } else {
        metrics_add(M_STREAM_CONNECTS, 1, "failed", NULL);
        log_msg(LOG_WARN, "stream_connect_failed", NULL,
                "trade_updates stream %s: %s; retrying in %lld ms", s->url_text, why,
                (long long)delay);
    }
}

/* Ends the attempt from outside its callbacks (a timer): the wsi is killed
 * on the next turn of the loop. */
static void conn_kill(tradestream_t *s, const char *why) {
    struct lws *w = s->wsi;
    conn_ended(s, END_FAILED, "%s", why);
    if (w) lws_set_timeout(w, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void connect_now(lws_sorted_usec_list_t *sul) {
    tradestream_t *s = lws_container_of(sul, tradestream_t, sul_connect);
    if (atomic_load(&s->stop) || s->conn_live) return;
    if (s->attempts_total++ > 0) {
        pthread_mutex_lock(&s->lock);
        s->st.reconnects++;
        pthread_mutex_unlock(&s->lock);
    }
    s->conn_id++;
    s->conn_live = 1;
    s->wsi = NULL;
    s->phase = PHASE_CONNECTING;
    s->want_auth = s->want_listen = s->want_ping = 0;
    s->ping_outstanding = 0;
    s->peer_close[0] = '\0';
    s->msg_len = 0;
    s->attempt_start_us = s->last_rx_us = mono_us();
    lws_sul_schedule(s->ctx, 0, &s->sul_tick, tick, s->ping_us);

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = s->ctx;
    ci.address = s->url.host;
    ci.port = s->url.port;
    ci.path = s->url.path;
    ci.host = s->url.host;
    ci.origin = s->url.host;
    ci.ssl_connection = s->url.tls ? LCCSCF_USE_SSL : 0;
    ci.opaque_user_data = (void *)s->conn_id;
    struct lws *w = lws_client_connect_via_info(&ci);
    if (s->conn_live && s->conn_id == (uintptr_t)ci.opaque_user_data) {
        if (w) s->wsi = w;
        else conn_ended(s, END_FAILED, "could not start connecting to %s", s->url.host);
    }
}

/* Every ping interval while an attempt lives. */
static void tick(lws_sorted_usec_list_t *sul) {
    tradestream_t *s = lws_container_of(sul, tradestream_t, sul_tick);
    if (!s->conn_live || atomic_load(&s->stop)) return;
    int64_t now = mono_us();
    char why[160];
    if (s->phase != PHASE_LISTENING && now - s->attempt_start_us >= 2 * s->ping_us) {
        static const char *const stuck[] = {"connecting", "waiting for the authorization answer",
                                            "waiting for the listening answer"};
        snprintf(why, sizeof(why), "gave up after %lld ms %s", (long long)(2 * s->ping_us / 1000),
                 stuck[s->phase]);
        conn_kill(s, why);
        return;
    }
    if (s->phase != PHASE_CONNECTING && s->wsi) {
        if (s->ping_outstanding && s->last_rx_us < s->ping_sent_us) {
            snprintf(why, sizeof(why), "silent: no frame within %lld ms of a ping",
                     (long long)((now - s->ping_sent_us) / 1000));
            conn_kill(s, why);
            return;
        }
        s->want_ping = 1;
        lws_callback_on_writable(s->wsi);
    }
    lws_sul_schedule(s->ctx, 0, &s->sul_tick, tick, s->ping_us);
}

/* Appends text to b (at most cap bytes, NUL included) as a JSON string's
 * contents; returns the new length, or cap when it does not fit. */
static size_t json_escape(char *b, size_t n, size_t cap, const char *text) {
    for (const unsigned char *p = (const unsigned char *)text; *p && n < cap; p++) {
        int w;
        if (*p == '"' || *p == '\\') w = snprintf(b + n, cap - n, "\\%c", *p);
        else if (*p < 0x20) w = snprintf(b + n, cap - n, "\\u%04x", *p);
        else w = snprintf(b + n, cap - n, "%c", *p);
        n = w < 0 || (size_t)w >= cap - n ? cap : n + (size_t)w;
    }
    return n;
}

/* Writes the one frame that is due; 0, or -1 when the connection broke. */
static int write_due(tradestream_t *s, struct lws *wsi) {
    unsigned char buf[LWS_PRE + 4096];
    char *b = (char *)buf + LWS_PRE;
    size_t cap = sizeof(buf) - LWS_PRE, n = 0;
    enum lws_write_protocol kind = LWS_WRITE_TEXT;
    const char *what;
    if (s->want_auth) {
        s->want_auth = 0;
        what = "authenticate";
        n = json_escape(b, (size_t)snprintf(b, cap, "{\"action\":\"authenticate\",\"data\":"
                                                  "{\"key_id\":\""), cap, s->key_id);
        if (n < cap) n += (size_t)snprintf(b + n, cap - n, "\",\"secret_key\":\"");
        if (n < cap) n = json_escape(b, n, cap, s->secret);
        if (n < cap) n += (size_t)snprintf(b + n, cap - n, "\"}}");
        if (n >= cap) {
            explicit_bzero(buf, sizeof(buf));
            conn_ended(s, END_FAILED, "the API keys are too long for the authenticate message");
            return -1;
        }
    } else if (s->want_listen) {
        s->want_listen = 0;
        what = "listen";
        n = (size_t)snprintf(b, cap, "{\"action\":\"listen\",\"data\":{\"streams\":"
                                     "[\"trade_updates\"]}}");
    } else if (s->want_ping) {
        s->want_ping = 0;
        what = "ping";
        kind = LWS_WRITE_PING;
    } else {
        return 0;
    }
    int w = lws_write(wsi, (unsigned char *)b, n, kind);
    explicit_bzero(buf, sizeof(buf));
    if (w < (int)n) {
        conn_ended(s, END_FAILED, "writing the %s frame failed", what);
        return -1;
    }
    if (kind == LWS_WRITE_PING) {
        s->ping_sent_us = mono_us();
        s->ping_outstanding = 1;
    }
    if (s->want_auth || s->want_listen || s->want_ping) lws_callback_on_writable(wsi);
    return 0;
}

/* One whole message.  Returns 0, or -1 when the connection must close. */
static int on_message(tradestream_t *s, int64_t now) {
    tradestream_event_t ev;
    const char *bad = "";
    /* Most events move no order (new, accepted, ...): counted unread. */
    char name[sizeof(ev.event)];
    if (s->phase == PHASE_LISTENING &&
        tradestream_peek_event(s->msg, s->msg_len, name, sizeof(name)) &&
        !tradestream_event_moves(name)) {
        metrics_add(M_STREAM_EVENTS, 1, event_label(name), NULL);
        return 0;
    }
    int kind = tradestream_parse(s->msg, s->msg_len, &ev, &bad);
    switch (kind) {
    case TRADESTREAM_MSG_AUTHORIZED:
        if (s->phase == PHASE_OPEN) {
            s->phase = PHASE_AUTHORIZED;
            s->want_listen = 1;
            lws_callback_on_writable(s->wsi);
        }
        return 0;
    case TRADESTREAM_MSG_UNAUTHORIZED:
        conn_ended(s, END_UNAUTHORIZED, "the server answered unauthorized");
        return -1;
    case TRADESTREAM_MSG_LISTENING:
        if (s->phase != PHASE_AUTHORIZED) return 0;
        s->phase = PHASE_LISTENING;
        s->attempt = 0;
        pthread_mutex_lock(&s->lock);
        s->st.listening = 1;
        epoch_bump_locked(s);
        uint64_t epoch = s->st.epoch;
        pthread_mutex_unlock(&s->lock);
        metrics_set(M_STREAM_LISTENING, 1, NULL, NULL);
        metrics_add(M_STREAM_CONNECTS, 1, "listening", NULL);
        log_msg(LOG_INFO, "stream_listening", NULL,
                "listening to trade_updates on %s (epoch %llu: reconcile what came before)",
                s->url_text, (unsigned long long)epoch);
        return 0;
    case TRADESTREAM_MSG_TRADE_UPDATE:
        ev.received_mono_us = now;
        log_msg(LOG_DEBUG, "stream_event", NULL, "%s of order %s (%s)", ev.event, ev.order.id,
                ev.order.client_order_id);
        queue_push(s, &ev);
        return 0;
    case TRADESTREAM_MSG_OTHER:
        return 0;
    default:
        break;
    }
    if (s->phase != PHASE_LISTENING) {
        conn_ended(s, END_FAILED, "unexpected answer (%s)", bad);
        return -1;
    }
    /* Unreadable while listening: possibly an order's move, lost. */
    metrics_add(M_STREAM_EVENTS, 1, "unreadable", NULL);
    pthread_mutex_lock(&s->lock);
    s->st.dropped++;
    epoch_bump_locked(s);
    pthread_mutex_unlock(&s->lock);
    log_msg(LOG_WARN, "stream_unreadable", NULL,
            "a message of %zu bytes on the trade_updates stream could not be read (%s); "
            "the follower reconciles", s->msg_len, bad);
    return 0;
}

/* Part of a message: kept until its last fragment. */
static int on_receive(tradestream_t *s, struct lws *wsi, const void *in, size_t len) {
    int64_t now = mono_us();
    s->last_rx_us = now;
    s->ping_outstanding = 0;
    if (len > TRADESTREAM_MAX_MESSAGE - s->msg_len) {
        conn_ended(s, END_FAILED, "a message over %d bytes", TRADESTREAM_MAX_MESSAGE);
        return -1;
    }
    if (s->msg_len + len + 1 > s->msg_cap) {
        size_t cap = s->msg_cap ? s->msg_cap : 4096;
        while (cap < s->msg_len + len + 1) cap *= 2;
        char *m = realloc(s->msg, cap);
        if (!m) {
            conn_ended(s, END_FAILED, "out of memory for a message of %zu bytes",
                       s->msg_len + len);
            return -1;
        }
        s->msg = m;
        s->msg_cap = cap;
    }
    memcpy(s->msg + s->msg_len, in, len);
    s->msg_len += len;
    s->msg[s->msg_len] = '\0';
    if (!lws_is_final_fragment(wsi)) return 0;
    int rc = on_message(s, now);
    s->msg_len = 0;
    /* A large message's buffer is not kept for the next small ones. */
    if (s->msg_cap > 65536) {
        free(s->msg);
        s->msg = NULL;
        s->msg_cap = 0;
    }
    return rc;
}

/* The close frame's code and reason, printable, for the log. */
static void note_close(tradestream_t *s, const unsigned char *in, size_t len) {
    char reason[100];
    size_t n = 0;
    for (size_t i = 2; i < len && n + 1 < sizeof(reason); i++)
        reason[n++] = in[i] >= 0x20 && in[i] < 0x7f ? (char)in[i] : '?';
    reason[n] = '\0';
    snprintf(s->peer_close, sizeof(s->peer_close), "the server closed the connection (%d%s%s)",
             len >= 2 ? (in[0] << 8) | in[1] : 0, n ? " " : "", reason);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    tradestream_t *s = lws_context_user(lws_get_context(wsi));
    int ours = s && s->conn_live && lws_get_opaque_user_data(wsi) == (void *)s->conn_id;
    if (ours && !s->wsi &&
        (reason == LWS_CALLBACK_CLIENT_ESTABLISHED || reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR))
        s->wsi = wsi;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (ours)
            conn_ended(s, END_FAILED, "could not connect: %.160s",
                       in ? (const char *)in : "no reason given");
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!ours) return -1;
        s->phase = PHASE_OPEN;
        s->last_rx_us = mono_us();
        s->want_auth = 1;
        log_msg(LOG_INFO, "stream_connected", NULL, "connected to %s; authenticating",
                s->url_text);
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return ours ? write_due(s, wsi) : -1;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return ours ? on_receive(s, wsi, in, len) : -1;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        if (ours) {
            s->last_rx_us = mono_us();
            s->ping_outstanding = 0;
        }
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (ours) note_close(s, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        if (ours)
            conn_ended(s, END_FAILED, "%s",
                       s->peer_close[0] ? s->peer_close : "the connection closed");
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols PROTOCOLS[] = {
    {"trade-updates", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *run(void *arg) {
    tradestream_t *s = arg;
    pthread_setname_np(pthread_self(), "ow-stream");  /* top -H, perf */
    while (!atomic_load(&s->stop)) {
        if (lws_service(s->ctx, 0) < 0) {
            /* Not expected; said loudly, since nothing reconnects now. */
            pthread_mutex_lock(&s->lock);
            s->st.listening = 0;
            snprintf(s->st.last_error, sizeof(s->st.last_error),
                     "libwebsockets' service loop failed: the stream stopped");
            pthread_mutex_unlock(&s->lock);
            metrics_set(M_STREAM_LISTENING, 0, NULL, NULL);
            log_msg(LOG_ERROR, "stream_failed", NULL,
                    "libwebsockets' service loop failed: the trade_updates stream stopped "
                    "(the follower polls)");
            break;
        }
    }
    return NULL;
}

/* ---- start and stop ------------------------------------------------------------ */

/* libwebsockets' own lines (errors and warnings) as the worker's. */
static void lws_emit(int level, const char *line) {
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    if (strstr(line, "secret_key")) {
        line = "(a line that quoted a message was withheld)";
        n = strlen(line);
    }
    log_msg(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "lws", NULL, "%.*s", (int)n, line);
}

static void free_all(tradestream_t *s) {
    for (node_t *n = s->head, *next; n; n = next) {
        next = n->next;
        tradestream_event_clear(&n->ev);
        free(n);
    }
    free(s->msg);
    explicit_bzero(s->secret, sizeof(s->secret));
    explicit_bzero(s->key_id, sizeof(s->key_id));
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

tradestream_t *tradestream_start(const config_t *cfg, char *err, size_t errlen) {
    const char *bad;
    tradestream_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "trade_updates stream: out of memory");
        return NULL;
    }
    if (tradestream_url_parse(cfg->alpaca_stream_url, &s->url, &bad) < 0) {
        snprintf(err, errlen, "ALPACA_STREAM_URL %s", bad);
        free(s);
        return NULL;
    }
    snprintf(s->url_text, sizeof(s->url_text), "%s://%s:%d%s", s->url.tls ? "wss" : "ws",
             s->url.host, s->url.port, s->url.path);
    snprintf(s->key_id, sizeof(s->key_id), "%s", cfg->alpaca_key_id);
    snprintf(s->secret, sizeof(s->secret), "%s", cfg->alpaca_secret_key);
    s->ping_us = cfg->alpaca_stream_ping_ms * 1000;
    s->backoff_ms = cfg->alpaca_stream_backoff_ms;
    s->backoff_max_ms = cfg->alpaca_stream_backoff_max_ms;
    if (getrandom(&s->rng, sizeof(s->rng), 0) != sizeof(s->rng) || !s->rng)
        s->rng = (uint64_t)mono_us() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);

    /* The system's CA store as OpenSSL knows it (SSL_CERT_FILE overrides). */
    const char *cafile = NULL;
    if (s->url.tls) {
        cafile = getenv(X509_get_default_cert_file_env());
        if (!cafile || !*cafile) cafile = X509_get_default_cert_file();
        if (access(cafile, R_OK) != 0) {
            snprintf(err, errlen, "trade_updates stream: no CA certificates at %s to verify "
                     "%s (install ca-certificates, or set SSL_CERT_FILE)", cafile, s->url.host);
            free_all(s);
            return NULL;
        }
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = PROTOCOLS;
    info.user = s;
    info.fd_limit_per_thread = 8;
    info.options = s->url.tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    info.client_ssl_ca_filepath = cafile;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        snprintf(err, errlen, "trade_updates stream: libwebsockets could not start");
        free_all(s);
        return NULL;
    }
    metrics_set(M_STREAM_LISTENING, 0, NULL, NULL);
    lws_sul_schedule(s->ctx, 0, &s->sul_connect, connect_now, 1);
    int rc = pthread_create(&s->thread, NULL, run, s);
    if (rc != 0) {
        snprintf(err, errlen, "trade_updates stream: no thread (%s)", strerror(rc));
        lws_context_destroy(s->ctx);
        free_all(s);
        return NULL;
    }
    return s;
}

void tradestream_stop(tradestream_t *s) {
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    atomic_store(&s->stop, 1);
    lws_cancel_service(s->ctx);
    pthread_join(s->thread, NULL);
    /* Closes the connection; its callbacks run here, and schedule nothing. */
    lws_context_destroy(s->ctx);
    metrics_set(M_STREAM_LISTENING, 0, NULL, NULL);
    log_msg(LOG_INFO, "stream_stopped", NULL, "trade_updates stream closed");
    pthread_mutex_lock(&s->lock);
    while (s->waiters > 0) pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    free_all(s);
}
