/* test_budget_queue.c -- the shared Alpaca budget's queue (budget.c:
 * budget_take) against the test stack's Redis (REDIS_URL), in a database of
 * its own (QUEUE_DB), so that the stack's workers never see these calls and
 * waiters nor these tests theirs.
 *
 * What is checked: a caller that gives up (its deadline, or its abandon
 * flag) leaves the queue at once, so a call that leaves the window goes to
 * the next caller rather than waiting behind the one that left; and the
 * operators' cancel sender's pattern (one short ask per turn, again and
 * again, while the window is full) leaves no waiter behind, and a turn
 * takes the first call that leaves the window. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"
#include "config.h"
#include "metrics.h"
#include "redisconn.h"
#include "stack.h"
#include "timefmt.h"
#include "unit.h"

/* The database these tests use; the stack's own is 0. */
#define QUEUE_DB 9

static char url[512];         /* REDIS_URL with QUEUE_DB (as config_t holds it) */
static redisconn_t *rc;       /* the test's look at the keys */
static char tag[48];

/* REDIS_URL with its database (a trailing "/N", or none) made QUEUE_DB.
 * -1 if it does not fit. */
static int url_with_db(const char *base, char *out, size_t n) {
    size_t len = strlen(base);
    const char *slash = strrchr(base, '/');
    /* "redis://host..." has its last '/' in the scheme when there is no db. */
    if (slash && slash > base + strlen("redis://") - 1 && strspn(slash + 1, "0123456789") ==
                                                              strlen(slash + 1))
        len = (size_t)(slash - base);
    int w = snprintf(out, n, "%.*s/%d", (int)len, base, QUEUE_DB);
    return w > 0 && (size_t)w < n ? 0 : -1;
}

static long long int_of(const char *fmt, const char *arg) {
    char err[256];
    redisReply *r = redisconn_command(rc, err, sizeof err, fmt, arg);
    long long v = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (!r) printf("  redis: %s\n", err);
    if (r) freeReplyObject(r);
    return v;
}

/* Empties the budget's keys of QUEUE_DB. */
static void reset_budget(void) {
    char err[256];
    redisReply *r = redisconn_command(rc, err, sizeof err,
                                      "DEL ow:budget:calls ow:budget:waiters ow:budget:seen "
                                      "ow:budget:blocked_until");
    if (r) freeReplyObject(r);
    else printf("  redis: %s\n", err);
}

/* A budget of limit calls per period_ms (no margin, no reserve) for the
 * replica named after what, on emptied keys; its configuration in *cfg
 * (free it after the budget).  NULL (nothing to free) when it cannot be. */
static budget_t *fresh_budget(config_t **cfg, const char *what, int limit, int64_t period_ms) {
    char err[256];
    reset_budget();
    *cfg = calloc(1, sizeof **cfg);
    if (!*cfg) return NULL;
    snprintf((*cfg)->redis_url, sizeof (*cfg)->redis_url, "%s", url);
    snprintf((*cfg)->replica_id, sizeof (*cfg)->replica_id, "t-%s-%s", what, tag);
    (*cfg)->alpaca_calls_per_min = limit;
    (*cfg)->rate_period_ms = period_ms;
    budget_t *b = budget_new(*cfg, err, sizeof err);
    if (!b) {
        printf("  budget_new: %s\n", err);
        free(*cfg);
    }
    return b;
}

