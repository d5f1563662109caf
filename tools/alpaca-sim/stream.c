/* stream.c -- the trade_updates hub and its connections (see stream.h).
 *
 * Owns the stream's state: the list of connections, what each has queued,
 * whether it is listening or silent, and the counters.  One lock guards
 * them; the book calls stream_on_event with its own lock held (book lock,
 * then hub lock, never the other way: nothing here calls the book).  A
 * message is one websocket frame made once and shared by every connection
 * it goes to (a reference count).
 *
 * A connection's thread (stream_run, on the HTTP connection's thread)
 * loops: take what others queued for it (once the last batch has gone),
 * read and answer what the client sent, send what it can without
 * blocking, then poll the socket and its eventfd (written to wake it: a
 * message queued, a fault, the stop).  Its
 * socket is non-blocking (libmicrohttpd's), so it never sleeps anywhere
 * but in poll().  Silence is per connection: while it lasts, events are
 * dropped (counted lost) instead of queued, what was queued is dropped at
 * send time, and what the client sends is read and ignored. */
#include "stream.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "fx.h"
#include "order.h"
#include "respond.h"
#include "rng.h"
#include "simtime.h"
#include "timefmt.h"
#include "wsframe.h"

#define STREAM_MAX_MESSAGE (64 * 1024) /* a client message, fragments together */
#define STREAM_QUEUE_MAX 10000         /* messages waiting for one connection */
#define STREAM_READ_CHUNK 16384

/* One frame, shared by the connections it is queued for. */
typedef struct stream_msg {
    atomic_int refs;
    int is_event;          /* a trade_updates event (counted sent or lost) */
    size_t len;
    uint8_t bytes[];
} stream_msg_t;

typedef struct stream_item {
    struct stream_item *next;
    stream_msg_t *msg;
} stream_item_t;

typedef struct stream_list {
    stream_item_t *head, *tail;
    size_t count;
} stream_list_t;

typedef struct stream_conn {
    struct stream_conn *prev, *next;
    stream_t *hub;
    int fd;
    int wake_fd;                /* eventfd */
    /* Under the hub's lock. */
    stream_list_t queued;       /* events queued by the book's side */
    int listening;
    int drop;                   /* end now, without a close frame */
    int64_t silent_until_ms;    /* monotonic */
    /* The connection's thread only. */
    int authorized;
    int closing;                /* a close frame is the last thing to send */
    stream_list_t out;          /* to send, in order */
    size_t out_off;             /* bytes of out.head already sent */
    wsframe_reader_t reader;
} stream_conn_t;

struct stream {
    sim_t *sim;
    wsframe_opcode_t opcode;    /* of the data frames sent */
    rng_t rng;                  /* execution ids */
    reply_upgrade_t upgrade;    /* stream_run on this hub */
    pthread_mutex_t lock;
    pthread_cond_t idle;        /* the last connection has left */
    stream_conn_t *conns;
    size_t nconns;
    int stopping;
    atomic_int listening;       /* connections listening: the book's quick test */
    atomic_ullong connections_total;
    atomic_ullong events_sent;
    atomic_ullong events_lost;
    atomic_ullong drops;
    atomic_ullong unauthorized;
    atomic_ullong slow_closes;
};

/* ---- messages ----------------------------------------------------------- */

/* A frame of opcode carrying payload[0..len).  NULL when out of memory. */
static stream_msg_t *stream_msg_new(wsframe_opcode_t opcode, const void *payload, size_t len,
                                    int is_event)
{
    uint8_t header[WSFRAME_HEADER_MAX];
    size_t h = wsframe_header(header, opcode, len);
    stream_msg_t *m = malloc(sizeof(*m) + h + len);
    if (m == NULL)
        return NULL;
    atomic_init(&m->refs, 1);
    m->is_event = is_event;
    m->len = h + len;
    memcpy(m->bytes, header, h);
    if (len)
        memcpy(m->bytes + h, payload, len);
    return m;
}

