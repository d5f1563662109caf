/* pipeline_quota.c -- the quota step of state "validated": the last check
 * before an intent is placed, after its expiry, the kill switch and the
 * risk checks (pipeline.c), so that an intent refused by those is never
 * charged.
 *
 * It charges the intents that reached it: one, on the per-intent path, or
 * every one of a batch's (run_fast), whose decisions then share one round
 * trip to Redis (quota_charge_many), and it turns each decision into what
 * becomes of its intent: granted, rejected quota_exceeded (with the wait
 * the quota says), or retried when Redis could not decide (mode FAIL).
 * Redis remembers each decision by intent_id, so an intent charged here
 * and retried later, on either path or after a crash, is never charged
 * twice. */
#include <stdio.h>

#include "log.h"
#include "metrics.h"
#include "pipeline_internal.h"
#include "timefmt.h"

/* What request r's outcome (err: the batch's first failure) means for j. */
static step_t decided(pipeline_t *p, job_t *j, const quota_request_t *r, const char *err) {
    int bot = j->in.source == INTENT_SOURCE_BOT;
    if (r->rc < 0) {
        log_msg(LOG_WARN, "dependency_failed", j->in.intent_id, "%s", err);
        return STEP_RETRY;
    }
    if (r->d.unavailable || !r->d.allowed)
        metrics_add(M_QUOTA_REFUSALS, 1, bot ? "bot" : "user", NULL);
    if (r->d.unavailable)
        return pipeline_reject(p, j, "validated", "quota_exceeded",
                               "the quota service (Redis) is unreachable and "
                               "QUOTA_REDIS_DOWN_MODE=closed refuses trades meanwhile",
                               (long long)r->d.retry_after_ms, NULL);
    if (!r->d.allowed) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s %s has used its %lld trades per %lld ms",
                 bot ? "bot" : "user", r->id, (long long)r->d.limit,
                 (long long)p->cfg->rate_period_ms);
        return pipeline_reject(p, j, "validated", "quota_exceeded", msg,
                               (long long)r->d.retry_after_ms, NULL);
    }
    return STEP_GRANTED;
}

void pipeline_quota(pipeline_t *p, job_t **jobs, int n, step_t *steps) {
    quota_request_t req[PIPELINE_BATCH_MAX];
    char err[256] = "";
    if (n <= 0) return;
    if (n > PIPELINE_BATCH_MAX) n = PIPELINE_BATCH_MAX;  /* callers never ask more */
    for (int i = 0; i < n; i++) {
        const intent_t *in = &jobs[i]->in;
        int bot = in->source == INTENT_SOURCE_BOT;
        req[i] = (quota_request_t){bot ? "bot" : "user", bot ? in->bot_id : in->user_id,
                                   in->intent_id,
                                   bot ? p->cfg->bot_trades_per_min : p->cfg->user_trades_per_min,
                                   p->cfg->rate_period_ms, 0, {0}};
    }
    int64_t t0 = timefmt_mono_us();
    quota_charge_many(p->quota, req, n, err, sizeof(err));
    metrics_stage("intake", "quota", t0, n);
    /* A batch's quotas charged (in Redis, or in memory), nothing of them
     * recorded yet: its redelivery must find every decision made. */
    if (n > 1) pipeline_failpoint(p, "after_quota", jobs[0]->in.intent_id);
    for (int i = 0; i < n; i++) steps[i] = decided(p, jobs[i], &req[i], err);
}
