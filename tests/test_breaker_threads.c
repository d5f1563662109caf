/* test_breaker_threads.c -- tests for breaker.c under threads.
 *
 * Several threads call, record outcomes and force transitions on one
 * breaker while a listener counts the transitions it is told of: the counts
 * must add up to a walk from CLOSED to the final state, and the breaker
 * must still work afterwards.  Then threads race for the probe permits of
 * one HALF_OPEN.  An alarm turns a deadlock into a failure.  The
 * single-threaded tests are in test_breaker.c (breaker_fixture.h is
 * shared).  Runs on tests/unit.h (`test_breaker_threads --list`). */
#include "breaker.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaker_fixture.h"
#include "unit.h"

#define THREADS 4
#define OPS 20000

/* What the threads of one test share: the breaker, a clock they advance,
 * and the listener's count of transitions [from][to]. */
typedef struct shared {
    breaker_t *b;
    _Atomic int64_t clock_ms;
    atomic_int transitions[3][3];
    atomic_int bad_listener_calls;
} shared_t;

/* Calls back in (the lock must be released) and checks its arguments. */
static void count_listener(void *ud, const char *name, breaker_state_t from,
                           breaker_state_t to, int64_t now_ms) {
    shared_t *s = ud;
    (void)now_ms;
    (void)breaker_state(s->b);
    (void)breaker_open_until(s->b);
    if (from == to || strcmp(name, "threads") != 0 || (int)from > 2 || (int)to > 2)
        atomic_fetch_add(&s->bad_listener_calls, 1);
    else
        atomic_fetch_add(&s->transitions[from][to], 1);
}

/* A breaker named "threads" counting its transitions into *s (zeroed). */
static int shared_init(shared_t *s, const breaker_config_t *c) {
    memset(s, 0, sizeof(*s));
    s->b = breaker_new("threads", c);
    if (s->b == NULL) return 0;
    breaker_on_transition(s->b, count_listener, s);
    return 1;
}

static int transitions(shared_t *s, breaker_state_t from, breaker_state_t to) {
    return atomic_load(&s->transitions[from][to]);
}

typedef struct worker_arg {
    shared_t *s;
    int id;
    int allowed;
    int denied;
} worker_arg_t;

/* Each thread calls, records an outcome (failures in bursts so the breaker
 * goes round its states), and now and then forces it open or closed. */
static void *worker(void *p) {
    worker_arg_t *a = p;
    breaker_t *b = a->s->b;
    unsigned seed = (unsigned)a->id * 7919u + 1;
    for (int i = 0; i < OPS; i++) {
        int64_t now = atomic_fetch_add(&a->s->clock_ms, 1);
        if (breaker_allow(b, now)) {
            a->allowed++;
            int r = rand_r(&seed) % 100;
            breaker_outcome_t o = r < 40 ? BREAKER_FAILURE
                                : r < 50 ? BREAKER_IGNORED : BREAKER_SUCCESS;
            breaker_record(b, atomic_load(&a->s->clock_ms), o, r % 7);
        } else {
            a->denied++;
        }
        if (i % 997 == 0) breaker_force_open(b, now + 50, now);
        if (i % 1499 == 0) breaker_force_close(b, now);
        (void)breaker_state(b);
    }
    return NULL;
}

/* Entries minus exits per state must match a walk from CLOSED to the final
 * state, whatever order the listeners ran in.  Returns the transitions. */
static int expect_walk(shared_t *s) {
    int in[3] = {0}, out[3] = {0}, total = 0;
    for (int f = 0; f < 3; f++)
        for (int t = 0; t < 3; t++) {
            int n = transitions(s, (breaker_state_t)f, (breaker_state_t)t);
            out[f] += n;
            in[t] += n;
            total += n;
        }
    breaker_state_t final = breaker_state(s->b);
    for (int x = 0; x < 3; x++) {
        int want = (x == (int)final) - (x == BREAKER_CLOSED);
        EXPECT_MSG(in[x] - out[x] == want,
                   "%s: entries - exits (expected %d, got %d - %d), final state %s",
                   breaker_state_name((breaker_state_t)x), want, in[x], out[x],
                   breaker_state_name(final));
    }
    return total;
}