static void stream_msg_unref(stream_msg_t *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

/* A data frame of j's compact text; j is stolen.  NULL on failure. */
static stream_msg_t *stream_json_msg(const stream_t *s, json_t *j, int is_event)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    if (text == NULL)
        return NULL;
    stream_msg_t *m = stream_msg_new(s->opcode, text, strlen(text), is_event);
    free(text);
    return m;
}

/* {"stream": name, "data": data}, data stolen. */
static json_t *stream_envelope(const char *name, json_t *data)
{
    json_t *j = json_object();
    json_object_set_new(j, "stream", json_string(name));
    json_object_set_new(j, "data", data);
    return j;
}

/* Appends m (the reference is the list's). */
static int stream_list_push(stream_list_t *l, stream_msg_t *m)
{
    stream_item_t *it = malloc(sizeof(*it));
    if (it == NULL)
        return -1;
    it->next = NULL;
    it->msg = m;
    if (l->tail)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
    l->count++;
    return 0;
}

/* Removes the head; returns its message (the caller's reference). */
static stream_msg_t *stream_list_pop(stream_list_t *l)
{
    stream_item_t *it = l->head;
    stream_msg_t *m = it->msg;
    l->head = it->next;
    if (l->head == NULL)
        l->tail = NULL;
    l->count--;
    free(it);
    return m;
}

/* Moves every item of from to the end of to. */
static void stream_list_take(stream_list_t *to, stream_list_t *from)
{
    if (from->head == NULL)
        return;
    if (to->tail)
        to->tail->next = from->head;
    else
        to->head = from->head;
    to->tail = from->tail;
    to->count += from->count;
    memset(from, 0, sizeof(*from));
}

static void stream_list_clear(stream_list_t *l)
{
    while (l->head)
        stream_msg_unref(stream_list_pop(l));
}

/* ---- the book's events -------------------------------------------------- */

static const char *const stream_event_names[BOOK_EVENT_COUNT] = {
    [BOOK_EVENT_NEW] = "new",
    [BOOK_EVENT_PARTIAL_FILL] = "partial_fill",
    [BOOK_EVENT_FILL] = "fill",
    [BOOK_EVENT_PENDING_CANCEL] = "pending_cancel",
    [BOOK_EVENT_CANCELED] = "canceled",
    [BOOK_EVENT_EXPIRED] = "expired",
};

/* The trade_updates message of ev: Alpaca's members, in its order. */
static json_t *stream_event_json(stream_t *s, const book_event_t *ev)
{
    char text[FX_TEXT_MAX], when[SIMTIME_LEN], exec_id[RNG_UUID_LEN];
    int fill = ev->kind == BOOK_EVENT_FILL || ev->kind == BOOK_EVENT_PARTIAL_FILL;
    json_t *d = json_object();
    json_object_set_new(d, "event", json_string(stream_event_names[ev->kind]));
    if (fill) {
        rng_uuid4(&s->rng, exec_id);
        json_object_set_new(d, "execution_id", json_string(exec_id));
    }
    json_object_set_new(d, "order", order_to_json(ev->order));
    json_object_set_new(d, "position_qty",
                        json_string(fx_format(text, sizeof(text), ev->position_qty,
                                              FX_QTY_SCALE)));
    if (fill) {
        json_object_set_new(d, "price",
                            json_string(fx_format(text, sizeof(text), ev->price,
                                                  FX_PRICE_SCALE)));
        json_object_set_new(d, "qty",
                            json_string(fx_format(text, sizeof(text), ev->qty, FX_QTY_SCALE)));
    }
    json_object_set_new(d, "timestamp",
                        json_string(simtime_rfc3339_us(when, sizeof(when),
                                                       ev->order->updated_us)));
    return stream_envelope("trade_updates", d);
}

static void stream_wake(stream_conn_t *c)
{
    uint64_t one = 1;
    ssize_t n = write(c->wake_fd, &one, sizeof(one));
    (void)n; /* a full counter wakes the thread all the same */
}

/* The book's observer (book lock held): queues the event's message for
 * every listening connection, or counts it lost on a silent one. */
