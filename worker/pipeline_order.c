/* pipeline_order.c -- state "submitting": the broker order (see
 * pipeline.h for the steps, pipeline.c for the state machine).
 *
 * At most one broker order per intent follows from two rules here:
 *  - the order's client_order_id is derived from intent_id, so a second POST
 *    for the same intent is refused by Alpaca ("must be unique");
 *  - an intent found in state "submitting" that this call did not put there
 *    is looked up at Alpaca by client_order_id before anything is placed.
 *
 * pipeline_submit() goes round until the order is settled or the intent
 * given up: find the order when it may exist (find_order), check that a
 * POST may go (may_place), POST it and act on the answer (place).  Each
 * round either ends the step or waits before the next one; on a batch's
 * fast path (one_shot) a wait ends the step instead, and the per-intent
 * loop resumes the intent from the ledger.  pipeline_submit_many() does the
 * same for a batch's intents, with their first POSTs in flight together
 * (alpaca_batch_place): each job's checks and token come first, one by one,
 * and each answer is acted on as place() would. */
#include <stdio.h>
#include <string.h>

#include "account.h"
#include "fills.h"
#include "log.h"
#include "metrics.h"
#include "pipeline_internal.h"
#include "timefmt.h"

/* Beyond the HTTP timeout, how long a lost POST may still take to become
 * visible at the broker before a lookup that misses it is believed. */
#define SETTLE_MARGIN_MS 2000

/* Records the broker's first answer for the order and publishes what
 * follows from it: accepted, then whatever fills_plan() finds (a fill the
 * broker reports at once, a cancel, a rejection after acceptance).  An order
 * still open stays "submitted": the follower (fills.c) takes it from there. */
static step_t settle_order(pipeline_t *p, job_t *j, alpaca_order_t *o) {
    event_t evs[1 + FILLS_MAX_EVENTS];
    int n = 0;
    const char *to, *reason;
    if (strcmp(o->status, "rejected") != 0)
        publish_build_fill(p->cfg, &j->in, o, "accepted", 1, NULL, NULL, &evs[n++]);
    fills_known_t none = {"0", "", 0, NULL, NULL};
    n += fills_plan(p->cfg, &j->in, &none, o, evs + n, &to, &reason);
    log_msg(LOG_DEBUG, "order_placed", j->in.intent_id, "order %s status %s", o->id,
            o->status);
    step_t s = pipeline_commit(p, j, "submitting", to, reason, o, evs, n);
    alpaca_order_clear(o);
    return !strcmp(to, "submitted") && s == STEP_NEXT ? STEP_DONE : s;
}

/* How long to wait after a 429: until the broker's reset, at most a minute
 * (a skewed clock on either side must not park a lane for hours). */
static int64_t rate_limit_wait_ms(const alpaca_error_t *e) {
    int64_t ms = e->retry_at_ms - timefmt_now_ms();
    if (ms < 50) ms = 50;
    if (ms > 60000) ms = 60000;
    return ms;
}

/* Waits ms before the job's next attempt; a job on a batch's fast path
 * (one_shot) does not wait: 1 tells the caller to give it back to the
 * per-intent loop, which resumes it from the ledger. */
static int hold(job_t *j, int64_t ms) {
    if (j->one_shot) return 1;
    pipeline_detour(j, PIPELINE_DETOUR_HELD);
    pipeline_nap(j->abandon, ms);
    return 0;
}

/* Looks the order up by client_order_id until Alpaca gives a definite
 * answer.  Returns ALPACA_OK (found), ALPACA_NOT_FOUND, or ALPACA_TRANSIENT
 * if the job was abandoned first. */
static alpaca_result_t look_up(pipeline_t *p, job_t *j, const char *cid,
                               alpaca_order_t *o) {
    pipeline_context_unbounded(p, j);
    for (int attempt = 0; !atomic_load(j->abandon); attempt++) {
        alpaca_error_t e;
        alpaca_result_t r = alpaca_get_order_by_client_id(p->alpaca, cid, o, &e);
        if (r == ALPACA_OK || r == ALPACA_NOT_FOUND) return r;
        if (r == ALPACA_RATE_LIMITED) {
            if (hold(j, rate_limit_wait_ms(&e))) break;
            continue;
        }
        log_msg(r == ALPACA_BREAKER_OPEN ? LOG_DEBUG : LOG_WARN, "alpaca_lookup_failed",
                j->in.intent_id, "%s", e.message);
        if (hold(j, pipeline_backoff_ms(p, attempt))) break;
    }
    return ALPACA_TRANSIENT;
}

