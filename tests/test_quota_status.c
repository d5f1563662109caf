/* test_quota_status.c -- the quota figures operators see (quota.c:
 * quota_limit_exact, quota_status_at), without Redis: the same arithmetic
 * as the quota script, on states written by hand.
 *
 * A state is what the script leaves after charges: TAT in whole ms plus a
 * remainder in ticks of 1/limit ms.  From an idle subject, k trades of a
 * limit L per period P leave TAT = now + k*P/L. */
#include <stdint.h>

#include "quota.h"
#include "unit.h"

#define NOW 1700000000000LL

static void test_exact_bound(void) {
    EXPECT_INT(quota_limit_exact(10, 60000), 1);
    EXPECT_INT(quota_limit_exact(1000000, 86400000), 1);
    /* limit * period must stay below 2^50 */
    EXPECT_INT(quota_limit_exact((1LL << 50) / 60000, 60000), 1);
    EXPECT_INT(quota_limit_exact((1LL << 50) / 60000 + 1, 60000), 0);
    EXPECT_INT(quota_limit_exact(0, 60000), 0);
    EXPECT_INT(quota_limit_exact(10, 0), 0);
}

static void test_idle_subject(void) {
    quota_gcra_t s = {0, 0, 0, 0};
    quota_status_t q;
    quota_status_at(&s, NOW, 10, 60000, &q);
    EXPECT_INT(q.used, 0);
    EXPECT_INT(q.remaining, 10);
    EXPECT_INT(q.limit, 10);
    EXPECT_INT(q.reset_ms, 0);
    EXPECT_INT(q.retry_after_ms, 0);
    EXPECT_INT(q.period_ms, 60000);
    EXPECT_INT(q.overridden, 0);
}

static void test_three_of_ten(void) {
    quota_gcra_t s = {1, NOW + 18000, 0, 10};  /* 3 trades of 10/min just now */
    quota_status_t q;
    quota_status_at(&s, NOW, 10, 60000, &q);
    EXPECT_INT(q.used, 3);
    EXPECT_INT(q.remaining, 7);
    EXPECT_INT(q.reset_ms, 18000);
    EXPECT_INT(q.retry_after_ms, 0);
    /* 6 s later, one trade has come back */
    quota_status_at(&s, NOW + 6000, 10, 60000, &q);
    EXPECT_INT(q.used, 2);
    EXPECT_INT(q.reset_ms, 12000);
}

static void test_exhausted(void) {
    quota_gcra_t s = {1, NOW + 60000, 0, 10};  /* all 10 */
    quota_status_t q;
    quota_status_at(&s, NOW, 10, 60000, &q);
    EXPECT_INT(q.used, 10);
    EXPECT_INT(q.remaining, 0);
    EXPECT_INT(q.reset_ms, 60000);
    EXPECT_INT(q.retry_after_ms, 6000);  /* one emission interval */
    quota_status_at(&s, NOW + 5999, 10, 60000, &q);
    EXPECT_INT(q.retry_after_ms, 1);
    quota_status_at(&s, NOW + 6000, 10, 60000, &q);
    EXPECT_INT(q.remaining, 1);
    EXPECT_INT(q.retry_after_ms, 0);
}

static void test_fractional_interval(void) {
    /* 7 per minute: T = 60000/7 ms, not whole.  One trade: TAT = now +
     * 8571 ms and 3 ticks of 1/7 ms (60000 = 8571*7 + 3). */
    quota_gcra_t s = {1, NOW + 8571, 3, 7};
    quota_status_t q;
    quota_status_at(&s, NOW, 7, 60000, &q);
    EXPECT_INT(q.used, 1);
    EXPECT_INT(q.remaining, 6);
    EXPECT_INT(q.reset_ms, 8572);  /* 8571 ms and 3/7: rounded up */
}

static void test_limit_changed(void) {
    /* Written under 10/min (3 used); the limit is now 20/min: the same
     * 18 s still to pay back are 6 trades of the 20. */
    quota_gcra_t s = {1, NOW + 18000, 0, 10};
    quota_status_t q;
    quota_status_at(&s, NOW, 20, 60000, &q);
    EXPECT_INT(q.limit, 20);
    EXPECT_INT(q.used, 6);
    EXPECT_INT(q.remaining, 14);
    /* The remainder is rescaled to the new tick, against the subject: 999
     * ticks of 1/1000 ms are one whole tick of 1 ms, not 999. */
    quota_gcra_t f = {1, NOW, 999, 1000};
    quota_status_at(&f, NOW, 1, 60000, &q);
    EXPECT_INT(q.reset_ms, 1);
    quota_status_at(&f, NOW, 3000, 60000, &q);
    EXPECT_INT(q.reset_ms, 1); /* 2997 ticks of 1/3000 ms */
}

static void test_state_in_the_past(void) {
    quota_gcra_t s = {1, NOW - 5000, 2, 10};  /* lapsed: as if idle */
    quota_status_t q;
    quota_status_at(&s, NOW, 10, 60000, &q);
    EXPECT_INT(q.used, 0);
    EXPECT_INT(q.remaining, 10);
    EXPECT_INT(q.reset_ms, 0);
}

static const unit_test_t TESTS[] = {
    {"exact_bound", test_exact_bound},
    {"idle_subject", test_idle_subject},
    {"three_of_ten", test_three_of_ten},
    {"exhausted", test_exhausted},
    {"fractional_interval", test_fractional_interval},
    {"limit_changed", test_limit_changed},
    {"state_in_the_past", test_state_in_the_past},
    {NULL, NULL}};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
