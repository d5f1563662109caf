/* loadgen.c -- ow-loadgen: the load generator and result reader of the
 * benchmark (`compose/dev bench`, bench/run.sh).
 *
 * Owns: publishing valid order intents at a fixed rate or as fast as
 * possible, reading the result topics back, matching every event to an
 * intent of this run, and reporting throughput, latency, rejections and the
 * producer's own send rate as JSON.  Why: the figures (sustained
 * end-to-end throughput, created_at -> accepted latency, backlog drain rate)
 * need one program that both offers the load and sees its outcomes, with a
 * clock of its own and no per-message cost that could make it, rather than
 * the worker, the bottleneck.
 *
 * Design
 *  - One producer handle (lz4, large batches, linger 5 ms, a deep local
 *    queue) driven by the main thread; one consumer handle read by a thread of
 *    its own.  The consumer is assigned every partition of orders.fills and
 *    orders.rejections at their END offsets (queried before anything is
 *    produced), so it reads exactly what happens after the run starts.
 *  - Intent ids carry the run: a UUID v4 whose first 8 hex digits are a
 *    random run tag and whose next 7 (around the version nibble) are the
 *    intent's sequence number; the rest is random.  Matching an event is
 *    then a prefix compare plus a hex decode -- no hash of strings -- and the
 *    per-intent state is a directly indexed table: 4 bytes (created_at,
 *    ms after the run's start) and 1 byte of flags per intent, 5 MB for a
 *    million intents.  Events of other runs (other tags) are counted and
 *    ignored; a repeated event (same intent, same kind) is dropped, which is
 *    what a consumer must do with the worker's at-least-once events.
 *  - Events are scanned, not parsed: the worker writes flat JSON objects,
 *    and only "intent_id", "type" (orders.fills) and "reason"
 *    (orders.rejections) are needed.  An event missing them is counted as
 *    unreadable.
 *  - --rate N paces by CLOCK_MONOTONIC: intent i is due at start + i/N and
 *    is sent when due (sleeping until the next one is due); the lateness of
 *    the pacing is reported.  --rate max sends as fast as the producer
 *    takes them, but keeps at most --window intents without an outcome
 *    (closed loop), so the workers always have work and the backlog stays
 *    bounded.  --produce-only sends --count intents as fast as possible and
 *    exits after the broker acknowledged them all (the backlog scenario);
 *    --consume-only --expect N --tag T reads until N intents of run T have an
 *    outcome (the drain).
 *  - Latency is read-back time (CLOCK_REALTIME when the accepted event is
 *    read) minus the intent's created_at (which has millisecond precision,
 *    so it reads up to 1 ms high); it is kept for intents created in the
 *    steady window.  Throughput is the terminal outcomes read in the steady
 *    window [warmup, warmup + duration) divided by its length.
 *
 * Output: a JSON object (--json FILE, or stdout) and a summary on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define LOADGEN_MAX_PARTITIONS 4096
#define LOADGEN_MAX_SYMBOLS 32
#define LOADGEN_MAX_REASONS 16
#define LOADGEN_SEQ_MAX 0x0FFFFFFFu /* 7 hex digits */

enum { FLAG_SENT = 1, FLAG_ACCEPTED = 2, FLAG_TERMINAL = 4 };

typedef struct options {
    const char *brokers;
    double rate;          /* intents/s; 0 = max */
    double duration_s;    /* steady window length (after warmup) */
    double warmup_s;
    long long count;      /* 0: by duration */
    int bots, users;
    const char *symbols[LOADGEN_MAX_SYMBOLS];
    int nsymbols;
    int produce_only, consume_only;
    long long expect;
    const char *tag;      /* consume-only: the run tag to read */
    long long window;     /* max outstanding in max mode */
    double drain_timeout_s;
    const char *json_out;
    const char *ready_file;
    const char *topic_bot, *topic_user, *topic_fills, *topic_rejections;
    const char *expires_at;  /* optional fixed expires_at */
} options_t;

typedef struct reason_count {
    char reason[40];
    long long n;
} reason_count_t;

typedef struct run {
    options_t o;
    uint32_t tag;
    char tag_hex[9];
    int64_t start_real_ms;       /* CLOCK_REALTIME at run start */
    int64_t start_mono_us;
    uint64_t rng;
    /* per intent, indexed by sequence number */
    uint32_t *created_off_ms;    /* created_at - start_real_ms */
    _Atomic uint8_t *flags;
    long long cap;
    atomic_llong sent;           /* produce() calls that succeeded */
    atomic_llong delivered, delivery_failed;
    atomic_llong accepted, terminal, rejected;
    atomic_llong foreign_events, unreadable_events, duplicate_events, partial_fills;
    atomic_llong consumer_errors, offset_resets;
    atomic_int stop_consumer;
    atomic_int consumer_ready;
    /* per-second terminal counts, by read-back second since start */
    long long *per_second;
    int nseconds;
    /* latencies (us) of accepted events of intents created in the window */
    uint32_t *lat;
    size_t nlat, caplat;
    int64_t lat_max_us_all;      /* over every accepted event */
    reason_count_t reasons[LOADGEN_MAX_REASONS];
    int nreasons;
    long long terminal_in_window;
    int64_t last_terminal_mono_us, first_terminal_mono_us;
    pthread_mutex_t lock;        /* guards per_second, lat, reasons */
    /* producer side */
    int64_t produce_end_mono_us;
    int64_t produce_begin_mono_us;
    double pacing_max_late_ms;
    double window_wait_s;
    long long queue_full_waits;
    int64_t min_offset[LOADGEN_MAX_PARTITIONS][2]; /* first offset we wrote, per topic */
    rd_kafka_t *producer, *consumer;
} run_t;

