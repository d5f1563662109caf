/* breaker.c -- the circuit breaker state machine (see breaker.h).
 *
 * This file owns one breaker's state: the sliding window of CLOSED outcomes,
 * the OPEN deadline, the HALF_OPEN probe accounting, and the listener.  It
 * does no I/O and reads no clock: every call is given `now_ms`, so the tests
 * can drive it through every transition with plain numbers, and the breaker
 * sharing between replicas (elsewhere) only needs force_open/force_close.
 *
 * The window is a ring buffer of the last window_calls outcomes, each with
 * its time and its failure and slow flags.  The rates are computed by
 * scanning the ring and counting only the entries newer than
 * now - window_ms.  A scan costs window_calls steps per recorded outcome,
 * which is nothing next to an HTTP call to the broker, and unlike running
 * totals it stays right when lanes record with slightly out-of-order clocks.
 *
 * Rates are compared as failures/total >= rate, a division, not as
 * failures >= rate * total: 7/100 rounds to the same double as 0.07, while
 * 0.07 * 100 is 7.000000000000001 and would not trip at exactly 7%.
 *
 * HALF_OPEN counts permits in flight (taken by breaker_allow, not yet
 * returned by breaker_record) plus outcomes received; a permit is granted
 * only while their sum is below half_open_calls.  An IGNORED probe returns
 * its permit.  The verdict is taken when half_open_calls outcomes are in.
 *
 * Late outcomes: a call let through while CLOSED may end after the breaker
 * opened.  Its outcome is dropped while OPEN, and also in HALF_OPEN when no
 * probe permit is out (it cannot be a probe then).  The interface carries no
 * per-call token, so a late outcome arriving while probes are out is taken
 * as a probe's; that only makes one probe verdict rest on a real, recent
 * call to the same broker.
 *
 * Configuration (breaker_new returns NULL when it is not valid):
 * rates in (0, 1], slow_ms >= 1, window_calls >= 1, window_ms >= 1,
 * open_ms >= 0, half_open_calls >= 1.  min_calls is clamped to
 * [1, window_calls] (as resilience4j does for count-based windows): a
 * min_calls the window can never hold would be a breaker that never opens.
 * The name is copied and cut to 63 characters.
 *
 * Locking: one mutex per breaker guards everything above.  A state change
 * takes a snapshot of the listener under the lock; the listener is called
 * after the lock is released, once per transition, so it may call back into
 * the breaker.  Listeners of transitions made by different threads may run
 * concurrently and in either order; one removed by breaker_on_transition()
 * may still see a transition that was made just before. */
#include "breaker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BREAKER_NAME_LEN 64   /* 63 characters and the terminator */

typedef struct window_entry {
    int64_t at_ms;            /* when the outcome was recorded */
    unsigned char failed;
    unsigned char slow;
} window_entry_t;

struct breaker {
    pthread_mutex_t lock;
    char name[BREAKER_NAME_LEN];
    breaker_config_t cfg;
    breaker_state_t state;

    /* CLOSED: ring of the last cfg.window_calls outcomes. */
    window_entry_t *ring;
    int ring_next;            /* slot written by the next outcome */
    int ring_used;            /* slots holding an outcome */

    /* OPEN: no call before this time. */
    int64_t open_until;

    /* HALF_OPEN: probe accounting. */
    int probes_out;           /* permits taken, outcome not yet in */
    int probes_in;            /* outcomes received */
    int probe_failures;
    int probe_slow;

    breaker_listener_t listener;
    void *listener_ud;
};

/* A state change made under the lock, reported after it is released. */
typedef struct transition {
    int happened;
    breaker_state_t from;
    breaker_state_t to;
    breaker_listener_t fn;
    void *ud;
} transition_t;

static int rate_valid(double r) {
    return r > 0.0 && r <= 1.0;   /* false for NaN too */
}

