/* producer.c -- the load generator's producer of order intents (see
 * producer.h).
 *
 * Owns: the producer handle (lz4, large batches, linger 5 ms, a deep local
 * queue: the load generator must never be the bottleneck), the intents'
 * bodies, and the pacing.  Design:
 *  - --rate N paces by CLOCK_MONOTONIC: intent i is due at start + i/N and
 *    is sent when due (sleeping until the next one is due); the lateness of
 *    the pacing is reported.
 *  - --rate max sends as fast as the producer takes them, but keeps at most
 *    --window intents without an outcome (closed loop, on the reader's
 *    terminal count), so the workers always have work and the backlog stays
 *    bounded; the time spent waiting on the window is reported.
 *  - --produce-only sends --count intents as fast as possible; the delivery
 *    reports record the first offset written per partition, so that
 *    producer_lost can tell whether the broker still holds them all.
 *  - An intent's created_at is written to the run's table and its SENT flag
 *    set before it is produced: the reader may see its outcome at once. */
#include "producer.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "timefmt.h"
#include "ids.h"
#include "kafka.h"

static void producer_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    run_t *r = opaque;
    if (m->err) {
        atomic_fetch_add(&r->delivery_failed, 1);
        return;
    }
    atomic_fetch_add(&r->delivered, 1);
    int t = (uintptr_t)m->_private == 1 ? 1 : 0;
    if (m->partition >= 0 && m->partition < RUN_MAX_PARTITIONS) {
        int64_t *mo = &r->min_offset[m->partition][t];
        if (*mo < 0 || m->offset < *mo) *mo = m->offset;
    }
}

static rd_kafka_t *producer_new(run_t *r) {
    static const char *const props[][2] = {
        {"linger.ms", "5"},
        {"batch.num.messages", "10000"},
        {"batch.size", "1000000"},
        {"compression.type", "lz4"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"acks", "1"},
    };
    char e[512];
    rd_kafka_conf_t *c = kafka_conf_new(r->o.brokers, CONFIG_KAFKA_PRODUCER, props, sizeof(props) / sizeof(props[0]));
    if (!c) return NULL;
    rd_kafka_conf_set_dr_msg_cb(c, producer_on_delivery);
    rd_kafka_conf_set_opaque(c, r);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
    if (!rk) {
        fprintf(stderr, "ow-loadgen: producer: %s\n", e);
        rd_kafka_conf_destroy(c); /* not taken over on failure */
    }
    return rk;
}

int producer_start(run_t *r) {
    r->producer = producer_new(r);
    if (!r->producer) return -1;
    if (kafka_partitions(r->producer, r->o.topic_bot) <= 0 ||
        (r->o.users > 0 && kafka_partitions(r->producer, r->o.topic_user) <= 0)) {
        fprintf(stderr, "ow-loadgen: no metadata for the intent topics\n");
        return -1;
    }
    return 0;
}

/* The JSON of intent seq (id, created_at given) into body; its key (the
 * bot's or the user's id) into key.  Returns the body's length; *is_bot
 * says which topic it goes to. */
static int producer_body(const run_t *r, uint32_t seq, const char *id, const char *created,
                         char *body, size_t blen, char *key, size_t klen, int *is_bot) {
    long long k = (long long)seq % (r->o.bots + r->o.users);
    const char *sym = r->o.symbols[seq % (uint32_t)r->o.nsymbols];
    char expires[64] = "", user[32];
    if (r->o.expires_at) snprintf(expires, sizeof(expires), ",\"expires_at\":\"%s\"", r->o.expires_at);
    *is_bot = k < r->o.bots;
    if (*is_bot) {
        snprintf(key, klen, "bench-bot-%lld", k);
        snprintf(user, sizeof(user), "bench-user-%lld", k % 1000);
        return snprintf(body, blen,
                        "{\"intent_id\":\"%s\",\"bot_id\":\"%s\",\"user_id\":\"%s\",\"symbol\":\"%s\","
                        "\"side\":\"buy\",\"type\":\"market\",\"qty\":\"1\",\"time_in_force\":\"day\","
                        "\"created_at\":\"%s\"%s}",
                        id, key, user, sym, created, expires);
    }
    snprintf(key, klen, "bench-u-%lld", k - r->o.bots);
    return snprintf(body, blen,
                    "{\"intent_id\":\"%s\",\"user_id\":\"%s\",\"symbol\":\"%s\","
                    "\"side\":\"buy\",\"type\":\"market\",\"qty\":\"1\",\"time_in_force\":\"day\","
                    "\"created_at\":\"%s\"%s}",
                    id, key, sym, created, expires);
}

