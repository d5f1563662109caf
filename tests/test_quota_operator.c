/* test_quota_operator.c -- the operators' side of the quotas and of the
 * shared Alpaca budget (quota.c: quota_show, quota_override_get|set;
 * budget.c: budget_show) against the test stack's Redis (REDIS_URL),
 * checked against the worker's own writers of the same keys: what
 * quota_show reports after real charges (quota_charge, the script) and
 * what the script charges under an override, what budget_show counts after
 * real grants (budget_take) and a block (budget_observe).
 *
 * Subject ids carry the pid and the time, so reruns never meet.  The
 * budget's keys are the stack's own: the grants taken here count against
 * the replicas' budget (3 calls), and the block lasts a second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"
#include "config.h"
#include "metrics.h"
#include "quota.h"
#include "redisconn.h"
#include "stack.h"
#include "timefmt.h"
#include "unit.h"

static const char *redis_url;
static redisconn_t *rc;   /* the operator's connection */
static quota_t *q;        /* a lane's, charging through the script */
static char tag[48];
static int seq;

static void id_of(char *out, size_t n, const char *what) { snprintf(out, n, "t-%s-%s", what, tag); }

/* Charges one trade of bot id at limit per minute; the decision. */
static quota_decision_t charge(const char *id, int limit) {
    char intent[96], err[256];
    snprintf(intent, sizeof intent, "it-%s-%d", tag, ++seq);
    quota_decision_t d;
    memset(&d, 0, sizeof d);
    EXPECT_MSG(quota_charge(q, "bot", id, intent, limit, 60000, &d, err, sizeof err) == 0,
               "quota_charge: %s", err);
    return d;
}

static void test_idle_subject(void) {
    char id[64], err[256];
    id_of(id, sizeof id, "idle");
    quota_status_t s;
    if (quota_show(rc, "user", id, 10, 60000, &s, err, sizeof err) != 0)
        UNIT_ABORT("quota_show: %s", err);
    EXPECT_INT(s.used, 0);
    EXPECT_INT(s.remaining, 10);
    EXPECT_INT(s.limit, 10);
    EXPECT_INT(s.reset_ms, 0);
    EXPECT_INT(s.retry_after_ms, 0);
    EXPECT_INT(s.overridden, 0);
}

static void test_show_agrees_with_charges(void) {
    char id[64], err[256];
    id_of(id, sizeof id, "charged");
    quota_decision_t d;
    memset(&d, 0, sizeof d);
    for (int i = 0; i < 3; i++)
        d = charge(id, 10);
    quota_status_t s;
    if (quota_show(rc, "bot", id, 10, 60000, &s, err, sizeof err) != 0)
        UNIT_ABORT("quota_show: %s", err);
    EXPECT_INT(s.used, 3);
    EXPECT_INT(s.remaining, d.remaining);
    EXPECT_INT(s.retry_after_ms, 0);
    EXPECT_MSG(s.reset_ms > 17000 && s.reset_ms <= 18000, "reset_ms %lld", (long long)s.reset_ms);
    for (int i = 0; i < 8; i++)
        d = charge(id, 10);
    EXPECT_INT(d.allowed, 0); /* the eleventh */
    if (quota_show(rc, "bot", id, 10, 60000, &s, err, sizeof err) != 0)
        UNIT_ABORT("quota_show: %s", err);
    EXPECT_INT(s.used, 10);
    EXPECT_INT(s.remaining, 0);
    EXPECT_MSG(s.retry_after_ms > 0 && s.retry_after_ms <= d.retry_after_ms,
               "retry_after_ms %lld, the script said %lld", (long long)s.retry_after_ms,
               (long long)d.retry_after_ms);
}

static void test_override_is_what_the_script_uses(void) {
    char id[64], err[256];
    id_of(id, sizeof id, "override");
    int64_t limit = 0;
    EXPECT_INT(quota_override_get(rc, "bot", id, &limit, err, sizeof err), 0);
    if (quota_override_set(rc, "bot", id, 3, err, sizeof err) != 0)
        UNIT_ABORT("quota_override_set: %s", err);
    EXPECT_INT(quota_override_get(rc, "bot", id, &limit, err, sizeof err), 1);
    EXPECT_INT(limit, 3);
    quota_decision_t d = charge(id, 10); /* the worker's default: 10 */
    EXPECT_INT(d.limit, 3);
    EXPECT_INT(d.remaining, 2);
    quota_status_t s;
    if (quota_show(rc, "bot", id, 10, 60000, &s, err, sizeof err) != 0)
        UNIT_ABORT("quota_show: %s", err);
    EXPECT_INT(s.limit, 3);
    EXPECT_INT(s.overridden, 1);
    EXPECT_INT(s.used, 1);
    EXPECT_INT(s.remaining, 2);
    if (quota_override_set(rc, "bot", id, 0, err, sizeof err) != 0)
        UNIT_ABORT("quota_override_set 0: %s", err);
    EXPECT_INT(quota_override_get(rc, "bot", id, &limit, err, sizeof err), 0);
    if (quota_show(rc, "bot", id, 10, 60000, &s, err, sizeof err) != 0)
        UNIT_ABORT("quota_show: %s", err);
    EXPECT_INT(s.limit, 10);
    EXPECT_INT(s.overridden, 0);
    EXPECT_INT(charge(id, 10).limit, 10);
}