static void stream_on_event(void *ctx, const book_event_t *ev)
{
    stream_t *s = ctx;
    if (atomic_load(&s->listening) == 0)
        return;
    stream_msg_t *m = stream_json_msg(s, stream_event_json(s, ev), 1);
    if (m == NULL)
        return;
    int64_t now = timefmt_mono_ms();
    pthread_mutex_lock(&s->lock);
    for (stream_conn_t *c = s->conns; c; c = c->next) {
        if (!c->listening || c->drop)
            continue;
        if (now < c->silent_until_ms) {
            atomic_fetch_add(&s->events_lost, 1);
            continue;
        }
        if (c->queued.count >= STREAM_QUEUE_MAX) {
            /* A client this far behind is closed, not waited for. */
            c->drop = 1;
            atomic_fetch_add(&s->slow_closes, 1);
        } else if (stream_list_push(&c->queued, m) == 0) {
            atomic_fetch_add(&m->refs, 1);
        }
        stream_wake(c);
    }
    pthread_mutex_unlock(&s->lock);
    stream_msg_unref(m);
}

/* ---- one connection's answers ------------------------------------------ */

/* Queues m to send after what is already there (m NULL: out of memory,
 * nothing sent). */
static void stream_send(stream_conn_t *c, stream_msg_t *m)
{
    if (m && stream_list_push(&c->out, m) != 0)
        stream_msg_unref(m);
}

static void stream_send_json(stream_conn_t *c, json_t *j)
{
    stream_send(c, stream_json_msg(c->hub, j, 0));
}

/* Queues a close frame; nothing is read or sent after it. */
static void stream_send_close(stream_conn_t *c, int code, const char *reason)
{
    uint8_t payload[WSFRAME_CONTROL_MAX];
    size_t len = code ? wsframe_close_payload(payload, code, reason) : 0;
    stream_send(c, stream_msg_new(WSFRAME_CLOSE, payload, len, 0));
    c->closing = 1;
}

static void stream_send_authorization(stream_conn_t *c, const char *status, const char *action)
{
    json_t *d = json_object();
    json_object_set_new(d, "status", json_string(status));
    json_object_set_new(d, "action", json_string(action));
    stream_send_json(c, stream_envelope("authorization", d));
}

static void stream_send_error(stream_conn_t *c, const char *message)
{
    json_t *d = json_object();
    json_object_set_new(d, "error_message", json_string(message));
    stream_send_json(c, stream_envelope("error", d));
}

static void stream_authenticate(stream_conn_t *c, const json_t *data)
{
    const char *key = json_string_value(json_object_get(data, "key_id"));
    const char *secret = json_string_value(json_object_get(data, "secret_key"));
    if (api_keys_valid(c->hub->sim, key, secret)) {
        c->authorized = 1;
        stream_send_authorization(c, "authorized", "authenticate");
        return;
    }
    atomic_fetch_add(&c->hub->unauthorized, 1);
    stream_send_authorization(c, "unauthorized", "authenticate");
    stream_send_close(c, WSFRAME_CLOSE_POLICY, "unauthorized");
}

/* Sets whether c listens, and the hub's count of listeners. */
static void stream_set_listening(stream_conn_t *c, int on)
{
    stream_t *s = c->hub;
    pthread_mutex_lock(&s->lock);
    if (c->listening != on)
        atomic_fetch_add(&s->listening, on ? 1 : -1);
    c->listening = on;
    pthread_mutex_unlock(&s->lock);
}

static void stream_listen(stream_conn_t *c, const json_t *data)
{
    const json_t *streams = json_object_get(data, "streams");
    size_t i;
    const json_t *v;
    int on = 0;
    if (!c->authorized) {
        stream_send_authorization(c, "unauthorized", "listen");
        return;
    }
    if (!json_is_array(streams)) {
        stream_send_error(c, "listen: data.streams must be an array");
        return;
    }
    json_array_foreach(streams, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), "trade_updates") == 0)
            on = 1;
    }
    stream_set_listening(c, on);
    json_t *list = json_array();
    if (on)
        json_array_append_new(list, json_string("trade_updates"));
    json_t *d = json_object();
    json_object_set_new(d, "streams", list);
    stream_send_json(c, stream_envelope("listening", d));
}

