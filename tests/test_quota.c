/* test_quota.c -- tests for redisurl.c (offline) and quota.c (against a real
 * Redis given by REDIS_URL).
 *
 * Runs on tests/unit.h (`test_quota --list` names the tests).  The
 * redisurl_* tests need nothing; the others need REDIS_URL, which main
 * connects to once (the test `connect` says whether it could; the others
 * stop at once when it could not).  Every run uses subject ids that include
 * the pid and the time, so reruns against the same Redis never see each
 * other's state. */
#include "quota.h"
#include "redisconn.h"
#include "redisurl.h"

#include <hiredis/hiredis.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "redis_fixture.h"
#include "unit.h"

static char run_tag[40];   /* "<pid>-<ms>", unique per run */
static int intent_seq;
static const char *redis_url;
static redis_url_t url_parts;
static quota_t *q;         /* connected by main, NULL if it could not */
static char connect_err[512];

/* A fresh intent id, [A-Za-z0-9._-] as quota.c requires. */
static void new_intent(char *buf, size_t len) {
    snprintf(buf, len, "it-%s-%d", run_tag, ++intent_seq);
}

static void sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* quota_charge of intent by subject kind/id answered (returned 0); *d is
 * its decision. */
static int expect_charge(quota_t *qq, const char *kind, const char *id, const char *intent,
                         int64_t limit, int64_t period_ms, quota_decision_t *d, const char *file,
                         int line) {
    char err[512] = "";
    memset(d, 0, sizeof(*d));
    int rc = quota_charge(qq, kind, id, intent, limit, period_ms, d, err, sizeof(err));
    return unit_check(rc == 0, file, line, "quota_charge %s %s %s (expected 0, got %d: %s)", kind,
                      id, intent, rc, err);
}
#define EXPECT_CHARGE(qq, kind, id, intent, limit, period_ms, d) \
    expect_charge((qq), (kind), (id), (intent), (limit), (period_ms), (d), __FILE__, __LINE__)

/* A decision's fields are those given; ANY for a field not checked. */
#define ANY (-1)
static const char *want_of(char *buf, size_t n, long long v) {
    if (v == ANY)
        return "*";
    snprintf(buf, n, "%lld", v);
    return buf;
}

static int expect_decision(const quota_decision_t *d, int allowed, int replayed,
                           long long remaining, long long limit, const char *file, int line) {
    char w[4][24];
    int ok = (allowed == ANY || d->allowed == allowed) &&
             (replayed == ANY || d->replayed == replayed) &&
             (remaining == ANY || d->remaining == remaining) && (limit == ANY || d->limit == limit);
    return unit_check(ok, file, line,
                      "decision (expected allowed %s replayed %s remaining %s limit %s, got "
                      "allowed %d replayed %d remaining %lld limit %lld)",
                      want_of(w[0], 24, allowed), want_of(w[1], 24, replayed),
                      want_of(w[2], 24, remaining), want_of(w[3], 24, limit), d->allowed,
                      d->replayed, (long long)d->remaining, (long long)d->limit);
}
#define EXPECT_DECISION(d, allowed, replayed, remaining, limit) \
    expect_decision((d), (allowed), (replayed), (remaining), (limit), __FILE__, __LINE__)

/* lo <= got <= hi. */
static int expect_range(long long got, long long lo, long long hi, const char *what,
                        const char *file, int line) {
    return unit_check(got >= lo && got <= hi, file, line, "%s (expected %lld to %lld, got %lld)",
                      what, lo, hi, got);
}
#define EXPECT_RANGE(got, lo, hi) expect_range((got), (lo), (hi), #got, __FILE__, __LINE__)

/* ---- redisurl ---------------------------------------------------------- */

/* Each URL parses to the parts given (NULL or ANY: that part not checked). */
static const struct {
    const char *url, *host;
    int port, db;
    const char *user, *password;
} accepted[] = {
    {"redis://127.0.0.1", "127.0.0.1", 6379, 0, "", ""},
    {"redis://:testpw@cache:6390/3", "cache", 6390, 3, "", "testpw"},
    {"redis://worker:p%40ss%2Fw%3Ard@h/", "h", ANY, 0, "worker", "p@ss/w:rd"},
    /* unencoded '@' in the password: split at the last '@' */
    {"redis://:a@b@h:1/1", "h", 1, ANY, NULL, "a@b"},
    {"redis://[::1]:6380/2", "::1", 6380, 2, NULL, NULL},
    {"redis://h:6379", NULL, 6379, ANY, NULL, NULL},
};

