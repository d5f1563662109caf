/* breaker_fixture.h -- what test_breaker.c and test_breaker_threads.c
 * share: a base config, a log of the transitions a listener sees, the
 * shortcuts to record outcomes and trip a breaker, and the alarm that turns
 * a deadlock into a failure.
 *
 * Header-only (static inline), like unit.h: each test program is one file. */
#ifndef BREAKER_FIXTURE_H
#define BREAKER_FIXTURE_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "breaker.h"
#include "unit.h"

/* A config that only trips on failures, with a window that forgets nothing
 * by time within a test.  Tests change the fields they are about. */
static inline breaker_config_t base_cfg(void) {
    breaker_config_t c;
    memset(&c, 0, sizeof(c));
    c.failure_rate = 0.5;
    c.slow_rate = 1.0;
    c.slow_ms = 1000000;
    c.window_calls = 10;
    c.window_ms = 1000000000;
    c.min_calls = 4;
    c.open_ms = 5000;
    c.half_open_calls = 3;
    return c;
}

static inline void rec(breaker_t *b, int64_t now, breaker_outcome_t o) {
    breaker_record(b, now, o, 1);
}

/* Trips a breaker whose window holds nothing yet (min_calls failures). */
static inline void trip(breaker_t *b, const breaker_config_t *c, int64_t now) {
    for (int i = 0; i < c->min_calls; i++) rec(b, now, BREAKER_FAILURE);
}

/* ---- transition log ----------------------------------------------------- */

#define MAX_EVENTS 32

typedef struct event {
    breaker_state_t from, to;
    breaker_state_t seen;   /* breaker_state() from inside the listener */
    int64_t now;
    char name[64];
} event_t;

typedef struct event_log {
    breaker_t *b;
    int n;
    event_t ev[MAX_EVENTS];
} event_log_t;

/* Also calls back into the breaker: with the lock still held this would
 * deadlock (the alarm then fails the run). */
static inline void log_listener(void *ud, const char *name, breaker_state_t from,
                                breaker_state_t to, int64_t now_ms) {
    event_log_t *log = ud;
    if (log->n >= MAX_EVENTS) return;
    event_t *e = &log->ev[log->n++];
    e->from = from;
    e->to = to;
    e->now = now_ms;
    e->seen = breaker_state(log->b);
    snprintf(e->name, sizeof(e->name), "%s", name);
}

/* A breaker named "alpaca" whose transitions go to *log. */
static inline breaker_t *new_logged(const breaker_config_t *c, event_log_t *log) {
    breaker_t *b = breaker_new("alpaca", c);
    memset(log, 0, sizeof(*log));
    log->b = b;
    if (b != NULL) breaker_on_transition(b, log_listener, log);
    return b;
}

/* One check, at the caller's line: event i of log is the transition
 * from -> to at now, of "alpaca", which the listener saw in force. */
static inline void expect_event(const event_log_t *log, int i, breaker_state_t from,
                                breaker_state_t to, int64_t now, const char *file, int line) {
    if (i >= log->n) {
        unit_check(0, file, line, "event %d (expected %s -> %s at %lld, got %d events)", i,
                   breaker_state_name(from), breaker_state_name(to), (long long)now, log->n);
        return;
    }
    const event_t *e = &log->ev[i];
    unit_check(e->from == from && e->to == to && e->now == now && e->seen == to &&
                   strcmp(e->name, "alpaca") == 0,
               file, line,
               "event %d (expected %s -> %s at %lld seen as %s of \"alpaca\", got %s -> %s at"
               " %lld seen as %s of \"%s\")",
               i, breaker_state_name(from), breaker_state_name(to), (long long)now,
               breaker_state_name(to), breaker_state_name(e->from), breaker_state_name(e->to),
               (long long)e->now, breaker_state_name(e->seen), e->name);
}

#define EXPECT_EVENT(log, i, from, to, now) \
    expect_event((log), (i), (from), (to), (now), __FILE__, __LINE__)

/* ---- deadlock alarm --------------------------------------------------------- */

static inline void breaker_fixture_on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: timed out (deadlock?) in ";
    const char *test = unit_run_state.test ? unit_run_state.test : "-";
    ssize_t w = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
    w = write(STDOUT_FILENO, test, strlen(test));
    w = write(STDOUT_FILENO, "\n", 1);
    (void)w;
    _exit(2);
}

/* Fails the run after `seconds` (generous: valgrind serialises threads). */
static inline void breaker_fixture_alarm(unsigned seconds) {
    signal(SIGALRM, breaker_fixture_on_alarm);
    alarm(seconds);
}

#endif
