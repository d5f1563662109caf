/* report.c -- what an ow-loadgen run reports (see report.h).
 *
 * Owns: the JSON result and the summary line.  Design:
 *  - throughput is judged on fills: "intents_per_s" is the fills read in the
 *    steady window [warmup, warmup + duration) divided by its length;
 *    rejections ("rejections_per_s") and every terminal outcome
 *    ("outcomes_per_s") are reported apart, so that a worker that rejects
 *    fast cannot meet a throughput target;
 *  - latency percentiles are over the intents created in the steady window
 *    (nearest rank of the sorted read-back latencies);
 *  - "pending" and the oldest intent not yet accepted say what the run left
 *    behind.
 * Each section has a function of its own; report_build puts them together. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "timefmt.h"

static void report_set_int(json_t *o, const char *k, long long v) {
    json_object_set_new(o, k, json_integer((json_int_t)v));
}

static void report_set_real(json_t *o, const char *k, double v) {
    json_object_set_new(o, k, json_real(v));
}

static json_t *report_config(const run_t *r) {
    json_t *cfg = json_object();
    json_object_set_new(cfg, "rate", r->o.rate > 0 ? json_real(r->o.rate) : json_string("max"));
    report_set_real(cfg, "warmup_s", r->o.warmup_s);
    report_set_real(cfg, "duration_s", r->o.duration_s);
    report_set_int(cfg, "count", r->o.count);
    report_set_int(cfg, "bots", r->o.bots);
    report_set_int(cfg, "users", r->o.users);
    report_set_int(cfg, "window", r->o.window);
    report_set_int(cfg, "expect", r->o.expect);
    return cfg;
}

static json_t *report_producer(run_t *r, long long lost) {
    json_t *p = json_object();
    long long sent = atomic_load(&r->sent);
    double secs = (double)(r->produce_end_mono_us - r->produce_begin_mono_us) / 1e6;
    report_set_int(p, "sent", sent);
    report_set_int(p, "delivered", atomic_load(&r->delivered));
    report_set_int(p, "delivery_failed", atomic_load(&r->delivery_failed));
    report_set_real(p, "seconds", secs);
    report_set_real(p, "send_rate_per_s", secs > 0 ? sent / secs : 0);
    /* time not spent waiting on the closed-loop window: the producer's own rate */
    double busy = secs - r->window_wait_s;
    report_set_real(p, "unthrottled_send_rate_per_s", busy > 0 ? sent / busy : 0);
    report_set_real(p, "window_wait_s", r->window_wait_s);
    report_set_int(p, "queue_full_waits", r->queue_full_waits);
    report_set_real(p, "pacing_max_late_ms", r->pacing_max_late_ms);
    if (r->o.produce_only) report_set_int(p, "lost_by_broker", lost);
    return p;
}

/* The outcome counts, the reasons and the per-second series (lock held). */
static json_t *report_consumer(run_t *r, int complete) {
    json_t *c = json_object();
    long long term = atomic_load(&r->terminal);
    report_set_int(c, "terminal", term);
    report_set_int(c, "filled", atomic_load(&r->filled));
    report_set_int(c, "accepted", atomic_load(&r->accepted));
    report_set_int(c, "rejected", atomic_load(&r->rejected));
    report_set_int(c, "partial_fills", atomic_load(&r->partial_fills));
    report_set_int(c, "duplicate_events", atomic_load(&r->duplicate_events));
    report_set_int(c, "foreign_events", atomic_load(&r->foreign_events));
    report_set_int(c, "unreadable_events", atomic_load(&r->unreadable_events));
    report_set_int(c, "offset_resets", atomic_load(&r->offset_resets));
    report_set_int(c, "consumer_errors", atomic_load(&r->consumer_errors));
    json_object_set_new(c, "complete", json_boolean(complete));
    json_t *reasons = json_object();
    for (int i = 0; i < r->nreasons; i++)
        report_set_int(reasons, r->reasons[i].reason, r->reasons[i].n);
    json_object_set_new(c, "non_fill_outcomes", reasons);
    double first = r->first_terminal_mono_us
                       ? (double)(r->first_terminal_mono_us - r->start_mono_us) / 1e6 : -1;
    double last = r->last_terminal_mono_us
                      ? (double)(r->last_terminal_mono_us - r->start_mono_us) / 1e6 : -1;
    report_set_real(c, "first_outcome_s", first);
    report_set_real(c, "last_outcome_s", last);
    if (last > first && term > 1)
        report_set_real(c, "outcome_rate_per_s", (double)(term - 1) / (last - first));
    json_t *ps = json_array();
    int maxsec = last >= 0 ? (int)last + 1 : 0;
    for (int s = 0; s < maxsec && s < r->nseconds; s++)
        json_array_append_new(ps, json_integer(r->per_second[s]));
    json_object_set_new(c, "outcomes_per_second", ps);
    return c;
}

/* Fills, rejections and all outcomes over the steady window (lock held). */
static json_t *report_throughput(const run_t *r) {
    json_t *t = json_object();
    double w = r->o.duration_s;
    json_object_set_new(t, "what", json_string("outcomes read in the steady window / its "
                                               "length; intents_per_s counts fills only"));
    report_set_real(t, "window_s", w);
    report_set_int(t, "terminal_in_window", r->terminal_in_window);
    report_set_int(t, "fills_in_window", r->fills_in_window);
    report_set_int(t, "rejections_in_window", r->rejections_in_window);
    report_set_real(t, "intents_per_s", w > 0 ? (double)r->fills_in_window / w : 0);
    report_set_real(t, "rejections_per_s", w > 0 ? (double)r->rejections_in_window / w : 0);
    report_set_real(t, "outcomes_per_s", w > 0 ? (double)r->terminal_in_window / w : 0);
    return t;
}

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