static void test_redisurl_accepted(void) {
    redis_url_t u;
    char err[256], what[128];
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        const char *url = accepted[i].url, *host = accepted[i].host, *user = accepted[i].user,
                   *password = accepted[i].password;
        int port = accepted[i].port, db = accepted[i].db;
        snprintf(what, sizeof(what), "%s: redisurl_parse", url);
        if (!unit_check_int(redisurl_parse(url, &u, err, sizeof(err)), 0, what, __FILE__, __LINE__))
            continue;
        snprintf(what, sizeof(what), "%s: host", url);
        if (host)
            unit_check_str(u.host, host, what, __FILE__, __LINE__);
        snprintf(what, sizeof(what), "%s: port", url);
        if (port != ANY)
            unit_check_int(u.port, port, what, __FILE__, __LINE__);
        snprintf(what, sizeof(what), "%s: db", url);
        if (db != ANY)
            unit_check_int(u.db, db, what, __FILE__, __LINE__);
        snprintf(what, sizeof(what), "%s: user", url);
        if (user)
            unit_check_str(u.user, user, what, __FILE__, __LINE__);
        snprintf(what, sizeof(what), "%s: password", url);
        if (password)
            unit_check_str(u.password, password, what, __FILE__, __LINE__);
    }
}

static void test_redisurl_refused(void) {
    redis_url_t u;
    char err[256];
    EXPECT_INT(redisurl_parse("rediss://:pw@h", &u, err, sizeof(err)), -1);
    EXPECT_MSG(strstr(err, "TLS not supported") != NULL, "error \"%s\"", err);
    EXPECT_INT(redisurl_parse("http://h", &u, err, sizeof(err)), -1);
    EXPECT_INT(redisurl_parse("", &u, err, sizeof(err)), -1);
    EXPECT_INT(redisurl_parse("redis://", &u, err, sizeof(err)), -1);
    EXPECT_INT(redisurl_parse("redis://:pw@", &u, err, sizeof(err)), -1);
    EXPECT_INT(redisurl_parse("redis://h:0", &u, err, sizeof(err)), -1);
    EXPECT_INT(redisurl_parse("redis://h:65536", &u, err, sizeof(err)), -1);
    EXPECT_INT(redisurl_parse("redis://h:12x", &u, err, sizeof(err)), -1);
    EXPECT_INT(redisurl_parse("redis://h:", &u, err, sizeof(err)), -1);
    EXPECT_INT(redisurl_parse("redis://h/x", &u, err, sizeof(err)), -1);
    EXPECT_INT(redisurl_parse("redis://h/1?timeout=3", &u, err, sizeof(err)), -1);
    EXPECT_INT(redisurl_parse("redis://[::1", &u, err, sizeof(err)), -1);
}

/* Errors about credentials never echo them. */
static void test_redisurl_hides_credentials(void) {
    redis_url_t u;
    char err[256];
    EXPECT_INT(redisurl_parse("redis://:sec%zzret@h", &u, err, sizeof(err)), -1);
    EXPECT_MSG(strstr(err, "sec") == NULL, "error \"%s\" echoes the password", err);
    EXPECT_MSG(strstr(err, "password") != NULL, "error \"%s\" does not say password", err);
    EXPECT_STR(u.password, "");
    EXPECT_INT(redisurl_parse("redis://:sec%00ret@h", &u, err, sizeof(err)), -1);
    EXPECT_INT(redisurl_parse("redis://:secret%4@h", &u, err, sizeof(err)), -1);
    EXPECT_MSG(strstr(err, "secret") == NULL, "error \"%s\" echoes the password", err);
    EXPECT_INT(redisurl_parse("redis://onlysecret@h", &u, err, sizeof(err)), -1);
    EXPECT_MSG(strstr(err, "onlysecret") == NULL, "error \"%s\" echoes the password", err);
    EXPECT_INT(redisurl_parse("redis://user:@h", &u, err, sizeof(err)), -1);

    char longpw[400];
    memset(longpw, 'x', sizeof(longpw));
    snprintf(longpw, sizeof(longpw), "redis://:%0300d@h", 7);
    EXPECT_INT(redisurl_parse(longpw, &u, err, sizeof(err)), -1);
    EXPECT_MSG(strstr(err, "0000") == NULL, "error \"%s\" echoes the password", err);
}

