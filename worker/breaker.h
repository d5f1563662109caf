/* breaker.h -- a circuit breaker: a pure state machine with an injected clock.
 *
 * CLOSED: calls go through and their outcomes fill a sliding window, bounded
 * both by count (the last window_calls outcomes) and by time (only those of
 * the last window_ms count).  Once the window holds at least min_calls, the
 * breaker OPENs when the share of failures reaches failure_rate, or the share
 * of slow calls (duration >= slow_ms) reaches slow_rate.
 * OPEN: no call goes through for open_ms; then the next breaker_allow()
 * moves it to HALF_OPEN.
 * HALF_OPEN: up to half_open_calls probes are let through; once that many
 * outcomes are in, the breaker CLOSEs (window emptied) if their failure and
 * slow shares are below the thresholds, else OPENs again.
 *
 * Outcomes: SUCCESS and FAILURE count; IGNORED (a business refusal, a 429)
 * counts as neither, so a burst of 4xx neither trips the breaker nor hides
 * an outage behind successes; an IGNORED probe gives its permit back.
 * Thresholds are reached at >= (as resilience4j and Hystrix).
 *
 * Thread-safe: one breaker is shared by the lanes of a process. */
#ifndef BREAKER_H
#define BREAKER_H

#include <stdint.h>

typedef enum {
    BREAKER_CLOSED = 0,
    BREAKER_OPEN,
    BREAKER_HALF_OPEN
} breaker_state_t;

typedef enum {
    BREAKER_SUCCESS = 0,
    BREAKER_FAILURE,
    BREAKER_IGNORED
} breaker_outcome_t;

typedef struct breaker_config {
    double failure_rate;   /* (0, 1]: share of failures that opens */
    double slow_rate;      /* (0, 1]: share of slow calls that opens */
    int64_t slow_ms;       /* a call lasting at least this long is slow */
    int window_calls;      /* count bound of the window (>= 1) */
    int64_t window_ms;     /* time bound of the window (>= 1) */
    int min_calls;         /* outcomes needed in the window before it can open */
    int64_t open_ms;       /* time spent OPEN before probing */
    int half_open_calls;   /* probes permitted in HALF_OPEN (>= 1) */
} breaker_config_t;

typedef struct breaker breaker_t;

/* Called, with the breaker's lock released, on every state change. */
typedef void (*breaker_listener_t)(void *ud, const char *name,
                                   breaker_state_t from, breaker_state_t to,
                                   int64_t now_ms);

breaker_t *breaker_new(const char *name, const breaker_config_t *cfg);
void breaker_free(breaker_t *b);

/* Installs the listener (one; NULL removes it). */
void breaker_on_transition(breaker_t *b, breaker_listener_t fn, void *ud);

/* May a call start now?  1: yes (in HALF_OPEN a probe permit is taken and
 * must be returned by breaker_record); 0: no, the circuit is open or every
 * probe permit is taken. */
int breaker_allow(breaker_t *b, int64_t now_ms);

/* The outcome of a call that breaker_allow() let through, with how long it
 * took. */
void breaker_record(breaker_t *b, int64_t now_ms, breaker_outcome_t outcome,
                    int64_t duration_ms);

/* The state as of now (OPEN turns to HALF_OPEN only in breaker_allow()). */
breaker_state_t breaker_state(breaker_t *b);

/* Opens the breaker until until_ms (learned from another replica, or to hold
 * off probing); no effect if it is already open for longer. */
void breaker_force_open(breaker_t *b, int64_t until_ms, int64_t now_ms);

/* Closes it and empties the window (another replica's probe succeeded). */
void breaker_force_close(breaker_t *b, int64_t now_ms);

/* When an OPEN breaker will let a probe through (0 if not open). */
int64_t breaker_open_until(breaker_t *b);

const char *breaker_name(const breaker_t *b);
const char *breaker_state_name(breaker_state_t s);

#endif
