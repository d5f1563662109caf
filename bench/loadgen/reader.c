/* reader.c -- the load generator's reader of the result topics (see
 * reader.h).
 *
 * Owns: the consumer handle and its thread, and turning each event into the
 * run's counts.  Design:
 *  - The consumer is assigned (no group rebalance) every partition of the
 *    result topics at their END offsets, queried before anything is
 *    produced, so it reads exactly what happens after the run starts.
 *  - Events are scanned, not parsed: the worker writes flat JSON objects, and
 *    only "intent_id", "type" (orders.fills) and "reason"
 *    (orders.rejections) are needed.  An event missing them is counted as
 *    unreadable; one of another run (another tag) as foreign.
 *  - A repeated event (same intent, same kind) is dropped, as a consumer of
 *    the worker's at-least-once events must: the per-intent flags are set
 *    with an atomic or.
 *  - Every terminal outcome is counted by kind: fills, rejections (by
 *    reason), and canceled/expired orders (by type), per read-back second
 *    and in the steady window, so that throughput can be judged on fills
 *    alone (a worker that rejects fast must not look fast).
 *  - Latency is the read-back time of the accepted and of the fill event
 *    (CLOCK_REALTIME) minus the time the intent was handed to librdkafka
 *    (microseconds; its created_at is the same instant in ms), kept for
 *    intents created in the steady window.  Beside it, each event's own hop
 *    on the result topic: read back minus its Kafka timestamp (the worker's
 *    producer stamps it when producing, in ms), so that the consumer's share
 *    of a latency is known (on librdkafka's mock broker, mostly
 *    fetch.wait.max.ms).
 *  - With --fills-out, each intent's first fill event is written as
 *    "order_id<TAB>read-back time (us since the epoch)", for bench/run.sh to
 *    join with the simulator's own fill times (its orders' filled_at). */
#include "reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "ids.h"
#include "kafka.h"

/* Finds "key": "value" in a flat JSON object; value start/len in *v, *vlen. */
static int reader_scan_field(const char *buf, size_t len, const char *key, const char **v,
                             size_t *vlen) {
    char pat[48];
    int n = snprintf(pat, sizeof(pat), "\"%s\"", key);
    const char *end = buf + len, *p = buf;
    while ((p = memmem(p, (size_t)(end - p), pat, (size_t)n)) != NULL) {
        const char *q = p + n;
        while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
        if (q < end && *q == ':') {
            q++;
            while (q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) q++;
            if (q >= end || *q != '"') return -1;
            q++;
            const char *e = memchr(q, '"', (size_t)(end - q));
            if (!e) return -1;
            *v = q;
            *vlen = (size_t)(e - q);
            return 0;
        }
        p = q;
    }
    return -1;
}

static int reader_is(const char *v, size_t vlen, const char *word) {
    return vlen == strlen(word) && !memcmp(v, word, vlen);
}

/* ---------------------------------------------------------------- counting */

/* A terminal outcome of kind read at mono_us. */
static void reader_count_terminal(run_t *r, run_outcome_t kind, int64_t mono_us) {
    atomic_fetch_add(&r->terminal, 1);
    if (kind == RUN_FILL) atomic_fetch_add(&r->filled, 1);
    if (kind == RUN_REJECTION) atomic_fetch_add(&r->rejected, 1);
    int64_t rel = mono_us - r->start_mono_us;
    int sec = (int)(rel / 1000000);
    double t = (double)rel / 1e6;
    pthread_mutex_lock(&r->lock);
    if (sec >= 0 && sec < r->nseconds) r->per_second[sec]++;
    if (t >= r->o.warmup_s && t < r->o.warmup_s + r->o.duration_s) {
        r->terminal_in_window++;
        if (kind == RUN_FILL) r->fills_in_window++;
        if (kind == RUN_REJECTION) r->rejections_in_window++;
    }
    if (!r->first_terminal_mono_us) r->first_terminal_mono_us = mono_us;
    r->last_terminal_mono_us = mono_us;
    pthread_mutex_unlock(&r->lock);
}

/* A non-fill outcome: a rejection's reason, or "canceled"/"expired". */
static void reader_count_reason(run_t *r, const char *reason, size_t len) {
    pthread_mutex_lock(&r->lock);
    int i;
    for (i = 0; i < r->nreasons; i++)
        if (strlen(r->reasons[i].reason) == len && !strncmp(r->reasons[i].reason, reason, len))
            break;
    if (i == r->nreasons && r->nreasons < RUN_MAX_REASONS) {
        snprintf(r->reasons[i].reason, sizeof(r->reasons[i].reason), "%.*s", (int)len, reason);
        r->nreasons++;
    }
    if (i < r->nreasons) r->reasons[i].n++;
    pthread_mutex_unlock(&r->lock);
}