static volatile sig_atomic_t loadgen_interrupted;

static void loadgen_on_signal(int sig) {
    (void)sig;
    loadgen_interrupted = 1;
}

/* ---------------------------------------------------------------- clocks */

static int64_t clock_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t clock_real_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void clock_sleep_until_mono_us(int64_t t) {
    struct timespec ts = {(time_t)(t / 1000000), (long)(t % 1000000) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
           !loadgen_interrupted) {
    }
}

/* RFC 3339 UTC with milliseconds. */
static void clock_format_ms(int64_t ms, char *buf, size_t len) {
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%.19s.%03uZ", day, (unsigned)(ms % 1000) % 1000u);
}

/* ---------------------------------------------------------------- ids */

static uint64_t id_rng_next(uint64_t *s) { /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* tttttttt-ssss-4sss-Vrrr-rrrrrrrrrrrr: tag, 28-bit sequence, random rest. */
static void id_make(run_t *r, uint32_t seq, char out[37]) {
    uint64_t a = id_rng_next(&r->rng), b = id_rng_next(&r->rng);
    static const char variant[] = "89ab";
    snprintf(out, 37, "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32 "-%c%03" PRIx64 "-%012" PRIx64,
             r->tag, (seq >> 12) & 0xFFFF, seq & 0xFFF, variant[a & 3], (uint64_t)((a >> 2) & 0xFFF),
             (uint64_t)(b & 0xFFFFFFFFFFFFULL));
}

static int id_hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 1 and *seq if id (36 chars at p) is one of this run's, 0 if another run's,
 * -1 if not an id at all. */
static int id_parse(const run_t *r, const char *p, size_t len, uint32_t *seq) {
    if (len < 36 || p[8] != '-' || p[13] != '-' || p[18] != '-') return -1;
    if (strncasecmp(p, r->tag_hex, 8) != 0) return 0;
    uint32_t s = 0;
    const int pos[] = {9, 10, 11, 12, 15, 16, 17};
    for (int i = 0; i < 7; i++) {
        int v = id_hex_value(p[pos[i]]);
        if (v < 0) return -1;
        s = (s << 4) | (uint32_t)v;
    }
    *seq = s;
    return 1;
}

/* ---------------------------------------------------------------- scanning */

/* Finds "key": "value" in a flat JSON object; value start/len in *v, *vlen. */
static int scan_string_field(const char *buf, size_t len, const char *key, const char **v,
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

/* ---------------------------------------------------------------- results */

static void result_count_terminal(run_t *r, int64_t mono_us) {
    int64_t rel = mono_us - r->start_mono_us;
    int sec = (int)(rel / 1000000);
    pthread_mutex_lock(&r->lock);
    if (sec >= 0 && sec < r->nseconds) r->per_second[sec]++;
    double t = (double)rel / 1e6;
    if (t >= r->o.warmup_s && t < r->o.warmup_s + r->o.duration_s) r->terminal_in_window++;
    if (!r->first_terminal_mono_us) r->first_terminal_mono_us = mono_us;
    r->last_terminal_mono_us = mono_us;
    pthread_mutex_unlock(&r->lock);
}

static void result_count_reason(run_t *r, const char *reason, size_t len) {
    pthread_mutex_lock(&r->lock);
    int i;
    for (i = 0; i < r->nreasons; i++)
        if (strlen(r->reasons[i].reason) == len && !strncmp(r->reasons[i].reason, reason, len))
            break;
    if (i == r->nreasons && r->nreasons < LOADGEN_MAX_REASONS) {
        snprintf(r->reasons[i].reason, sizeof(r->reasons[i].reason), "%.*s", (int)len, reason);
        r->nreasons++;
    }
    if (i < r->nreasons) r->reasons[i].n++;
    pthread_mutex_unlock(&r->lock);
}

static void result_add_latency(run_t *r, uint32_t seq, int64_t now_real_us) {
    if (r->o.consume_only) return;  /* created_at unknown here */
    int64_t created_ms = r->start_real_ms + r->created_off_ms[seq];
    int64_t us = now_real_us - created_ms * 1000;
    if (us < 0) us = 0;
    double created_t = (double)r->created_off_ms[seq] / 1000.0;
    pthread_mutex_lock(&r->lock);
    if (us > r->lat_max_us_all) r->lat_max_us_all = us;
    if (created_t >= r->o.warmup_s && created_t < r->o.warmup_s + r->o.duration_s) {
        if (r->nlat == r->caplat) {
            size_t nc = r->caplat ? r->caplat * 2 : 65536;
            uint32_t *p = realloc(r->lat, nc * sizeof(*p));
            if (p) {
                r->lat = p;
                r->caplat = nc;
            }
        }
        if (r->nlat < r->caplat) r->lat[r->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    }
    pthread_mutex_unlock(&r->lock);
}

/* One event from orders.fills (is_fill) or orders.rejections. */
static void result_handle_event(run_t *r, const char *buf, size_t len, int is_fill) {
    const char *v;
    size_t vlen;
    uint32_t seq;
    if (scan_string_field(buf, len, "intent_id", &v, &vlen) < 0) {
        atomic_fetch_add(&r->unreadable_events, 1);
        return;
    }
    int mine = id_parse(r, v, vlen, &seq);
    if (mine < 0) {
        atomic_fetch_add(&r->unreadable_events, 1);
        return;
    }
    if (mine == 0 || seq >= r->cap) {
        atomic_fetch_add(&r->foreign_events, 1);
        return;
    }
    if (!r->o.consume_only && !(atomic_load(&r->flags[seq]) & FLAG_SENT)) {
        atomic_fetch_add(&r->foreign_events, 1);
        return;
    }
    int64_t now_mono = clock_mono_us(), now_real = clock_real_us();
    if (is_fill) {
        if (scan_string_field(buf, len, "type", &v, &vlen) < 0) {
            atomic_fetch_add(&r->unreadable_events, 1);
            return;
        }
        if (vlen == 8 && !memcmp(v, "accepted", 8)) {
            uint8_t old = atomic_fetch_or(&r->flags[seq], FLAG_ACCEPTED);
            if (old & FLAG_ACCEPTED) {
                atomic_fetch_add(&r->duplicate_events, 1);
                return;
            }
            atomic_fetch_add(&r->accepted, 1);
            result_add_latency(r, seq, now_real);
            return;
        }
        if (vlen == 12 && !memcmp(v, "partial_fill", 12)) {
            atomic_fetch_add(&r->partial_fills, 1);
            return;
        }
        if (!((vlen == 4 && !memcmp(v, "fill", 4)) || (vlen == 8 && !memcmp(v, "canceled", 8)) ||
              (vlen == 7 && !memcmp(v, "expired", 7)))) {
            atomic_fetch_add(&r->unreadable_events, 1);
            return;
        }
        uint8_t old = atomic_fetch_or(&r->flags[seq], FLAG_TERMINAL);
        if (old & FLAG_TERMINAL) {
            atomic_fetch_add(&r->duplicate_events, 1);
            return;
        }
        if (!(vlen == 4 && !memcmp(v, "fill", 4))) result_count_reason(r, v, vlen);
        atomic_fetch_add(&r->terminal, 1);
        result_count_terminal(r, now_mono);
        return;
    }
    uint8_t old = atomic_fetch_or(&r->flags[seq], FLAG_TERMINAL);
    if (old & FLAG_TERMINAL) {
        atomic_fetch_add(&r->duplicate_events, 1);
        return;
    }
    if (scan_string_field(buf, len, "reason", &v, &vlen) < 0) {
        v = "(none)";
        vlen = 6;
    }
    result_count_reason(r, v, vlen);
    atomic_fetch_add(&r->rejected, 1);
    atomic_fetch_add(&r->terminal, 1);
    result_count_terminal(r, now_mono);
}

/* ---------------------------------------------------------------- kafka */

static int kafka_set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "ow-loadgen: %s: %s\n", k, e);
        return -1;
    }
    return 0;
}

