/* test_quota_batch.c -- quota_charge_many (worker/quota.c), a batch's quota
 * decisions in one round trip, against a real Redis given by REDIS_URL.
 *
 * Runs on tests/unit.h (`test_quota_batch --list` names the tests).  What
 * is checked: a batch decides as quota_charge would one by one, in order,
 * with one round trip (this process's
 * order_worker_redis_round_trips_total{use="quota"}); the same batch again
 * (a redelivery) is replayed, never charged again; a request with bad
 * arguments leaves the others decided; a Redis that lost the script costs
 * one more round trip; a connection lost before the replies fails the
 * batch (mode FAIL) and charges none of it; while Redis is down, the local
 * and closed modes decide every request.  Subjects carry the pid and the
 * time, so reruns against one Redis never meet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "quota.h"
#include "redis_fixture.h"
#include "redisurl.h"
#include "unit.h"

#define BATCH 16

static char run_tag[40];
static int seq;
static const char *redis_url;
static redis_url_t url_parts;
static quota_t *q;  /* mode FAIL, connected by main; NULL if it could not */
static char connect_err[512];

/* A batch being built: its requests point into bots and intents. */
typedef struct batch {
    int n;
    char bots[BATCH][64], intents[BATCH][96];
    quota_request_t req[BATCH];
} batch_t;

/* Adds a request of bot `name` (this run's) with a fresh intent id. */
static void add(batch_t *b, const char *name, int limit) {
    int i = b->n++;
    snprintf(b->bots[i], sizeof(b->bots[i]), "%s-%s", name, run_tag);
    snprintf(b->intents[i], sizeof(b->intents[i]), "qb-%s-%d", run_tag, ++seq);
    b->req[i] = (quota_request_t){"bot", b->bots[i], b->intents[i], limit, 60000, 0, {0}};
}

/* This process's round trips for quota decisions so far (metrics.c). */
static long long round_trips(void) {
    static const char key[] = "order_worker_redis_round_trips_total{use=\"quota\"} ";
    size_t len = 0;
    char *text = metrics_render(&len);
    const char *at = text ? strstr(text, key) : NULL;
    long long v = at ? atoll(at + strlen(key)) : 0;
    free(text);
    return v;
}

/* Charges the batch: quota_charge_many's status, the round trips it took
 * in *trips. */
static int charge(quota_t *qq, batch_t *b, long long *trips, char *err, size_t errlen) {
    long long before = round_trips();
    int rc = quota_charge_many(qq, b->req, b->n, err, errlen);
    *trips = round_trips() - before;
    return rc;
}

/* Request i was decided: allowed, remaining and replayed as given. */
static int expect_req(const batch_t *b, int i, int allowed, long long remaining, int replayed,
                      const char *file, int line) {
    const quota_request_t *r = &b->req[i];
    return unit_check(r->rc == 0 && r->d.allowed == allowed && r->d.remaining == remaining &&
                          r->d.replayed == replayed,
                      file, line,
                      "request %d (expected rc 0 allowed %d remaining %lld replayed %d, got rc "
                      "%d allowed %d remaining %lld replayed %d)",
                      i, allowed, remaining, replayed, r->rc, r->d.allowed,
                      (long long)r->d.remaining, r->d.replayed);
}
#define EXPECT_REQ(b, i, allowed, remaining, replayed) \
    expect_req((b), (i), (allowed), (remaining), (replayed), __FILE__, __LINE__)

static void test_connect(void) {
    EXPECT_MSG(q != NULL, "quota_connect: %s", redis_url ? connect_err : "REDIS_URL is not set");
}

/* Five intents of bot X (3 a minute) and two of bot Y: X's first three
 * pass (2, 1, 0 left), its last two wait about T = 20 s; Y's pass: what
 * quota_charge gives one by one (checked on two fresh bots), in one round
 * trip.  Then the same batch again, as a redelivery: every decision
 * replayed, one round trip, and Y was charged twice, not four times. */
