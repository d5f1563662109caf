/* metrics.c -- the registry behind metrics.h.
 *
 * Owns every metric family the worker exposes: its name, type, help text,
 * label names and, for histograms, the bucket bounds, in one table below,
 * so that the names and their meaning are read in one place (README's
 * operations section lists the same).  Names follow Prometheus conventions:
 * an order_worker_ prefix, base units in the name (_seconds, _messages),
 * _total on counters.
 *
 * A series is one combination of label values; each family keeps its
 * series in a small array found by comparing the rendered label text (a
 * family has a handful to a few hundred series, and updates are far rarer
 * than CPU cycles).  One mutex guards the whole registry: an update holds
 * it for a string comparison and an addition, a scrape for the rendering. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

typedef enum { COUNTER, GAUGE, HISTOGRAM } kind_t;

/* Latencies from a tenth of a millisecond to a minute (placements held by
 * a breaker or a budget can take that long), fine enough below 50 ms to
 * tell single milliseconds apart: a stage of the pipeline takes from a few
 * hundred microseconds to a few milliseconds, and a figure made of them
 * must be explainable stage by stage. */
static const double seconds_buckets[] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075,
    0.01,   0.015,   0.02,   0.025, 0.035,  0.05,  0.075, 0.1,   0.15,  0.25,
    0.5,    1,       2.5,    5,     10,     30,    60};
#define N_BUCKETS (sizeof(seconds_buckets) / sizeof(seconds_buckets[0]))

typedef struct family {
    const char *name;
    kind_t kind;
    const char *help;
    const char *label[2]; /* NULL when unused */
} family_t;