/* ---- quota against Redis ----------------------------------------------- */

static void test_connect(void) {
    EXPECT_MSG(q != NULL, "quota_connect: %s", redis_url ? connect_err : "REDIS_URL is not set");
}

/* Charges 10 per 2 s for bot at once: the ten pass with remaining counting
 * down 9..0, the 11th is refused with retry_after_ms = 200 ms (T) minus the
 * time elapsed.  Leaves the 10th intent in granted, the 11th in refused and
 * its decision in *d; 0 if a charge did not answer. */
static int exhaust(const char *bot, char granted[96], char refused[96], quota_decision_t *d) {
    for (int i = 0; i < 10; i++) {
        new_intent(granted, 96);
        if (!EXPECT_CHARGE(q, "bot", bot, granted, 10, 2000, d))
            return 0;
        EXPECT_DECISION(d, 1, 0, 9 - i, 10);
    }
    new_intent(refused, 96);
    if (!EXPECT_CHARGE(q, "bot", bot, refused, 10, 2000, d))
        return 0;
    EXPECT_DECISION(d, 0, 0, 0, 10);
    EXPECT_RANGE(d->retry_after_ms, 1, 200);
    printf("  11th refused, retry_after_ms=%lld\n", (long long)d->retry_after_ms);
    return 1;
}

/* Replays answer without a charge; after retry_after one passes. */
static void test_gcra_replays_and_retry(void) {
    char bot[64], it[96], last_granted[96], refused_it[96], after_it[96];
    quota_decision_t d, r;
    if (!q)
        UNIT_ABORT("no Redis (see connect)");
    snprintf(bot, sizeof(bot), "b-%s", run_tag);
    if (!exhaust(bot, last_granted, refused_it, &d))
        return;
    int64_t retry = d.retry_after_ms;
    /* a replay of the refused intent: same decision, replayed, no charge */
    EXPECT_CHARGE(q, "bot", bot, refused_it, 10, 2000, &r);
    EXPECT_DECISION(&r, 0, 1, 0, 10);
    EXPECT_INT(r.retry_after_ms, retry);
    /* a replay of a granted intent: still granted, no charge */
    EXPECT_CHARGE(q, "bot", bot, last_granted, 10, 2000, &r);
    EXPECT_DECISION(&r, 1, 1, 0, ANY);
    EXPECT_INT(r.retry_after_ms, 0);
    /* before retry_after is up nothing passes; after it one does */
    if (retry > 150) {
        sleep_ms(retry - 100);
        new_intent(it, sizeof(it));
        EXPECT_CHARGE(q, "bot", bot, it, 10, 2000, &d);
        EXPECT_DECISION(&d, 0, ANY, ANY, ANY);
        EXPECT_RANGE(d.retry_after_ms, 1, 100);
        retry = d.retry_after_ms;
    }
    sleep_ms(retry);
    new_intent(after_it, sizeof(after_it));
    EXPECT_CHARGE(q, "bot", bot, after_it, 10, 2000, &d);
    EXPECT_DECISION(&d, 1, 0, 0, ANY);
    /* and the next one is refused again with a full interval to wait */
    new_intent(it, sizeof(it));
    EXPECT_CHARGE(q, "bot", bot, it, 10, 2000, &d);
    EXPECT_DECISION(&d, 0, ANY, ANY, ANY);
    EXPECT_RANGE(d.retry_after_ms, 151, 200);
    /* replaying the earlier grant did not change remaining: a replay of the
     * one granted after the wait shows what it showed then */
    EXPECT_CHARGE(q, "bot", bot, after_it, 10, 2000, &r);
    EXPECT_DECISION(&r, 1, 1, 0, ANY);
}

/* A bot's exhausted quota is its own: not the user's of the same id, not
 * another bot's. */
static void test_gcra_subjects_apart(void) {
    char bot[64], bot2[80], it[96], refused_it[96];
    quota_decision_t d;
    if (!q)
        UNIT_ABORT("no Redis (see connect)");
    snprintf(bot, sizeof(bot), "bs-%s", run_tag);
    if (!exhaust(bot, it, refused_it, &d))
        return;
    new_intent(it, sizeof(it));
    EXPECT_CHARGE(q, "user", bot, it, 10, 2000, &d);
    EXPECT_DECISION(&d, 1, ANY, 9, ANY);
    snprintf(bot2, sizeof(bot2), "%s-2", bot);
    new_intent(it, sizeof(it));
    EXPECT_CHARGE(q, "bot", bot2, it, 10, 2000, &d);
    EXPECT_DECISION(&d, 1, ANY, 9, ANY);
}

