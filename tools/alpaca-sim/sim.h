/* sim.h -- the simulator's context: settings and every piece of state.
 *
 * One sim_t lives in main(); request threads reach it through the HTTP
 * server.  It owns the parts (book, rate limiter, faults, counters, random
 * generator) and the stop signal that wakes requests sleeping for an
 * injected latency or hang, so that shutdown never waits for them. */
#ifndef SIM_H
#define SIM_H

#include <pthread.h>
#include <stdint.h>

#include "book.h"
#include "faults.h"
#include "ratelimit.h"
#include "rng.h"
#include "stats.h"

typedef struct sim_config {
    char host[64];
    int port;
    uint64_t seed;
    int auth_required;          /* ALPACA_API_KEY_ID was set */
    char key_id[256];
    char secret_key[256];
    int calls_per_min;          /* ALPACA_CALLS_PER_MIN */
    int64_t rate_period_ms;     /* RATE_PERIOD_MS */
    book_settings_t start;      /* --tick-ms, --fill-on-submit, --no-walk, SIM_* */
    int stream_text_frames;     /* --stream-frames text: the stream's frames are text */
} sim_config_t;

typedef struct sim {
    sim_config_t cfg;
    rng_t rng;
    book_t *book;
    ratelimit_t ratelimit;
    faults_t faults;
    stats_t stats;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;   /* signalled on stop */
    int stopping;
    struct stream *stream;      /* the trade_updates hub (stream.h), set by stream_create;
                                 * NULL without one.  The model never calls it: the
                                 * control API does (faults, reset, stats) */
} sim_t;

/* Returns 0, or -1 when out of memory. */
int sim_init(sim_t *sim, const sim_config_t *cfg);
void sim_destroy(sim_t *sim);
/* POST /_sim/reset: orders, positions, faults, counters, rate-limit logs. */
void sim_reset(sim_t *sim);
/* Sleeps ms milliseconds unless the simulator stops first.  Returns 1 if
 * it is stopping. */
int sim_sleep_ms(sim_t *sim, int64_t ms);
/* Wakes every sleeper; later sleeps return at once. */
void sim_begin_stop(sim_t *sim);

#endif