static void test_batch_as_one_by_one(void) {
    char err[256] = "";
    batch_t b = {0}, y3 = {0};
    long long trips = 0;
    if (!q) UNIT_ABORT("no Redis (see connect)");
    batch_t warm = {0};  /* a fresh Redis has not the script yet: one round trip more */
    add(&warm, "warm", 3);
    EXPECT_INT(charge(q, &warm, &trips, err, sizeof(err)), 0);
    for (int i = 0; i < 5; i++) add(&b, "bx", 3);
    add(&b, "by", 3);
    add(&b, "by", 3);
    EXPECT_INT(charge(q, &b, &trips, err, sizeof(err)), 0);
    EXPECT_INT(trips, 1);
    const int allowed[7] = {1, 1, 1, 0, 0, 1, 1};
    const long long left[7] = {2, 1, 0, 0, 0, 2, 1};
    for (int i = 0; i < 7; i++) EXPECT_REQ(&b, i, allowed[i], left[i], 0);
    for (int i = 3; i < 5; i++)
        EXPECT_MSG(b.req[i].d.retry_after_ms > 19000 && b.req[i].d.retry_after_ms <= 20000,
                   "request %d: retry_after_ms %lld (expected about 20000)", i,
                   (long long)b.req[i].d.retry_after_ms);
    /* The same order of charges, one at a time, on fresh bots. */
    char x1[96], y1[96], it[96];
    snprintf(x1, sizeof(x1), "bx1-%s", run_tag);
    snprintf(y1, sizeof(y1), "by1-%s", run_tag);
    for (int i = 0; i < 7; i++) {
        quota_decision_t d;
        snprintf(it, sizeof(it), "qb1-%s-%d", run_tag, i);
        if (!EXPECT_INT(quota_charge(q, "bot", i < 5 ? x1 : y1, it, 3, 60000, &d, err,
                                     sizeof(err)), 0))
            continue;
        EXPECT_MSG(d.allowed == b.req[i].d.allowed && d.remaining == b.req[i].d.remaining,
                   "one by one, charge %d: allowed %d remaining %lld; the batch's: %d %lld", i,
                   d.allowed, (long long)d.remaining, b.req[i].d.allowed,
                   (long long)b.req[i].d.remaining);
    }
    /* Redelivered: the same intents, decided before. */
    EXPECT_INT(charge(q, &b, &trips, err, sizeof(err)), 0);
    EXPECT_INT(trips, 1);
    for (int i = 0; i < 7; i++) EXPECT_REQ(&b, i, allowed[i], left[i], 1);
    add(&y3, "by", 3);  /* Y's third trade: the last one */
    EXPECT_INT(charge(q, &y3, &trips, err, sizeof(err)), 0);
    EXPECT_REQ(&y3, 0, 1, 0, 0);
}

/* A request with a bad id is refused before Redis; the others are
 * decided, in one round trip. */
static void test_bad_request(void) {
    char err[256] = "";
    batch_t b = {0};
    long long trips = 0;
    if (!q) UNIT_ABORT("no Redis (see connect)");
    add(&b, "bad-a", 10);
    add(&b, "bad-b", 10);
    add(&b, "bad-c", 10);
    b.req[1].id = "x}y";
    EXPECT_INT(charge(q, &b, &trips, err, sizeof(err)), -1);
    EXPECT_MSG(strstr(err, "[A-Za-z0-9._-]") != NULL, "error \"%s\"", err);
    EXPECT_INT(trips, 1);
    EXPECT_REQ(&b, 0, 1, 9, 0);
    EXPECT_INT(b.req[1].rc, -1);
    EXPECT_REQ(&b, 2, 1, 9, 0);
    batch_t none = {0};
    EXPECT_INT(charge(q, &none, &trips, err, sizeof(err)), 0);  /* nothing to ask */
    EXPECT_INT(trips, 0);
}

/* After SCRIPT FLUSH the batch's scripts come back NOSCRIPT and are sent
 * again, the script itself, in one more round trip. */
static void test_noscript(void) {
    char err[256] = "";
    batch_t b = {0};
    long long trips = 0;
    if (!q) UNIT_ABORT("no Redis (see connect)");
    redisContext *c = admin_connect(&url_parts);
    if (!EXPECT(c != NULL)) return;
    redisReply *r = redisCommand(c, "SCRIPT FLUSH");
    EXPECT(r != NULL && r->type == REDIS_REPLY_STATUS);
    if (r) freeReplyObject(r);
    redisFree(c);
    for (int i = 0; i < 3; i++) add(&b, "ns", 10);
    EXPECT_INT(charge(q, &b, &trips, err, sizeof(err)), 0);
    EXPECT_INT(trips, 2);
    for (int i = 0; i < 3; i++) EXPECT_REQ(&b, i, 1, 9 - i, 0);
}

/* The connection killed before the batch: every request fails (mode
 * FAIL), the error names the server; the next call reconnects and finds
 * none of them charged. */
