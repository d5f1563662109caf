/* reconcile.c -- the reconciler (see reconcile.h).
 *
 * The lock: SET ow:lock:reconciler TOKEN NX PX ttl, TOKEN 16 random bytes
 * in hex; released with a script that deletes the key only if it still
 * holds TOKEN, so a holder whose lock expired (a long pause) can never
 * delete the next holder's.  The ttl is short (LOCK_TTL_MS) and renewed
 * before each intent of a pass, so a holder that dies mid-pass holds the
 * others off for seconds, not minutes.  The lock only saves work: two
 * passes at once would still run each intent once, under its intent lock. */
#include "reconcile.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ledger.h"
#include "log.h"
#include "redisconn.h"
#include "timefmt.h"

#define BATCH 200   /* stuck intents taken per pass */
#define LOCK_TTL_MS 15000  /* renewed before each intent of a pass */

static const char release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('DEL', KEYS[1]) else return 0 end";
static const char renew_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

struct reconciler {
    const config_t *cfg;
    pipeline_t *pipeline;     /* its own lane: connections of its own */
    ledger_t *ledger;
    redisconn_t *redis;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
    atomic_int abandon;       /* set on stop: a pass in progress gives up */
};

static int random_token(char *buf, size_t len) {
    unsigned char b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f) return -1;
    size_t got = fread(b, 1, sizeof(b), f);
    fclose(f);
    if (got != sizeof(b) || len < 33) return -1;
    for (int i = 0; i < 16; i++) snprintf(buf + 2 * i, 3, "%02x", b[i]);
    return 0;
}

/* Takes the lock: 1 held, 0 someone else holds it, -1 Redis failed. */
static int lock_take(reconciler_t *r, const char *token) {
    char err[256];
    long long ttl = LOCK_TTL_MS;
    redisReply *rep = redisconn_command(r->redis, err, sizeof(err),
                                        "SET ow:lock:reconciler %s NX PX %lld", token, ttl);
    if (!rep) {
        log_msg(LOG_WARN, "reconcile_skipped", NULL, "no lock: %s", err);
        return -1;
    }
    int held = rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
    return held;
}

/* Extends the lock by LOCK_TTL_MS if it is still token's. */
static void lock_renew(reconciler_t *r, const char *token) {
    char err[256];
    redisReply *rep = redisconn_command(r->redis, err, sizeof(err), "EVAL %s 1 %s %s %d",
                                        renew_script, "ow:lock:reconciler", token, LOCK_TTL_MS);
    if (rep) freeReplyObject(rep);
}

static void lock_release(reconciler_t *r, const char *token) {
    char err[256];
    redisReply *rep = redisconn_command(r->redis, err, sizeof(err), "EVAL %s 1 %s %s",
                                        release_script, "ow:lock:reconciler", token);
    if (rep) freeReplyObject(rep);
}

/* One pass: every stuck intent through the pipeline again. */
static void pass(reconciler_t *r) {
    char err[256], token[40];
    if (random_token(token, sizeof(token)) < 0 || lock_take(r, token) != 1) return;
    if (!r->ledger) r->ledger = ledger_connect(r->cfg->database_url, r->cfg->replica_id, err,
                                               sizeof(err));
    ledger_stuck_t *s = NULL;
    size_t n = 0;
    if (!r->ledger ||
        ledger_stuck_intents(r->ledger, r->cfg->reconcile_after_ms, BATCH, &s, &n, err,
                             sizeof(err)) < 0) {
        log_msg(LOG_WARN, "reconcile_failed", NULL, "%s", err);
        if (r->ledger && !ledger_ok(r->ledger)) {
            ledger_close(r->ledger);
            r->ledger = NULL;
        }
        lock_release(r, token);
        return;
    }
    size_t settled = 0;
    for (size_t i = 0; i < n && !atomic_load(&r->abandon); i++) {
        lock_renew(r, token);
        log_msg(LOG_WARN, "reconcile_intent", s[i].intent_id,
                "stuck in state %s for more than %lld ms: running it again", s[i].state,
                (long long)r->cfg->reconcile_after_ms);
        origin_t from = {s[i].topic, s[i].partition, s[i].offset, s[i].key,
                         s[i].key ? strlen(s[i].key) : 0};
        if (pipeline_handle(r->pipeline, &from, s[i].source, s[i].raw, strlen(s[i].raw),
                            &r->abandon) == 0)
            settled++;
    }
    /* Its lane's deferred bookkeeping too: the intents' locks must not
     * outlive the pass (the follower and redeliveries wait on them). */
    pipeline_idle(r->pipeline);
    if (n) log_msg(LOG_INFO, "reconciled", NULL, "%zu of %zu stuck intent(s) settled", settled, n);
    ledger_stuck_free(s, n);
    lock_release(r, token);
}

static void *reconcile_main(void *arg) {
    reconciler_t *r = arg;
    pthread_setname_np(pthread_self(), "ow-reconcile");  /* top -H, perf */
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        struct timespec ts;
        timefmt_realtime_after(r->cfg->reconcile_interval_ms, &ts);
        pthread_cond_timedwait(&r->wake, &r->lock, &ts);
        if (r->stop) break;
        pthread_mutex_unlock(&r->lock);
        pass(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

reconciler_t *reconcile_start(const config_t *cfg, pipeline_shared_t *shared, char *err,
                              size_t errlen) {
    reconciler_t *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->cfg = cfg;
    atomic_init(&r->abandon, 0);
    r->redis = redisconn_new(cfg->redis_url, "order-worker-reconciler", 2000, err, errlen);
    r->pipeline = r->redis ? pipeline_new(cfg, shared, err, errlen) : NULL;
    if (!r->pipeline) {
        redisconn_free(r->redis);
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (pthread_create(&r->thread, NULL, reconcile_main, r) != 0) {
        snprintf(err, errlen, "cannot start the reconciler thread");
        pipeline_free(r->pipeline);
        redisconn_free(r->redis);
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->wake);
        free(r);
        return NULL;
    }
    return r;
}

void reconcile_stop(reconciler_t *r) {
    if (!r) return;
    atomic_store(&r->abandon, 1);
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pipeline_free(r->pipeline);
    ledger_close(r->ledger);
    redisconn_free(r->redis);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->wake);
    free(r);
}