/* Remaining never grows by replaying: charge 3, replay the first twice. */
static void test_replay_no_charge(void) {
    char bot[64], first[96], it[96];
    quota_decision_t d;
    if (!q)
        UNIT_ABORT("no Redis (see connect)");
    snprintf(bot, sizeof(bot), "rp-%s", run_tag);
    new_intent(first, sizeof(first));
    EXPECT_CHARGE(q, "bot", bot, first, 5, 60000, &d);
    EXPECT_DECISION(&d, 1, 0, 4, ANY);
    for (int i = 0; i < 3; i++) {
        EXPECT_CHARGE(q, "bot", bot, first, 5, 60000, &d);
        EXPECT_DECISION(&d, 1, 1, 4, ANY);
    }
    new_intent(it, sizeof(it));
    EXPECT_CHARGE(q, "bot", bot, it, 5, 60000, &d);
    EXPECT_DECISION(&d, 1, 0, 3, ANY);
}

/* Different limits per subject (an override is just another limit). */
static void test_limits_per_subject(void) {
    char a[64], b[64], it[96];
    quota_decision_t d;
    int na = 0, nb = 0;
    if (!q)
        UNIT_ABORT("no Redis (see connect)");
    snprintf(a, sizeof(a), "la-%s", run_tag);
    snprintf(b, sizeof(b), "lb-%s", run_tag);
    for (int i = 0; i < 8; i++) {
        new_intent(it, sizeof(it));
        EXPECT_CHARGE(q, "bot", a, it, 3, 60000, &d);
        na += d.allowed;
        new_intent(it, sizeof(it));
        EXPECT_CHARGE(q, "bot", b, it, 7, 60000, &d);
        nb += d.allowed;
    }
    EXPECT_INT(na, 3);
    EXPECT_INT(nb, 7);
    /* 60000/7 is not a whole number of ms: refusal waits for ceil(T) - elapsed */
    EXPECT_DECISION(&d, 0, ANY, ANY, 7);
    EXPECT_RANGE(d.retry_after_ms, 8001, 8572);
}

/* A limit of 1 per period: the second waits about the whole period. */
static void test_limit_of_one(void) {
    char c[64], it[96];
    quota_decision_t d;
    if (!q)
        UNIT_ABORT("no Redis (see connect)");
    snprintf(c, sizeof(c), "lc-%s", run_tag);
    new_intent(it, sizeof(it));
    EXPECT_CHARGE(q, "user", c, it, 1, 5000, &d);
    EXPECT_DECISION(&d, 1, ANY, 0, ANY);
    new_intent(it, sizeof(it));
    EXPECT_CHARGE(q, "user", c, it, 1, 5000, &d);
    EXPECT_DECISION(&d, 0, ANY, ANY, ANY);
    EXPECT_RANGE(d.retry_after_ms, 4501, 5000);
}

/* Bad arguments are refused before reaching Redis. */
static void test_bad_args(void) {
    char err[256], it[96];
    quota_decision_t d;
    if (!q)
        UNIT_ABORT("no Redis (see connect)");
    new_intent(it, sizeof(it));
    EXPECT_INT(quota_charge(q, "bot", "x}y", it, 10, 1000, &d, err, sizeof(err)), -1);
    EXPECT_INT(quota_charge(q, "bot", "", it, 10, 1000, &d, err, sizeof(err)), -1);
    EXPECT_INT(quota_charge(q, "bot", "a", "i:1", 10, 1000, &d, err, sizeof(err)), -1);
    EXPECT_INT(quota_charge(q, "bot", "a", it, 0, 1000, &d, err, sizeof(err)), -1);
    EXPECT_INT(quota_charge(q, "bot", "a", it, 10, 0, &d, err, sizeof(err)), -1);
}

struct race_arg {
    const char *bot;
    int lane;
    int allowed;
    int errors;
};

