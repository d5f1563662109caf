/* test_breaker.c -- tests for breaker.c, the circuit breaker state machine.
 *
 * The breaker reads no clock, so every test drives it with plain int64
 * `now` values and checks each transition and each threshold at its
 * boundary.  A listener records every transition so the tests can check it
 * is called once per transition with the right from/to.  The last tests run
 * 4 threads against one breaker (an alarm turns a deadlock into a failure).
 * Prints each failure and a final "N passed, M failed" line; exits non-zero
 * on any failure. */
#include "breaker.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* A config that only trips on failures, with a window that forgets nothing
 * by time within a test.  Tests change the fields they are about. */
static breaker_config_t base_cfg(void) {
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
static void log_listener(void *ud, const char *name, breaker_state_t from,
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

static breaker_t *new_logged(const breaker_config_t *c, event_log_t *log) {
    breaker_t *b = breaker_new("alpaca", c);
    memset(log, 0, sizeof(*log));
    log->b = b;
    if (b != NULL) breaker_on_transition(b, log_listener, log);
    return b;
}

/* Was event i the transition from -> to at now? */
static int event_is(const event_log_t *log, int i, breaker_state_t from,
                    breaker_state_t to, int64_t now) {
    return i < log->n && log->ev[i].from == from && log->ev[i].to == to &&
           log->ev[i].now == now && log->ev[i].seen == to &&
           strcmp(log->ev[i].name, "alpaca") == 0;
}

static void rec(breaker_t *b, int64_t now, breaker_outcome_t o) {
    breaker_record(b, now, o, 1);
}

/* Trips a breaker whose window holds nothing yet (min_calls failures). */
static void trip(breaker_t *b, const breaker_config_t *c, int64_t now) {
    for (int i = 0; i < c->min_calls; i++) rec(b, now, BREAKER_FAILURE);
}

/* ---- construction ------------------------------------------------------- */

static void test_new(void) {
    breaker_config_t c = base_cfg();
    breaker_t *b = breaker_new("alpaca", &c);
    CHECK(b != NULL);
    CHECK(strcmp(breaker_name(b), "alpaca") == 0);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    CHECK(breaker_open_until(b) == 0);
    CHECK(breaker_allow(b, 0) == 1);
    breaker_free(b);

    CHECK(strcmp(breaker_state_name(BREAKER_CLOSED), "closed") == 0);
    CHECK(strcmp(breaker_state_name(BREAKER_OPEN), "open") == 0);
    CHECK(strcmp(breaker_state_name(BREAKER_HALF_OPEN), "half_open") == 0);

    /* The name is copied and cut to 63 characters. */
    char longname[100];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    b = breaker_new(longname, &c);
    CHECK(b != NULL && strlen(breaker_name(b)) == 63 &&
          strncmp(breaker_name(b), longname, 63) == 0);
    breaker_free(b);

    char name[16] = "broker";
    b = breaker_new(name, &c);
    name[0] = 'X';
    CHECK(strcmp(breaker_name(b), "broker") == 0);
    breaker_free(b);

    /* The config is copied: changing the caller's copy changes nothing. */
    c.min_calls = 1;
    b = breaker_new("alpaca", &c);
    c.min_calls = 100;
    c.failure_rate = 1.0;
    rec(b, 0, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);

    /* Invalid configs are refused. */
    breaker_config_t bad;
    bad = base_cfg(); bad.failure_rate = 0.0;
    CHECK(breaker_new("x", &bad) == NULL);
    bad = base_cfg(); bad.failure_rate = 1.5;
    CHECK(breaker_new("x", &bad) == NULL);
    bad = base_cfg(); bad.slow_rate = -0.1;
    CHECK(breaker_new("x", &bad) == NULL);
    bad = base_cfg(); bad.window_calls = 0;
    CHECK(breaker_new("x", &bad) == NULL);
    bad = base_cfg(); bad.window_ms = 0;
    CHECK(breaker_new("x", &bad) == NULL);
    bad = base_cfg(); bad.half_open_calls = 0;
    CHECK(breaker_new("x", &bad) == NULL);
    bad = base_cfg(); bad.slow_ms = 0;
    CHECK(breaker_new("x", &bad) == NULL);
    bad = base_cfg(); bad.open_ms = -1;
    CHECK(breaker_new("x", &bad) == NULL);
    CHECK(breaker_new("x", NULL) == NULL);

    /* min_calls larger than the window is clamped to it, else the breaker
     * could never open. */
    c = base_cfg();
    c.window_calls = 3;
    c.min_calls = 50;
    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    rec(b, 0, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);
}

/* ---- CLOSED: thresholds -------------------------------------------------- */

static void test_min_calls(void) {
    breaker_config_t c = base_cfg();
    c.min_calls = 5;
    c.failure_rate = 0.1;
    event_log_t log;
    breaker_t *b = new_logged(&c, &log);

    for (int i = 0; i < 4; i++) rec(b, 100, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_CLOSED);   /* 100% failures, 4 < 5 */
    CHECK(breaker_allow(b, 100) == 1);
    CHECK(log.n == 0);
    rec(b, 200, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    CHECK(breaker_open_until(b) == 200 + c.open_ms);
    CHECK(log.n == 1 && event_is(&log, 0, BREAKER_CLOSED, BREAKER_OPEN, 200));
    breaker_free(b);
}

static void test_failure_boundary(void) {
    /* Exactly at the rate opens: 2 of 4 at 0.5. */
    breaker_config_t c = base_cfg();
    c.min_calls = 4;
    breaker_t *b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_SUCCESS);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    rec(b, 0, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);

    /* 30% of 10: 2 failures do not open, 3 do. */
    c = base_cfg();
    c.failure_rate = 0.3;
    c.window_calls = 10;
    c.min_calls = 10;
    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_FAILURE);
    for (int i = 0; i < 8; i++) rec(b, 0, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_CLOSED);   /* 2/10 < 0.3 */
    breaker_free(b);

    b = breaker_new("alpaca", &c);
    for (int i = 0; i < 3; i++) rec(b, 0, BREAKER_FAILURE);
    for (int i = 0; i < 6; i++) rec(b, 0, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_CLOSED);   /* only 9 calls */
    rec(b, 0, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_OPEN);     /* 3/10 >= 0.3 */
    breaker_free(b);

    /* 7% of 100: 7 failures open.  In doubles 0.07 * 100 is
     * 7.000000000000001, so comparing failures >= rate * total would miss
     * the boundary; 7.0 / 100 is exactly the double 0.07. */
    c = base_cfg();
    c.failure_rate = 0.07;
    c.window_calls = 100;
    c.min_calls = 100;
    b = breaker_new("alpaca", &c);
    for (int i = 0; i < 94; i++) rec(b, 0, BREAKER_SUCCESS);
    for (int i = 0; i < 6; i++) rec(b, 0, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_CLOSED);   /* 6/100 */
    rec(b, 0, BREAKER_FAILURE);                  /* drops a success: 7/100 */
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);

    /* Just below: 0.34 of 3 calls is 0.333.. < 0.34. */
    c = base_cfg();
    c.failure_rate = 0.34;
    c.window_calls = 3;
    c.min_calls = 3;
    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_SUCCESS);
    rec(b, 0, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    breaker_free(b);

    /* failure_rate 1.0: only all-failure windows open. */
    c = base_cfg();
    c.failure_rate = 1.0;
    c.window_calls = 4;
    c.min_calls = 4;
    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_SUCCESS);
    for (int i = 0; i < 3; i++) rec(b, 0, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    rec(b, 0, BREAKER_FAILURE);   /* the success falls out */
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);
}