static void test_connection_lost(void) {
    char err[256] = "", where[300];
    batch_t b = {0};
    long long trips = 0;
    if (!q) UNIT_ABORT("no Redis (see connect)");
    for (int i = 0; i < 3; i++) add(&b, "lost", 10);
    EXPECT_INT(charge(q, &b, &trips, err, sizeof(err)), 0);  /* connected; 3 of 10 used */
    redisContext *c = admin_connect(&url_parts);
    if (!EXPECT(c != NULL)) return;
    EXPECT_INT(kill_our_connections(c), 1);
    redisFree(c);
    batch_t again = {0};
    for (int i = 0; i < 3; i++) add(&again, "lost", 10);
    EXPECT_INT(charge(q, &again, &trips, err, sizeof(err)), -1);
    snprintf(where, sizeof(where), "%s:%d", url_parts.host, url_parts.port);
    EXPECT_MSG(strstr(err, where) != NULL, "error \"%s\" (expected it to name %s)", err, where);
    printf("  after CLIENT KILL: %s\n", err);
    for (int i = 0; i < 3; i++) EXPECT_INT(again.req[i].rc, -1);
    EXPECT_INT(charge(q, &again, &trips, err, sizeof(err)), 0);
    /* Decided now, not replayed: the failed batch charged none of them. */
    for (int i = 0; i < 3; i++) EXPECT_REQ(&again, i, 1, 6 - i, 0);
}

/* Nothing listens on port 1: local decides the whole batch in memory
 * (3 of 4 pass; the same batch again is replayed), closed refuses it,
 * fail fails it. */
static void test_modes_when_down(void) {
    char err[256] = "";
    batch_t b = {0}, c2 = {0}, f = {0};
    long long trips = 0;
    quota_t *local = quota_new("redis://127.0.0.1:1/0", QUOTA_DOWN_LOCAL, err, sizeof(err));
    quota_t *closed = quota_new("redis://127.0.0.1:1/0", QUOTA_DOWN_CLOSED, err, sizeof(err));
    quota_t *fail = quota_new("redis://127.0.0.1:1/0", QUOTA_DOWN_FAIL, err, sizeof(err));
    if (EXPECT_MSG(local && closed && fail, "quota_new: %s", err)) {
        for (int i = 0; i < 4; i++) add(&b, "down", 3);
        EXPECT_INT(charge(local, &b, &trips, err, sizeof(err)), 0);
        EXPECT_INT(trips, 0);
        const int allowed[4] = {1, 1, 1, 0};
        const long long left[4] = {2, 1, 0, 0};
        for (int i = 0; i < 4; i++) {
            EXPECT_REQ(&b, i, allowed[i], left[i], 0);
            EXPECT_INT(b.req[i].d.local, 1);
        }
        EXPECT_INT(charge(local, &b, &trips, err, sizeof(err)), 0);
        for (int i = 0; i < 4; i++) EXPECT_INT(b.req[i].d.replayed, 1);
        for (int i = 0; i < 2; i++) add(&c2, "down-c", 3);
        EXPECT_INT(charge(closed, &c2, &trips, err, sizeof(err)), 0);
        for (int i = 0; i < 2; i++)
            EXPECT(c2.req[i].rc == 0 && c2.req[i].d.unavailable && !c2.req[i].d.allowed);
        for (int i = 0; i < 2; i++) add(&f, "down-f", 3);
        EXPECT_INT(charge(fail, &f, &trips, err, sizeof(err)), -1);
        for (int i = 0; i < 2; i++) EXPECT_INT(f.req[i].rc, -1);
    }
    quota_close(local);
    quota_close(closed);
    quota_close(fail);
}

static const unit_test_t TESTS[] = {
    {"connect", test_connect},
    {"batch_as_one_by_one", test_batch_as_one_by_one},
    {"bad_request", test_bad_request},
    {"noscript", test_noscript},
    {"connection_lost", test_connection_lost},
    {"modes_when_down", test_modes_when_down},
    {NULL, NULL}};

int main(int argc, char **argv) {
    q = fixture_quota(run_tag, sizeof(run_tag), &redis_url, &url_parts, connect_err,
                      sizeof(connect_err));
    int rc = unit_main(TESTS, argc, argv);
    quota_close(q);
    metrics_free();
    explicit_bzero(&url_parts, sizeof(url_parts));
    return rc;
}