static void *race_lane(void *p) {
    struct race_arg *a = p;
    char err[256], it[128];
    quota_decision_t d;
    quota_t *lq = quota_connect(redis_url, err, sizeof(err));
    if (lq == NULL) {
        a->errors++;
        return NULL;
    }
    for (int i = 0; i < 25; i++) {
        snprintf(it, sizeof(it), "race-%s-%d-%d", run_tag, a->lane, i);
        if (quota_charge(lq, "bot", a->bot, it, 10, 60000, &d, err, sizeof(err)) != 0)
            a->errors++;
        else
            a->allowed += d.allowed;
    }
    quota_close(lq);
    return NULL;
}

/* Four lanes, each with its own connection, race on one bot: exactly the
 * limit passes. */
static void test_race(void) {
    char bot[64];
    pthread_t th[4];
    struct race_arg args[4];
    int total = 0, errors = 0, started = 0;
    if (!q)
        UNIT_ABORT("no Redis (see connect)");
    snprintf(bot, sizeof(bot), "race-%s", run_tag);
    for (int i = 0; i < 4; i++) {
        args[i] = (struct race_arg){bot, i, 0, 0};
        if (!EXPECT_INT(pthread_create(&th[i], NULL, race_lane, &args[i]), 0))
            break;
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        total += args[i].allowed;
        errors += args[i].errors;
    }
    EXPECT_INT(errors, 0);
    EXPECT_INT(total, 10);
}

/* Reads Redis's clock in ms (the script's clock), or -1. */
static long long redis_now_ms(redisContext *c) {
    redisReply *r = redisCommand(c, "TIME");
    long long ms = -1;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        ms = atoll(r->element[0]->str) * 1000 + atoll(r->element[1]->str) / 1000;
    if (r) freeReplyObject(r);
    return ms;
}

/* Seeds two GCRA states relative to Redis's clock in one round trip and
 * returns that clock (ms), or -1:
 *   KEYS[1]: TAT = now + 52000 + 3/7 ms, stored with limit 7
 *   KEYS[2]: TAT = now + 43428 + 3/14 ms, stored with limit 14 */
static const char seed_script[] =
    "redis.replicate_commands()\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('HSET', KEYS[1], 'tat', string.format('%d', now + 52000), "
    "'frac', '3', 'limit', '7')\n"
    "redis.call('HSET', KEYS[2], 'tat', string.format('%d', now + 43428), "
    "'frac', '3', 'limit', '14')\n"
    "redis.call('PEXPIRE', KEYS[1], 120000)\n"
    "redis.call('PEXPIRE', KEYS[2], 120000)\n"
    "return now\n";

/* One sample of test_exact_boundaries (number i): seeds A and B, charges A
 * once and B twice.  Returns -1 if it could not (why in note), else the ms
 * elapsed on Redis's clock between seeding and the charges, and writes in
 * note what came when it was out of range (else ""). */
static long long boundary_sample(redisContext *c, int i, char *note, size_t n) {
    char a[64], b[64], ka[128], kb[128], it[96], err[256] = "";
    quota_decision_t d1, d2, d3;
    snprintf(a, sizeof(a), "ex-%s-%d", run_tag, i);
    snprintf(b, sizeof(b), "ey-%s-%d", run_tag, i);
    snprintf(ka, sizeof(ka), "ow:quota:{bot:%s}:tat", a);
    snprintf(kb, sizeof(kb), "ow:quota:{bot:%s}:tat", b);
    redisReply *r = redisCommand(c, "EVAL %s 2 %s %s", seed_script, ka, kb);
    long long n0 = (r && r->type == REDIS_REPLY_INTEGER) ? r->integer : -1;
    if (r) freeReplyObject(r);
    snprintf(note, n, "seeding failed");
    if (n0 < 0)
        return -1;
    /* A: 52000*7 + 3 = 364003 ticks used of 420000; +60000 exceeds by
     * 4003 ticks = 571.86 ms -> 572 */
    new_intent(it, sizeof(it));
    int rc1 = quota_charge(q, "bot", a, it, 7, 60000, &d1, err, sizeof(err));
    /* B: the limit changed from 14 to 7: frac 3/14 ms becomes ceil(1.5) =
     * 2/7 (rounded against the subject): 43428*7 + 2 = 303998, +60000 =
     * 363998 <= 420000: allowed, remaining floor(56002/60000) = 0; the next
     * exceeds by 3998 ticks = 571.14 ms -> 572 (571 had the conversion
     * rounded down) */
    new_intent(it, sizeof(it));
    int rc2 = quota_charge(q, "bot", b, it, 7, 60000, &d2, err, sizeof(err));
    new_intent(it, sizeof(it));
    int rc3 = quota_charge(q, "bot", b, it, 7, 60000, &d3, err, sizeof(err));
    long long n1 = redis_now_ms(c);
    snprintf(note, n, "charge error: %s", err);
    if (rc1 != 0 || rc2 != 0 || rc3 != 0 || n1 < n0)
        return -1;
    note[0] = '\0';
    long long lo = 572 - (n1 - n0);
    /* in range; exact where the clock was pinned (nothing elapsed) */
    if (d1.allowed != 0 || d1.remaining != 0 || d1.retry_after_ms > 572 ||
        d1.retry_after_ms < lo || d2.allowed != 1 || d2.remaining != 0 || d3.allowed != 0 ||
        d3.retry_after_ms > 572 || d3.retry_after_ms < lo ||
        (n1 == n0 && (d1.retry_after_ms != 572 || d3.retry_after_ms != 572)))
        snprintf(note, n,
                 "got %d/%lld, %d/%lld, %d/%lld; want 0/572, 1/0, 0/572 less the %lld ms elapsed",
                 d1.allowed, (long long)d1.retry_after_ms, d2.allowed, (long long)d2.remaining,
                 d3.allowed, (long long)d3.retry_after_ms, n1 - n0);
    return n1 - n0;
}