static void test_count_window(void) {
    breaker_config_t c = base_cfg();
    c.window_calls = 4;
    c.min_calls = 4;
    c.failure_rate = 0.75;
    breaker_t *b = breaker_new("alpaca", &c);
    /* F F S S | S S | F F: the window is now S S F F, 2/4. */
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_SUCCESS);
    rec(b, 0, BREAKER_SUCCESS);
    rec(b, 0, BREAKER_SUCCESS);
    rec(b, 0, BREAKER_SUCCESS);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    /* S F F F: 3/4 opens (counting everything would be 5/9 and not). */
    rec(b, 0, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);

    /* Old failures are forgotten: F F F S then successes push them out. */
    c = base_cfg();
    c.window_calls = 4;
    c.min_calls = 4;
    c.failure_rate = 0.5;
    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_SUCCESS);
    rec(b, 0, BREAKER_SUCCESS);
    rec(b, 0, BREAKER_SUCCESS);
    for (int i = 0; i < 20; i++) rec(b, 0, BREAKER_SUCCESS);
    rec(b, 0, BREAKER_FAILURE);   /* window S S S F: 1/4 */
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    rec(b, 0, BREAKER_FAILURE);   /* S S F F: 2/4 */
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);
}

static void test_time_window(void) {
    breaker_config_t c = base_cfg();
    c.window_calls = 10;
    c.window_ms = 1000;
    c.min_calls = 3;
    c.failure_rate = 0.5;

    /* An outcome at t counts while now < t + window_ms. */
    breaker_t *b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 100, BREAKER_FAILURE);
    rec(b, 999, BREAKER_SUCCESS);   /* F@0 still in: 2/3 */
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);

    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 100, BREAKER_FAILURE);
    rec(b, 1000, BREAKER_SUCCESS);  /* F@0 out: F@100 S = 2 calls < 3 */
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    rec(b, 1050, BREAKER_SUCCESS);  /* F@100 S S: 1/3 */
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    rec(b, 1100, BREAKER_FAILURE);  /* F@100 out: S S F: 1/3 */
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    rec(b, 1200, BREAKER_FAILURE);  /* S S F F: 2/4 */
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);

    /* Failures long ago never add up with new ones. */
    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 5000, BREAKER_FAILURE);
    rec(b, 5000, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_CLOSED);   /* 2 calls in the window */
    breaker_free(b);
}

