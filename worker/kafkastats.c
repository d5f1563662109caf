/* kafkastats.c -- librdkafka's statistics, read (see kafkastats.h).
 *
 * The document is parsed on librdkafka's thread (the consumer's poll); the
 * brokers' count is read by the admin endpoint's thread, hence the lock.
 * Brokers: the connections to brokers and the group coordinator, without
 * the bootstrap entries (no node id) and librdkafka's internal queue.
 * Lag: a partition this replica fetches ("desired") reports consumer_lag,
 * which is -1 until the group has committed an offset for it; the consumer
 * then starts at the low watermark (auto.offset.reset=earliest), so
 * everything from there is lag. */
#include "kafkastats.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "timefmt.h"

struct kafkastats {
    pthread_mutex_t lock;   /* guards the fields below */
    int64_t at_mono_ms;     /* 0: no document yet */
    int up, known;
};

kafkastats_t *kafkastats_new(void) {
    kafkastats_t *s = calloc(1, sizeof(*s));
    if (s) pthread_mutex_init(&s->lock, NULL);
    return s;
}

void kafkastats_free(kafkastats_t *s) {
    if (!s) return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Counts the broker connections of the document, and those up. */
static void count_brokers(json_t *root, int *up, int *known) {
    const char *name;
    json_t *b;
    *up = *known = 0;
    json_object_foreach(json_object_get(root, "brokers"), name, b) {
        const char *source = json_string_value(json_object_get(b, "source"));
        if (!source || !strcmp(source, "internal") ||
            json_integer_value(json_object_get(b, "nodeid")) < 0)
            continue;
        (*known)++;
        const char *state = json_string_value(json_object_get(b, "state"));
        if (state && !strcmp(state, "UP")) (*up)++;
    }
}

/* Sets the consumer-lag gauge of every partition this replica fetches. */
static void set_lag(json_t *root) {
    metrics_clear(M_CONSUMER_LAG);
    const char *topic;
    json_t *t;
    json_object_foreach(json_object_get(root, "topics"), topic, t) {
        const char *pid;
        json_t *p;
        json_object_foreach(json_object_get(t, "partitions"), pid, p) {
            if (pid[0] == '-' || !json_is_true(json_object_get(p, "desired"))) continue;
            long long lag = json_integer_value(json_object_get(p, "consumer_lag"));
            long long hi = json_integer_value(json_object_get(p, "hi_offset"));
            long long lo = json_integer_value(json_object_get(p, "lo_offset"));
            long long committed = json_integer_value(json_object_get(p, "committed_offset"));
            if (lag < 0 && committed < 0 && hi >= 0 && lo >= 0) lag = hi - lo;
            if (lag >= 0) metrics_set(M_CONSUMER_LAG, (double)lag, topic, pid);
        }
    }
}

void kafkastats_update(kafkastats_t *s, const char *json, size_t len) {
    json_t *root = json_loadb(json, len, 0, NULL);
    if (!root) return;
    int up, known;
    count_brokers(root, &up, &known);
    set_lag(root);
    json_decref(root);
    pthread_mutex_lock(&s->lock);
    s->at_mono_ms = timefmt_mono_ms();
    s->up = up;
    s->known = known;
    pthread_mutex_unlock(&s->lock);
}

void kafkastats_read(kafkastats_t *s, int64_t *at_mono_ms, int *up, int *known) {
    pthread_mutex_lock(&s->lock);
    *at_mono_ms = s->at_mono_ms;
    *up = s->up;
    *known = s->known;
    pthread_mutex_unlock(&s->lock);
}
