/* test_breaker.c -- tests for breaker.c, the circuit breaker state machine.
 *
 * The breaker reads no clock, so every test drives it with plain int64
 * `now` values and checks each transition and each threshold at its
 * boundary.  A listener records every transition so the tests can check it
 * is called once per transition with the right from/to (breaker_fixture.h,
 * shared with test_breaker_threads.c, which runs threads against one
 * breaker).  An alarm turns a deadlock into a failure.  Runs on
 * tests/unit.h (`test_breaker --list` names the tests). */
#include "breaker.h"

#include <string.h>

#include "breaker_fixture.h"
#include "unit.h"

/* ---- construction ------------------------------------------------------- */

static void test_new(void) {
    breaker_config_t c = base_cfg();
    breaker_t *b = breaker_new("alpaca", &c);
    if (!EXPECT(b != NULL)) return;
    EXPECT_STR(breaker_name(b), "alpaca");
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    EXPECT_INT(breaker_open_until(b), 0);
    EXPECT_INT(breaker_allow(b, 0), 1);
    breaker_free(b);

    EXPECT_STR(breaker_state_name(BREAKER_CLOSED), "closed");
    EXPECT_STR(breaker_state_name(BREAKER_OPEN), "open");
    EXPECT_STR(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
}

/* The name and the config are copied: changing the caller's copies changes
 * nothing. */
static void test_new_copies(void) {
    breaker_config_t c = base_cfg();
    /* The name is cut to 63 characters. */
    char longname[100];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    breaker_t *b = breaker_new(longname, &c);
    if (!EXPECT(b != NULL)) return;
    EXPECT_INT(strlen(breaker_name(b)), 63);
    EXPECT_MSG(strncmp(breaker_name(b), longname, 63) == 0, "name \"%s\" is the long name cut",
               breaker_name(b));
    breaker_free(b);

    char name[16] = "broker";
    b = breaker_new(name, &c);
    name[0] = 'X';
    EXPECT_STR(breaker_name(b), "broker");
    breaker_free(b);

    c.min_calls = 1;
    b = breaker_new("alpaca", &c);
    c.min_calls = 100;
    c.failure_rate = 1.0;
    rec(b, 0, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    breaker_free(b);
}

/* One check: breaker_new refuses c (what: the field that is wrong). */
static void expect_refused_config(const breaker_config_t *c, const char *what) {
    breaker_t *b = breaker_new("x", c);
    EXPECT_MSG(b == NULL, "a config with %s is refused", what);
    breaker_free(b);
}

static void test_new_refuses_bad_config(void) {
    breaker_config_t bad;
    bad = base_cfg(); bad.failure_rate = 0.0;
    expect_refused_config(&bad, "failure_rate 0");
    bad = base_cfg(); bad.failure_rate = 1.5;
    expect_refused_config(&bad, "failure_rate 1.5");
    bad = base_cfg(); bad.slow_rate = -0.1;
    expect_refused_config(&bad, "slow_rate -0.1");
    bad = base_cfg(); bad.window_calls = 0;
    expect_refused_config(&bad, "window_calls 0");
    bad = base_cfg(); bad.window_ms = 0;
    expect_refused_config(&bad, "window_ms 0");
    bad = base_cfg(); bad.half_open_calls = 0;
    expect_refused_config(&bad, "half_open_calls 0");
    bad = base_cfg(); bad.slow_ms = 0;
    expect_refused_config(&bad, "slow_ms 0");
    bad = base_cfg(); bad.open_ms = -1;
    expect_refused_config(&bad, "open_ms -1");
    expect_refused_config(NULL, "no config at all");
}

/* min_calls larger than the window is clamped to it, else the breaker
 * could never open. */
static void test_new_clamps_min_calls(void) {
    breaker_config_t c = base_cfg();
    c.window_calls = 3;
    c.min_calls = 50;
    breaker_t *b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    rec(b, 0, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
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
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);   /* 100% failures, 4 < 5 */
    EXPECT_INT(breaker_allow(b, 100), 1);
    EXPECT_INT(log.n, 0);
    rec(b, 200, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    EXPECT_INT(breaker_open_until(b), 200 + c.open_ms);
    EXPECT_INT(log.n, 1);
    EXPECT_EVENT(&log, 0, BREAKER_CLOSED, BREAKER_OPEN, 200);
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
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    rec(b, 0, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
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
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);   /* 2/10 < 0.3 */
    breaker_free(b);

    b = breaker_new("alpaca", &c);
    for (int i = 0; i < 3; i++) rec(b, 0, BREAKER_FAILURE);
    for (int i = 0; i < 6; i++) rec(b, 0, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);   /* only 9 calls */
    rec(b, 0, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);     /* 3/10 >= 0.3 */
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
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);   /* 6/100 */
    rec(b, 0, BREAKER_FAILURE);                  /* drops a success: 7/100 */
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
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
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    breaker_free(b);

    /* failure_rate 1.0: only all-failure windows open. */
    c = base_cfg();
    c.failure_rate = 1.0;
    c.window_calls = 4;
    c.min_calls = 4;
    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_SUCCESS);
    for (int i = 0; i < 3; i++) rec(b, 0, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    rec(b, 0, BREAKER_FAILURE);   /* the success falls out */
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
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
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    /* S F F F: 3/4 opens (counting everything would be 5/9 and not). */
    rec(b, 0, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
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
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    rec(b, 0, BREAKER_FAILURE);   /* S S F F: 2/4 */
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
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
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    breaker_free(b);

    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 100, BREAKER_FAILURE);
    rec(b, 1000, BREAKER_SUCCESS);  /* F@0 out: F@100 S = 2 calls < 3 */
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    rec(b, 1050, BREAKER_SUCCESS);  /* F@100 S S: 1/3 */
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    rec(b, 1100, BREAKER_FAILURE);  /* F@100 out: S S F: 1/3 */
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    rec(b, 1200, BREAKER_FAILURE);  /* S S F F: 2/4 */
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    breaker_free(b);

    /* Failures long ago never add up with new ones. */
    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 5000, BREAKER_FAILURE);
    rec(b, 5000, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);   /* 2 calls in the window */
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
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);   /* 99 < 100: not slow */
    breaker_record(b, 10, BREAKER_SUCCESS, 100); /* == slow_ms: slow, 1/2 */
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    EXPECT_INT(log.n, 1);
    EXPECT_EVENT(&log, 0, BREAKER_CLOSED, BREAKER_OPEN, 10);
    EXPECT_INT(breaker_open_until(b), 10 + c.open_ms);
    breaker_free(b);

    /* A slow failure counts as slow too; a fast one does not. */
    c.failure_rate = 1.0;
    c.slow_rate = 1.0;
    b = breaker_new("alpaca", &c);
    breaker_record(b, 0, BREAKER_SUCCESS, 500);
    breaker_record(b, 0, BREAKER_FAILURE, 5);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);   /* 1/2 slow, 1/2 failed */
    breaker_record(b, 0, BREAKER_SUCCESS, 100);  /* F5 S100: 1/2, 1/2 */
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    breaker_record(b, 0, BREAKER_FAILURE, 500);  /* S100 F500: all slow */
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
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
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
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
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);   /* F S S: 3 calls */
    rec(b, 0, BREAKER_SUCCESS);                  /* F S S S: 1/4 */
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    breaker_free(b);

    /* ...and do not dilute: they are not successes, nor do they push
     * failures out of the window. */
    b = breaker_new("alpaca", &c);
    rec(b, 0, BREAKER_FAILURE);
    rec(b, 0, BREAKER_FAILURE);
    for (int i = 0; i < 10; i++) rec(b, 0, BREAKER_IGNORED);
    rec(b, 0, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);   /* 3 calls */
    rec(b, 0, BREAKER_SUCCESS);                  /* F F S S: 2/4 */
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
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
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    EXPECT_INT(breaker_open_until(b), 6000);

    EXPECT_INT(breaker_allow(b, 1000), 0);
    EXPECT_INT(breaker_allow(b, 5999), 0);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);   /* not moved by state() */
    EXPECT_INT(log.n, 1);

    EXPECT_INT(breaker_allow(b, 6000), 1);
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);
    EXPECT_INT(breaker_open_until(b), 0);
    EXPECT_INT(log.n, 2);
    EXPECT_EVENT(&log, 1, BREAKER_OPEN, BREAKER_HALF_OPEN, 6000);
    EXPECT_INT(breaker_allow(b, 6001), 1);
    EXPECT_INT(breaker_allow(b, 6002), 1);
    EXPECT_INT(breaker_allow(b, 6003), 0);   /* all 3 permits out */
    EXPECT_INT(breaker_allow(b, 9999999), 0);
    EXPECT_INT(log.n, 2);

    /* All probes succeed: CLOSED with an empty window.  The window held 4
     * failures before; had it kept them one more failure would reopen. */
    rec(b, 6100, BREAKER_SUCCESS);
    rec(b, 6100, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);
    EXPECT_INT(breaker_allow(b, 6100), 0);   /* 2 in + 1 out */
    rec(b, 6200, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    EXPECT_INT(log.n, 3);
    EXPECT_EVENT(&log, 2, BREAKER_HALF_OPEN, BREAKER_CLOSED, 6200);
    EXPECT_INT(breaker_allow(b, 6200), 1);
    rec(b, 6300, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    /* ...and the probes did not enter the window either: 3 more failures
     * make 4/4, not 4/7. */
    rec(b, 6300, BREAKER_FAILURE);
    rec(b, 6300, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    rec(b, 6300, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    EXPECT_INT(log.n, 4);
    breaker_free(b);
}

/* Drives a fresh breaker to HALF_OPEN with all permits taken. */
static breaker_t *half_open_with_permits(const breaker_config_t *c, event_log_t *log) {
    breaker_t *b = new_logged(c, log);
    trip(b, c, 0);
    for (int i = 0; i < c->half_open_calls; i++)
        EXPECT_INT(breaker_allow(b, c->open_ms), 1);
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);
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
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);
    rec(b, 7000, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);
    rec(b, 7000, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    breaker_free(b);

    /* 1 of 2 failed: 0.5 >= 0.5, opens again. */
    c.half_open_calls = 2;
    b = half_open_with_permits(&c, &log);
    rec(b, 7000, BREAKER_SUCCESS);
    rec(b, 7000, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    breaker_free(b);

    /* 1 of 4 at failure_rate 0.25: opens (>=). */
    c.half_open_calls = 4;
    c.failure_rate = 0.25;
    b = half_open_with_permits(&c, &log);
    rec(b, 7000, BREAKER_SUCCESS);
    rec(b, 7000, BREAKER_SUCCESS);
    rec(b, 7000, BREAKER_FAILURE);
    rec(b, 7000, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
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
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    EXPECT_INT(breaker_open_until(b), 8500 + 5000);   /* fresh open_ms */
    EXPECT_INT(log.n, 3);
    EXPECT_EVENT(&log, 2, BREAKER_HALF_OPEN, BREAKER_OPEN, 8500);
    EXPECT_INT(breaker_allow(b, 13499), 0);
    EXPECT_INT(breaker_allow(b, 13500), 1);
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);
    /* A new HALF_OPEN has all its permits again. */
    EXPECT_INT(breaker_allow(b, 13500), 1);
    EXPECT_INT(breaker_allow(b, 13500), 0);
    EXPECT_INT(log.n, 4);
    EXPECT_EVENT(&log, 3, BREAKER_OPEN, BREAKER_HALF_OPEN, 13500);
    rec(b, 13600, BREAKER_SUCCESS);
    rec(b, 13600, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    breaker_free(b);

    /* Slow probes reopen too. */
    c = base_cfg();
    c.half_open_calls = 2;
    c.slow_rate = 1.0;
    c.slow_ms = 100;
    b = half_open_with_permits(&c, &log);
    breaker_record(b, 9000, BREAKER_SUCCESS, 150);
    breaker_record(b, 9000, BREAKER_SUCCESS, 100);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    EXPECT_INT(breaker_open_until(b), 9000 + c.open_ms);
    breaker_free(b);

    /* One slow probe of two at slow_rate 1.0 closes. */
    b = half_open_with_permits(&c, &log);
    breaker_record(b, 9000, BREAKER_SUCCESS, 150);
    breaker_record(b, 9000, BREAKER_SUCCESS, 99);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    breaker_free(b);
}

static void test_ignored_probe(void) {
    breaker_config_t c = base_cfg();
    c.half_open_calls = 2;
    event_log_t log;
    breaker_t *b = half_open_with_permits(&c, &log);
    EXPECT_INT(breaker_allow(b, 6000), 0);
    rec(b, 6000, BREAKER_IGNORED);           /* permit back, no verdict */
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);
    EXPECT_INT(breaker_allow(b, 6000), 1);
    EXPECT_INT(breaker_allow(b, 6000), 0);
    rec(b, 6100, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);   /* 1 of 2 in */
    rec(b, 6100, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    EXPECT_INT(log.n, 3);
    breaker_free(b);

    /* Ignored probes only: it stays HALF_OPEN, each permit reusable. */
    b = half_open_with_permits(&c, &log);
    for (int i = 0; i < 5; i++) {
        rec(b, 6000, BREAKER_IGNORED);
        EXPECT_INT(breaker_allow(b, 6000), 1);
    }
    EXPECT_INT(breaker_allow(b, 6000), 0);
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);
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
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    EXPECT_INT(breaker_open_until(b), c.open_ms);
    /* HALF_OPEN with no permit out: an outcome cannot be a probe's. */
    EXPECT_INT(breaker_allow(b, c.open_ms), 1);
    EXPECT_INT(breaker_allow(b, c.open_ms), 0);
    rec(b, c.open_ms, BREAKER_SUCCESS);     /* the probe: closes */
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    /* None of the dropped failures reached the window. */
    for (int i = 0; i < c.min_calls - 1; i++) rec(b, c.open_ms, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    breaker_free(b);

    b = new_logged(&c, &log);
    trip(b, &c, 0);
    EXPECT_INT(breaker_allow(b, c.open_ms), 1);   /* HALF_OPEN, permit out */
    rec(b, c.open_ms, BREAKER_SUCCESS);        /* probe: closes */
    rec(b, c.open_ms, BREAKER_FAILURE);        /* a straggler: in the window */
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    breaker_free(b);

    /* An outcome with no permit out in HALF_OPEN is dropped. */
    c.half_open_calls = 2;
    b = new_logged(&c, &log);
    trip(b, &c, 0);
    EXPECT_INT(breaker_allow(b, c.open_ms), 1);
    rec(b, c.open_ms, BREAKER_SUCCESS);        /* 1 of 2 */
    rec(b, c.open_ms, BREAKER_SUCCESS);        /* no permit out: dropped */
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);
    EXPECT_INT(breaker_allow(b, c.open_ms), 1);
    EXPECT_INT(breaker_allow(b, c.open_ms), 0);
    rec(b, c.open_ms, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    breaker_free(b);
}

/* ---- forced transitions --------------------------------------------------- */

static void test_force_open(void) {
    breaker_config_t c = base_cfg();
    c.open_ms = 5000;
    event_log_t log;
    breaker_t *b = new_logged(&c, &log);

    breaker_force_open(b, 5000, 100);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    EXPECT_INT(breaker_open_until(b), 5000);
    EXPECT_INT(log.n, 1);
    EXPECT_EVENT(&log, 0, BREAKER_CLOSED, BREAKER_OPEN, 100);
    breaker_force_open(b, 3000, 200);        /* does not shorten */
    EXPECT_INT(breaker_open_until(b), 5000);
    breaker_force_open(b, 8000, 300);        /* extends */
    EXPECT_INT(breaker_open_until(b), 8000);
    EXPECT_INT(log.n, 1);                       /* state did not change */
    EXPECT_INT(breaker_allow(b, 7999), 0);
    EXPECT_INT(breaker_allow(b, 8000), 1);
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);
    EXPECT_INT(log.n, 2);
    EXPECT_EVENT(&log, 1, BREAKER_OPEN, BREAKER_HALF_OPEN, 8000);

    /* From HALF_OPEN: opens, and the probes in flight are forgotten. */
    EXPECT_INT(breaker_allow(b, 8000), 1);
    EXPECT_INT(breaker_allow(b, 8000), 1);
    breaker_force_open(b, 9000, 8100);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    EXPECT_INT(breaker_open_until(b), 9000);
    EXPECT_INT(log.n, 3);
    EXPECT_EVENT(&log, 2, BREAKER_HALF_OPEN, BREAKER_OPEN, 8100);
    rec(b, 8200, BREAKER_SUCCESS);           /* old probes end: dropped */
    rec(b, 8200, BREAKER_SUCCESS);
    rec(b, 8200, BREAKER_SUCCESS);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    EXPECT_INT(breaker_allow(b, 9000), 1);
    EXPECT_INT(breaker_allow(b, 9000), 1);
    EXPECT_INT(breaker_allow(b, 9000), 1);      /* a full set of 3 permits */
    EXPECT_INT(breaker_allow(b, 9000), 0);
    breaker_free(b);

    /* After a trip: force_open cannot shorten the trip's open_ms. */
    b = new_logged(&c, &log);
    trip(b, &c, 1000);                        /* until 6000 */
    breaker_force_open(b, 2000, 1000);
    EXPECT_INT(breaker_open_until(b), 6000);
    breaker_force_open(b, 7000, 1000);
    EXPECT_INT(breaker_open_until(b), 7000);
    EXPECT_INT(log.n, 1);
    breaker_free(b);
}

static void test_force_close(void) {
    breaker_config_t c = base_cfg();
    event_log_t log;
    breaker_t *b = new_logged(&c, &log);

    /* From CLOSED: no transition, but the window is emptied. */
    for (int i = 0; i < c.min_calls - 1; i++) rec(b, 0, BREAKER_FAILURE);
    breaker_force_close(b, 10);
    EXPECT_INT(log.n, 0);
    rec(b, 20, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);   /* 1 call, not min_calls */

    /* From OPEN. */
    trip(b, &c, 100);
    EXPECT_INT(breaker_state(b), BREAKER_OPEN);
    breaker_force_close(b, 200);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    EXPECT_INT(breaker_open_until(b), 0);
    EXPECT_INT(breaker_allow(b, 200), 1);
    EXPECT_INT(log.n, 2);
    EXPECT_EVENT(&log, 1, BREAKER_OPEN, BREAKER_CLOSED, 200);
    rec(b, 300, BREAKER_FAILURE);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);

    /* From HALF_OPEN. */
    breaker_force_close(b, 300);
    trip(b, &c, 400);
    EXPECT_INT(breaker_allow(b, 400 + c.open_ms), 1);
    EXPECT_INT(breaker_state(b), BREAKER_HALF_OPEN);
    breaker_force_close(b, 6000);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    EXPECT_INT(log.n, 5);
    EXPECT_EVENT(&log, 4, BREAKER_HALF_OPEN, BREAKER_CLOSED, 6000);
    breaker_free(b);
}

static void test_listener_removed(void) {
    breaker_config_t c = base_cfg();
    event_log_t log;
    breaker_t *b = new_logged(&c, &log);
    breaker_on_transition(b, NULL, NULL);
    trip(b, &c, 0);
    breaker_force_close(b, 1);
    EXPECT_INT(breaker_state(b), BREAKER_CLOSED);
    EXPECT_INT(log.n, 0);
    breaker_free(b);
}

static const unit_test_t TESTS[] = {
    {"new", test_new},
    {"new_copies", test_new_copies},
    {"new_refuses_bad_config", test_new_refuses_bad_config},
    {"new_clamps_min_calls", test_new_clamps_min_calls},
    {"min_calls", test_min_calls},
    {"failure_boundary", test_failure_boundary},
    {"count_window", test_count_window},
    {"time_window", test_time_window},
    {"slow_calls", test_slow_calls},
    {"ignored", test_ignored},
    {"open_then_probe", test_open_then_probe},
    {"one_failing_probe", test_one_failing_probe},
    {"failing_probes_reopen", test_failing_probes_reopen},
    {"ignored_probe", test_ignored_probe},
    {"late_outcomes", test_late_outcomes},
    {"force_open", test_force_open},
    {"force_close", test_force_close},
    {"listener_removed", test_listener_removed},
    {NULL, NULL},
};

int main(int argc, char **argv) {
    breaker_fixture_alarm(120);
    return unit_main(TESTS, argc, argv);
}