/* Exact boundaries where T = 60000/7 ms is not whole.  This test knows the
 * state layout of quota.c (hash tat/frac/limit: TAT = tat + frac/limit ms)
 * and seeds it.  The expected retry_after_ms is 572 minus the ms elapsed on
 * Redis's clock between seeding and the charge; samples where Redis TIME
 * read after the charges equals the seeding time pin that to 0, and there
 * the result must be exact (a ceil/floor slip is off by one ms).  Other
 * samples (a slow run, e.g. under valgrind) get a range check only. */
static void test_exact_boundaries(void) {
    if (!q)
        UNIT_ABORT("no Redis (see connect)");
    redisContext *c = admin_connect(&url_parts);
    if (!EXPECT(c != NULL))
        return;
    int exact = 0, bad = 0;
    char note[256], first_bad[300] = "";
    for (int i = 0; i < 300 && exact < 5; i++) {
        long long elapsed = boundary_sample(c, i, note, sizeof(note));
        if (note[0] && bad++ == 0)
            snprintf(first_bad, sizeof(first_bad), "sample %d: %s", i, note);
        if (elapsed < 0)
            break;
        exact += elapsed == 0;
    }
    if (exact == 0)
        printf("  NOTE: Redis clock never pinned (slow run?): boundary cases "
               "got range checks only\n");
    else
        printf("  exact boundaries: %d samples with a pinned clock\n", exact);
    EXPECT_MSG(bad == 0, "%d boundary sample(s) off, the first: %s", bad, first_bad);
    redisFree(c);
}

/* NOSCRIPT fallback after SCRIPT FLUSH; reconnect after our connection is
 * killed (only connections named with our pid are killed). */
static void test_recovery(void) {
    char bot[64], it[96], err[256] = "", where[1024];
    quota_decision_t d;
    const redis_url_t *u = &url_parts;
    if (!q)
        UNIT_ABORT("no Redis (see connect)");
    redisContext *c = admin_connect(u);
    if (!EXPECT(c != NULL))
        return;
    snprintf(bot, sizeof(bot), "rc-%s", run_tag);
    new_intent(it, sizeof(it));
    EXPECT_CHARGE(q, "bot", bot, it, 10, 60000, &d);

    redisReply *r = redisCommand(c, "SCRIPT FLUSH");
    EXPECT(r != NULL && r->type == REDIS_REPLY_STATUS);
    if (r) freeReplyObject(r);
    new_intent(it, sizeof(it));
    EXPECT_CHARGE(q, "bot", bot, it, 10, 60000, &d); /* after SCRIPT FLUSH */
    EXPECT_DECISION(&d, 1, ANY, 8, ANY);

    EXPECT_INT(kill_our_connections(c), 1);
    new_intent(it, sizeof(it));
    int rc = quota_charge(q, "bot", bot, it, 10, 60000, &d, err, sizeof(err));
    EXPECT_INT(rc, -1);
    snprintf(where, sizeof(where), "%s:%d", u->host, u->port);
    EXPECT_MSG(rc == -1 && strstr(err, where) != NULL, "error \"%s\" (expected it to name %s)",
               err, where);
    if (rc == -1) printf("  after CLIENT KILL: %s\n", err);
    if (u->password[0])
        EXPECT_MSG(strstr(err, u->password) == NULL, "error \"%s\" echoes the password", err);
    /* the next call reconnects; the failed intent was not charged */
    EXPECT_CHARGE(q, "bot", bot, it, 10, 60000, &d);
    EXPECT_DECISION(&d, 1, 0, 7, ANY);
    redisFree(c);
}