/* A whole text or binary message from the client. */
static void stream_on_message(stream_conn_t *c, const uint8_t *data, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, len, 0, &jerr);
    const char *action = json_string_value(json_object_get(j, "action"));
    const json_t *d = json_object_get(j, "data");
    if (action && strcmp(action, "authenticate") == 0)
        stream_authenticate(c, d);
    else if (action && strcmp(action, "listen") == 0)
        stream_listen(c, d);
    else if (j == NULL)
        stream_send_error(c, "invalid JSON");
    else
        stream_send_error(c, "unknown action (authenticate or listen)");
    json_decref(j);
}

/* Answers everything the reader has (read and ignored while silent); a
 * breach of the protocol queues the close frame its code calls for. */
static void stream_read_events(stream_conn_t *c, int silent)
{
    wsframe_event_t ev;
    int rc;
    while (!c->closing && (rc = wsframe_reader_next(&c->reader, &ev)) != 0) {
        if (rc != 1) {
            /* The client broke the protocol: close with the code. */
            if (silent)
                c->closing = 1;
            else
                stream_send_close(c, rc, rc == WSFRAME_CLOSE_TOO_BIG ? "message too big"
                                         : rc == WSFRAME_CLOSE_NOT_UTF8 ? "not UTF-8"
                                                                        : "protocol error");
            return;
        }
        if (silent)
            continue;
        switch (ev.opcode) {
        case WSFRAME_TEXT:
        case WSFRAME_BINARY:
            stream_on_message(c, ev.data, ev.len);
            break;
        case WSFRAME_PING:
            stream_send(c, stream_msg_new(WSFRAME_PONG, ev.data, ev.len, 0));
            break;
        case WSFRAME_CLOSE:
            stream_send_close(c, ev.close_code, "");
            break;
        default:
            break; /* pong */
        }
    }
}

/* ---- one connection's I/O ----------------------------------------------- */

/* Sends what c has to send without blocking; while silent, drops it
 * instead.  Returns 0, or -1 when the socket failed. */