/* Sorts l (the loadgen holds the run's lock). */
json_t *report_latency(run_lat_t *l, const char *what) {
    if (l->n > 0) qsort(l->v, l->n, sizeof(*l->v), report_cmp_u32);
    json_t *j = json_object();
    json_object_set_new(j, "what", json_string(what));
    report_set_int(j, "n", (long long)l->n);
    report_set_real(j, "p50_ms", report_percentile_ms(l->v, l->n, 0.50));
    report_set_real(j, "p90_ms", report_percentile_ms(l->v, l->n, 0.90));
    report_set_real(j, "p99_ms", report_percentile_ms(l->v, l->n, 0.99));
    report_set_real(j, "max_ms", l->n ? l->v[l->n - 1] / 1000.0 : -1);
    report_set_real(j, "max_ms_all_intents", l->max_us_all / 1000.0);
    return j;
}

/* The intents still without an outcome, and the age of the oldest not yet
 * accepted, into the consumer section c. */
static void report_pending(run_t *r, json_t *c) {
    long long sent = atomic_load(&r->sent);
    int64_t now = clock_real_us();
    long long pending = 0;
    int64_t oldest = -1;
    for (long long s = 0; s < sent; s++) {
        uint8_t f = atomic_load(&r->flags[s]);
        if (f & RUN_TERMINAL) continue;
        pending++;
        if (!(f & RUN_ACCEPTED) && oldest < 0) oldest = (now - r->sent_real_us[s]) / 1000;
    }
    report_set_int(c, "pending", pending);
    report_set_int(c, "oldest_unaccepted_age_ms", oldest);
}

json_t *report_build(run_t *r, long long lost, int complete) {
    json_t *j = json_object();
    const char *mode = r->o.consume_only ? "consume-only" : r->o.produce_only ? "produce-only"
                                                                              : "load";
    json_object_set_new(j, "mode", json_string(mode));
    json_object_set_new(j, "run_tag", json_string(r->tag_hex));
    json_object_set_new(j, "librdkafka", json_string(rd_kafka_version_str()));
    json_object_set_new(j, "jansson", json_string(JANSSON_VERSION));
    char started[32];
    timefmt_format_rfc3339(r->start_real_ms, started, sizeof(started));
    json_object_set_new(j, "started_at", json_string(started));
    json_object_set_new(j, "config", report_config(r));
    if (!r->o.consume_only) json_object_set_new(j, "producer", report_producer(r, lost));
    if (r->o.produce_only) return j;
    pthread_mutex_lock(&r->lock);
    json_t *c = report_consumer(r, complete);
    json_object_set_new(j, "consumer", c);
    if (!r->o.consume_only) {
        json_object_set_new(j, "throughput", report_throughput(r));
        const struct {
            const char *key;
            run_lat_t *lat;
            const char *what;
        } lats[] = {
            {"latency_created_to_accepted", &r->lat_accepted,
             "accepted event read back - the intent's publication (us), intents created in "
             "the steady window"},
            {"latency_created_to_fill", &r->lat_fill,
             "fill event read back - the intent's publication, intents created in the "
             "steady window"},
            {"result_hop_accepted", &r->hop_accepted,
             "accepted event read back - its Kafka timestamp (the worker's produce call, ms): "
             "the result topic's hop"},
            {"result_hop_fill", &r->hop_fill,
             "fill event read back - its Kafka timestamp: the result topic's hop"},
        };
        for (size_t k = 0; k < sizeof(lats) / sizeof(lats[0]); k++)
            json_object_set_new(j, lats[k].key, report_latency(lats[k].lat, lats[k].what));
        report_pending(r, c);
    }
    pthread_mutex_unlock(&r->lock);
    return j;
}

static double report_real(json_t *section, const char *k) {
    return json_real_value(json_object_get(section, k));
}

void report_summary(FILE *out, const run_t *r, json_t *rep) {
    json_t *t = json_object_get(rep, "throughput");
    json_t *l = json_object_get(rep, "latency_created_to_accepted");
    json_t *p = json_object_get(rep, "producer");
    fprintf(out, "ow-loadgen: tag %s sent %lld outcomes %lld (fills %lld, rejections %lld)",
            r->tag_hex, (long long)atomic_load(&r->sent), (long long)atomic_load(&r->terminal),
            (long long)atomic_load(&r->filled), (long long)atomic_load(&r->rejected));
    if (p) fprintf(out, " send %.0f/s", report_real(p, "send_rate_per_s"));
    if (t)
        fprintf(out, " throughput %.1f fills/s (rejections %.1f/s)", report_real(t, "intents_per_s"),
                report_real(t, "rejections_per_s"));
    if (l)
        fprintf(out, " accepted p50 %.1f p99 %.1f max %.1f ms", report_real(l, "p50_ms"),
                report_real(l, "p99_ms"), report_real(l, "max_ms"));
    json_t *f = json_object_get(rep, "latency_created_to_fill");
    if (f && json_integer_value(json_object_get(f, "n")) > 0)
        fprintf(out, " fill p50 %.1f p99 %.1f max %.1f ms", report_real(f, "p50_ms"),
                report_real(f, "p99_ms"), report_real(f, "max_ms"));
    fputc('\n', out);
}

int report_write_file(const char *path, const char *text) {
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) return -1;
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fputs(text, f);
    fputc('\n', f);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}