/* The publish -> read-back latency of an event of intent seq into lat, and
 * its hop on the result topic (kafka_ts_ms: the message's timestamp, -1 if
 * none) into hop. */
static void reader_add_latency(run_t *r, uint32_t seq, int64_t now_real_us, int64_t kafka_ts_ms,
                               run_lat_t *lat, run_lat_t *hop) {
    if (r->o.consume_only) return;  /* the publish time is unknown here */
    int64_t sent = r->sent_real_us[seq];
    double created_t = (double)(sent / 1000 - r->start_real_ms) / 1000.0;
    int in_window = created_t >= r->o.warmup_s && created_t < r->o.warmup_s + r->o.duration_s;
    pthread_mutex_lock(&r->lock);
    run_lat_add(lat, now_real_us - sent, in_window);
    if (kafka_ts_ms > 0) run_lat_add(hop, now_real_us - kafka_ts_ms * 1000, in_window);
    pthread_mutex_unlock(&r->lock);
}

/* --fills-out: the order of a fill event and when it was read. */
static void reader_note_fill(run_t *r, const char *buf, size_t len, int64_t now_real_us) {
    const char *v;
    size_t vlen;
    if (!r->fills_out || reader_scan_field(buf, len, "order_id", &v, &vlen) < 0) return;
    pthread_mutex_lock(&r->lock);
    fprintf(r->fills_out, "%.*s\t%lld\n", (int)vlen, v, (long long)now_real_us);
    pthread_mutex_unlock(&r->lock);
}

/* Sets flag on intent seq; 0 the first time, -1 (a duplicate, counted) after. */
static int reader_first(run_t *r, uint32_t seq, uint8_t flag) {
    uint8_t old = atomic_fetch_or(&r->flags[seq], flag);
    if (!(old & flag)) return 0;
    atomic_fetch_add(&r->duplicate_events, 1);
    return -1;
}

/* ---------------------------------------------------------------- events */

/* The intent of an event: 0 and *seq if one of this run's sent intents,
 * -1 otherwise (counted as unreadable or foreign). */
static int reader_intent(run_t *r, const char *buf, size_t len, uint32_t *seq) {
    const char *v;
    size_t vlen;
    int mine = -1;
    if (reader_scan_field(buf, len, "intent_id", &v, &vlen) == 0)
        mine = ids_parse(r->tag_hex, v, vlen, seq);
    if (mine < 0) {
        atomic_fetch_add(&r->unreadable_events, 1);
        return -1;
    }
    if (mine == 0 || *seq >= r->cap ||
        (!r->o.consume_only && !(atomic_load(&r->flags[*seq]) & RUN_SENT))) {
        atomic_fetch_add(&r->foreign_events, 1);
        return -1;
    }
    return 0;
}

/* An event of orders.fills: accepted, partial_fill, or a terminal type. */
static void reader_fills_event(run_t *r, uint32_t seq, const char *buf, size_t len,
                               int64_t now_mono, int64_t now_real, int64_t kafka_ts_ms) {
    const char *v;
    size_t vlen;
    if (reader_scan_field(buf, len, "type", &v, &vlen) < 0) {
        atomic_fetch_add(&r->unreadable_events, 1);
        return;
    }
    if (reader_is(v, vlen, "accepted")) {
        if (reader_first(r, seq, RUN_ACCEPTED) < 0) return;
        atomic_fetch_add(&r->accepted, 1);
        reader_add_latency(r, seq, now_real, kafka_ts_ms, &r->lat_accepted, &r->hop_accepted);
        return;
    }
    if (reader_is(v, vlen, "partial_fill")) {
        atomic_fetch_add(&r->partial_fills, 1);
        return;
    }
    int fill = reader_is(v, vlen, "fill");
    if (!fill && !reader_is(v, vlen, "canceled") && !reader_is(v, vlen, "expired")) {
        atomic_fetch_add(&r->unreadable_events, 1);
        return;
    }
    if (reader_first(r, seq, RUN_TERMINAL) < 0) return;
    if (!fill) reader_count_reason(r, v, vlen);
    if (fill) {
        reader_add_latency(r, seq, now_real, kafka_ts_ms, &r->lat_fill, &r->hop_fill);
        reader_note_fill(r, buf, len, now_real);
    }
    reader_count_terminal(r, fill ? RUN_FILL : RUN_OTHER, now_mono);
}

