/* faults.c -- fault settings and per-request draws (see faults.h). */
#include "faults.h"

#include <stdio.h>
#include <string.h>

#define FAULTS_DEFAULT_STATUS 503

void faults_init(faults_t *f, rng_t *rng)
{
    pthread_mutex_init(&f->lock, NULL);
    f->rng = rng;
    memset(&f->s, 0, sizeof(f->s));
    f->s.error_status = FAULTS_DEFAULT_STATUS;
    f->outage_until_ms = 0;
    f->stream_silent_until_ms = 0;
}

void faults_destroy(faults_t *f)
{
    pthread_mutex_destroy(&f->lock);
}

void faults_reset(faults_t *f)
{
    pthread_mutex_lock(&f->lock);
    memset(&f->s, 0, sizeof(f->s));
    f->s.error_status = FAULTS_DEFAULT_STATUS;
    f->outage_until_ms = 0;
    f->stream_silent_until_ms = 0;
    pthread_mutex_unlock(&f->lock);
}

static int faults_rate(const json_t *body, const char *name, double *out, char *err,
                       size_t errlen)
{
    const json_t *v = json_object_get(body, name);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
        snprintf(err, errlen, "%s must be a number from 0 to 1", name);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

static int faults_ms(const json_t *body, const char *name, int64_t *out, char *err,
                     size_t errlen)
{
    const json_t *v = json_object_get(body, name);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > 24LL * 3600 * 1000) {
        snprintf(err, errlen, "%s must be an integer number of milliseconds (0 to 1 day)", name);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int faults_parse(const json_t *body, faults_settings_t *s, char *err, size_t errlen)
{
    static const char *const known[] = {"error_rate", "error_status", "latency_ms",
                                        "hang_rate", "drop_response_rate", "outage_ms",
                                        "stream_drop", "stream_silent_ms"};
    memset(s, 0, sizeof(*s));
    s->error_status = FAULTS_DEFAULT_STATUS;
    if (!json_is_object(body)) {
        snprintf(err, errlen, "body must be a JSON object");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)body, key, value) {
        size_t i = 0;
        while (i < sizeof(known) / sizeof(known[0]) && strcmp(key, known[i]) != 0)
            i++;
        if (i == sizeof(known) / sizeof(known[0])) {
            snprintf(err, errlen, "unknown field %.64s", key);
            return -1;
        }
    }
    if (faults_rate(body, "error_rate", &s->error_rate, err, errlen) ||
        faults_rate(body, "hang_rate", &s->hang_rate, err, errlen) ||
        faults_rate(body, "drop_response_rate", &s->drop_response_rate, err, errlen) ||
        faults_ms(body, "latency_ms", &s->latency_ms, err, errlen) ||
        faults_ms(body, "outage_ms", &s->outage_ms, err, errlen) ||
        faults_ms(body, "stream_silent_ms", &s->stream_silent_ms, err, errlen))
        return -1;
    const json_t *v = json_object_get(body, "stream_drop");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_boolean(v)) {
            snprintf(err, errlen, "stream_drop must be a boolean");
            return -1;
        }
        s->stream_drop = json_is_true(v);
    }
    v = json_object_get(body, "error_status");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 400 || json_integer_value(v) > 599) {
            snprintf(err, errlen, "error_status must be an HTTP status from 400 to 599");
            return -1;
        }
        s->error_status = (int)json_integer_value(v);
    }
    return 0;
}

void faults_set(faults_t *f, const faults_settings_t *s, int64_t now_ms)
{
    pthread_mutex_lock(&f->lock);
    f->s = *s;
    f->s.stream_drop = 0; /* an action, not a setting */
    f->outage_until_ms = s->outage_ms > 0 ? now_ms + s->outage_ms : 0;
    f->stream_silent_until_ms = s->stream_silent_ms > 0 ? now_ms + s->stream_silent_ms : 0;
    pthread_mutex_unlock(&f->lock);
}

json_t *faults_to_json(faults_t *f, int64_t now_ms)
{
    pthread_mutex_lock(&f->lock);
    faults_settings_t s = f->s;
    int64_t left = f->outage_until_ms > now_ms ? f->outage_until_ms - now_ms : 0;
    int64_t silent = f->stream_silent_until_ms > now_ms ? f->stream_silent_until_ms - now_ms : 0;
    pthread_mutex_unlock(&f->lock);
    json_t *j = json_object();
    json_object_set_new(j, "error_rate", json_real(s.error_rate));
    json_object_set_new(j, "error_status", json_integer(s.error_status));
    json_object_set_new(j, "latency_ms", json_integer(s.latency_ms));
    json_object_set_new(j, "hang_rate", json_real(s.hang_rate));
    json_object_set_new(j, "drop_response_rate", json_real(s.drop_response_rate));
    json_object_set_new(j, "outage_ms", json_integer(s.outage_ms));
    json_object_set_new(j, "outage_remaining_ms", json_integer(left));
    json_object_set_new(j, "stream_silent_ms", json_integer(s.stream_silent_ms));
    json_object_set_new(j, "stream_silent_remaining_ms", json_integer(silent));
    return j;
}

/* 1 with probability p. */
static int faults_draw(faults_t *f, double p)
{
    if (p <= 0)
        return 0;
    if (p >= 1)
        return 1;
    return rng_unit(f->rng) < p;
}

void faults_plan(faults_t *f, int64_t now_ms, faults_plan_t *plan)
{
    pthread_mutex_lock(&f->lock);
    faults_settings_t s = f->s;
    int in_outage = f->outage_until_ms > now_ms;
    pthread_mutex_unlock(&f->lock);
    memset(plan, 0, sizeof(*plan));
    plan->hang = faults_draw(f, s.hang_rate);
    plan->latency_ms = s.latency_ms;
    if (in_outage) {
        plan->fail_status = s.error_status;
        plan->outage = 1;
    } else if (faults_draw(f, s.error_rate)) {
        plan->fail_status = s.error_status;
    }
    plan->drop = faults_draw(f, s.drop_response_rate);
}
