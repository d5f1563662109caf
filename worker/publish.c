/* publish.c -- result events and dead letters out to Kafka (see publish.h).
 *
 * One idempotent producer per process, shared by every lane (librdkafka's
 * producer is thread-safe).  A background thread serves delivery reports;
 * each send waits on its own small completion record, so a lane knows that
 * its event is acknowledged before the ledger and the consumer offset move
 * on.  The event shapes of contract section 4 are built here and nowhere
 * else.  A discarding publisher (publish_new_discard, no librdkafka handle)
 * takes the same steps but hands nothing to Kafka: each completion record
 * is done at once (bench/ceiling measures the ledger alone with it). */
#include "publish.h"

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"

struct publisher {
    rd_kafka_t *rk;         /* NULL: publish_new_discard's */
    const config_t *cfg;
    pthread_t poller;
    int stop;               /* guarded by lock */
    pthread_mutex_t lock;
};

/* One outstanding send, shared by the waiting lane and the delivery report
 * callback: whichever of the two lets go last frees it, so a lane that
 * stopped waiting leaves nothing dangling and nothing leaked. */
typedef struct delivery {
    pthread_mutex_t lock;
    pthread_cond_t done_cv;
    int done;
    int refs;
    rd_kafka_resp_err_t err;
} delivery_t;

static void delivery_release(delivery_t *d) {
    pthread_mutex_lock(&d->lock);
    int last = --d->refs == 0;
    pthread_mutex_unlock(&d->lock);
    if (!last) return;
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->done_cv);
    free(d);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *ud) {
    (void)rk;
    (void)ud;
    delivery_t *d = m->_private;
    if (!d) return;
    pthread_mutex_lock(&d->lock);
    d->err = m->err;
    d->done = 1;
    pthread_cond_signal(&d->done_cv);
    pthread_mutex_unlock(&d->lock);
    delivery_release(d);
}

/* A fatal error of the idempotent producer (e.g. a fenced or out-of-order
 * sequence) makes every later send fail: the replica cannot make progress,
 * so it exits at once.  Nothing is lost: offsets of unpublished outcomes are
 * never stored, and the ledger re-publishes them on redelivery. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *ud) {
    (void)ud;
    if (err != RD_KAFKA_RESP_ERR__FATAL) return;
    char why[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
    fprintf(stderr, "{\"level\":\"error\",\"event\":\"producer_fatal\",\"msg\":\"%s: %s\"}\n",
            rd_kafka_err2name(orig), reason);
    _exit(70);
}

static void *poll_loop(void *arg) {
    publisher_t *p = arg;
    pthread_setname_np(pthread_self(), "ow-publish");  /* top -H, perf */
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop) break;
        rd_kafka_poll(p->rk, 100);
    }
    return NULL;
}

static int conf_set(rd_kafka_conf_t *c, const char *k, const char *v, char *err,
                    size_t errlen) {
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka producer setting %s: %s", k, e);
        return -1;
    }
    return 0;
}

/* The series the alerts of compose/prometheus/alerts.yml watch, at 0 from
 * the start: Prometheus sees no increase in a counter's first sample, so a
 * series born at 1 would hide the first dead letter or expiry.  The DLQ
 * reasons are intent.c's (unreadable messages) and pipeline.c's
 * (intent_id_reused). */
static void init_watched_series(void) {
    static const char *const dlq[] = {"not_json", "not_object", "too_large", "no_intent_id",
                                      "intent_id_reused", "bad_key"};
    static const char *const outcomes[][2] = {{"fill", ""}, {"canceled", ""}, {"expired", ""},
                                              {"rejected", "expired"},
                                              {"rejected", "broker_unavailable"}};
    for (size_t i = 0; i < sizeof(dlq) / sizeof(dlq[0]); i++)
        metrics_add(M_DEAD_LETTERS, 0, dlq[i], NULL);
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
        metrics_add(M_OUTCOMES, 0, outcomes[i][0], outcomes[i][1]);
}