static void kafka_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    run_t *r = opaque;
    if (m->err) {
        atomic_fetch_add(&r->delivery_failed, 1);
        return;
    }
    atomic_fetch_add(&r->delivered, 1);
    int t = (uintptr_t)m->_private == 1 ? 1 : 0;
    if (m->partition >= 0 && m->partition < LOADGEN_MAX_PARTITIONS) {
        int64_t *mo = &r->min_offset[m->partition][t];
        if (*mo < 0 || m->offset < *mo) *mo = m->offset;
    }
}

static rd_kafka_t *kafka_producer_new(run_t *r) {
    char e[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (kafka_set(c, "bootstrap.servers", r->o.brokers) < 0 ||
        kafka_set(c, "client.id", "ow-loadgen") < 0 ||
        kafka_set(c, "linger.ms", "5") < 0 ||
        kafka_set(c, "batch.num.messages", "10000") < 0 ||
        kafka_set(c, "batch.size", "1000000") < 0 ||
        kafka_set(c, "compression.type", "lz4") < 0 ||
        kafka_set(c, "queue.buffering.max.messages", "1000000") < 0 ||
        kafka_set(c, "queue.buffering.max.kbytes", "1048576") < 0 ||
        kafka_set(c, "acks", "1") < 0) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(c, kafka_on_delivery);
    rd_kafka_conf_set_opaque(c, r);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
    if (!rk) fprintf(stderr, "ow-loadgen: producer: %s\n", e);
    return rk;
}

static rd_kafka_t *kafka_consumer_new(run_t *r) {
    char e[512], group[64];
    snprintf(group, sizeof(group), "ow-loadgen-%s", r->tag_hex);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (kafka_set(c, "bootstrap.servers", r->o.brokers) < 0 ||
        kafka_set(c, "client.id", "ow-loadgen") < 0 || kafka_set(c, "group.id", group) < 0 ||
        kafka_set(c, "enable.auto.commit", "false") < 0 ||
        kafka_set(c, "auto.offset.reset", "earliest") < 0 ||
        kafka_set(c, "fetch.wait.max.ms", "10") < 0 ||
        kafka_set(c, "enable.partition.eof", "false") < 0) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk) {
        fprintf(stderr, "ow-loadgen: consumer: %s\n", e);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Partition count of topic, or -1. */
static int kafka_partitions(rd_kafka_t *rk, const char *topic) {
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    for (int attempt = 0; attempt < 20 && n < 0; attempt++) {
        if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && !md->topics[0].err) n = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        if (n < 0) usleep(250000);
    }
    rd_kafka_topic_destroy(t);
    return n;
}

/* Assigns every partition of the result topics at their end offsets. */
static int kafka_assign_at_end(run_t *r) {
    const char *topics[2] = {r->o.topic_fills, r->o.topic_rejections};
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
    for (int t = 0; t < 2; t++) {
        int n = kafka_partitions(r->consumer, topics[t]);
        if (n <= 0) {
            fprintf(stderr, "ow-loadgen: no metadata for topic %s\n", topics[t]);
            rd_kafka_topic_partition_list_destroy(l);
            return -1;
        }
        for (int p = 0; p < n; p++) {
            int64_t lo, hi;
            rd_kafka_resp_err_t err =
                rd_kafka_query_watermark_offsets(r->consumer, topics[t], p, &lo, &hi, 10000);
            if (err) {
                fprintf(stderr, "ow-loadgen: watermarks of %s [%d]: %s\n", topics[t], p,
                        rd_kafka_err2str(err));
                rd_kafka_topic_partition_list_destroy(l);
                return -1;
            }
            rd_kafka_topic_partition_list_add(l, topics[t], p)->offset = hi;
        }
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(r->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        fprintf(stderr, "ow-loadgen: assign: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static void *kafka_consume_loop(void *arg) {
    run_t *r = arg;
    while (!atomic_load(&r->stop_consumer)) {
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
        if (m->payload) result_handle_event(r, m->payload, m->len, is_fill);
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* ---------------------------------------------------------------- producing */

/* Produces intent seq; returns 0 or -1 (fatal). */
static int produce_one(run_t *r, uint32_t seq) {
    char id[37], created[32], key[32], user[32], body[640];
    id_make(r, seq, id);
    int64_t now_ms = clock_real_us() / 1000;
    clock_format_ms(now_ms, created, sizeof(created));
    long long k = (long long)seq % (r->o.bots + r->o.users);
    int is_bot = k < r->o.bots;
    const char *sym = r->o.symbols[seq % (uint32_t)r->o.nsymbols];
    char expires[64] = "";
    if (r->o.expires_at) snprintf(expires, sizeof(expires), ",\"expires_at\":\"%s\"", r->o.expires_at);
    int n;
    if (is_bot) {
        snprintf(key, sizeof(key), "bench-bot-%lld", k);
        snprintf(user, sizeof(user), "bench-user-%lld", k % 1000);
        n = snprintf(body, sizeof(body),
                     "{\"intent_id\":\"%s\",\"bot_id\":\"%s\",\"user_id\":\"%s\",\"symbol\":\"%s\","
                     "\"side\":\"buy\",\"type\":\"market\",\"qty\":\"1\",\"time_in_force\":\"day\","
                     "\"created_at\":\"%s\"%s}",
                     id, key, user, sym, created, expires);
    } else {
        snprintf(key, sizeof(key), "bench-u-%lld", k - r->o.bots);
        n = snprintf(body, sizeof(body),
                     "{\"intent_id\":\"%s\",\"user_id\":\"%s\",\"symbol\":\"%s\","
                     "\"side\":\"buy\",\"type\":\"market\",\"qty\":\"1\",\"time_in_force\":\"day\","
                     "\"created_at\":\"%s\"%s}",
                     id, key, sym, created, expires);
    }
    int64_t off = now_ms - r->start_real_ms;
    r->created_off_ms[seq] = off < 0 ? 0 : (uint32_t)off;
    atomic_fetch_or(&r->flags[seq], FLAG_SENT);
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
            if (loadgen_interrupted) return -1;
            continue;
        }
        fprintf(stderr, "ow-loadgen: produce: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    atomic_fetch_add(&r->sent, 1);
    return 0;
}

/* The produce loop of every mode but --consume-only. */
static int produce_run(run_t *r) {
    long long total = r->o.count;
    double span = r->o.warmup_s + r->o.duration_s;
    int64_t t0 = clock_mono_us();
    r->produce_begin_mono_us = t0;
    int64_t end_us = t0 + (int64_t)(span * 1e6);
    long long i = 0;
    while (!loadgen_interrupted) {
        if (total > 0 && i >= total) break;
        int64_t now = clock_mono_us();
        if (total == 0 && now >= end_us) break;
        if (i >= r->cap) break;
        if (r->o.rate > 0) {
            int64_t due = t0 + (int64_t)((double)i * 1e6 / r->o.rate);
            if (due > now) {
                rd_kafka_poll(r->producer, 0);
                clock_sleep_until_mono_us(due);
                continue;
            }
            double late = (double)(now - due) / 1000.0;
            if (late > r->pacing_max_late_ms) r->pacing_max_late_ms = late;
        } else if (!r->o.produce_only && r->o.window > 0 &&
                   i - atomic_load(&r->terminal) >= r->o.window) {
            int64_t w0 = clock_mono_us();
            rd_kafka_poll(r->producer, 1);
            r->window_wait_s += (double)(clock_mono_us() - w0) / 1e6;
            continue;
        }
        if (produce_one(r, (uint32_t)i) < 0) return -1;
        i++;
        if ((i & 255) == 0) rd_kafka_poll(r->producer, 0);
    }
    r->produce_end_mono_us = clock_mono_us();
    /* Wait for the broker's acknowledgements (bounded). */
    int64_t deadline = clock_mono_us() + 120000000;
    while (rd_kafka_outq_len(r->producer) > 0 && clock_mono_us() < deadline &&
           !loadgen_interrupted)
        rd_kafka_poll(r->producer, 50);
    return 0;
}

/* In --produce-only, whether the broker still holds every message we wrote
 * (the dev broker drops a partition's oldest data beyond its size cap). */
static long long produce_check_retained(run_t *r) {
    long long lost = 0;
    const char *topics[2] = {r->o.topic_bot, r->o.topic_user};
    for (int t = 0; t < 2; t++) {
        for (int p = 0; p < LOADGEN_MAX_PARTITIONS; p++) {
            if (r->min_offset[p][t] < 0) continue;
            int64_t lo, hi;
            if (rd_kafka_query_watermark_offsets(r->producer, topics[t], p, &lo, &hi, 10000))
                continue;
            if (lo > r->min_offset[p][t]) lost += lo - r->min_offset[p][t];
        }
    }
    return lost;
}

/* ---------------------------------------------------------------- report */

static int report_cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double report_percentile_ms(const uint32_t *v, size_t n, double p) {
    if (n == 0) return -1;
    size_t idx = (size_t)(p * (double)(n - 1) + 0.5);
    if (idx >= n) idx = n - 1;
    return v[idx] / 1000.0;
}

static json_t *report_build(run_t *r, long long lost, int complete) {
    json_t *j = json_object();
    const char *mode = r->o.consume_only ? "consume-only" : r->o.produce_only ? "produce-only"
                                                                              : "load";
    json_object_set_new(j, "mode", json_string(mode));
    json_object_set_new(j, "run_tag", json_string(r->tag_hex));
    json_object_set_new(j, "librdkafka", json_string(rd_kafka_version_str()));
    json_object_set_new(j, "jansson", json_string(JANSSON_VERSION));
    char started[32];
    clock_format_ms(r->start_real_ms, started, sizeof(started));
    json_object_set_new(j, "started_at", json_string(started));
    json_t *cfg = json_object();
    json_object_set_new(cfg, "rate", r->o.rate > 0 ? json_real(r->o.rate) : json_string("max"));
    json_object_set_new(cfg, "warmup_s", json_real(r->o.warmup_s));
    json_object_set_new(cfg, "duration_s", json_real(r->o.duration_s));
    json_object_set_new(cfg, "count", json_integer(r->o.count));
    json_object_set_new(cfg, "bots", json_integer(r->o.bots));
    json_object_set_new(cfg, "users", json_integer(r->o.users));
    json_object_set_new(cfg, "window", json_integer(r->o.window));
    json_object_set_new(cfg, "expect", json_integer(r->o.expect));
    json_object_set_new(j, "config", cfg);

    if (!r->o.consume_only) {
        json_t *p = json_object();
        long long sent = atomic_load(&r->sent);
        double secs = (double)(r->produce_end_mono_us - r->produce_begin_mono_us) / 1e6;
        json_object_set_new(p, "sent", json_integer(sent));
        json_object_set_new(p, "delivered", json_integer(atomic_load(&r->delivered)));
        json_object_set_new(p, "delivery_failed", json_integer(atomic_load(&r->delivery_failed)));
        json_object_set_new(p, "seconds", json_real(secs));
        json_object_set_new(p, "send_rate_per_s", json_real(secs > 0 ? sent / secs : 0));
        /* time not spent waiting on the closed-loop window: the producer's own rate */
        double busy = secs - r->window_wait_s;
        json_object_set_new(p, "unthrottled_send_rate_per_s",
                            json_real(busy > 0 ? sent / busy : 0));
        json_object_set_new(p, "window_wait_s", json_real(r->window_wait_s));
        json_object_set_new(p, "queue_full_waits", json_integer(r->queue_full_waits));
        json_object_set_new(p, "pacing_max_late_ms", json_real(r->pacing_max_late_ms));
        if (r->o.produce_only) json_object_set_new(p, "lost_by_broker", json_integer(lost));
        json_object_set_new(j, "producer", p);
    }
    if (r->o.produce_only) return j;

    json_t *c = json_object();
    long long term = atomic_load(&r->terminal);
    json_object_set_new(c, "terminal", json_integer(term));
    json_object_set_new(c, "accepted", json_integer(atomic_load(&r->accepted)));
    json_object_set_new(c, "rejected", json_integer(atomic_load(&r->rejected)));
    json_object_set_new(c, "partial_fills", json_integer(atomic_load(&r->partial_fills)));
    json_object_set_new(c, "duplicate_events", json_integer(atomic_load(&r->duplicate_events)));
    json_object_set_new(c, "foreign_events", json_integer(atomic_load(&r->foreign_events)));
    json_object_set_new(c, "unreadable_events", json_integer(atomic_load(&r->unreadable_events)));
    json_object_set_new(c, "offset_resets", json_integer(atomic_load(&r->offset_resets)));
    json_object_set_new(c, "consumer_errors", json_integer(atomic_load(&r->consumer_errors)));
    json_object_set_new(c, "complete", json_boolean(complete));
    pthread_mutex_lock(&r->lock);
    json_t *reasons = json_object();
    for (int i = 0; i < r->nreasons; i++)
        json_object_set_new(reasons, r->reasons[i].reason, json_integer(r->reasons[i].n));
    json_object_set_new(c, "non_fill_outcomes", reasons);
    double first = r->first_terminal_mono_us
                       ? (double)(r->first_terminal_mono_us - r->start_mono_us) / 1e6 : -1;
    double last = r->last_terminal_mono_us
                      ? (double)(r->last_terminal_mono_us - r->start_mono_us) / 1e6 : -1;
    json_object_set_new(c, "first_outcome_s", json_real(first));
    json_object_set_new(c, "last_outcome_s", json_real(last));
    if (last > first && term > 1)
        json_object_set_new(c, "outcome_rate_per_s", json_real((double)(term - 1) / (last - first)));
    json_t *ps = json_array();
    int maxsec = last >= 0 ? (int)last + 1 : 0;
    for (int s = 0; s < maxsec && s < r->nseconds; s++)
        json_array_append_new(ps, json_integer(r->per_second[s]));
    json_object_set_new(c, "outcomes_per_second", ps);
    json_object_set_new(j, "consumer", c);

    if (!r->o.consume_only) {
        json_t *t = json_object();
        json_object_set_new(t, "window_s", json_real(r->o.duration_s));
        json_object_set_new(t, "terminal_in_window", json_integer(r->terminal_in_window));
        json_object_set_new(t, "intents_per_s",
                            json_real(r->o.duration_s > 0
                                          ? (double)r->terminal_in_window / r->o.duration_s : 0));
        json_object_set_new(j, "throughput", t);
        qsort(r->lat, r->nlat, sizeof(*r->lat), report_cmp_u32);
        json_t *l = json_object();
        json_object_set_new(l, "what", json_string("accepted event read back - created_at, "
                                                   "intents created in the steady window"));
        json_object_set_new(l, "n", json_integer((json_int_t)r->nlat));
        json_object_set_new(l, "p50_ms", json_real(report_percentile_ms(r->lat, r->nlat, 0.50)));
        json_object_set_new(l, "p90_ms", json_real(report_percentile_ms(r->lat, r->nlat, 0.90)));
        json_object_set_new(l, "p99_ms", json_real(report_percentile_ms(r->lat, r->nlat, 0.99)));
        json_object_set_new(l, "max_ms", json_real(r->nlat ? r->lat[r->nlat - 1] / 1000.0 : -1));
        json_object_set_new(l, "max_ms_all_intents", json_real(r->lat_max_us_all / 1000.0));
        json_object_set_new(j, "latency_created_to_accepted", l);
        /* the oldest intent still without an outcome, and its age */
        long long sent = atomic_load(&r->sent);
        int64_t now_off = clock_real_us() / 1000 - r->start_real_ms;
        long long pending = 0;
        int64_t oldest = -1;
        for (long long s = 0; s < sent; s++) {
            uint8_t f = atomic_load(&r->flags[s]);
            if (f & FLAG_TERMINAL) continue;
            pending++;
            if (!(f & FLAG_ACCEPTED) && oldest < 0) oldest = now_off - r->created_off_ms[s];
        }
        json_object_set_new(c, "pending", json_integer(pending));
        json_object_set_new(c, "oldest_unaccepted_age_ms", json_integer(oldest));
    }
    pthread_mutex_unlock(&r->lock);
    return j;
}

/* ---------------------------------------------------------------- options */

static void options_usage(FILE *out) {
    fprintf(out,
            "usage: ow-loadgen [--brokers B] (--rate N|max) (--duration S | --count N)\n"
            "                  [--warmup S] [--bots B] [--users U] [--symbols A,B,..]\n"
            "                  [--window N] [--drain-timeout S] [--json OUT] [--ready-file F]\n"
            "       ow-loadgen --produce-only --count N [...]\n"
            "       ow-loadgen --consume-only --expect N --tag T [--drain-timeout S] [...]\n"
            "       ow-loadgen --version\n"
            "\n"
            "Publishes market intents (qty 1) for B bots and U users (round-robin keys;\n"
            "user intents on the user topic without bot_id), reads orders.fills and\n"
            "orders.rejections from their end offsets, and reports throughput over the\n"
            "steady window (after --warmup), created_at -> accepted latency and outcomes.\n"
            "--rate max keeps at most --window (default 4000) intents without an outcome.\n"
            "KAFKA_BROKERS is the default of --brokers; TOPIC_* override the topic names.\n");
}

static int options_parse_number(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || v < 0) return -1;
    *out = v;
    return 0;
}

static const char *options_env_or(const char *name, const char *def) {
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static int options_parse(int argc, char **argv, options_t *o) {
    static char symbuf[512];
    memset(o, 0, sizeof(*o));
    o->brokers = getenv("KAFKA_BROKERS");
    o->duration_s = 0;
    o->bots = 100;
    o->window = 4000;
    o->drain_timeout_s = 120;
    o->rate = -1;
    o->topic_bot = options_env_or("TOPIC_INTENTS_BOT", "orders.intents.bot");
    o->topic_user = options_env_or("TOPIC_INTENTS_USER", "orders.intents.user");
    o->topic_fills = options_env_or("TOPIC_FILLS", "orders.fills");
    o->topic_rejections = options_env_or("TOPIC_REJECTIONS", "orders.rejections");
    snprintf(symbuf, sizeof(symbuf), "AAPL,MSFT,NVDA,AMZN,GOOGL,META,SPY,QQQ");
    const char *symbols = symbuf;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
#define NEED_ARG                                                         \
    do {                                                                 \
        if (!v) {                                                        \
            fprintf(stderr, "ow-loadgen: %s needs a value\n", a);        \
            return -1;                                                   \
        }                                                                \
        i++;                                                             \
    } while (0)
#define NUM_ARG(dst)                                                     \
    do {                                                                 \
        NEED_ARG;                                                        \
        if (options_parse_number(v, &d) < 0) {                                      \
            fprintf(stderr, "ow-loadgen: %s: bad number '%s'\n", a, v);  \
            return -1;                                                   \
        }                                                                \
        dst = d;                                                         \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            options_usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--version")) {
            printf("ow-loadgen librdkafka %s jansson %s\n", rd_kafka_version_str(),
                   JANSSON_VERSION);
            exit(0);
        } else if (!strcmp(a, "--brokers")) {
            NEED_ARG;
            o->brokers = v;
        } else if (!strcmp(a, "--rate")) {
            if (v && !strcmp(v, "max")) {
                i++;
                o->rate = 0;
            } else {
                NUM_ARG(o->rate);
                if (o->rate <= 0) {
                    fprintf(stderr, "ow-loadgen: --rate must be > 0 or max\n");
                    return -1;
                }
            }
        } else if (!strcmp(a, "--duration")) NUM_ARG(o->duration_s);
        else if (!strcmp(a, "--warmup")) NUM_ARG(o->warmup_s);
        else if (!strcmp(a, "--count")) NUM_ARG(o->count);
        else if (!strcmp(a, "--bots")) NUM_ARG(o->bots);
        else if (!strcmp(a, "--users")) NUM_ARG(o->users);
        else if (!strcmp(a, "--window")) NUM_ARG(o->window);
        else if (!strcmp(a, "--expect")) NUM_ARG(o->expect);
        else if (!strcmp(a, "--drain-timeout")) NUM_ARG(o->drain_timeout_s);
        else if (!strcmp(a, "--symbols")) {
            NEED_ARG;
            symbols = v;
        } else if (!strcmp(a, "--json")) {
            NEED_ARG;
            o->json_out = v;
        } else if (!strcmp(a, "--ready-file")) {
            NEED_ARG;
            o->ready_file = v;
        } else if (!strcmp(a, "--tag")) {
            NEED_ARG;
            o->tag = v;
        } else if (!strcmp(a, "--expires-at")) {
            NEED_ARG;
            o->expires_at = v;
        } else if (!strcmp(a, "--produce-only")) o->produce_only = 1;
        else if (!strcmp(a, "--consume-only")) o->consume_only = 1;
        else {
            fprintf(stderr, "ow-loadgen: unknown option '%s' (--help)\n", a);
            return -1;
        }
#undef NUM_ARG
#undef NEED_ARG
    }
    if (!o->brokers || !*o->brokers) {
        fprintf(stderr, "ow-loadgen: no --brokers and no KAFKA_BROKERS\n");
        return -1;
    }
    if (o->produce_only && o->consume_only) {
        fprintf(stderr, "ow-loadgen: --produce-only and --consume-only exclude each other\n");
        return -1;
    }
    if (o->consume_only) {
        if (o->expect <= 0 || !o->tag || strlen(o->tag) != 8) {
            fprintf(stderr, "ow-loadgen: --consume-only needs --expect N and --tag (8 hex)\n");
            return -1;
        }
    } else {
        if (o->produce_only) {
            if (o->count <= 0) {
                fprintf(stderr, "ow-loadgen: --produce-only needs --count N\n");
                return -1;
            }
            if (o->rate < 0) o->rate = 0;
        } else if (o->rate < 0) {
            fprintf(stderr, "ow-loadgen: --rate N or --rate max is required\n");
            return -1;
        }
        if (o->count <= 0 && o->duration_s <= 0) {
            fprintf(stderr, "ow-loadgen: --duration S or --count N is required\n");
            return -1;
        }
        if (o->count > LOADGEN_SEQ_MAX) {
            fprintf(stderr, "ow-loadgen: --count at most %u\n", LOADGEN_SEQ_MAX);
            return -1;
        }
        if (o->bots + o->users <= 0) {
            fprintf(stderr, "ow-loadgen: --bots + --users must be > 0\n");
            return -1;
        }
    }
    /* symbols */
    static char copy[512];
    snprintf(copy, sizeof(copy), "%s", symbols);
    char *save = NULL;
    for (char *s = strtok_r(copy, ",", &save); s && o->nsymbols < LOADGEN_MAX_SYMBOLS;
         s = strtok_r(NULL, ",", &save))
        o->symbols[o->nsymbols++] = s;
    if (o->nsymbols == 0) {
        fprintf(stderr, "ow-loadgen: --symbols is empty\n");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- main */

static int run_allocate(run_t *r) {
    const options_t *o = &r->o;
    long long cap;
    if (o->consume_only) cap = o->expect;
    else if (o->count > 0) cap = o->count;
    else if (o->rate > 0) cap = (long long)(o->rate * (o->warmup_s + o->duration_s) * 1.05) + 1000;
    else cap = 20000000; /* max mode: pages are touched only as used */
    if (cap > (long long)LOADGEN_SEQ_MAX) cap = LOADGEN_SEQ_MAX;
    r->cap = cap;
    r->created_off_ms = calloc((size_t)cap, sizeof(*r->created_off_ms));
    r->flags = calloc((size_t)cap, sizeof(*r->flags));
    r->nseconds = (int)(o->warmup_s + o->duration_s + o->drain_timeout_s) + 3600 * 4;
    r->per_second = calloc((size_t)r->nseconds, sizeof(*r->per_second));
    if (!r->created_off_ms || !r->flags || !r->per_second) {
        fprintf(stderr, "ow-loadgen: out of memory\n");
        return -1;
    }
    return 0;
}

static int report_write_file(const char *path, const char *text) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fputs(text, f);
    fputc('\n', f);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv) {
    static run_t run;
    run_t *r = &run;
    if (options_parse(argc, argv, &r->o) < 0) return 2;
    signal(SIGINT, loadgen_on_signal);
    signal(SIGTERM, loadgen_on_signal);
    pthread_mutex_init(&r->lock, NULL);
    for (int p = 0; p < LOADGEN_MAX_PARTITIONS; p++) r->min_offset[p][0] = r->min_offset[p][1] = -1;
    if (getrandom(&r->rng, sizeof(r->rng), 0) != sizeof(r->rng) || r->rng == 0)
        r->rng = (uint64_t)clock_real_us() ^ ((uint64_t)getpid() << 40) ^ 0x9E3779B97F4A7C15ULL;
    if (r->o.consume_only) {
        snprintf(r->tag_hex, sizeof(r->tag_hex), "%s", r->o.tag);
        for (int i = 0; i < 8; i++)
            if (id_hex_value(r->tag_hex[i]) < 0) {
                fprintf(stderr, "ow-loadgen: --tag wants 8 hex digits\n");
                return 2;
            }
    } else {
        r->tag = (uint32_t)(id_rng_next(&r->rng) >> 32);
        snprintf(r->tag_hex, sizeof(r->tag_hex), "%08" PRIx32, r->tag);
    }
    if (run_allocate(r) < 0) return 1;
    r->start_real_ms = clock_real_us() / 1000;
    r->start_mono_us = clock_mono_us();
    fprintf(stderr, "ow-loadgen: run tag %s\n", r->tag_hex);

    pthread_t consumer_thread;
    int have_consumer = !r->o.produce_only;
    if (have_consumer) {
        r->consumer = kafka_consumer_new(r);
        if (!r->consumer || kafka_assign_at_end(r) < 0) return 1;
        if (pthread_create(&consumer_thread, NULL, kafka_consume_loop, r) != 0) return 1;
    }
    if (!r->o.consume_only) {
        r->producer = kafka_producer_new(r);
        if (!r->producer) return 1;
        /* Connect and learn the intent topics before the clock starts. */
        if (kafka_partitions(r->producer, r->o.topic_bot) <= 0 ||
            (r->o.users > 0 && kafka_partitions(r->producer, r->o.topic_user) <= 0)) {
            fprintf(stderr, "ow-loadgen: no metadata for the intent topics\n");
            return 1;
        }
    }
    if (r->o.ready_file && report_write_file(r->o.ready_file, r->tag_hex) != 0) {
        fprintf(stderr, "ow-loadgen: cannot write %s\n", r->o.ready_file);
        return 1;
    }
    /* The run's clock starts now (after the connection work). */
    r->start_real_ms = clock_real_us() / 1000;
    r->start_mono_us = clock_mono_us();

    int rc = 0;
    long long lost = 0;
    long long want = 0;
    if (!r->o.consume_only) {
        if (produce_run(r) < 0) rc = 1;
        want = atomic_load(&r->sent);
        if (r->o.produce_only) {
            lost = produce_check_retained(r);
            if (atomic_load(&r->delivered) != want || lost > 0) {
                fprintf(stderr, "ow-loadgen: %lld of %lld delivered, %lld dropped by the broker\n",
                        (long long)atomic_load(&r->delivered), want, lost);
                rc = 1;
            }
        }
    } else {
        want = r->o.expect;
        r->produce_end_mono_us = clock_mono_us();
    }
    int complete = 1;
    if (have_consumer) {
        /* Wait for every outcome, at most --drain-timeout after the last
         * outcome or the end of producing, whichever is later. */
        int64_t last_progress = clock_mono_us();
        long long seen = -1;
        while (!loadgen_interrupted && atomic_load(&r->terminal) < want) {
            long long t = atomic_load(&r->terminal);
            if (t != seen) {
                seen = t;
                last_progress = clock_mono_us();
            }
            if (clock_mono_us() - last_progress > (int64_t)(r->o.drain_timeout_s * 1e6)) break;
            usleep(20000);
        }
        complete = atomic_load(&r->terminal) >= want;
        atomic_store(&r->stop_consumer, 1);
        pthread_join(consumer_thread, NULL);
        if (!complete) {
            fprintf(stderr, "ow-loadgen: %lld of %lld intents reached an outcome\n",
                    (long long)atomic_load(&r->terminal), want);
            rc = rc ? rc : 3;
        }
    }
    json_t *rep = report_build(r, lost, complete);
    char *text = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (r->o.json_out) {
        if (report_write_file(r->o.json_out, text) != 0) {
            fprintf(stderr, "ow-loadgen: cannot write %s\n", r->o.json_out);
            rc = 1;
        }
    } else {
        puts(text);
    }
    json_t *t = json_object_get(rep, "throughput");
    json_t *l = json_object_get(rep, "latency_created_to_accepted");
    json_t *p = json_object_get(rep, "producer");
    fprintf(stderr, "ow-loadgen: tag %s sent %lld outcomes %lld", r->tag_hex,
            (long long)atomic_load(&r->sent), (long long)atomic_load(&r->terminal));
    if (p) fprintf(stderr, " send %.0f/s", json_real_value(json_object_get(p, "send_rate_per_s")));
    if (t)
        fprintf(stderr, " throughput %.1f/s", json_real_value(json_object_get(t, "intents_per_s")));
    if (l)
        fprintf(stderr, " accepted p50 %.1f p99 %.1f max %.1f ms",
                json_real_value(json_object_get(l, "p50_ms")),
                json_real_value(json_object_get(l, "p99_ms")),
                json_real_value(json_object_get(l, "max_ms")));
    fputc('\n', stderr);
    free(text);
    json_decref(rep);
    if (r->consumer) {
        rd_kafka_consumer_close(r->consumer);
        rd_kafka_destroy(r->consumer);
    }
    if (r->producer) {
        rd_kafka_flush(r->producer, 5000);
        rd_kafka_destroy(r->producer);
    }
    free(r->created_off_ms);
    free((void *)r->flags);
    free(r->per_second);
    free(r->lat);
    return rc;
}
