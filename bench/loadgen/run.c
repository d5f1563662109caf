/* run.c -- the state of one ow-loadgen run (see run.h).
 *
 * Owns: sizing and allocating the per-intent tables for the mode asked
 * (--expect intents, --count, rate x duration, or a large sparse table for
 * --rate max), the run's tag, its clocks, and the interruption flag set by
 * SIGINT/SIGTERM.  Why: the producer, the reader and the report share this
 * state; one place creates and frees it.  The flag is the one global: a
 * signal handler can set nothing else. */
#include "run.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ids.h"

static volatile sig_atomic_t run_signalled;

static void run_on_signal(int sig) {
    (void)sig;
    run_signalled = 1;
}

void run_catch_signals(void) {
    signal(SIGINT, run_on_signal);
    signal(SIGTERM, run_on_signal);
}

int run_interrupted(void) { return run_signalled != 0; }

void run_start_clock(run_t *r) {
    r->start_real_ms = clock_real_us() / 1000;
    r->start_mono_us = clock_mono_us();
}

static int run_allocate(run_t *r) {
    const options_t *o = &r->o;
    long long cap;
    if (o->consume_only) cap = o->expect;
    else if (o->count > 0) cap = o->count;
    else if (o->rate > 0) cap = (long long)(o->rate * (o->warmup_s + o->duration_s) * 1.05) + 1000;
    else cap = 20000000; /* max mode: pages are touched only as used */
    if (cap > (long long)IDS_SEQ_MAX) cap = IDS_SEQ_MAX;
    r->cap = cap;
    r->sent_real_us = calloc((size_t)cap, sizeof(*r->sent_real_us));
    r->flags = calloc((size_t)cap, sizeof(*r->flags));
    r->nseconds = (int)(o->warmup_s + o->duration_s + o->drain_timeout_s) + 3600 * 4;
    r->per_second = calloc((size_t)r->nseconds, sizeof(*r->per_second));
    if (!r->sent_real_us || !r->flags || !r->per_second) {
        fprintf(stderr, "ow-loadgen: out of memory\n");
        return -1;
    }
    return 0;
}

int run_init(run_t *r) {
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        fprintf(stderr, "ow-loadgen: cannot create a mutex\n");
        return -1;
    }
    for (int p = 0; p < RUN_MAX_PARTITIONS; p++) r->min_offset[p][0] = r->min_offset[p][1] = -1;
    r->rng = ids_rng_seed();
    if (r->o.consume_only) {
        snprintf(r->tag_hex, sizeof(r->tag_hex), "%s", r->o.tag);
    } else {
        r->tag = (uint32_t)(ids_rng_next(&r->rng) >> 32);
        snprintf(r->tag_hex, sizeof(r->tag_hex), "%08" PRIx32, r->tag);
    }
    if (run_allocate(r) < 0) {
        run_free(r);
        return -1;
    }
    run_start_clock(r);
    return 0;
}

void run_lat_add(run_lat_t *l, int64_t us, int in_window) {
    if (us < 0) us = 0;
    if (us > l->max_us_all) l->max_us_all = us;
    if (!in_window) return;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 65536;
        uint32_t *p = realloc(l->v, nc * sizeof(*p));
        if (!p) return;  /* a sample fewer, never the run */
        l->v = p;
        l->cap = nc;
    }
    l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

void run_lat_free(run_lat_t *l) {
    free(l->v);
    memset(l, 0, sizeof(*l));
}

void run_free(run_t *r) {
    free(r->sent_real_us);
    free((void *)r->flags);
    free(r->per_second);
    run_lat_free(&r->lat_accepted);
    run_lat_free(&r->lat_fill);
    run_lat_free(&r->hop_accepted);
    run_lat_free(&r->hop_fill);
    if (r->fills_out) fclose(r->fills_out);
    r->fills_out = NULL;
    r->sent_real_us = NULL;
    r->flags = NULL;
    r->per_second = NULL;
    pthread_mutex_destroy(&r->lock);
}