static int stream_flush(stream_conn_t *c, int silent)
{
    stream_t *s = c->hub;
    while (c->out.head) {
        stream_msg_t *m = c->out.head->msg;
        if (c->out_off == 0 && silent) {
            if (m->is_event)
                atomic_fetch_add(&s->events_lost, 1);
            stream_msg_unref(stream_list_pop(&c->out));
            continue;
        }
        ssize_t n = send(c->fd, m->bytes + c->out_off, m->len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        c->out_off += (size_t)n;
        if (c->out_off == m->len) {
            if (m->is_event)
                atomic_fetch_add(&s->events_sent, 1);
            stream_msg_unref(stream_list_pop(&c->out));
            c->out_off = 0;
        }
    }
    return 0;
}

/* Reads one chunk of what the socket has (one per turn of the loop: a
 * client sending without pause is answered as it goes, and what is
 * buffered stays within a chunk and a message).  Returns 0, or -1 at the
 * socket's end or failure. */
static int stream_receive(stream_conn_t *c)
{
    uint8_t buf[STREAM_READ_CHUNK];
    ssize_t n;
    do {
        n = recv(c->fd, buf, sizeof(buf), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    if (n == 0 || wsframe_reader_feed(&c->reader, buf, (size_t)n) != 0)
        return -1;
    return 0;
}

/* Ends the connection as a network drop would: no close frame, a reset. */
static void stream_abort(stream_conn_t *c)
{
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/* The connection's loop, until it ends (see the top of the file). */
static void stream_loop(stream_conn_t *c)
{
    stream_t *s = c->hub;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        /* Events wait in queued until what is being sent has gone, so
         * that a client that does not read meets STREAM_QUEUE_MAX. */
        if (c->out.head == NULL)
            stream_list_take(&c->out, &c->queued);
        int stopping = s->stopping, drop = c->drop;
        int silent = timefmt_mono_ms() < c->silent_until_ms;
        pthread_mutex_unlock(&s->lock);
        if (drop) {
            stream_abort(c);
            return;
        }
        if (stopping) {
            if (!silent && !c->closing)
                stream_send_close(c, WSFRAME_CLOSE_GOING_AWAY, "simulator stopping");
            stream_flush(c, silent); /* what goes without waiting */
            return;
        }
        stream_read_events(c, silent);
        if (stream_flush(c, silent) != 0 || (c->closing && c->out.head == NULL))
            return;
        struct pollfd p[2] = {
            {c->fd, (short)((c->closing ? 0 : POLLIN) | (c->out.head ? POLLOUT : 0)), 0},
            {c->wake_fd, POLLIN, 0},
        };
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return;
        if (p[1].revents & POLLIN) {
            uint64_t n;
            if (read(c->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
                return;
        }
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !c->closing &&
            stream_receive(c) != 0)
            return;
        if ((p[0].revents & (POLLHUP | POLLERR)) && c->closing)
            return;
    }
}

/* Registers a connection on fd.  NULL when stopping or out of memory. */
static stream_conn_t *stream_conn_open(stream_t *s, int fd)
{
    stream_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->hub = s;
    c->fd = fd;
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    wsframe_reader_init(&c->reader, STREAM_MAX_MESSAGE);
    pthread_mutex_lock(&s->lock);
    int ok = c->wake_fd >= 0 && !s->stopping;
    if (ok) {
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        atomic_fetch_add(&s->connections_total, 1);
    }
    pthread_mutex_unlock(&s->lock);
    if (!ok) {
        if (c->wake_fd >= 0)
            close(c->wake_fd);
        free(c);
        return NULL;
    }
    return c;
}

/* Leaves the hub and frees c. */
static void stream_conn_close(stream_conn_t *c)
{
    stream_t *s = c->hub;
    stream_set_listening(c, 0);
    pthread_mutex_lock(&s->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    stream_list_clear(&c->queued);
    if (--s->nconns == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
    stream_list_clear(&c->out);
    wsframe_reader_free(&c->reader);
    close(c->wake_fd);
    free(c);
}

/* The reply_upgrade_t's run: one websocket connection, start to end.
 * TCP_NODELAY: libmicrohttpd hands the socket over with Nagle's algorithm
 * on, which holds an event written right after another until the client's
 * delayed ACK (40 ms on Linux). */
static void stream_run(void *ctx, int fd, const char *extra, size_t extra_len)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    stream_conn_t *c = stream_conn_open(ctx, fd);
    if (c && wsframe_reader_feed(&c->reader, extra, extra_len) == 0)
        stream_loop(c);
    if (c)
        stream_conn_close(c);
    shutdown(fd, SHUT_RDWR);
}

/* ---- the hub ------------------------------------------------------------ */

stream_t *stream_create(sim_t *sim)
{
    stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->sim = sim;
    s->opcode = sim->cfg.stream_text_frames ? WSFRAME_TEXT : WSFRAME_BINARY;
    rng_init(&s->rng, sim->cfg.seed ^ 0x53545245414dULL);
    s->upgrade.run = stream_run;
    s->upgrade.ctx = s;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->idle, NULL);
    sim->stream = s;
    book_set_observer(sim->book, stream_on_event, s);
    return s;
}

void stream_destroy(stream_t *s)
{
    if (s == NULL)
        return;
    book_set_observer(s->sim->book, NULL, NULL);
    s->sim->stream = NULL;
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    rng_destroy(&s->rng);
    free(s);
}

void stream_stop(stream_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    for (stream_conn_t *c = s->conns; c; c = c->next)
        stream_wake(c);
    while (s->nconns > 0)
        pthread_cond_wait(&s->idle, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

/* 1 if the comma separated header value has token (any case). */
static int stream_has_token(const char *value, const char *token)
{
    size_t n = strlen(token);
    while (value && *value) {
        value += strspn(value, " \t,");
        size_t len = strcspn(value, ",");
        size_t end = len;
        while (end > 0 && (value[end - 1] == ' ' || value[end - 1] == '\t'))
            end--;
        if (end == n && strncasecmp(value, token, n) == 0)
            return 1;
        value += len;
    }
    return 0;
}

void stream_handle(stream_t *s, const request_t *req, reply_t *out)
{
    char accept[WSFRAME_ACCEPT_LEN];
    const char *version = request_header(req, "Sec-WebSocket-Version");
    if (s == NULL) {
        respond_fail(out, APIERR_NO_ROUTE);
    } else if (strcmp(req->method, "GET") != 0) {
        respond_fail(out, APIERR_NO_METHOD);
    } else if (!stream_has_token(request_header(req, "Upgrade"), "websocket") ||
               version == NULL || strcmp(version, "13") != 0) {
        reply_header(out, "Upgrade", "websocket");
        reply_header(out, "Sec-WebSocket-Version", "13");
        respond_failf(out, APIERR_UPGRADE_REQUIRED,
                      "/stream is a websocket: GET with Upgrade: websocket, "
                      "Sec-WebSocket-Version: 13 (RFC 6455)");
    } else if (!stream_has_token(request_header(req, "Connection"), "upgrade")) {
        respond_failf(out, APIERR_BAD_REQUEST, "websocket handshake without Connection: Upgrade");
    } else if (wsframe_accept_key(request_header(req, "Sec-WebSocket-Key"), accept) != 0) {
        respond_failf(out, APIERR_BAD_REQUEST,
                      "websocket handshake without a valid Sec-WebSocket-Key");
    } else {
        reply_json(out, 101, NULL);
        reply_header(out, "Upgrade", "websocket");
        reply_header(out, "Sec-WebSocket-Accept", accept);
        out->upgrade = &s->upgrade;
    }
}

void stream_apply_faults(stream_t *s, const faults_settings_t *f)
{
    if (s == NULL)
        return;
    int64_t until = f->stream_silent_ms > 0 ? timefmt_mono_ms() + f->stream_silent_ms : 0;
    pthread_mutex_lock(&s->lock);
    for (stream_conn_t *c = s->conns; c; c = c->next) {
        if (f->stream_drop && !c->drop) {
            c->drop = 1;
            atomic_fetch_add(&s->drops, 1);
        }
        c->silent_until_ms = until;
        stream_wake(c);
    }
    pthread_mutex_unlock(&s->lock);
}

void stream_reset(stream_t *s)
{
    faults_settings_t none;
    if (s == NULL)
        return;
    memset(&none, 0, sizeof(none));
    stream_apply_faults(s, &none);
    atomic_store(&s->connections_total, 0);
    atomic_store(&s->events_sent, 0);
    atomic_store(&s->events_lost, 0);
    atomic_store(&s->drops, 0);
    atomic_store(&s->unauthorized, 0);
    atomic_store(&s->slow_closes, 0);
}

void stream_add_stats(stream_t *s, json_t *stats)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->lock);
    size_t open = s->nconns;
    pthread_mutex_unlock(&s->lock);
    json_object_set_new(stats, "stream_connections", json_integer((json_int_t)open));
    json_object_set_new(stats, "stream_listening", json_integer(atomic_load(&s->listening)));
    json_object_set_new(stats, "stream_connections_total",
                        json_integer((json_int_t)atomic_load(&s->connections_total)));
    json_object_set_new(stats, "stream_events_sent",
                        json_integer((json_int_t)atomic_load(&s->events_sent)));
    json_object_set_new(stats, "stream_events_lost",
                        json_integer((json_int_t)atomic_load(&s->events_lost)));
    json_object_set_new(stats, "stream_drops", json_integer((json_int_t)atomic_load(&s->drops)));
    json_object_set_new(stats, "stream_unauthorized",
                        json_integer((json_int_t)atomic_load(&s->unauthorized)));
    json_object_set_new(stats, "stream_slow_closes",
                        json_integer((json_int_t)atomic_load(&s->slow_closes)));
}