static void test_slow_calls(void) {
    breaker_config_t c = base_cfg();
    c.failure_rate = 1.0;
    c.slow_rate = 0.5;
    c.slow_ms = 100;
    c.window_calls = 2;
    c.min_calls = 2;
    event_log_t log;
    breaker_t *b = new_logged(&c, &log);
    breaker_record(b, 0, BREAKER_SUCCESS, 99);
    breaker_record(b, 0, BREAKER_SUCCESS, 99);
    CHECK(breaker_state(b) == BREAKER_CLOSED);   /* 99 < 100: not slow */
    breaker_record(b, 10, BREAKER_SUCCESS, 100); /* == slow_ms: slow, 1/2 */
    CHECK(breaker_state(b) == BREAKER_OPEN);
    CHECK(log.n == 1 && event_is(&log, 0, BREAKER_CLOSED, BREAKER_OPEN, 10));
    CHECK(breaker_open_until(b) == 10 + c.open_ms);
    breaker_free(b);

    /* A slow failure counts as slow too; a fast one does not. */
    c.failure_rate = 1.0;
    c.slow_rate = 1.0;
    b = breaker_new("alpaca", &c);
    breaker_record(b, 0, BREAKER_SUCCESS, 500);
    breaker_record(b, 0, BREAKER_FAILURE, 5);
    CHECK(breaker_state(b) == BREAKER_CLOSED);   /* 1/2 slow, 1/2 failed */
    breaker_record(b, 0, BREAKER_SUCCESS, 100);  /* F5 S100: 1/2, 1/2 */
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    breaker_record(b, 0, BREAKER_FAILURE, 500);  /* S100 F500: all slow */
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);

    /* A slow IGNORED outcome does not count. */
    c = base_cfg();
    c.slow_rate = 0.5;
    c.slow_ms = 100;
    c.window_calls = 2;
    c.min_calls = 2;
    b = breaker_new("alpaca", &c);
    breaker_record(b, 0, BREAKER_SUCCESS, 1);
    breaker_record(b, 0, BREAKER_IGNORED, 5000);
    breaker_record(b, 0, BREAKER_SUCCESS, 1);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    breaker_free(b);
}