static const family_t families[M_COUNT] = {
    [M_INTENTS_CONSUMED] = {"order_worker_intents_consumed_total", COUNTER,
                            "Messages taken from the intent topics.", {"topic", NULL}},
    [M_INTENT_SECONDS] = {"order_worker_intent_processing_seconds", HISTOGRAM,
                          "From an intent's consumption to its first durable outcome "
                          "(rejection published, or order accepted by the broker).",
                          {"topic", NULL}},
    [M_IN_FLIGHT] = {"order_worker_intents_in_flight", GAUGE,
                     "Intents consumed and not yet at a durable outcome.", {NULL, NULL}},
    [M_PARTITIONS_ASSIGNED] = {"order_worker_partitions_assigned", GAUGE,
                               "Intent partitions assigned to this replica.", {NULL, NULL}},
    [M_PARTITIONS_PAUSED] = {"order_worker_partitions_paused", GAUGE,
                             "Assigned partitions paused for back-pressure (too many in "
                             "flight, ledger down, order breaker open).",
                             {NULL, NULL}},
    [M_CONSUMER_LAG] = {"order_worker_consumer_lag_messages", GAUGE,
                        "Messages between a partition's high watermark and the committed "
                        "offset (librdkafka statistics, consumer_lag).",
                        {"topic", "partition"}},
    [M_EVENTS_PUBLISHED] = {"order_worker_events_published_total", COUNTER,
                            "Result events acknowledged by Kafka, by topic and event type "
                            "(accepted, partial_fill, fill, canceled, expired, rejected).",
                            {"topic", "type"}},
    [M_OUTCOMES] = {"order_worker_outcomes_total", COUNTER,
                    "Terminal outcomes published: type fill, canceled, expired or rejected; "
                    "reason is the rejection reason (empty otherwise).",
                    {"type", "reason"}},
    [M_INTENTS_SETTLED] = {"order_worker_intents_settled_total", COUNTER,
                           "Intents taken to their outcome, by path: batch (recorded, placed "
                           "and settled together with other new intents of its lane) or "
                           "single (one by one: redeliveries, invalid intents, retries).",
                           {"path", NULL}},
    [M_DEAD_LETTERS] = {"order_worker_dead_letters_total", COUNTER,
                        "Messages sent to the DLQ, by reason.", {"reason", NULL}},
    [M_STAGE_SECONDS] = {"order_worker_stage_seconds", HISTOGRAM,
                         "Time spent in each stage of an intent's way (path intake: kafka_in, "
                         "lane_wait, decode, ledger_record, risk, quota, submitting, post, "
                         "outcome_commit, produce_ack) and of an order's events (path follow: "
                         "stream_in, event_wait, lock, outcome_commit, produce_ack, poll); "
                         "one observation per intent or event, a batch's shared step counted "
                         "once for each of its intents.",
                         {"path", "stage"}},
    [M_ALPACA_REQUESTS] = {"order_worker_alpaca_requests_total", COUNTER,
                           "Requests to Alpaca by operation and answer: the HTTP status, "
                           "'error' when none came (timeout, connection), 'refused' when the "
                           "circuit breaker did not let it out.",
                           {"operation", "status"}},
    [M_ALPACA_SECONDS] = {"order_worker_alpaca_request_seconds", HISTOGRAM,
                          "Duration of requests to Alpaca, by operation.",
                          {"operation", NULL}},
    [M_BREAKER_STATE] = {"order_worker_breaker_state", GAUGE,
                         "1 for the current state of each operation's circuit breaker "
                         "(closed, open, half_open), 0 for the others.",
                         {"operation", "state"}},
    [M_BREAKER_TRANSITIONS] = {"order_worker_breaker_transitions_total", COUNTER,
                               "Circuit breaker state changes, by operation and new state.",
                               {"operation", "to"}},
    [M_BUDGET_USED] = {"order_worker_alpaca_budget_used_calls", GAUGE,
                       "Calls in the fleet's shared Alpaca window at this replica's last "
                       "request for a token.",
                       {NULL, NULL}},
    [M_BUDGET_LIMIT] = {"order_worker_alpaca_budget_limit_calls", GAUGE,
                        "ALPACA_CALLS_PER_MIN: the shared window's limit.", {NULL, NULL}},
    [M_BUDGET_GRANTS] = {"order_worker_alpaca_budget_grants_total", COUNTER,
                         "Tokens of the shared Alpaca budget granted, by priority "
                         "(cancel, user, bot, follow).",
                         {"priority", NULL}},
    [M_BUDGET_WAIT_SECONDS] = {"order_worker_alpaca_budget_wait_seconds", HISTOGRAM,
                               "Time spent waiting for a token of the shared budget.",
                               {"priority", NULL}},
    [M_BUDGET_TIMEOUTS] = {"order_worker_alpaca_budget_timeouts_total", COUNTER,
                           "Waits for a token that ended at the caller's deadline.",
                           {"priority", NULL}},
    [M_BUDGET_LEASES] = {"order_worker_alpaca_budget_leases_total", COUNTER,
                         "Blocks of tokens of the shared Alpaca budget leased to this "
                         "replica at once (ALPACA_BUDGET_LEASE_TOKENS each), while the "
                         "fleet's window was far from its ceiling and nobody waited.",
                         {NULL, NULL}},
    [M_BUDGET_LEASED_TOKENS] = {"order_worker_alpaca_budget_leased_tokens_total", COUNTER,
                                "Tokens of leased blocks, by fate: spent (handed to a call "
                                "of this replica), returned (unspent when the block ended, "
                                "taken out of the shared window again).",
                                {"fate", NULL}},
    [M_CACHE_REQUESTS] = {"order_worker_cache_requests_total", COUNTER,
                          "Market data lookups by kind (quote, bars) and result: hit (fresh "
                          "from Redis), miss (fetched from Alpaca), stale (Alpaca failed; "
                          "served from the cache past its freshness).",
                          {"kind", "result"}},
    [M_STREAM_LISTENING] = {"order_worker_stream_listening", GAUGE,
                            "1 while Alpaca's trade_updates stream is authenticated and "
                            "listening, 0 otherwise.", {NULL, NULL}},
    [M_STREAM_EVENTS] = {"order_worker_stream_events_total", COUNTER,
                         "trade_updates messages received, by event (new, fill, "
                         "partial_fill, canceled, expired, ...; other: a name not known "
                         "to the worker; unreadable: a message that could not be read).",
                         {"event", NULL}},
    [M_STREAM_CONNECTS] = {"order_worker_stream_connects_total", COUNTER,
                           "Connections to the trade_updates stream by result: listening "
                           "(authenticated and listening), unauthorized (keys refused), "
                           "failed (ended before listening), and lost for a listening "
                           "session that ended (silent, closed, broken).",
                           {"result", NULL}},
    [M_STREAM_QUEUE_DROPPED] = {"order_worker_stream_queue_dropped_total", COUNTER,
                                "trade_updates dropped because the consumer's queue was "
                                "full (each one makes the consumer reconcile).",
                                {NULL, NULL}},
    [M_FOLLOW_MODE] = {"order_worker_follow_mode", GAUGE,
                       "How this replica follows accepted orders: 1 for the mode on, 0 "
                       "for the others. stream: order updates from the trade_updates "
                       "stream, REST only to reconcile; poll: the stream is off or down, "
                       "Alpaca is polled; standby: another replica holds the follower's "
                       "lease.", {"mode", NULL}},
    [M_FOLLOW_RECONCILES] = {"order_worker_follow_reconciliations_total", COUNTER,
                             "REST reconciliations while the stream listens, by why: "
                             "listening (a new stream session: events may have been "
                             "missed), lease (this replica took the follower's lease), "
                             "interval (FOLLOW_RECONCILE_MS), lost (an event could not "
                             "be recorded for too long), settle (again after one of those "
                             "while the placements then in progress have not all moved on).",
                             {"why", NULL}},
    [M_FOLLOW_SETTLED] = {"order_worker_follow_settled_total", COUNTER,
                          "Order updates (stream events or polled snapshots) let go without "
                          "reading the ledger: a lane of this replica had already recorded "
                          "their order's end.", {NULL, NULL}},
    [M_OPERATOR_CANCELS] = {"order_worker_operator_cancels_total", COUNTER,
                            "DELETEs of orders an operator is canceling (intentctl cancel, "
                            "halt --cancel-open), sent by the follower's leader, by result: "
                            "ok (the broker is canceling it), not_found (no such order any "
                            "more), rejected (too late: it is filling or ended), failed "
                            "(not answered: tried again).",
                            {"result", NULL}},
    [M_POSITION_MISMATCH] = {"order_worker_position_mismatch", GAUGE,
                             "Alpaca's net position in a symbol less the ledger's (the sum "
                             "of the worker's filled orders), in shares, at the last "
                             "comparison (POSITION_CHECK_MS); 0 when they agree, counting "
                             "orders in flight.  A position the worker did not create (an "
                             "order placed by hand) is a legitimate difference.  Only the "
                             "replica that made the last comparison has these series.",
                             {"symbol", NULL}},
    [M_POSITION_CHECKS] = {"order_worker_position_checks_total", COUNTER,
                           "Comparisons of the ledger's positions with Alpaca's, by result: "
                           "ok (compared), failed (the ledger or Alpaca could not be read).",
                           {"result", NULL}},
    [M_QUOTA_REFUSALS] = {"order_worker_quota_refusals_total", COUNTER,
                          "Intents refused by a trade quota, by subject (bot, user).",
                          {"subject", NULL}},
    [M_REDIS_ROUND_TRIPS] = {"order_worker_redis_round_trips_total", COUNTER,
                             "Round trips to Redis by use: quota (a lane's quota decisions, "
                             "a batch's all in one), budget (the shared Alpaca budget's "
                             "script, for a token or a block of them).",
                             {"use", NULL}},
    [M_UNAUTHORIZED] = {"order_worker_unauthorized_total", COUNTER,
                        "Intents refused as unauthorized, by why: no_signature, "
                        "bad_signature_format, no_usable_key (unknown bot, or every key "
                        "revoked or past its grace), bad_signature, bot_mismatch, "
                        "user_not_bound.",
                        {"why", NULL}},
    [M_READY] = {"order_worker_ready", GAUGE,
                 "1 when the replica is ready to work (what /readyz answers 200 to), "
                 "0 otherwise; computed at each scrape.", {NULL, NULL}},
    [M_READY_CHECK] = {"order_worker_ready_check", GAUGE,
                       "Each readiness check of /readyz (kafka, consumer, postgres, redis, "
                       "breakers, stopping): 1 ok, 0 failing; computed at each scrape.",
                       {"check", NULL}},
};