breaker_t *breaker_new(const char *name, const breaker_config_t *cfg) {
    if (cfg == NULL || !rate_valid(cfg->failure_rate) ||
        !rate_valid(cfg->slow_rate) || cfg->slow_ms < 1 ||
        cfg->window_calls < 1 || cfg->window_ms < 1 || cfg->open_ms < 0 ||
        cfg->half_open_calls < 1)
        return NULL;

    breaker_t *b = calloc(1, sizeof(*b));
    if (b == NULL) return NULL;
    b->ring = calloc((size_t)cfg->window_calls, sizeof(*b->ring));
    if (b->ring == NULL) {
        free(b);
        return NULL;
    }
    if (pthread_mutex_init(&b->lock, NULL) != 0) {
        free(b->ring);
        free(b);
        return NULL;
    }
    if (name == NULL) name = "";
    size_t len = strlen(name);
    if (len > BREAKER_NAME_LEN - 1) len = BREAKER_NAME_LEN - 1;
    memcpy(b->name, name, len);
    b->name[len] = '\0';

    b->cfg = *cfg;
    if (b->cfg.min_calls < 1) b->cfg.min_calls = 1;
    if (b->cfg.min_calls > b->cfg.window_calls)
        b->cfg.min_calls = b->cfg.window_calls;
    b->state = BREAKER_CLOSED;
    return b;
}

void breaker_free(breaker_t *b) {
    if (b == NULL) return;
    pthread_mutex_destroy(&b->lock);
    free(b->ring);
    free(b);
}

void breaker_on_transition(breaker_t *b, breaker_listener_t fn, void *ud) {
    pthread_mutex_lock(&b->lock);
    b->listener = fn;
    b->listener_ud = ud;
    pthread_mutex_unlock(&b->lock);
}

/* ---- helpers, called with the lock held -------------------------------- */

static void window_clear(breaker_t *b) {
    b->ring_next = 0;
    b->ring_used = 0;
}

static void probes_clear(breaker_t *b) {
    b->probes_out = 0;
    b->probes_in = 0;
    b->probe_failures = 0;
    b->probe_slow = 0;
}

/* Moves to `to`, resetting what the new state starts from, and fills *t so
 * the caller can notify once the lock is released.  No-op if already there. */
static void set_state(breaker_t *b, breaker_state_t to, transition_t *t) {
    if (b->state == to) return;
    t->happened = 1;
    t->from = b->state;
    t->to = to;
    t->fn = b->listener;
    t->ud = b->listener_ud;
    b->state = to;
    /* The window only means something while CLOSED, and probes only while
     * HALF_OPEN: every entry into a state starts it from scratch. */
    window_clear(b);
    probes_clear(b);
    if (to != BREAKER_OPEN) b->open_until = 0;
}

static void notify(breaker_t *b, const transition_t *t, int64_t now_ms) {
    if (t->happened && t->fn != NULL)
        t->fn(t->ud, b->name, t->from, t->to, now_ms);
}

/* Would these counts open the breaker?  total > 0. */
static int over_threshold(const breaker_t *b, int failures, int slow, int total) {
    return (double)failures / total >= b->cfg.failure_rate ||
           (double)slow / total >= b->cfg.slow_rate;
}

static void record_closed(breaker_t *b, int64_t now_ms, int failed, int slow,
                          transition_t *t) {
    window_entry_t *e = &b->ring[b->ring_next];
    e->at_ms = now_ms;
    e->failed = (unsigned char)failed;
    e->slow = (unsigned char)slow;
    b->ring_next = (b->ring_next + 1) % b->cfg.window_calls;
    if (b->ring_used < b->cfg.window_calls) b->ring_used++;

    int total = 0, failures = 0, slows = 0;
    for (int i = 0; i < b->ring_used; i++) {
        /* at_ms > now_ms - window_ms, written so it cannot overflow for
         * any sane clock. */
        if (now_ms - b->ring[i].at_ms >= b->cfg.window_ms) continue;
        total++;
        failures += b->ring[i].failed;
        slows += b->ring[i].slow;
    }
    if (total >= b->cfg.min_calls && over_threshold(b, failures, slows, total)) {
        set_state(b, BREAKER_OPEN, t);
        b->open_until = now_ms + b->cfg.open_ms;
    }
}