static void sleep_ms(int64_t ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A cancel that gives up at its deadline, while the window is full, is no
 * longer "ahead" of the bot asking after it: when the window's call leaves
 * it (here after 500 ms), the bot gets it then, not once the given-up
 * waiter's last poll is 2 s old. */
static void test_given_up_waiter_leaves_the_queue(void) {
    config_t *cfg;
    budget_t *b = fresh_budget(&cfg, "leave", 1, 500);
    if (!b) UNIT_ABORT("no budget");
    EXPECT_INT(budget_take(b, BUDGET_BOT, timefmt_mono_ms() + 1000, NULL, NULL), 0);
    /* the window is full: the cancel waits 200 ms and gives up */
    EXPECT_INT(budget_take(b, BUDGET_CANCEL, timefmt_mono_ms() + 200, NULL, NULL), 1);
    EXPECT_INT(int_of("ZCARD %s", "ow:budget:waiters"), 0);
    EXPECT_INT(int_of("HLEN %s", "ow:budget:seen"), 0);
    /* the call leaves the window 500 ms after its grant: the bot, next in
     * the queue, gets it well before the 2 s a stale waiter would last */
    int64_t t0 = timefmt_mono_ms();
    EXPECT_INT(budget_take(b, BUDGET_BOT, t0 + 1200, NULL, NULL), 0);
    int64_t waited = timefmt_mono_ms() - t0;
    EXPECT_MSG(waited < 1000, "the bot waited %lld ms for a call that left after ~300 ms",
               (long long)waited);
    /* an abandoned waiter leaves too */
    atomic_int abandon = 1;
    EXPECT_INT(budget_take(b, BUDGET_USER, timefmt_mono_ms() + 1000, &abandon, NULL), 1);
    EXPECT_INT(int_of("ZCARD %s", "ow:budget:waiters"), 0);
    budget_free(b);
    free(cfg);
}

/* The cancel sender's turns: one ask of 300 ms after another while the
 * window (2 calls per 1.5 s, granted 600 ms apart) is full.  No turn leaves
 * a waiter behind, and a turn takes the first call that leaves the window.
 * (Were the turns' waiters left in the queue, each would be "ahead" of the
 * next turn for 2 s: the call that leaves would find the window's other
 * call and a waiter ahead, and no turn would ever be granted.) */
static void test_repeated_short_asks_leave_nothing(void) {
    config_t *cfg;
    budget_t *b = fresh_budget(&cfg, "sender", 2, 1500);
    if (!b) UNIT_ABORT("no budget");
    int64_t first = timefmt_mono_ms();
    EXPECT_INT(budget_take(b, BUDGET_BOT, first + 1000, NULL, NULL), 0);
    sleep_ms(600);
    EXPECT_INT(budget_take(b, BUDGET_BOT, timefmt_mono_ms() + 1000, NULL, NULL), 0);
    int turns = 0, granted = 0, leftovers = 0;
    while (!granted && turns < 12) {
        turns++;
        granted = budget_take(b, BUDGET_CANCEL, timefmt_mono_ms() + 300, NULL, NULL) == 0;
        if (!granted && int_of("ZCARD %s", "ow:budget:waiters") != 0) leftovers++;
    }
    int64_t took = timefmt_mono_ms() - first;
    EXPECT_MSG(granted, "no turn of 300 ms got a call that left the window (%d turns, %lld ms)",
               turns, (long long)took);
    EXPECT_INT(leftovers, 0);
    EXPECT_MSG(took < 2000, "a turn got its call %lld ms after the window's first grant "
               "(which leaves it after 1500 ms)", (long long)took);
    budget_free(b);
    free(cfg);
}

static const unit_test_t TESTS[] = {
    {"given_up_waiter_leaves_the_queue", test_given_up_waiter_leaves_the_queue},
    {"repeated_short_asks_leave_nothing", test_repeated_short_asks_leave_nothing},
    {NULL, NULL}};

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) return unit_main(TESTS, argc, argv);
    const char *base = getenv("REDIS_URL");
    if (!base || !*base) {
        printf("FAIL: REDIS_URL is not set (the test stack's Redis)\n");
        return 1;
    }
    if (url_with_db(base, url, sizeof url) < 0) {
        printf("FAIL: REDIS_URL is too long\n");
        return 1;
    }
    char err[512];
    int code = 1;
    rc = redisconn_new(url, "test-budget-queue", 2000, err, sizeof err);
    if (!rc) {
        printf("FAIL: Redis: %s\n", err);
    } else {
        stack_tag(tag, sizeof tag);
        code = unit_main(TESTS, argc, argv);
        reset_budget();
    }
    redisconn_free(rc);
    metrics_free();
    return code;
}