publisher_t *publish_new(const config_t *cfg, char *err, size_t errlen) {
    init_watched_series();
    publisher_t *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    pthread_mutex_init(&p->lock, NULL);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char client_id[160];
    snprintf(client_id, sizeof(client_id), "order-worker-%s", cfg->replica_id);
    /* librdkafka gives up on a message when its sender stops waiting: no
     * stale copy is left queued behind a retry. */
    char timeout[32];
    snprintf(timeout, sizeof(timeout), "%lld", (long long)cfg->publish_timeout_ms);
    if (conf_set(c, "bootstrap.servers", cfg->kafka_brokers, err, errlen) < 0 ||
        conf_set(c, "client.id", client_id, err, errlen) < 0 ||
        conf_set(c, "enable.idempotence", "true", err, errlen) < 0 ||
        conf_set(c, "linger.ms", "1", err, errlen) < 0 ||
        conf_set(c, "message.timeout.ms", timeout, err, errlen) < 0 ||
        config_kafka_apply(cfg, CONFIG_KAFKA_PRODUCER, c, err, errlen) < 0) {
        rd_kafka_conf_destroy(c);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_log_cb(c, log_kafka);
    char e[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
    if (!p->rk) {
        snprintf(err, errlen, "kafka producer: %s", e);
        rd_kafka_conf_destroy(c);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    int rc = pthread_create(&p->poller, NULL, poll_loop, p);
    if (rc != 0) {
        snprintf(err, errlen, "kafka producer: cannot start its poller thread: %s",
                 strerror(rc));
        rd_kafka_destroy(p->rk);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

publisher_t *publish_new_discard(const config_t *cfg) {
    publisher_t *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->cfg = cfg;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void publish_free(publisher_t *p) {
    if (!p) return;
    if (p->rk) {
        rd_kafka_flush(p->rk, 10000);
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->poller, NULL);
        rd_kafka_destroy(p->rk);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Waits for the delivery report of a message produced with d as opaque, up
 * to publish_timeout_ms (plus a little: librdkafka times the message out
 * itself at publish_timeout_ms); after that the caller treats the intent as
 * unfinished and retries from the ledger. */
static int wait_delivery(publisher_t *p, delivery_t *d, char *err, size_t errlen) {
    int64_t deadline = timefmt_mono_ms() + p->cfg->publish_timeout_ms + 1000;
    int rc = 0;
    pthread_mutex_lock(&d->lock);
    while (!d->done) {
        int64_t left = deadline - timefmt_mono_ms();
        if (left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = left < 200 ? left : 200;
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        ts.tv_sec += wait / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&d->done_cv, &d->lock, &ts);
    }
    if (!d->done) {
        snprintf(err, errlen, "kafka: no acknowledgement within %lld ms",
                 (long long)p->cfg->publish_timeout_ms);
        rc = -1;
    } else if (d->err) {
        snprintf(err, errlen, "kafka: delivery failed: %s", rd_kafka_err2str(d->err));
        rc = -1;
    }
    pthread_mutex_unlock(&d->lock);
    return rc;
}

static delivery_t *delivery_new(void) {
    delivery_t *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->done_cv, NULL);
    d->refs = 2;  /* the sender and the delivery report */
    return d;
}

/* Hands one message to librdkafka (retrying while its queue is full) with a
 * fresh completion record in *out.  hdrs is consumed either way. */
static int produce(publisher_t *p, const char *topic, const char *key, size_t key_len,
                   const void *payload, size_t len, rd_kafka_headers_t *hdrs,
                   delivery_t **out, char *err, size_t errlen) {
    delivery_t *d = delivery_new();
    if (!d) {
        snprintf(err, errlen, "out of memory");
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        return -1;
    }
    if (!p->rk) {  /* publish_new_discard: nothing sent, acknowledged at once */
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        d->done = 1;
        d->refs = 1;  /* no delivery report will come */
        *out = d;
        return 0;
    }
    rd_kafka_resp_err_t e;
    int64_t deadline = timefmt_mono_ms() + p->cfg->publish_timeout_ms;
    for (;;) {
        /* The headers argument pair cannot be made conditional inside the
         * variadic list, hence two calls. */
        if (hdrs)
            e = rd_kafka_producev(
                p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
                RD_KAFKA_V_VALUE((void *)payload, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(d),
                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        else
            e = rd_kafka_producev(
                p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
                RD_KAFKA_V_VALUE((void *)payload, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(d),
                RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || timefmt_mono_ms() >= deadline) break;
        struct timespec ts = {0, 20000000L};  /* the poller thread drains */
        nanosleep(&ts, NULL);
    }
    if (e) {
        snprintf(err, errlen, "kafka: produce to %s: %s", topic, rd_kafka_err2str(e));
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        d->refs = 1;  /* no delivery report will come */
        delivery_release(d);
        return -1;
    }
    *out = d;
    return 0;
}

static int produce_and_wait(publisher_t *p, const char *topic, const char *key,
                            size_t key_len, const void *payload, size_t len,
                            rd_kafka_headers_t *hdrs, char *err, size_t errlen) {
    delivery_t *d = NULL;
    if (produce(p, topic, key, key_len, payload, len, hdrs, &d, err, errlen) < 0) return -1;
    int rc = wait_delivery(p, d, err, errlen);
    delivery_release(d);
    return rc;
}

/* Counts an acknowledged result event: by topic and type, and, when it
 * ends its intent, as an outcome (type and rejection reason). */
static void count_event(publisher_t *p, const publish_msg_t *m) {
    int fills = !strcmp(m->topic, p->cfg->topic_fills);
    if (!fills && strcmp(m->topic, p->cfg->topic_rejections) != 0) return;
    /* The payload is read only when the type is not given, or for a
     * rejection's reason (not the hot path). */
    json_t *o = NULL;
    if (!fills || !m->type) o = json_loadb(m->payload, m->len, 0, NULL);
    const char *type = !fills ? "rejected"
                       : m->type ? m->type
                                 : json_string_value(json_object_get(o, "type"));
    const char *reason = fills ? "" : json_string_value(json_object_get(o, "reason"));
    if (!type) type = "unknown";
    if (!reason) reason = "unknown";
    metrics_add(M_EVENTS_PUBLISHED, 1, m->topic, type);
    if (!fills || !strcmp(type, "fill") || !strcmp(type, "canceled") || !strcmp(type, "expired"))
        metrics_add(M_OUTCOMES, 1, type, reason);
    json_decref(o);
}

int publish_send_many(publisher_t *p, const publish_msg_t *m, int n, char *err,
                      size_t errlen) {
    delivery_t *small[8], **d = n <= 8 ? small : calloc((size_t)n, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* All in flight at once: one acknowledgement wait, not n.  The
     * idempotent producer keeps their order within a partition. */
    int sent = 0, rc = 0;
    for (; sent < n; sent++)
        if (produce(p, m[sent].topic, m[sent].key, m[sent].key_len, m[sent].payload,
                    m[sent].len, NULL, &d[sent], err, errlen) < 0) {
            rc = -1;
            break;
        }
    for (int i = 0; i < sent; i++) {
        char e[256];
        if (wait_delivery(p, d[i], e, sizeof(e)) < 0) {
            if (rc == 0) snprintf(err, errlen, "%s", e);
            rc = -1;
        } else {
            count_event(p, &m[i]);
        }
        delivery_release(d[i]);
    }
    if (d != small) free(d);
    return rc;
}

int publish_dead_letter(publisher_t *p, const origin_t *from, const char *reason,
                        const char *detail, const void *bytes, size_t len,
                        char *err, size_t errlen) {
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);
    char part[16], off[24];
    snprintf(part, sizeof(part), "%d", (int)from->partition);
    snprintf(off, sizeof(off), "%lld", (long long)from->offset);
    rd_kafka_header_add(h, "x-dlq-reason", -1, reason, -1);
    rd_kafka_header_add(h, "x-dlq-topic", -1, from->topic, -1);
    rd_kafka_header_add(h, "x-dlq-partition", -1, part, -1);
    rd_kafka_header_add(h, "x-dlq-offset", -1, off, -1);
    if (detail && *detail) rd_kafka_header_add(h, "x-dlq-detail", -1, detail, -1);
    int rc = produce_and_wait(p, p->cfg->topic_dlq, from->key, from->key_len, bytes, len, h,
                              err, errlen);
    if (rc == 0) metrics_add(M_DEAD_LETTERS, 1, reason, NULL);
    return rc;
}

/* ---- event shapes ----------------------------------------------------- *
 * Written as JSON text (jsonw.h), member by member in the order below. */

/* Opens the event with the fields every event carries (contract section
 * 4), meta excepted. */
static void event_base(jsonw_t *w, const intent_t *in, const char *schema,
                       const char *event_id) {
    char now[40];
    timefmt_format_rfc3339(timefmt_now_ms(), now, sizeof(now));
    jsonw_open(w, NULL, '{');
    jsonw_str(w, "schema", schema);
    jsonw_str(w, "event_id", event_id);
    jsonw_str(w, "intent_id", in->intent_id);
    if (in->bot_id[0]) jsonw_str(w, "bot_id", in->bot_id);
    if (in->user_id[0]) jsonw_str(w, "user_id", in->user_id);
    else jsonw_null(w, "user_id");
    if (in->symbol[0]) jsonw_str(w, "symbol", in->symbol);
    else jsonw_null(w, "symbol");
    if (in->side[0]) jsonw_str(w, "side", in->side);
    else jsonw_null(w, "side");
    jsonw_str(w, "occurred_at", now);
}

/* Closes the event with the intent's meta as it was received, byte for byte
 * (jansson would re-print its numbers): the payload, or NULL. */
static char *event_finish(jsonw_t *w, const intent_t *in) {
    if (in->meta_json) jsonw_raw(w, "meta", in->meta_json);
    jsonw_close(w, '}');
    return jsonw_take(w);
}

/* publish_build_fill and publish_build_canceled: cancel_id and
 * cancel_reason only on a canceled event the worker asked for. */
static void build_fill(const config_t *cfg, const intent_t *in, const alpaca_order_t *o,
                       const char *type, int n, const char *last_qty, const char *last_price,
                       const char *cancel_id, const char *cancel_reason, event_t *out) {
    memset(out, 0, sizeof(*out));
    snprintf(out->event_id, sizeof(out->event_id), "%s:%s:%d", in->intent_id, type, n);
    snprintf(out->type, sizeof(out->type), "%s", type);
    out->topic = cfg->topic_fills;
    out->terminal = !strcmp(type, "fill") || !strcmp(type, "canceled") ||
                    !strcmp(type, "expired");
    jsonw_t w = {0};
    event_base(&w, in, "order-fill/v1", out->event_id);
    jsonw_str(&w, "type", type);
    alpaca_order_t unsent;
    if (!o) {  /* canceled before it was sent: no broker order, no order_id */
        memset(&unsent, 0, sizeof(unsent));
        intent_client_order_id(in, unsent.client_order_id, sizeof(unsent.client_order_id));
        snprintf(unsent.status, sizeof(unsent.status), "canceled");
        o = &unsent;
    }
    jsonw_str(&w, "client_order_id", o->client_order_id);
    if (o->id[0]) jsonw_str(&w, "order_id", o->id);
    jsonw_str(&w, "order_type", o->type[0] ? o->type : in->type);
    if (o->qty[0]) jsonw_str(&w, "qty", o->qty);
    else if (in->has_qty) jsonw_str(&w, "qty", in->qty.text);
    if (o->notional[0]) jsonw_str(&w, "notional", o->notional);
    else if (in->has_notional) jsonw_str(&w, "notional", in->notional.text);
    if (in->has_limit_price) jsonw_str(&w, "limit_price", in->limit_price.text);
    if (in->has_stop_price) jsonw_str(&w, "stop_price", in->stop_price.text);
    jsonw_str(&w, "time_in_force", in->time_in_force);
    jsonw_str(&w, "status", o->status);
    jsonw_str(&w, "filled_qty", o->filled_qty[0] ? o->filled_qty : "0");
    if (o->filled_avg_price[0]) jsonw_str(&w, "filled_avg_price", o->filled_avg_price);
    else jsonw_null(&w, "filled_avg_price");
    jsonw_str(&w, "last_fill_qty", last_qty);
    jsonw_str(&w, "last_fill_price", last_price);
    if (cancel_id && cancel_id[0]) jsonw_str(&w, "cancel_intent_id", cancel_id);
    if (cancel_reason && cancel_reason[0]) jsonw_str(&w, "cancel_reason", cancel_reason);
    out->payload = event_finish(&w, in);
}

void publish_build_fill(const config_t *cfg, const intent_t *in,
                        const alpaca_order_t *o, const char *type, int n,
                        const char *last_qty, const char *last_price,
                        event_t *out) {
    build_fill(cfg, in, o, type, n, last_qty, last_price, NULL, NULL, out);
}

void publish_build_canceled(const config_t *cfg, const intent_t *in, const alpaca_order_t *o,
                            const char *cancel_id, const char *cancel_reason, event_t *out) {
    build_fill(cfg, in, o, "canceled", 1, NULL, NULL, cancel_id, cancel_reason, out);
}

void publish_build_rejection(const config_t *cfg, const intent_t *in,
                             const char *reason, const char *message,
                             const intent_verdict_t *errors,
                             long long retry_after_ms,
                             const alpaca_error_t *broker, event_t *out) {
    memset(out, 0, sizeof(*out));
    snprintf(out->event_id, sizeof(out->event_id), "%s:rejected", in->intent_id);
    snprintf(out->type, sizeof(out->type), "rejected");
    out->topic = cfg->topic_rejections;
    out->terminal = 1;
    jsonw_t w = {0};
    event_base(&w, in, "order-rejection/v1", out->event_id);
    jsonw_str(&w, "reason", reason);
    jsonw_str_lossy(&w, "message", message);  /* may be cut mid-character */
    if (errors && errors->n_errors > 0) {
        jsonw_open(&w, "errors", '[');
        for (int i = 0; i < errors->n_errors; i++) {
            jsonw_open(&w, NULL, '{');
            jsonw_str_lossy(&w, "field", errors->errors[i].field);
            jsonw_str_lossy(&w, "message", errors->errors[i].message);
            jsonw_close(&w, '}');
        }
        jsonw_close(&w, ']');
    }
    if (retry_after_ms >= 0) jsonw_int(&w, "retry_after_ms", retry_after_ms);
    if (broker) {
        jsonw_open(&w, "broker", '{');
        jsonw_int(&w, "status", broker->http_status);
        if (broker->code) jsonw_int(&w, "code", broker->code);
        jsonw_str_lossy(&w, "message", broker->message);
        jsonw_close(&w, '}');
    }
    out->payload = event_finish(&w, in);
}

void publish_event_clear(event_t *ev) {
    free(ev->payload);
    ev->payload = NULL;
}
