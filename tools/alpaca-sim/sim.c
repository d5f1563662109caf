/* sim.c -- the simulator's context and its stop signal (see sim.h). */
#include "sim.h"

#include <string.h>
#include <time.h>

int sim_init(sim_t *sim, const sim_config_t *cfg)
{
    memset(sim, 0, sizeof(*sim));
    sim->cfg = *cfg;
    rng_init(&sim->rng, cfg->seed);
    ratelimit_init(&sim->ratelimit, cfg->calls_per_min, cfg->rate_period_ms);
    faults_init(&sim->faults, &sim->rng);
    stats_reset(&sim->stats);
    atomic_store(&sim->stats.hanging_now, 0);
    pthread_mutex_init(&sim->stop_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sim->stop_cond, &attr);
    pthread_condattr_destroy(&attr);
    sim->book = book_create(&sim->rng, cfg->seed, &cfg->start);
    if (sim->book == NULL) {
        sim_destroy(sim);
        return -1;
    }
    return 0;
}

void sim_destroy(sim_t *sim)
{
    book_destroy(sim->book);
    sim->book = NULL;
    ratelimit_destroy(&sim->ratelimit);
    faults_destroy(&sim->faults);
    pthread_cond_destroy(&sim->stop_cond);
    pthread_mutex_destroy(&sim->stop_lock);
    rng_destroy(&sim->rng);
}

void sim_reset(sim_t *sim)
{
    book_reset(sim->book);
    faults_reset(&sim->faults);
    ratelimit_reset(&sim->ratelimit);
    stats_reset(&sim->stats);
}

int sim_sleep_ms(sim_t *sim, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&sim->stop_lock);
    while (!sim->stopping) {
        if (pthread_cond_timedwait(&sim->stop_cond, &sim->stop_lock, &until) != 0)
            break; /* timed out */
    }
    int stopping = sim->stopping;
    pthread_mutex_unlock(&sim->stop_lock);
    return stopping;
}

void sim_begin_stop(sim_t *sim)
{
    pthread_mutex_lock(&sim->stop_lock);
    sim->stopping = 1;
    pthread_cond_broadcast(&sim->stop_cond);
    pthread_mutex_unlock(&sim->stop_lock);
}