typedef struct series {
    char *labels;          /* rendered: k="v",k2="v2" (may be "") */
    double value;          /* counters and gauges; histograms: the sum */
    unsigned long long count;
    unsigned long long bucket[N_BUCKETS]; /* not cumulative */
} series_t;

typedef struct registry {
    series_t *s[M_COUNT];
    size_t n[M_COUNT], cap[M_COUNT];
} registry_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static registry_t reg; /* guarded by lock */

/* ---- text ------------------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t len, cap;
    int failed;
} buf_t;

static void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(buf_t *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* Appends a label value escaped per the text format (\\, \", \n). */
static void buf_label_value(buf_t *b, const char *v) {
    for (; *v; v++) {
        if (*v == '\\') buf_printf(b, "\\\\");
        else if (*v == '"') buf_printf(b, "\\\"");
        else if (*v == '\n') buf_printf(b, "\\n");
        else buf_printf(b, "%c", *v);
    }
}

/* Renders the label set of family f with values l1, l2 into out (malloc'd). */
static char *render_labels(const family_t *f, const char *l1, const char *l2) {
    buf_t b = {0};
    const char *v[2] = {l1, l2};
    buf_printf(&b, "%s", "");
    for (int i = 0; i < 2 && f->label[i]; i++) {
        buf_printf(&b, "%s%s=\"", i ? "," : "", f->label[i]);
        buf_label_value(&b, v[i] ? v[i] : "");
        buf_printf(&b, "\"");
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static void print_value(buf_t *b, double v) {
    if (isnan(v)) buf_printf(b, "NaN");
    else if (isinf(v)) buf_printf(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == (double)(long long)v && fabs(v) < 9e15) buf_printf(b, "%lld", (long long)v);
    else buf_printf(b, "%.15g", v);
}

/* ---- the registry ----------------------------------------------------------- */

/* The series of m with these labels, created if new (caller holds lock).
 * NULL without memory: the update is dropped, never the caller. */
static series_t *find(metric_t m, const char *l1, const char *l2) {
    char *labels = render_labels(&families[m], l1, l2);
    if (!labels) return NULL;
    for (size_t i = 0; i < reg.n[m]; i++) {
        if (!strcmp(reg.s[m][i].labels, labels)) {
            free(labels);
            return &reg.s[m][i];
        }
    }
    if (reg.n[m] == reg.cap[m]) {
        size_t cap = reg.cap[m] ? reg.cap[m] * 2 : 8;
        series_t *ns = realloc(reg.s[m], cap * sizeof(*ns));
        if (!ns) {
            free(labels);
            return NULL;
        }
        reg.s[m] = ns;
        reg.cap[m] = cap;
    }
    series_t *s = &reg.s[m][reg.n[m]++];
    memset(s, 0, sizeof(*s));
    s->labels = labels;
    return s;
}

void metrics_add(metric_t m, double v, const char *l1, const char *l2) {
    if (m < 0 || m >= M_COUNT || families[m].kind == HISTOGRAM) return;
    pthread_mutex_lock(&lock);
    series_t *s = find(m, l1, l2);
    if (s) s->value += v;
    pthread_mutex_unlock(&lock);
}

void metrics_set(metric_t m, double v, const char *l1, const char *l2) {
    if (m < 0 || m >= M_COUNT || families[m].kind != GAUGE) return;
    pthread_mutex_lock(&lock);
    series_t *s = find(m, l1, l2);
    if (s) s->value = v;
    pthread_mutex_unlock(&lock);
}

void metrics_observe_n(metric_t m, double v, int n, const char *l1, const char *l2) {
    if (m < 0 || m >= M_COUNT || families[m].kind != HISTOGRAM || n <= 0) return;
    pthread_mutex_lock(&lock);
    series_t *s = find(m, l1, l2);
    if (s) {
        s->value += v * n;
        s->count += (unsigned long long)n;
        for (size_t i = 0; i < N_BUCKETS; i++) {
            if (v <= seconds_buckets[i]) {
                s->bucket[i] += (unsigned long long)n;
                break;
            }
        }
    }
    pthread_mutex_unlock(&lock);
}

void metrics_observe(metric_t m, double v, const char *l1, const char *l2) {
    metrics_observe_n(m, v, 1, l1, l2);
}

void metrics_stage(const char *path, const char *stage, int64_t since_mono_us, int n) {
    int64_t us = timefmt_mono_us() - since_mono_us;
    metrics_observe_n(M_STAGE_SECONDS, us > 0 ? (double)us / 1e6 : 0, n, path, stage);
}

static void clear_locked(metric_t m) {
    for (size_t i = 0; i < reg.n[m]; i++) free(reg.s[m][i].labels);
    free(reg.s[m]);
    reg.s[m] = NULL;
    reg.n[m] = reg.cap[m] = 0;
}

void metrics_clear(metric_t m) {
    if (m < 0 || m >= M_COUNT) return;
    pthread_mutex_lock(&lock);
    clear_locked(m);
    pthread_mutex_unlock(&lock);
}

static void render_histogram(buf_t *b, const char *name, const series_t *s) {
    const char *sep = *s->labels ? "," : "";
    unsigned long long cum = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        cum += s->bucket[i];
        buf_printf(b, "%s_bucket{%s%sle=\"", name, s->labels, sep);
        print_value(b, seconds_buckets[i]);
        buf_printf(b, "\"} %llu\n", cum);
    }
    buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, s->labels, sep, s->count);
    buf_printf(b, "%s_sum%s%s%s ", name, *s->labels ? "{" : "", s->labels, *s->labels ? "}" : "");
    print_value(b, s->value);
    buf_printf(b, "\n%s_count%s%s%s %llu\n", name, *s->labels ? "{" : "", s->labels,
               *s->labels ? "}" : "", s->count);
}