/* Whether a lookup that found nothing proves that no order exists: only
 * when it started after any POST of ours could still be processed by the
 * broker (a timed-out request may land later than its timeout). */
static int absence_is_proven(pipeline_t *p, int64_t horizon_ms, int64_t lookup_ms) {
    return horizon_ms == 0 ||
           lookup_ms > horizon_ms + p->cfg->alpaca_timeout_ms + SETTLE_MARGIN_MS;
}

/* What one call of pipeline_submit knows, from round to round. */
typedef struct placing {
    char cid[64];          /* the order's client_order_id */
    int unknown;           /* the order may exist: look before placing */
    int64_t horizon_ms;    /* latest moment a POST for this intent may have
                              started (monotonic; 0: none can have) */
    int attempt;           /* rounds so far, for the backoff */
} placing_t;

/* How a part of a round ends. */
typedef enum {
    ROUND_ON,      /* go on with the round's next part */
    ROUND_AGAIN,   /* start the next round */
    ROUND_END      /* the step ends with *s */
} round_t;

/* Waits ms before the next round, or, on a batch's fast path, ends the
 * step for the per-intent loop (hold). */
static round_t wait_round(job_t *j, int64_t ms, step_t *s) {
    if (!hold(j, ms)) return ROUND_AGAIN;
    *s = STEP_RETRY;
    return ROUND_END;
}

/* When the order may exist (or is known to), looks it up: found, it is
 * settled; not found, placing is safe only once a lookup started late
 * enough to have seen any POST of ours, and never after a 422 duplicate. */
static round_t find_order(pipeline_t *p, job_t *j, placing_t *pl, step_t *s) {
    if (!pl->unknown && !j->exists) return ROUND_ON;
    alpaca_order_t o;
    int64_t lookup_ms = timefmt_mono_ms();
    alpaca_result_t r = look_up(p, j, pl->cid, &o);
    if (r == ALPACA_OK) {
        *s = settle_order(p, j, &o);
        return ROUND_END;
    }
    if (r != ALPACA_NOT_FOUND) {
        *s = STEP_RETRY;
        return ROUND_END;
    }
    /* Not visible yet: look again later, never place again. */
    if (j->exists || !absence_is_proven(p, pl->horizon_ms, lookup_ms))
        return wait_round(j, pipeline_backoff_ms(p, pl->attempt), s);
    pl->unknown = 0;
    return ROUND_ON;
}

/* Known not to exist: placing is safe, unless a cancel marked the intent,
 * it is too late, the broker's circuit is open, or (before the first POST)
 * the account may not trade. */
static round_t may_place(pipeline_t *p, job_t *j, step_t *s) {
    if (!j->posted && j->cancel_marked) {
        /* Resumed in "submitting" with a cancel's mark (it came after a
         * crash left the intent here): no order exists, so none is made. */
        *s = pipeline_cancel_unsent(p, j, "submitting");
        return ROUND_END;
    }
    if (intent_is_expired(&j->in, timefmt_now_ms())) {
        int unsent = !j->posted && !j->held;
        *s = pipeline_reject(p, j, "submitting", unsent ? "expired" : "broker_unavailable",
                             unsent ? "the intent expired before it could be sent"
                                    : "the broker stayed unreachable until the intent expired",
                             -1, NULL);
        return ROUND_END;
    }
    if (!circuits_allow_peek(p->shared->circuits, OP_PLACE)) {
        /* The broker is failing: hold the intent (intake stops taking new
         * ones meanwhile) until a probe succeeds or it expires. */
        j->held = 1;
        return wait_round(j, 200, s);
    }
    pipeline_context_until_expiry(p, j);
    char why[200], msg[256];
    if (!j->posted && !account_gate_check(p->gate, p->alpaca, why, sizeof(why))) {
        snprintf(msg, sizeof(msg), "the account may not trade: %s", why);
        *s = pipeline_reject(p, j, "submitting", "broker_rejected", msg, -1, NULL);
        return ROUND_END;
    }
    return ROUND_ON;
}

/* The POST's token, unless one is held already (taken before
 * "submitting"): a batch's placements and retries wait for theirs here.
 * Nothing was sent for this intent since no order was proven to exist, so
 * a cancel that marked it while it waited (the ledger is read again after
 * any wait: an operator's mark wakes nobody) ends it unsent. */