void reader_handle_event(run_t *r, const char *buf, size_t len, int is_fill,
                         int64_t kafka_ts_ms) {
    uint32_t seq;
    if (reader_intent(r, buf, len, &seq) < 0) return;
    int64_t now_mono = clock_mono_us(), now_real = clock_real_us();
    if (is_fill) {
        reader_fills_event(r, seq, buf, len, now_mono, now_real, kafka_ts_ms);
        return;
    }
    if (reader_first(r, seq, RUN_TERMINAL) < 0) return;
    const char *v;
    size_t vlen;
    if (reader_scan_field(buf, len, "reason", &v, &vlen) < 0) {
        v = "(none)";
        vlen = 6;
    }
    reader_count_reason(r, v, vlen);
    reader_count_terminal(r, RUN_REJECTION, now_mono);
}

/* ---------------------------------------------------------------- kafka */

static rd_kafka_t *reader_consumer_new(run_t *r) {
    char e[512], group[64];
    snprintf(group, sizeof(group), "ow-loadgen-%s", r->tag_hex);
    const char *const props[][2] = {
        {"group.id", group},
        {"enable.auto.commit", "false"},
        {"auto.offset.reset", "earliest"},
        {"fetch.wait.max.ms", "10"},
        {"enable.partition.eof", "false"},
    };
    rd_kafka_conf_t *c = kafka_conf_new(r->o.brokers, CONFIG_KAFKA_CONSUMER, props, sizeof(props) / sizeof(props[0]));
    if (!c) return NULL;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk) {
        fprintf(stderr, "ow-loadgen: consumer: %s\n", e);
        rd_kafka_conf_destroy(c); /* not taken over on failure */
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Every partition of topic at its high watermark, added to l. */
static int reader_add_topic_at_end(run_t *r, rd_kafka_topic_partition_list_t *l,
                                   const char *topic) {
    int n = kafka_partitions(r->consumer, topic);
    if (n <= 0) {
        fprintf(stderr, "ow-loadgen: no metadata for topic %s\n", topic);
        return -1;
    }
    for (int p = 0; p < n; p++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(r->consumer, topic, p, &lo, &hi, 10000);
        if (err) {
            fprintf(stderr, "ow-loadgen: watermarks of %s [%d]: %s\n", topic, p,
                    rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
    }
    return 0;
}

/* Assigns every partition of the result topics at their end offsets. */
static int reader_assign_at_end(run_t *r) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
    if (reader_add_topic_at_end(r, l, r->o.topic_fills) < 0 ||
        reader_add_topic_at_end(r, l, r->o.topic_rejections) < 0) {
        rd_kafka_topic_partition_list_destroy(l);
        return -1;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(r->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        fprintf(stderr, "ow-loadgen: assign: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static void *reader_loop(void *arg) {
    run_t *r = arg;
    while (!atomic_load(&r->stop_reader)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->consumer, 100);
        if (!m) continue;
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
                atomic_fetch_add(&r->offset_resets, 1);
            else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                atomic_fetch_add(&r->consumer_errors, 1);
            rd_kafka_message_destroy(m);
            continue;
        }
        const char *topic = rd_kafka_topic_name(m->rkt);
        int is_fill = strcmp(topic, r->o.topic_fills) == 0;
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        if (tstype != RD_KAFKA_TIMESTAMP_CREATE_TIME) ts = -1;
        if (m->payload) reader_handle_event(r, m->payload, m->len, is_fill, ts);
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

int reader_start(run_t *r) {
    r->consumer = reader_consumer_new(r);
    if (!r->consumer || reader_assign_at_end(r) < 0) return -1;
    if (pthread_create(&r->reader_thread, NULL, reader_loop, r) != 0) {
        fprintf(stderr, "ow-loadgen: cannot start the reader thread\n");
        return -1;
    }
    r->reader_started = 1;
    return 0;
}

int reader_wait(run_t *r, long long want) {
    /* At most --drain-timeout after the last outcome or the end of
     * producing, whichever is later. */
    int64_t last_progress = clock_mono_us();
    long long seen = -1;
    while (!run_interrupted() && atomic_load(&r->terminal) < want) {
        long long t = atomic_load(&r->terminal);
        if (t != seen) {
            seen = t;
            last_progress = clock_mono_us();
        }
        if (clock_mono_us() - last_progress > (int64_t)(r->o.drain_timeout_s * 1e6)) break;
        usleep(20000);
    }
    return atomic_load(&r->terminal) >= want;
}

void reader_stop(run_t *r) {
    if (r->reader_started) {
        atomic_store(&r->stop_reader, 1);
        pthread_join(r->reader_thread, NULL);
        r->reader_started = 0;
    }
    if (r->consumer) {
        rd_kafka_consumer_close(r->consumer);
        rd_kafka_destroy(r->consumer);
        r->consumer = NULL;
    }
}