char *metrics_render(size_t *len) {
    static const char *type_name[] = {"counter", "gauge", "histogram"};
    buf_t b = {0};
    pthread_mutex_lock(&lock);
    for (int m = 0; m < M_COUNT; m++) {
        const family_t *f = &families[m];
        buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                   type_name[f->kind]);
        /* A family without labels always shows its one series, at 0 until
         * it moves; labelled ones show the combinations seen. */
        if (reg.n[m] == 0 && !f->label[0]) {
            if (f->kind == HISTOGRAM) {
                series_t zero = {.labels = ""};
                render_histogram(&b, f->name, &zero);
            } else {
                buf_printf(&b, "%s 0\n", f->name);
            }
        }
        for (size_t i = 0; i < reg.n[m]; i++) {
            const series_t *s = &reg.s[m][i];
            if (f->kind == HISTOGRAM) {
                render_histogram(&b, f->name, s);
                continue;
            }
            buf_printf(&b, "%s%s%s%s ", f->name, *s->labels ? "{" : "", s->labels,
                       *s->labels ? "}" : "");
            print_value(&b, s->value);
            buf_printf(&b, "\n");
        }
    }
    pthread_mutex_unlock(&lock);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

void metrics_free(void) {
    pthread_mutex_lock(&lock);
    for (int m = 0; m < M_COUNT; m++) clear_locked((metric_t)m);
    pthread_mutex_unlock(&lock);
}