static round_t post_token(pipeline_t *p, job_t *j, step_t *s) {
    char err[256];
    if (!p->shared->budget || alpaca_prepaid(p->alpaca)) return ROUND_ON;
    int waited;
    token_t t = pipeline_take_token(p, j, &waited);
    if (t == TOKEN_ABANDONED) {
        *s = STEP_RETRY;
        return ROUND_END;
    }
    if (t == TOKEN_EXPIRED) return ROUND_AGAIN;  /* may_place rejects it */
    if (t == TOKEN_GRANTED && !waited) return ROUND_ON;
    ledger_target_t me;
    if (ledger_cancel_target(p->ledger, j->in.intent_id, &me, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "ledger_failed", j->in.intent_id, "%s", err);
        alpaca_set_prepaid(p->alpaca, 0);
        *s = STEP_RETRY;
        return ROUND_END;
    }
    if (me.cancel_reason[0]) {
        alpaca_set_prepaid(p->alpaca, 0);
        *s = pipeline_cancel_unsent(p, j, "submitting");
        return ROUND_END;
    }
    return t == TOKEN_GRANTED ? ROUND_ON : ROUND_AGAIN;
}

/* From here on a POST may exist for the intent. */
static void mark_posted(job_t *j, placing_t *pl) {
    j->never_sent = 0;
    j->posted = 1;
    pl->horizon_ms = timefmt_mono_ms();
}

static round_t on_answer(pipeline_t *p, job_t *j, placing_t *pl, alpaca_result_t res,
                         alpaca_order_t *o, const alpaca_error_t *e, step_t *s);

/* POSTs the order and acts on the answer (on_answer). */
static round_t place(pipeline_t *p, job_t *j, placing_t *pl, step_t *s) {
    alpaca_order_t o;
    alpaca_error_t e;
    round_t r = post_token(p, j, s);
    if (r != ROUND_ON) return r;
    mark_posted(j, pl);
    int64_t t0 = timefmt_mono_us();
    alpaca_result_t res = alpaca_place_order(p->alpaca, &j->in, pl->cid, &o, &e);
    metrics_stage("intake", "post", t0, 1);
    return on_answer(p, j, pl, res, &o, &e, s);
}

/* What the answer to a POST means for the intent. */
static round_t on_answer(pipeline_t *p, job_t *j, placing_t *pl, alpaca_result_t res,
                         alpaca_order_t *o, const alpaca_error_t *e, step_t *s) {
    round_t r;
    switch (res) {
    case ALPACA_OK:
        pipeline_failpoint(p, "after_post", j->in.intent_id);
        *s = settle_order(p, j, o);
        return ROUND_END;
    case ALPACA_DUPLICATE:
        j->exists = 1;  /* it exists: fetch it, never create another */
        return ROUND_AGAIN;
    case ALPACA_REJECTED:
        if (e->http_status == 403) account_gate_invalidate(p->gate);
        *s = pipeline_reject(p, j, "submitting", "broker_rejected", e->message, -1, e);
        return ROUND_END;
    case ALPACA_RATE_LIMITED:
        /* Refused before processing: nothing was created. */
        log_msg(LOG_WARN, "alpaca_rate_limited", j->in.intent_id,
                "429 from the broker; waiting for the reset");
        return wait_round(j, rate_limit_wait_ms(e), s);
    case ALPACA_UNAUTHORIZED:
        log_msg(LOG_ERROR, "alpaca_unauthorized", j->in.intent_id,
                "the broker refused the API keys (HTTP 401): check "
                "ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY");
        return wait_round(j, pipeline_backoff_ms(p, pl->attempt), s);
    case ALPACA_BREAKER_OPEN:
        /* Nothing was sent: wait for the breaker, as above. */
        j->held = 1;
        return wait_round(j, 200, s);
    case ALPACA_NO_BUDGET:
        /* Nothing was sent, and the intent expired waiting for its turn
         * in the shared budget: the expiry check of may_place rejects it. */
        return ROUND_AGAIN;
    case ALPACA_NOT_FOUND:
    case ALPACA_TRANSIENT:
        /* The answer is lost or the broker failed: the order may or may
         * not exist, so the next round looks it up first. */
        log_msg(LOG_WARN, "alpaca_place_failed", j->in.intent_id, "%s", e->message);
        r = wait_round(j, pipeline_backoff_ms(p, pl->attempt), s);
        if (r == ROUND_AGAIN) pl->unknown = 1;
        return r;
    }
    return ROUND_AGAIN;
}

/* State "submitting": find the order or place it, then settle it.
 *
 * The order may exist unless this very call moved the intent into
 * "submitting" and has not sent anything since (never_sent).  Then:
 *  - it is looked up by client_order_id before anything is placed;
 *  - after a 422 "must be unique" it is known to exist and is only ever
 *    looked up again, never placed;
 *  - the intent is given up (expired / broker_unavailable) only after a
 *    lookup that started late enough to have seen any POST of ours. */