static void test_ignored(void) {
    breaker_config_t c = base_cfg();
    c.window_calls = 4;
    c.min_calls = 4;
    c.failure_rate = 0.5;

    /* Ignored outcomes do not trip: they are not failures... */
    breaker_t *b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    for (int i = 0; i < 10; i++) rec(b, 0, BREAKER_IGNORED);
    rec(b, 0, BREAKER_SUCCESS);
    rec(b, 0, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_CLOSED);   /* F S S: 3 calls */
    rec(b, 0, BREAKER_SUCCESS);                  /* F S S S: 1/4 */
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    breaker_free(b);

    /* ...and do not dilute: they are not successes, nor do they push
     * failures out of the window. */
    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_FAILURE);
    for (int i = 0; i < 10; i++) rec(b, 0, BREAKER_IGNORED);
    rec(b, 0, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_CLOSED);   /* 3 calls */
    rec(b, 0, BREAKER_SUCCESS);                  /* F F S S: 2/4 */
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);
}

/* ---- OPEN and HALF_OPEN --------------------------------------------------- */

static void test_open_then_probe(void) {
    breaker_config_t c = base_cfg();
    c.half_open_calls = 3;
    c.open_ms = 5000;
    event_log_t log;
    breaker_t *b = new_logged(&c, &log);
    trip(b, &c, 1000);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    CHECK(breaker_open_until(b) == 6000);

    CHECK(breaker_allow(b, 1000) == 0);
    CHECK(breaker_allow(b, 5999) == 0);
    CHECK(breaker_state(b) == BREAKER_OPEN);   /* not moved by state() */
    CHECK(log.n == 1);

    CHECK(breaker_allow(b, 6000) == 1);
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);
    CHECK(breaker_open_until(b) == 0);
    CHECK(log.n == 2 && event_is(&log, 1, BREAKER_OPEN, BREAKER_HALF_OPEN, 6000));
    CHECK(breaker_allow(b, 6001) == 1);
    CHECK(breaker_allow(b, 6002) == 1);
    CHECK(breaker_allow(b, 6003) == 0);   /* all 3 permits out */
    CHECK(breaker_allow(b, 9999999) == 0);
    CHECK(log.n == 2);

    /* All probes succeed: CLOSED with an empty window.  The window held 4
     * failures before; had it kept them one more failure would reopen. */
    rec(b, 6100, BREAKER_SUCCESS);
    rec(b, 6100, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);
    CHECK(breaker_allow(b, 6100) == 0);   /* 2 in + 1 out */
    rec(b, 6200, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    CHECK(log.n == 3 && event_is(&log, 2, BREAKER_HALF_OPEN, BREAKER_CLOSED, 6200));
    CHECK(breaker_allow(b, 6200) == 1);
    rec(b, 6300, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    /* ...and the probes did not enter the window either: 3 more failures
     * make 4/4, not 4/7. */
    rec(b, 6300, BREAKER_FAILURE);
    rec(b, 6300, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    rec(b, 6300, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    CHECK(log.n == 4);
    breaker_free(b);
}

/* Drives a fresh breaker to HALF_OPEN with all permits taken. */
static breaker_t *half_open_with_permits(const breaker_config_t *c, event_log_t *log) {
    breaker_t *b = new_logged(c, log);
    trip(b, c, 0);
    for (int i = 0; i < c->half_open_calls; i++)
        CHECK(breaker_allow(b, c->open_ms) == 1);
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);
    return b;
}

static void test_one_failing_probe(void) {
    event_log_t log;
    breaker_config_t c = base_cfg();
    c.failure_rate = 0.5;

    /* 1 of 3 failed: 0.333 < 0.5, closes.  No verdict before the 3rd. */
    c.half_open_calls = 3;
    breaker_t *b = half_open_with_permits(&c, &log);
    rec(b, 7000, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);
    rec(b, 7000, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);
    rec(b, 7000, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    breaker_free(b);

    /* 1 of 2 failed: 0.5 >= 0.5, opens again. */
    c.half_open_calls = 2;
    b = half_open_with_permits(&c, &log);
    rec(b, 7000, BREAKER_SUCCESS);
    rec(b, 7000, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);

    /* 1 of 4 at failure_rate 0.25: opens (>=). */
    c.half_open_calls = 4;
    c.failure_rate = 0.25;
    b = half_open_with_permits(&c, &log);
    rec(b, 7000, BREAKER_SUCCESS);
    rec(b, 7000, BREAKER_SUCCESS);
    rec(b, 7000, BREAKER_FAILURE);
    rec(b, 7000, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);
}

static void test_failing_probes_reopen(void) {
    breaker_config_t c = base_cfg();
    c.half_open_calls = 2;
    c.open_ms = 5000;
    event_log_t log;
    breaker_t *b = half_open_with_permits(&c, &log);   /* HALF_OPEN at 5000 */
    rec(b, 8000, BREAKER_FAILURE);
    rec(b, 8500, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    CHECK(breaker_open_until(b) == 8500 + 5000);   /* fresh open_ms */
    CHECK(log.n == 3 && event_is(&log, 2, BREAKER_HALF_OPEN, BREAKER_OPEN, 8500));
    CHECK(breaker_allow(b, 13499) == 0);
    CHECK(breaker_allow(b, 13500) == 1);
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);
    /* A new HALF_OPEN has all its permits again. */
    CHECK(breaker_allow(b, 13500) == 1);
    CHECK(breaker_allow(b, 13500) == 0);
    CHECK(log.n == 4 && event_is(&log, 3, BREAKER_OPEN, BREAKER_HALF_OPEN, 13500));
    rec(b, 13600, BREAKER_SUCCESS);
    rec(b, 13600, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    breaker_free(b);

    /* Slow probes reopen too. */
    c = base_cfg();
    c.half_open_calls = 2;
    c.slow_rate = 1.0;
    c.slow_ms = 100;
    b = half_open_with_permits(&c, &log);
    breaker_record(b, 9000, BREAKER_SUCCESS, 150);
    breaker_record(b, 9000, BREAKER_SUCCESS, 100);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    CHECK(breaker_open_until(b) == 9000 + c.open_ms);
    breaker_free(b);

    /* One slow probe of two at slow_rate 1.0 closes. */
    b = half_open_with_permits(&c, &log);
    breaker_record(b, 9000, BREAKER_SUCCESS, 150);
    breaker_record(b, 9000, BREAKER_SUCCESS, 99);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    breaker_free(b);
}

static void test_ignored_probe(void) {
    breaker_config_t c = base_cfg();
    c.half_open_calls = 2;
    event_log_t log;
    breaker_t *b = half_open_with_permits(&c, &log);
    CHECK(breaker_allow(b, 6000) == 0);
    rec(b, 6000, BREAKER_IGNORED);           /* permit back, no verdict */
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);
    CHECK(breaker_allow(b, 6000) == 1);
    CHECK(breaker_allow(b, 6000) == 0);
    rec(b, 6100, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);   /* 1 of 2 in */
    rec(b, 6100, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    CHECK(log.n == 3);
    breaker_free(b);

    /* Ignored probes only: it stays HALF_OPEN, each permit reusable. */
    b = half_open_with_permits(&c, &log);
    for (int i = 0; i < 5; i++) {
        rec(b, 6000, BREAKER_IGNORED);
        CHECK(breaker_allow(b, 6000) == 1);
    }
    CHECK(breaker_allow(b, 6000) == 0);
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);
    breaker_free(b);
}

static void test_late_outcomes(void) {
    breaker_config_t c = base_cfg();
    c.half_open_calls = 1;
    event_log_t log;
    breaker_t *b = new_logged(&c, &log);
    trip(b, &c, 0);
    /* Calls let through before it opened end now: dropped while OPEN. */
    for (int i = 0; i < 10; i++) rec(b, 100, BREAKER_SUCCESS);
    for (int i = 0; i < 10; i++) rec(b, 100, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    CHECK(breaker_open_until(b) == c.open_ms);
    /* HALF_OPEN with no permit out: an outcome cannot be a probe's. */
    CHECK(breaker_allow(b, c.open_ms) == 1);
    CHECK(breaker_allow(b, c.open_ms) == 0);
    rec(b, c.open_ms, BREAKER_SUCCESS);     /* the probe: closes */
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    /* None of the dropped failures reached the window. */
    for (int i = 0; i < c.min_calls - 1; i++) rec(b, c.open_ms, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    breaker_free(b);

    b = new_logged(&c, &log);
    trip(b, &c, 0);
    CHECK(breaker_allow(b, c.open_ms) == 1);   /* HALF_OPEN, permit out */
    rec(b, c.open_ms, BREAKER_SUCCESS);        /* probe: closes */
    rec(b, c.open_ms, BREAKER_FAILURE);        /* a straggler: in the window */
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    breaker_free(b);

    /* An outcome with no permit out in HALF_OPEN is dropped. */
    c.half_open_calls = 2;
    b = new_logged(&c, &log);
    trip(b, &c, 0);
    CHECK(breaker_allow(b, c.open_ms) == 1);
    rec(b, c.open_ms, BREAKER_SUCCESS);        /* 1 of 2 */
    rec(b, c.open_ms, BREAKER_SUCCESS);        /* no permit out: dropped */
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);
    CHECK(breaker_allow(b, c.open_ms) == 1);
    CHECK(breaker_allow(b, c.open_ms) == 0);
    rec(b, c.open_ms, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    breaker_free(b);
}

/* ---- forced transitions --------------------------------------------------- */

static void test_force_open(void) {
    breaker_config_t c = base_cfg();
    c.open_ms = 5000;
    event_log_t log;
    breaker_t *b = new_logged(&c, &log);

    breaker_force_open(b, 5000, 100);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    CHECK(breaker_open_until(b) == 5000);
    CHECK(log.n == 1 && event_is(&log, 0, BREAKER_CLOSED, BREAKER_OPEN, 100));
    breaker_force_open(b, 3000, 200);        /* does not shorten */
    CHECK(breaker_open_until(b) == 5000);
    breaker_force_open(b, 8000, 300);        /* extends */
    CHECK(breaker_open_until(b) == 8000);
    CHECK(log.n == 1);                       /* state did not change */
    CHECK(breaker_allow(b, 7999) == 0);
    CHECK(breaker_allow(b, 8000) == 1);
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);
    CHECK(log.n == 2 && event_is(&log, 1, BREAKER_OPEN, BREAKER_HALF_OPEN, 8000));

    /* From HALF_OPEN: opens, and the probes in flight are forgotten. */
    CHECK(breaker_allow(b, 8000) == 1);
    CHECK(breaker_allow(b, 8000) == 1);
    breaker_force_open(b, 9000, 8100);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    CHECK(breaker_open_until(b) == 9000);
    CHECK(log.n == 3 && event_is(&log, 2, BREAKER_HALF_OPEN, BREAKER_OPEN, 8100));
    rec(b, 8200, BREAKER_SUCCESS);           /* old probes end: dropped */
    rec(b, 8200, BREAKER_SUCCESS);
    rec(b, 8200, BREAKER_SUCCESS);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    CHECK(breaker_allow(b, 9000) == 1);
    CHECK(breaker_allow(b, 9000) == 1);
    CHECK(breaker_allow(b, 9000) == 1);      /* a full set of 3 permits */
    CHECK(breaker_allow(b, 9000) == 0);
    breaker_free(b);

    /* After a trip: force_open cannot shorten the trip's open_ms. */
    b = new_logged(&c, &log);
    trip(b, &c, 1000);                        /* until 6000 */
    breaker_force_open(b, 2000, 1000);
    CHECK(breaker_open_until(b) == 6000);
    breaker_force_open(b, 7000, 1000);
    CHECK(breaker_open_until(b) == 7000);
    CHECK(log.n == 1);
    breaker_free(b);
}

static void test_force_close(void) {
    breaker_config_t c = base_cfg();
    event_log_t log;
    breaker_t *b = new_logged(&c, &log);

    /* From CLOSED: no transition, but the window is emptied. */
    for (int i = 0; i < c.min_calls - 1; i++) rec(b, 0, BREAKER_FAILURE);
    breaker_force_close(b, 10);
    CHECK(log.n == 0);
    rec(b, 20, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_CLOSED);   /* 1 call, not min_calls */

    /* From OPEN. */
    trip(b, &c, 100);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_force_close(b, 200);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    CHECK(breaker_open_until(b) == 0);
    CHECK(breaker_allow(b, 200) == 1);
    CHECK(log.n == 2 && event_is(&log, 1, BREAKER_OPEN, BREAKER_CLOSED, 200));
    rec(b, 300, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_CLOSED);

    /* From HALF_OPEN. */
    breaker_force_close(b, 300);
    trip(b, &c, 400);
    CHECK(breaker_allow(b, 400 + c.open_ms) == 1);
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);
    breaker_force_close(b, 6000);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    CHECK(log.n == 5 && event_is(&log, 4, BREAKER_HALF_OPEN, BREAKER_CLOSED, 6000));
    breaker_free(b);
}

static void test_listener_removed(void) {
    breaker_config_t c = base_cfg();
    event_log_t log;
    breaker_t *b = new_logged(&c, &log);
    breaker_on_transition(b, NULL, NULL);
    trip(b, &c, 0);
    breaker_force_close(b, 1);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    CHECK(log.n == 0);
    breaker_free(b);
}

/* ---- threads -------------------------------------------------------------- */

#define THREADS 4
#define OPS 20000

static _Atomic int64_t clock_ms;
static atomic_int transitions[3][3];   /* [from][to] */
static atomic_int bad_listener_calls;

static void count_listener(void *ud, const char *name, breaker_state_t from,
                           breaker_state_t to, int64_t now_ms) {
    breaker_t *b = ud;
    (void)now_ms;
    /* Calls back in (the lock must be released) and checks arguments. */
    (void)breaker_state(b);
    (void)breaker_open_until(b);
    if (from == to || strcmp(name, "threads") != 0 || (int)from > 2 || (int)to > 2)
        atomic_fetch_add(&bad_listener_calls, 1);
    else
        atomic_fetch_add(&transitions[from][to], 1);
}

typedef struct worker_arg {
    breaker_t *b;
    int id;
    int allowed;
    int denied;
} worker_arg_t;

/* Each thread calls, records an outcome (failures in bursts so the breaker
 * goes round its states), and now and then forces it open or closed. */
static void *worker(void *p) {
    worker_arg_t *a = p;
    unsigned seed = (unsigned)a->id * 7919u + 1;
    for (int i = 0; i < OPS; i++) {
        int64_t now = atomic_fetch_add(&clock_ms, 1);
        if (breaker_allow(a->b, now)) {
            a->allowed++;
            int r = rand_r(&seed) % 100;
            breaker_outcome_t o = r < 40 ? BREAKER_FAILURE
                                : r < 50 ? BREAKER_IGNORED : BREAKER_SUCCESS;
            breaker_record(a->b, atomic_load(&clock_ms), o, r % 7);
        } else {
            a->denied++;
        }
        if (i % 997 == 0) breaker_force_open(a->b, now + 50, now);
        if (i % 1499 == 0) breaker_force_close(a->b, now);
        (void)breaker_state(a->b);
    }
    return NULL;
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
    breaker_t *b = breaker_new("threads", &c);
    breaker_on_transition(b, count_listener, b);

    pthread_t th[THREADS];
    worker_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg_t){b, i, 0, 0};
        CHECK(pthread_create(&th[i], NULL, worker, &args[i]) == 0);
    }
    int allowed = 0, denied = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        allowed += args[i].allowed;
        denied += args[i].denied;
    }
    CHECK(allowed + denied == THREADS * OPS);
    CHECK(allowed > 0 && denied > 0);   /* it did open and close */
    CHECK(atomic_load(&bad_listener_calls) == 0);

    /* Entries minus exits per state must match a walk from CLOSED to the
     * final state, whatever order the listeners ran in. */
    int in[3] = {0}, out[3] = {0}, total = 0;
    for (int f = 0; f < 3; f++)
        for (int t = 0; t < 3; t++) {
            int n = atomic_load(&transitions[f][t]);
            out[f] += n;
            in[t] += n;
            total += n;
        }
    breaker_state_t s = breaker_state(b);
    for (int x = 0; x < 3; x++)
        CHECK(in[x] - out[x] == (x == (int)s) - (x == BREAKER_CLOSED));
    CHECK(atomic_load(&transitions[BREAKER_CLOSED][BREAKER_HALF_OPEN]) == 0);
    CHECK(atomic_load(&transitions[BREAKER_OPEN][BREAKER_HALF_OPEN]) > 0);
    CHECK(atomic_load(&transitions[BREAKER_HALF_OPEN][BREAKER_CLOSED]) > 0);
    CHECK(total > 10);
    printf("threads: %d allowed, %d denied, %d transitions\n", allowed, denied, total);

    /* Still a working breaker afterwards. */
    int64_t now = atomic_load(&clock_ms) + 1000000;
    breaker_force_close(b, now);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    for (int i = 0; i < c.min_calls; i++) rec(b, now, BREAKER_FAILURE);
    CHECK(breaker_state(b) == BREAKER_OPEN);
    breaker_free(b);
}

