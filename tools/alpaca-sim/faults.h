/* faults.h -- injected failures for the worker's resilience tests.
 *
 * POST /_sim/faults sets them (omitted fields reset to 0); each /v2 request
 * then draws its fate once, in this order:
 *   hang     (hang_rate)  the request is never answered: its thread waits
 *                         60 s or until shutdown, then closes the connection
 *   latency  (latency_ms) the answer is delayed
 *   outage   (outage_ms)  until then, every request fails with error_status
 *   error    (error_rate) the request fails with error_status
 *   drop     (drop_response_rate, POST /v2/orders only) the order is made,
 *                         then the connection is closed without an answer
 * and two for the trade_updates stream (stream.c carries them out):
 *   stream_drop       true: every stream connection open now is closed at
 *                     once, without a close frame (an action, not a setting:
 *                     never kept, never shown)
 *   stream_silent_ms  every stream connection open now gets nothing (no
 *                     event, pong or answer) for that long; 0 ends a silence
 * Thread-safe (own lock). */
#ifndef FAULTS_H
#define FAULTS_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "rng.h"

typedef struct faults_settings {
    double error_rate;
    int error_status;
    int64_t latency_ms;
    double hang_rate;
    double drop_response_rate;
    int64_t outage_ms;
    int stream_drop;
    int64_t stream_silent_ms;
} faults_settings_t;

typedef struct faults {
    pthread_mutex_t lock;
    rng_t *rng;
    faults_settings_t s;
    int64_t outage_until_ms;   /* monotonic */
    int64_t stream_silent_until_ms;
} faults_t;

typedef struct faults_plan {
    int hang;
    int64_t latency_ms;
    int fail_status;           /* 0, or the status to fail with */
    int outage;                /* fail_status comes from the outage */
    int drop;                  /* for POST /v2/orders: drop the answer */
} faults_plan_t;

void faults_init(faults_t *f, rng_t *rng);
void faults_destroy(faults_t *f);
void faults_reset(faults_t *f);
/* Parses a POST /_sim/faults body.  Returns 0, or -1 with a message in err. */
int faults_parse(const json_t *body, faults_settings_t *s, char *err, size_t errlen);
void faults_set(faults_t *f, const faults_settings_t *s, int64_t now_ms);
/* The current settings, with outage_remaining_ms and
 * stream_silent_remaining_ms. */
json_t *faults_to_json(faults_t *f, int64_t now_ms);
void faults_plan(faults_t *f, int64_t now_ms, faults_plan_t *plan);

#endif