static void placing_init(job_t *j, placing_t *pl) {
    intent_client_order_id(&j->in, pl->cid, sizeof(pl->cid));
    pl->unknown = !j->never_sent;
    /* Now, for an intent resumed in "submitting" (a crashed predecessor may
     * have just sent a POST); our own POSTs move it later. */
    pl->horizon_ms = j->never_sent ? 0 : timefmt_mono_ms();
    pl->attempt = 0;
}

/* A round up to the POST: find the order when it may exist, then check
 * that a POST may go (ROUND_ON). */
static round_t before_post(pipeline_t *p, job_t *j, placing_t *pl, step_t *s) {
    if (atomic_load(j->abandon)) return ROUND_END;
    round_t r = find_order(p, j, pl, s);
    return r == ROUND_ON ? may_place(p, j, s) : r;
}

/* The rounds of pipeline_submit from pl->attempt on, until one ends the
 * step (*s). */
static void rounds(pipeline_t *p, job_t *j, placing_t *pl, step_t *s) {
    for (;; pl->attempt++) {
        round_t r = before_post(p, j, pl, s);
        if (r == ROUND_ON) r = place(p, j, pl, s);
        if (r == ROUND_END) break;
    }
}

step_t pipeline_submit(pipeline_t *p, job_t *j) {
    placing_t pl;
    placing_init(j, &pl);
    step_t s = STEP_RETRY;
    rounds(p, j, &pl, &s);
    /* A token taken before "submitting" (pipeline.c) and not spent, e.g.
     * by an intent that expired, must not pay for another call. */
    alpaca_set_prepaid(p->alpaca, 0);
    return s;
}

/* The first round of each job up to its POST (before_post, then its
 * token: the same checks as one by one); ready[k] says whether job k holds
 * its token and may be sent, else r[k] says how its round ended. */
static void first_rounds(pipeline_t *p, job_t **jobs, int n, placing_t *pl, step_t *s,
                         round_t *r, int *ready) {
    for (int k = 0; k < n; k++) {
        job_t *j = jobs[k];
        placing_init(j, &pl[k]);
        s[k] = STEP_RETRY;
        r[k] = before_post(p, j, &pl[k], &s[k]);
        if (r[k] == ROUND_ON) r[k] = post_token(p, j, &s[k]);
        /* The token just taken is this job's POST's, sent below. */
        alpaca_set_prepaid(p->alpaca, 0);
        ready[k] = r[k] == ROUND_ON;
    }
}

void pipeline_submit_many(pipeline_t *p, job_t **jobs, int n) {
    placing_t pl[PIPELINE_BATCH_MAX];
    step_t s[PIPELINE_BATCH_MAX];
    round_t r[PIPELINE_BATCH_MAX];
    int ready[PIPELINE_BATCH_MAX];
    if (n <= 0) return;
    if (!p->posts)
        p->posts = alpaca_batch_new(p->cfg, p->cfg->alpaca_parallel_posts, p->shared->circuits,
                                    p->shared->budget);
    if (!p->posts) {  /* no memory: one by one */
        for (int k = 0; k < n; k++) pipeline_submit(p, jobs[k]);
        return;
    }
    first_rounds(p, jobs, n, pl, s, r, ready);
    for (int from = 0; from < n;) {
        const intent_t *in[ALPACA_BATCH_MAX];
        const char *cids[ALPACA_BATCH_MAX];
        alpaca_order_t o[ALPACA_BATCH_MAX];
        alpaca_error_t e[ALPACA_BATCH_MAX];
        alpaca_result_t res[ALPACA_BATCH_MAX];
        int idx[ALPACA_BATCH_MAX], m = 0;
        for (; from < n && m < alpaca_batch_max(p->posts); from++) {
            if (!ready[from]) continue;
            mark_posted(jobs[from], &pl[from]);
            in[m] = &jobs[from]->in;
            cids[m] = pl[from].cid;
            idx[m++] = from;
        }
        if (m == 0) continue;
        int64_t t0 = timefmt_mono_us();
        alpaca_batch_place(p->posts, in, cids, m, o, e, res);
        metrics_stage("intake", "post", t0, m);
        for (int q = 0; q < m; q++)
            r[idx[q]] = on_answer(p, jobs[idx[q]], &pl[idx[q]], res[q], &o[q], &e[q], &s[idx[q]]);
    }
    /* The rest of each job's rounds, as pipeline_submit's. */
    for (int k = 0; k < n; k++) {
        if (r[k] != ROUND_AGAIN) continue;
        pl[k].attempt++;
        rounds(p, jobs[k], &pl[k], &s[k]);
        alpaca_set_prepaid(p->alpaca, 0);
    }
}