/* 4 threads race for the probe permits of one HALF_OPEN: exactly
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

static void test_probe_race(void) {
    breaker_config_t c = base_cfg();
    c.half_open_calls = 7;
    breaker_t *b = breaker_new("threads", &c);
    for (int f = 0; f < 3; f++)
        for (int t = 0; t < 3; t++) atomic_store(&transitions[f][t], 0);
    breaker_on_transition(b, count_listener, b);
    trip(b, &c, 0);

    pthread_t th[THREADS];
    race_arg_t args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (race_arg_t){b, 0};
        CHECK(pthread_create(&th[i], NULL, probe_racer, &args[i]) == 0);
    }
    int granted = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        granted += args[i].granted;
    }
    CHECK(granted == c.half_open_calls);
    CHECK(atomic_load(&transitions[BREAKER_OPEN][BREAKER_HALF_OPEN]) == 1);
    CHECK(breaker_state(b) == BREAKER_HALF_OPEN);

    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, probe_reporter, &args[i]) == 0);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    CHECK(breaker_state(b) == BREAKER_CLOSED);
    CHECK(atomic_load(&transitions[BREAKER_HALF_OPEN][BREAKER_CLOSED]) == 1);
    CHECK(atomic_load(&transitions[BREAKER_HALF_OPEN][BREAKER_OPEN]) == 0);
    breaker_free(b);
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: timed out (deadlock?)\n";
    ssize_t w = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
    (void)w;
    _exit(2);
}

int main(void) {
    signal(SIGALRM, on_alarm);
    alarm(120);   /* generous: valgrind serialises the threads */

    test_new();
    test_min_calls();
    test_failure_boundary();
    test_count_window();
    test_time_window();
    test_slow_calls();
    test_ignored();
    test_open_then_probe();
    test_one_failing_probe();
    test_failing_probes_reopen();
    test_ignored_probe();
    test_late_outcomes();
    test_force_open();
    test_force_close();
    test_listener_removed();
    test_threads();
    test_probe_race();

    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