static void test_threads(void) {
    breaker_config_t c = base_cfg();
    c.window_calls = 20;
    c.window_ms = 200;
    c.min_calls = 5;
    c.failure_rate = 0.5;
    c.slow_rate = 0.9;
    c.slow_ms = 5;
    c.open_ms = 30;
    c.half_open_calls = 3;
    shared_t *s = malloc(sizeof(*s));
    if (s == NULL || !shared_init(s, &c)) {
        free(s);
        UNIT_ABORT("no breaker to run threads against");
    }

    pthread_t th[THREADS];
    worker_arg_t args[THREADS];
    int started[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg_t){s, i, 0, 0};
        started[i] = EXPECT_INT(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    int allowed = 0, denied = 0;
    for (int i = 0; i < THREADS; i++) {
        if (!started[i]) continue;
        pthread_join(th[i], NULL);
        allowed += args[i].allowed;
        denied += args[i].denied;
    }
    EXPECT_INT(allowed + denied, THREADS * OPS);
    /* it did open and close */
    EXPECT_MSG(allowed > 0 && denied > 0, "calls allowed and denied (got %d and %d)", allowed,
               denied);
    EXPECT_INT(atomic_load(&s->bad_listener_calls), 0);

    int total = expect_walk(s);
    EXPECT_INT(transitions(s, BREAKER_CLOSED, BREAKER_HALF_OPEN), 0);
    EXPECT_MSG(transitions(s, BREAKER_OPEN, BREAKER_HALF_OPEN) > 0, "open -> half_open happened");
    EXPECT_MSG(transitions(s, BREAKER_HALF_OPEN, BREAKER_CLOSED) > 0,
               "half_open -> closed happened");
    EXPECT_MSG(total > 10, "more than 10 transitions (got %d)", total);
    printf("threads: %d allowed, %d denied, %d transitions\n", allowed, denied, total);

    /* Still a working breaker afterwards. */
    int64_t now = atomic_load(&s->clock_ms) + 1000000;
    breaker_force_close(s->b, now);
    EXPECT_INT(breaker_state(s->b), BREAKER_CLOSED);
    for (int i = 0; i < c.min_calls; i++) rec(s->b, now, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(s->b), BREAKER_OPEN);
    breaker_free(s->b);
    free(s);
}

/* THREADS threads race for the probe permits of one HALF_OPEN: exactly
 * half_open_calls are granted, and after every probe has reported exactly
 * one transition out of HALF_OPEN happened. */
typedef struct race_arg {
    breaker_t *b;
    int granted;
} race_arg_t;

static void *probe_racer(void *p) {
    race_arg_t *a = p;
    for (int i = 0; i < 5000; i++)
        if (breaker_allow(a->b, 100000)) a->granted++;
    return NULL;
}

static void *probe_reporter(void *p) {
    race_arg_t *a = p;
    for (int i = 0; i < a->granted; i++) rec(a->b, 100001, BREAKER_SUCCESS);
    return NULL;
}

/* Runs fn on THREADS threads, one args[i] each, and joins them; one check
 * per thread that it started. */
static void run_threads(void *(*fn)(void *), race_arg_t *args) {
    pthread_t th[THREADS];
    int started[THREADS];
    for (int i = 0; i < THREADS; i++)
        started[i] = EXPECT_INT(pthread_create(&th[i], NULL, fn, &args[i]), 0);
    for (int i = 0; i < THREADS; i++)
        if (started[i]) pthread_join(th[i], NULL);
}

static void test_probe_race(void) {
    breaker_config_t c = base_cfg();
    c.half_open_calls = 7;
    shared_t *s = malloc(sizeof(*s));
    if (s == NULL || !shared_init(s, &c)) {
        free(s);
        UNIT_ABORT("no breaker to race for");
    }
    trip(s->b, &c, 0);

    race_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) args[i] = (race_arg_t){s->b, 0};
    run_threads(probe_racer, args);
    int granted = 0;
    for (int i = 0; i < THREADS; i++) granted += args[i].granted;
    EXPECT_INT(granted, c.half_open_calls);
    EXPECT_INT(transitions(s, BREAKER_OPEN, BREAKER_HALF_OPEN), 1);
    EXPECT_INT(breaker_state(s->b), BREAKER_HALF_OPEN);

    run_threads(probe_reporter, args);
    EXPECT_INT(breaker_state(s->b), BREAKER_CLOSED);
    EXPECT_INT(transitions(s, BREAKER_HALF_OPEN, BREAKER_CLOSED), 1);
    EXPECT_INT(transitions(s, BREAKER_HALF_OPEN, BREAKER_OPEN), 0);
    breaker_free(s->b);
    free(s);
}

static const unit_test_t TESTS[] = {
    {"threads", test_threads},
    {"probe_race", test_probe_race},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    breaker_fixture_alarm(120);
    return unit_main(TESTS, argc, argv);
}