/* Builds a URL for the same server as `u` with other credentials: pw NULL
 * means none at all.  pw must not need percent-encoding. */
static void url_with_password(const redis_url_t *u, const char *user,
                              const char *pw, char *buf, size_t len) {
    const char *lb = strchr(u->host, ':') != NULL ? "[" : "";
    const char *rb = lb[0] ? "]" : "";
    if (pw == NULL)
        snprintf(buf, len, "redis://%s%s%s:%d/%d", lb, u->host, rb, u->port, u->db);
    else
        snprintf(buf, len, "redis://%s:%s@%s%s%s:%d/%d", user, pw, lb, u->host,
                 rb, u->port, u->db);
}

/* Credentials: the real ones work; wrong or none, and nothing listening,
 * give an error naming the server, never the password. */
static void test_connect_errors(void) {
    char buf[1024], err[512] = "", pw[64];
    const redis_url_t *u = &url_parts;
    if (!q)
        UNIT_ABORT("no Redis (see connect)");
    quota_t *qq = quota_connect(redis_url, err, sizeof(err));
    EXPECT_MSG(qq != NULL, "quota_connect: %s", err);
    quota_close(qq);

    snprintf(pw, sizeof(pw), "Wr0ngPw%ld", (long)getpid());
    url_with_password(u, u->user, pw, buf, sizeof(buf));
    err[0] = '\0';
    qq = quota_connect(buf, err, sizeof(err));
    EXPECT(qq == NULL);
    quota_close(qq);
    printf("  wrong password: %s\n", err);
    EXPECT_MSG(strstr(err, pw) == NULL, "error \"%s\" echoes the password", err);
    EXPECT_MSG(strstr(err, "AUTH") != NULL, "error \"%s\" (expected it to say AUTH)", err);
    EXPECT_MSG(strstr(err, u->host) != NULL, "error \"%s\" (expected it to name %s)", err,
               u->host);

    /* with a password required, no credentials at all are refused */
    if (u->password[0]) {
        url_with_password(u, "", NULL, buf, sizeof(buf));
        qq = quota_connect(buf, err, sizeof(err));
        EXPECT(qq == NULL);
        quota_close(qq);
        printf("  no password: %s\n", err);
        EXPECT_MSG(strstr(err, u->password) == NULL, "error \"%s\" echoes the password", err);
    }

    qq = quota_connect("redis://:Sekr1tPw@127.0.0.1:1/0", err, sizeof(err));
    EXPECT(qq == NULL);
    printf("  nothing listening: %s\n", err);
    EXPECT_MSG(strstr(err, "127.0.0.1:1") != NULL && strstr(err, "Sekr1tPw") == NULL,
               "error \"%s\" (expected 127.0.0.1:1 named, the password not)", err);

    EXPECT(quota_connect("rediss://:x@h", err, sizeof(err)) == NULL);
    EXPECT_MSG(strstr(err, "TLS not supported") != NULL, "error \"%s\"", err);
}

/* A per-subject override key (intentctl quota set) wins over the limit
 * argument, in the same script; removing it restores the default. */