/* Produces intent seq; returns 0 or -1 (fatal). */
static int producer_one(run_t *r, uint32_t seq) {
    char id[37], created[32], key[32], body[640];
    int is_bot;
    ids_make(r->tag, seq, &r->rng, id);
    int64_t now_us = clock_real_us();
    timefmt_format_rfc3339(now_us / 1000, created, sizeof(created));
    int n = producer_body(r, seq, id, created, body, sizeof(body), key, sizeof(key), &is_bot);
    r->sent_real_us[seq] = now_us;
    atomic_fetch_or(&r->flags[seq], RUN_SENT);
    const char *topic = is_bot ? r->o.topic_bot : r->o.topic_user;
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            r->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(body, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(is_bot ? 0 : 1)), RD_KAFKA_V_END);
        if (!err) break;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            r->queue_full_waits++;
            rd_kafka_poll(r->producer, 5);
            if (run_interrupted()) return -1;
            continue;
        }
        fprintf(stderr, "ow-loadgen: produce: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    atomic_fetch_add(&r->sent, 1);
    return 0;
}

/* Whether intent i may go now: 1 yes, 0 not yet (the caller loops; this
 * waited a little: for its due time, or for the closed-loop window). */
static int producer_may_send(run_t *r, long long i, int64_t t0, int64_t now) {
    if (r->o.rate > 0) {
        int64_t due = t0 + (int64_t)((double)i * 1e6 / r->o.rate);
        if (due > now) {
            rd_kafka_poll(r->producer, 0);
            clock_sleep_until_mono_us(due);
            return 0;
        }
        double late = (double)(now - due) / 1000.0;
        if (late > r->pacing_max_late_ms) r->pacing_max_late_ms = late;
        return 1;
    }
    if (!r->o.produce_only && r->o.window > 0 && i - atomic_load(&r->terminal) >= r->o.window) {
        int64_t w0 = clock_mono_us();
        rd_kafka_poll(r->producer, 1);
        r->window_wait_s += (double)(clock_mono_us() - w0) / 1e6;
        return 0;
    }
    return 1;
}

int producer_run(run_t *r) {
    long long total = r->o.count;
    double span = r->o.warmup_s + r->o.duration_s;
    int64_t t0 = clock_mono_us();
    r->produce_begin_mono_us = t0;
    int64_t end_us = t0 + (int64_t)(span * 1e6);
    long long i = 0;
    while (!run_interrupted()) {
        if (total > 0 && i >= total) break;
        int64_t now = clock_mono_us();
        if (total == 0 && now >= end_us) break;
        if (i >= r->cap) break;
        if (!producer_may_send(r, i, t0, now)) continue;
        if (producer_one(r, (uint32_t)i) < 0) return -1;
        i++;
        if ((i & 255) == 0) rd_kafka_poll(r->producer, 0);
    }
    r->produce_end_mono_us = clock_mono_us();
    /* Wait for the broker's acknowledgements (bounded). */
    int64_t deadline = clock_mono_us() + 120000000;
    while (rd_kafka_outq_len(r->producer) > 0 && clock_mono_us() < deadline && !run_interrupted())
        rd_kafka_poll(r->producer, 50);
    return 0;
}

long long producer_lost(run_t *r) {
    long long lost = 0;
    const char *topics[2] = {r->o.topic_bot, r->o.topic_user};
    for (int t = 0; t < 2; t++) {
        for (int p = 0; p < RUN_MAX_PARTITIONS; p++) {
            if (r->min_offset[p][t] < 0) continue;
            int64_t lo, hi;
            if (rd_kafka_query_watermark_offsets(r->producer, topics[t], p, &lo, &hi, 10000))
                continue;
            if (lo > r->min_offset[p][t]) lost += lo - r->min_offset[p][t];
        }
    }
    return lost;
}

void producer_stop(run_t *r) {
    if (!r->producer) return;
    rd_kafka_flush(r->producer, 5000);
    rd_kafka_destroy(r->producer);
    r->producer = NULL;
}
