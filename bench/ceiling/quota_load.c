/* quota_load.c -- `ow-ceiling quota`: one connection's batches (see
 * ceiling.h).
 *
 * Owns: Redis's side of a batch of new valid intents, as the worker calls
 * it: each intent's quota decision (worker/pipeline.c, validated(): the
 * bot's quota, the limit lifted so that every decision is a grant, as
 * bench/run.sh's throughput runs lift it) and, per placement, its token of
 * the shared Alpaca budget (pipeline_take_token: budget_take at the bots'
 * priority, ALPACA_CALLS_PER_MIN lifted).  Each connection is a quota_t and
 * a budget_t of its own, as each replica's lane has its quota connection
 * and each replica its budget.  Any decision but a fresh grant (refused,
 * replayed, decided locally) and any token not granted is a failure of the
 * run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "ceiling.h"
#include "ids.h"
#include "procstat.h"
#include "quota.h"
#include "redisconn.h"
#include "synth.h"
#include "timefmt.h"

enum { CALL_QUOTA, CALL_BUDGET };

/* Trades per RATE_PERIOD_MS granted to each bot: lifted. */
#define LIFTED_TRADES 1000000

/* How long a budget_take may wait before the run counts it a failure. */
#define TOKEN_WAIT_MS 10000

int quotaload_prepare(ceiling_run_t *run, long *pid, char *err, size_t errlen) {
    snprintf(run->url, sizeof(run->url), "%s", run->o.url);
    snprintf(run->cfg.redis_url, sizeof(run->cfg.redis_url), "%s", run->o.url);
    if (!quota_limit_exact(LIFTED_TRADES, run->cfg.rate_period_ms)) {
        snprintf(err, errlen, "RATE_PERIOD_MS %lld is too long for %d trades per period",
                 (long long)run->cfg.rate_period_ms, LIFTED_TRADES);
        return -1;
    }
    redisconn_t *rc = redisconn_new(run->url, "ow-ceiling", 2000, err, errlen);
    if (!rc) return -1;
    redisReply *r = redisconn_command(rc, err, errlen, "INFO server");
    const char *at = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "process_id:") : NULL;
    long p = at ? atol(at + strlen("process_id:")) : 0;
    *pid = p > 0 && procstat_is(p, "redis-server") ? p : 0;
    int ok = r != NULL;
    if (r) freeReplyObject(r);
    redisconn_free(rc);
    return ok ? 0 : -1;
}

/* The batch's quota decisions, as a lane's batch takes them: one
 * pipelined round trip (quota_charge_many).  0, or -1 with err. */
static int charge_batch(quota_t *q, const char *const *bots, const char *const *ids, int n,
                        int64_t period_ms, quota_decision_t *d, char *err, size_t errlen) {
    quota_request_t r[CEILING_BATCH_MAX];
    for (int i = 0; i < n; i++)
        r[i] = (quota_request_t){"bot", bots[i], ids[i], LIFTED_TRADES, period_ms, 0, {0}};
    /* The batch's decisions in one round trip, as a lane's batch takes them. */
    if (quota_charge_many(q, r, n, err, errlen) < 0) return -1;
    for (int i = 0; i < n; i++) {
        if (r[i].rc < 0) {
            snprintf(err, errlen, "intent %s: no quota decision", ids[i]);
            return -1;
        }
        d[i] = r[i].d;
    }
    return 0;
}

static int batch(ceiling_conn_t *c, quota_t *q, budget_t *b) {
    ceiling_run_t *run = c->run;
    int n = run->o.batch;
    char bots[CEILING_BATCH_MAX][48], ids[CEILING_BATCH_MAX][37], err[256];
    const char *bp[CEILING_BATCH_MAX], *ip[CEILING_BATCH_MAX];
    quota_decision_t d[CEILING_BATCH_MAX];
    for (int i = 0; i < n; i++) {
        uint32_t seq = atomic_fetch_add(&run->seq, 1);
        ids_make(run->tag, seq, &c->rng, ids[i]);
        synth_bot_id(run->tag, seq, run->o.bots, bots[i], sizeof(bots[i]));
        bp[i] = bots[i];
        ip[i] = ids[i];
    }
    int64_t t0 = timefmt_mono_us();
    if (charge_batch(q, bp, ip, n, run->cfg.rate_period_ms, d, err, sizeof(err)) < 0) {
        ceiling_fail(c, "%s", err);
        return -1;
    }
    run_lat_add(&c->calls[CALL_QUOTA], timefmt_mono_us() - t0, 1);
    for (int i = 0; i < n; i++) {
        if (!d[i].allowed || d[i].replayed || d[i].local || d[i].unavailable) {
            ceiling_fail(c, "intent %s: quota decision allowed %d replayed %d local %d (wanted "
                         "a fresh grant)", ids[i], d[i].allowed, d[i].replayed, d[i].local);
            return -1;
        }
        t0 = timefmt_mono_us();
        if (budget_take(b, BUDGET_BOT, timefmt_mono_ms() + TOKEN_WAIT_MS, NULL, NULL) != 0) {
            ceiling_fail(c, "intent %s: no budget token within %d ms", ids[i], TOKEN_WAIT_MS);
            return -1;
        }
        run_lat_add(&c->calls[CALL_BUDGET], timefmt_mono_us() - t0, 1);
    }
    c->intents += n;
    c->batches++;
    return 0;
}

void *quotaload_main(void *arg) {
    ceiling_conn_t *c = arg;
    char err[256] = "out of memory";
    /* A replica id of its own: the budget's calls and waiters are named
     * after it (as each replica's are after REPLICA_ID). */
    config_t *cfg = malloc(sizeof(*cfg));
    if (cfg) {
        *cfg = c->run->cfg;
        snprintf(cfg->replica_id, sizeof(cfg->replica_id), "ow-ceiling-%s-%d", c->run->prefix,
                 c->index);
    }
    quota_t *q = cfg ? quota_connect(c->run->url, err, sizeof(err)) : NULL;
    budget_t *b = q ? budget_new(cfg, err, sizeof(err)) : NULL;
    if (!b) ceiling_fail(c, "%s", err);
    if (ceiling_start(c) == 0)
        while (ceiling_running(c) && batch(c, q, b) == 0) continue;
    budget_free(b);
    quota_close(q);
    free(cfg);
    return NULL;
}