static void test_override_wins(void) {
    char bot[96], it[96], err[512] = "";
    quota_decision_t d;
    if (!q)
        UNIT_ABORT("no Redis (see connect)");
    snprintf(bot, sizeof(bot), "ovr-%s", run_tag);
    redisconn_t *c = redisconn_new(redis_url, "test-quota", 2000, err, sizeof(err));
    if (!EXPECT_MSG(c != NULL, "redisconn_new: %s", err))
        return;
    redisReply *r = redisconn_command(c, err, sizeof(err), "SET ow:quota:{bot:%s}:limit 3", bot);
    EXPECT_MSG(r != NULL, "SET: %s", err);
    if (r) freeReplyObject(r);
    int granted = 0;
    for (int i = 0; i < 5; i++) {
        snprintf(it, sizeof(it), "ovr-%s-%d", run_tag, i);
        EXPECT_CHARGE(q, "bot", bot, it, 10, 60000, &d);
        granted += d.allowed;
    }
    EXPECT_INT(granted, 3); /* the override (3), not the argument (10) */
    EXPECT_DECISION(&d, 0, ANY, ANY, 3);
    EXPECT_MSG(d.retry_after_ms > 0, "retry_after_ms (expected > 0, got %lld)",
               (long long)d.retry_after_ms);
    r = redisconn_command(c, err, sizeof(err), "DEL ow:quota:{bot:%s}:limit", bot);
    if (r) freeReplyObject(r);
    snprintf(it, sizeof(it), "ovr-%s-after", run_tag);
    EXPECT_CHARGE(q, "bot", bot, it, 10, 60000, &d);
    /* Back to the default limit.  (Not necessarily allowed: GCRA state is
     * time, and three trades at 3 a minute used the whole minute.) */
    EXPECT_INT(d.limit, 10);
    redisconn_free(c);
}

/* The modes for a Redis that cannot be reached (nothing listens on port
 * 1): local decides in memory with the same GCRA, closed refuses, fail
 * reports the error. */
static void test_modes_when_down(void) {
    char bot[96], it[96], err[512] = "";
    quota_decision_t d;
    snprintf(bot, sizeof(bot), "down-%s", run_tag);
    quota_t *local = quota_new("redis://127.0.0.1:1/0", QUOTA_DOWN_LOCAL, err, sizeof(err));
    quota_t *closed = quota_new("redis://127.0.0.1:1/0", QUOTA_DOWN_CLOSED, err, sizeof(err));
    quota_t *fail = quota_new("redis://127.0.0.1:1/0", QUOTA_DOWN_FAIL, err, sizeof(err));
    if (EXPECT_MSG(local && closed && fail, "quota_new: %s", err)) {
        int granted = 0;
        for (int i = 0; i < 4; i++) {
            snprintf(it, sizeof(it), "loc-%s-%d", run_tag, i);
            EXPECT_CHARGE(local, "bot", bot, it, 3, 60000, &d);
            EXPECT_INT(d.local, 1);
            granted += d.allowed;
        }
        EXPECT_INT(granted, 3);
        EXPECT_MSG(d.retry_after_ms > 0, "retry_after_ms (expected > 0, got %lld)",
               (long long)d.retry_after_ms);
        EXPECT_INT(quota_is_local(local), 1);
        snprintf(it, sizeof(it), "loc-%s-0", run_tag); /* a replay: same answer */
        EXPECT_CHARGE(local, "bot", bot, it, 3, 60000, &d);
        EXPECT_DECISION(&d, 1, 1, ANY, ANY);
        EXPECT_CHARGE(closed, "bot", bot, it, 3, 60000, &d);
        EXPECT_DECISION(&d, 0, ANY, ANY, ANY);
        EXPECT_INT(d.unavailable, 1);
        EXPECT_INT(quota_charge(fail, "bot", bot, it, 3, 60000, &d, err, sizeof(err)), -1);
    }
    quota_close(local);
    quota_close(closed);
    quota_close(fail);
}

static const unit_test_t TESTS[] = {
    {"redisurl_accepted", test_redisurl_accepted},
    {"redisurl_refused", test_redisurl_refused},
    {"redisurl_hides_credentials", test_redisurl_hides_credentials},
    {"connect", test_connect},
    {"gcra_replays_and_retry", test_gcra_replays_and_retry},
    {"gcra_subjects_apart", test_gcra_subjects_apart},
    {"replay_no_charge", test_replay_no_charge},
    {"limits_per_subject", test_limits_per_subject},
    {"limit_of_one", test_limit_of_one},
    {"bad_args", test_bad_args},
    {"exact_boundaries", test_exact_boundaries},
    {"recovery", test_recovery},
    {"race", test_race},
    {"connect_errors", test_connect_errors},
    {"override_wins", test_override_wins},
    {"modes_when_down", test_modes_when_down},
    {NULL, NULL}};

int main(int argc, char **argv) {
    q = fixture_quota(run_tag, sizeof(run_tag), &redis_url, &url_parts, connect_err,
                      sizeof(connect_err));
    int rc = unit_main(TESTS, argc, argv);
    quota_close(q);
    explicit_bzero(&url_parts, sizeof(url_parts));
    return rc;
}