static void test_bad_input_is_refused(void) {
    char id[64], err[256];
    id_of(id, sizeof id, "bad");
    quota_status_t s;
    EXPECT_INT(quota_show(rc, "bot", "a:b}", 10, 60000, &s, err, sizeof err), -1);
    EXPECT_MSG(strstr(err, "quota:") == err, "err '%s'", err);
    EXPECT_INT(quota_override_set(rc, "bot", id, 2000000, err, sizeof err), -1);
    EXPECT_INT(quota_show(rc, "bot", id, 1LL << 40, 60000, &s, err, sizeof err), -1);
    EXPECT_MSG(strstr(err, "beyond what the quota script computes exactly") != NULL, "err '%s'",
               err);
}

static void test_budget_show_counts_grants_and_blocks(void) {
    config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        UNIT_ABORT("out of memory");
    snprintf(cfg->redis_url, sizeof cfg->redis_url, "%s", redis_url);
    snprintf(cfg->replica_id, sizeof cfg->replica_id, "t-budget-%s", tag);
    cfg->alpaca_calls_per_min = 1000000; /* never waits here */
    cfg->rate_period_ms = 60000;
    char err[256];
    budget_t *b = budget_new(cfg, err, sizeof err);
    if (!b) {
        free(cfg);
        UNIT_ABORT("budget_new: %s", err);
    }
    budget_status_t before, after;
    EXPECT_MSG(budget_show(rc, 200, 60000, &before, err, sizeof err) == 0, "budget_show: %s", err);
    for (int i = 0; i < 3; i++)
        EXPECT_INT(budget_take(b, BUDGET_FOLLOW, timefmt_mono_ms() + 5000, NULL, NULL), 0);
    EXPECT_MSG(budget_show(rc, 200, 60000, &after, err, sizeof err) == 0, "budget_show: %s", err);
    EXPECT_MSG(after.used >= before.used + 3, "used %lld after %lld", (long long)after.used,
               (long long)before.used);
    EXPECT_INT(after.limit, 200);
    EXPECT_INT(after.period_ms, 60000);
    EXPECT_INT(after.remaining, after.used < 200 ? 200 - after.used : 0);
    EXPECT_MSG(after.reset_ms >= 0 && after.reset_ms <= 60000, "reset_ms %lld",
               (long long)after.reset_ms);
    /* a 429 blocks every grant until Alpaca's reset (here: a second) */
    budget_observe(b, -1, 0, 1);
    EXPECT_MSG(budget_show(rc, 200, 60000, &after, err, sizeof err) == 0, "budget_show: %s", err);
    EXPECT_INT(after.blocked, 1);
    EXPECT_MSG(after.blocked_ms > 0 && after.blocked_ms <= 1000, "blocked_ms %lld",
               (long long)after.blocked_ms);
    budget_free(b);
    free(cfg);
}

static const unit_test_t TESTS[] = {
    {"idle_subject", test_idle_subject},
    {"show_agrees_with_charges", test_show_agrees_with_charges},
    {"override_is_what_the_script_uses", test_override_is_what_the_script_uses},
    {"bad_input_is_refused", test_bad_input_is_refused},
    {"budget_show_counts_grants_and_blocks", test_budget_show_counts_grants_and_blocks},
    {NULL, NULL}};

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0)
        return unit_main(TESTS, argc, argv);
    redis_url = getenv("REDIS_URL");
    if (!redis_url || !*redis_url) {
        printf("FAIL: REDIS_URL is not set (the test stack's Redis)\n");
        return 1;
    }
    char err[512];
    int code = 1;
    rc = redisconn_new(redis_url, "test-quota-operator", 2000, err, sizeof err);
    q = rc ? quota_connect(redis_url, err, sizeof err) : NULL;
    if (!q) {
        printf("FAIL: Redis: %s\n", err);
    } else {
        stack_tag(tag, sizeof tag);
        code = unit_main(TESTS, argc, argv);
    }
    quota_close(q);
    redisconn_free(rc);
    metrics_free();
    return code;
}