static void record_half_open(breaker_t *b, int64_t now_ms, breaker_outcome_t outcome,
                             int slow, transition_t *t) {
    if (b->probes_out == 0) return;   /* not a probe: a late outcome */
    b->probes_out--;
    if (outcome == BREAKER_IGNORED) return;   /* the permit is free again */

    b->probes_in++;
    if (outcome == BREAKER_FAILURE) b->probe_failures++;
    if (slow) b->probe_slow++;
    if (b->probes_in < b->cfg.half_open_calls) return;

    if (over_threshold(b, b->probe_failures, b->probe_slow, b->probes_in)) {
        set_state(b, BREAKER_OPEN, t);
        b->open_until = now_ms + b->cfg.open_ms;
    } else {
        set_state(b, BREAKER_CLOSED, t);
    }
}

/* ---- public API -------------------------------------------------------- */

int breaker_allow(breaker_t *b, int64_t now_ms) {
    transition_t t = {0};
    int ok = 0;

    pthread_mutex_lock(&b->lock);
    if (b->state == BREAKER_OPEN && now_ms >= b->open_until)
        set_state(b, BREAKER_HALF_OPEN, &t);
    switch (b->state) {
    case BREAKER_CLOSED:
        ok = 1;
        break;
    case BREAKER_OPEN:
        ok = 0;
        break;
    case BREAKER_HALF_OPEN:
        if (b->probes_out + b->probes_in < b->cfg.half_open_calls) {
            b->probes_out++;
            ok = 1;
        }
        break;
    }
    pthread_mutex_unlock(&b->lock);

    notify(b, &t, now_ms);
    return ok;
}

void breaker_record(breaker_t *b, int64_t now_ms, breaker_outcome_t outcome,
                    int64_t duration_ms) {
    transition_t t = {0};
    int slow = duration_ms >= b->cfg.slow_ms;   /* cfg is never written after new */

    pthread_mutex_lock(&b->lock);
    switch (b->state) {
    case BREAKER_CLOSED:
        if (outcome != BREAKER_IGNORED)
            record_closed(b, now_ms, outcome == BREAKER_FAILURE, slow, &t);
        break;
    case BREAKER_OPEN:
        break;   /* started before the breaker opened: dropped */
    case BREAKER_HALF_OPEN:
        record_half_open(b, now_ms, outcome, slow, &t);
        break;
    }
    pthread_mutex_unlock(&b->lock);

    notify(b, &t, now_ms);
}

breaker_state_t breaker_state(breaker_t *b) {
    pthread_mutex_lock(&b->lock);
    breaker_state_t s = b->state;
    pthread_mutex_unlock(&b->lock);
    return s;
}

void breaker_force_open(breaker_t *b, int64_t until_ms, int64_t now_ms) {
    transition_t t = {0};

    pthread_mutex_lock(&b->lock);
    int64_t until = b->state == BREAKER_OPEN && b->open_until > until_ms
                        ? b->open_until : until_ms;
    set_state(b, BREAKER_OPEN, &t);
    b->open_until = until;
    pthread_mutex_unlock(&b->lock);

    notify(b, &t, now_ms);
}

void breaker_force_close(breaker_t *b, int64_t now_ms) {
    transition_t t = {0};

    pthread_mutex_lock(&b->lock);
    set_state(b, BREAKER_CLOSED, &t);
    window_clear(b);   /* also when it was already closed */
    pthread_mutex_unlock(&b->lock);

    notify(b, &t, now_ms);
}

int64_t breaker_open_until(breaker_t *b) {
    pthread_mutex_lock(&b->lock);
    int64_t until = b->state == BREAKER_OPEN ? b->open_until : 0;
    pthread_mutex_unlock(&b->lock);
    return until;
}

const char *breaker_name(const breaker_t *b) {
    return b->name;   /* written only by breaker_new */
}

const char *breaker_state_name(breaker_state_t s) {
    switch (s) {
    case BREAKER_CLOSED: return "closed";
    case BREAKER_OPEN: return "open";
    case BREAKER_HALF_OPEN: return "half_open";
    }
    return "unknown";
}
