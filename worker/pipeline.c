/* pipeline.c -- one intent from its bytes to its durable outcome (see
 * pipeline.h for the order of the steps).
 *
 * The ledger's state is the program counter.  step() reads the recorded
 * state (or takes the one this call just wrote) and performs the next step,
 * writing the new state before the action it announces; pipeline_handle()
 * repeats step() until the intent is terminal.  Any failure of a dependency
 * makes step() return STEP_RETRY and the whole thing starts again from the
 * ledger after a backoff, which is what makes redeliveries, crashes and
 * retries all the same case.
 *
 * State "submitting", where the broker order is found or placed (and the
 * rules that make it at most one per intent), is pipeline_order.c's; the
 * kill switch and the risk checks before the quota are pretrade.c's.
 *
 * pipeline_handle_many() takes a lane's batch: new valid intents share
 * their round trips to the ledger (run_fast), and whatever leaves that path
 * goes on through step() one by one, from the state the ledger holds. */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "budget.h"
#include "log.h"
#include "metrics.h"
#include "pipeline_internal.h"
#include "pretrade.h"
#include "timefmt.h"

pipeline_t *pipeline_new(const config_t *cfg, pipeline_shared_t *shared,
                         char *err, size_t errlen) {
    pipeline_t *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    p->shared = shared;
    p->pub = shared->pub;
    p->gate = shared->gate;
    p->rand_state = (unsigned int)(timefmt_mono_ms() ^ (uintptr_t)p);
    p->alpaca = alpaca_new(cfg);
    if (!p->alpaca) {
        snprintf(err, errlen, "cannot create the HTTP client");
        free(p);
        return NULL;
    }
    alpaca_set_circuits(p->alpaca, shared->circuits);
    alpaca_set_budget(p->alpaca, shared->budget);
    p->market = market_new(cfg, p->alpaca, err, errlen);
    if (!p->market) {
        alpaca_free(p->alpaca);
        free(p);
        return NULL;
    }
    p->quota = quota_new(cfg->redis_url, (quota_down_mode_t)cfg->quota_down_mode, err, errlen);
    if (!p->quota) {
        market_free(p->market);
        alpaca_free(p->alpaca);
        free(p);
        return NULL;
    }
    return p;
}

void pipeline_free(pipeline_t *p) {
    if (!p) return;
    ledger_close(p->ledger);
    quota_close(p->quota);
    market_free(p->market);
    alpaca_batch_free(p->posts);
    alpaca_free(p->alpaca);
    free(p);
}

/* Tests only (WORKER_FAILPOINT): dies here as a crash would, without
 * cleaning anything up, to prove that every point of the path resumes. */
void pipeline_failpoint(const pipeline_t *p, const char *name, const char *intent_id) {
    if (strcmp(p->cfg->failpoint, name) != 0) return;
    log_msg(LOG_ERROR, "failpoint", intent_id, "exiting at %s (WORKER_FAILPOINT)", name);
    _exit(86);
}

/* Sleeps ms, waking early (every 50 ms checked) when the job is abandoned. */
void pipeline_nap(const atomic_int *abandon, int64_t ms) {
    int64_t end = timefmt_mono_ms() + ms;
    while (!atomic_load(abandon)) {
        int64_t left = end - timefmt_mono_ms();
        if (left <= 0) return;
        struct timespec ts = {0, (left < 50 ? left : 50) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The job no longer holds its intent's lock: it takes it, and reads its
 * state, again; and since another may have sent an order meanwhile, nothing
 * it knew about "never sent" holds any more. */
static void forget_lock(job_t *j) {
    j->locked = 0;
    j->state_known = 0;
    j->never_sent = 0;
}

/* Closes the lane's ledger connection.  PostgreSQL releases the intent
 * locks it held, for every job of the call in progress. */
static void drop_ledger(pipeline_t *p) {
    ledger_close(p->ledger);
    p->ledger = NULL;
    for (int i = 0; i < p->n_jobs; i++) forget_lock(&p->jobs[i]);
}

/* Before waiting for an intent another connection holds: this lane lets go
 * of every other lock it holds (its batch's other intents, finished or taken
 * again when their turn comes, and the deferred releases), so that two lanes
 * (or a lane and the follower) never each hold what the other waits for. */
static void release_others(pipeline_t *p, const job_t *j) {
    char err[256];
    if (!p->ledger) return;  /* dropped: its locks went with it */
    for (int i = 0; i < p->n_jobs; i++) {
        job_t *o = &p->jobs[i];
        if (o == j || !o->locked) continue;
        ledger_unlock_intent(p->ledger, o->in.intent_id);
        forget_lock(o);
    }
    if (ledger_flush(p->ledger, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "ledger_failed", j->in.intent_id, "%s", err);
        drop_ledger(p);
    }
}

/* A usable ledger connection: a broken one (e.g. a deferred flush failed)
 * is dropped and a new one made. */
static int ensure_ledger(pipeline_t *p, char *err, size_t errlen) {
    if (p->ledger && !ledger_ok(p->ledger)) drop_ledger(p);
    if (p->ledger) return 0;
    p->ledger = ledger_connect(p->cfg->database_url, p->cfg->replica_id, err, errlen);
    if (p->ledger) {
        ledger_defer_on(p->ledger);  /* flushed by pipeline_idle */
        ledger_set_settled(p->ledger, p->shared->settled);
    }
    return p->ledger ? 0 : -1;
}

/* ---- the job's waits and Alpaca call context ------------------------------ */

/* The budget queue place of this intent's calls: cancels, then users, then
 * bots. */
static budget_priority_t priority_of(const job_t *j) {
    if (j->in.cancel) return BUDGET_CANCEL;
    return j->in.source == INTENT_SOURCE_USER ? BUDGET_USER : BUDGET_BOT;
}

/* Calls that may wait for a token until the intent expires (placements,
 * pre-trade reads), or as long as it takes (lookups of an order that may
 * exist). */
void pipeline_context_until_expiry(pipeline_t *p, job_t *j) {
    int64_t left = j->in.expires_at_ms - timefmt_now_ms();
    alpaca_set_call_context(p->alpaca, priority_of(j),
                            timefmt_mono_ms() + (left > 0 ? left : 0), j->abandon);
}
void pipeline_context_unbounded(pipeline_t *p, job_t *j) {
    alpaca_set_call_context(p->alpaca, priority_of(j), INT64_MAX, j->abandon);
}

/* Backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)]. */
int64_t pipeline_backoff_ms(pipeline_t *p, int attempt) {
    int64_t cap = 5000, base = 100;
    int64_t ceil = attempt >= 6 ? cap : base << attempt;
    if (ceil > cap) ceil = cap;
    return (int64_t)(rand_r(&p->rand_state) % (unsigned)(ceil + 1));
}

/* ---- publishing what the ledger holds ---------------------------------- */

/* Produces the intent's stored events not yet acknowledged (or all of them
 * with again=1), exactly as stored: a consumer sees the same event_id and
 * the same payload however often this runs. */
static step_t flush_events(pipeline_t *p, const char *intent_id, int again) {
    char err[256];
    if (ledger_publish_events(p->ledger, p->pub, intent_id, again, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "publish_failed", intent_id, "%s", err);
        return STEP_RETRY;
    }
    return STEP_DONE;
}

/* Frees what a collecting job holds. */
static void release_collected(job_t *j) {
    if (!j->collected) return;
    for (int i = 0; i < j->out.n_events; i++) publish_event_clear(&j->evs[i]);
    alpaca_order_clear(&j->order);
    j->collected = 0;
}

/* The details of moves off the happy path (ledger.h, ledger_transition). */
const char PIPELINE_DETOUR_RESUMED[] = "{\"why\":\"resumed\"}";
const char PIPELINE_DETOUR_RECONCILER[] = "{\"why\":\"reconciler\"}";
const char PIPELINE_DETOUR_RETRY[] = "{\"why\":\"retry\"}";
const char PIPELINE_DETOUR_HELD[] = "{\"why\":\"held\"}";
const char PIPELINE_DETOUR_TOKEN_WAIT[] = "{\"why\":\"token_wait\"}";
const char PIPELINE_DETOUR_CANCEL[] = "{\"why\":\"cancel\"}";

void pipeline_detour(job_t *j, const char *why) {
    if (!j->detour) j->detour = why;
}

/* Records events and the state change in one transaction, then publishes.
 * A collecting job keeps all of it (taking the events and the order) for
 * the batch's one commit instead. */
step_t pipeline_commit(pipeline_t *p, job_t *j, const char *from, const char *to,
                       const char *reason, alpaca_order_t *order, event_t *evs, int n) {
    char err[256];
    if (j->collect) {
        release_collected(j);
        snprintf(j->out_to, sizeof(j->out_to), "%s", to);
        snprintf(j->out_reason, sizeof(j->out_reason), "%s", reason ? reason : "");
        memcpy(j->evs, evs, (size_t)n * sizeof(*evs));
        if (order) {
            j->order = *order;
            order->raw = NULL;  /* the job's now */
        }
        j->out = (ledger_outcome_t){j->in.intent_id, from, j->out_to,
                                    reason ? j->out_reason : NULL,
                                    order ? &j->order : NULL, j->evs, n,
                                    j->from->key, j->from->key_len, 0, j->detour};
        j->collected = 1;
        return STEP_DONE;
    }
    int rc = ledger_commit(p->ledger, p->pub, j->in.intent_id, from, to, reason, j->detour,
                           order, evs, n, j->from->key, j->from->key_len, err, sizeof(err));
    for (int i = 0; i < n; i++) publish_event_clear(&evs[i]);
    if (rc < 0) {
        log_msg(LOG_WARN, "commit_failed", j->in.intent_id, "%s", err);
        return STEP_RETRY;
    }
    if (rc == 1) return STEP_NEXT;  /* moved by someone else: re-read */
    if (ledger_state_is_terminal(to)) pipeline_failpoint(p, "after_publish", j->in.intent_id);
    return ledger_state_is_terminal(to) ? STEP_DONE : STEP_NEXT;
}

step_t pipeline_reject(pipeline_t *p, job_t *j, const char *from, const char *reason,
                       const char *message, long long retry_after_ms,
                       const alpaca_error_t *broker) {
    event_t ev;
    publish_build_rejection(p->cfg, &j->in, reason, message,
                            !strcmp(reason, "validation_failed") ? &j->verdict : NULL,
                            retry_after_ms, broker, &ev);
    log_msg(LOG_DEBUG, "intent_rejected", j->in.intent_id, "%s: %s", reason, message);
    return pipeline_commit(p, j, from, "rejected", reason, NULL, &ev, 1);
}

/* Moves the intent from -> [via ->] to.  *moved (may be NULL) tells whether
 * this call made the change (0: someone else had already moved it). */
step_t pipeline_transition(pipeline_t *p, job_t *j, const char *from, const char *via,
                           const char *to, int *moved) {
    char err[256];
    int rc = ledger_transition(p->ledger, j->in.intent_id, from, via, to, j->detour, err,
                               sizeof(err));
    if (rc < 0) {
        log_msg(LOG_WARN, "ledger_failed", j->in.intent_id, "%s", err);
        return STEP_RETRY;
    }
    if (moved) *moved = rc == 0;
    if (rc == 0) {
        snprintf(j->state, sizeof(j->state), "%s", to);
        j->state_known = 1;
    }
    return STEP_NEXT;
}

/* ---- dead letters ------------------------------------------------------ */

static step_t dead_letter(pipeline_t *p, job_t *j, const char *reason,
                          const char *detail) {
    char err[256];
    if (ledger_record_dead_letter(p->ledger, j->from, reason, detail, j->bytes,
                                  j->len, err, sizeof(err)) < 0 ||
        publish_dead_letter(p->pub, j->from, reason, detail, j->bytes, j->len,
                            err, sizeof(err)) < 0 ||
        ledger_mark_dead_letter_published(p->ledger, j->from, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "dead_letter_failed", NULL, "%s", err);
        return STEP_RETRY;
    }
    log_msg(LOG_INFO, "dead_lettered", NULL, "%s[%d]@%lld: %s (%s)", j->from->topic,
            (int)j->from->partition, (long long)j->from->offset, reason, detail);
    return STEP_DONE;
}

/* ---- the state machine --------------------------------------------------- */

/* from [-> via] -> "submitting", durably, before anything is sent. */
static step_t enter_submitting(pipeline_t *p, job_t *j, const char *from, const char *via) {
    int moved = 0;
    int64_t t0 = timefmt_mono_us();
    step_t s = pipeline_transition(p, j, from, via, "submitting", &moved);
    metrics_stage("intake", "submitting", t0, 1);
    /* Only the call that made the change knows nothing was sent yet. */
    j->never_sent = s == STEP_NEXT && moved;
    if (j->never_sent) pipeline_failpoint(p, "after_submitting", j->in.intent_id);
    return s;
}

token_t pipeline_take_token(pipeline_t *p, job_t *j, int *waited) {
    *waited = 0;
    if (!p->shared->budget) return TOKEN_GRANTED;
    atomic_int canceled = 0;
    char cancel_id[40], err[256];
    cancelwatch_owner_t me = {j->in.source == INTENT_SOURCE_USER, j->in.bot_id, j->in.user_id};
    int known = cancelwatch_enter(p->shared->watch, j->in.intent_id, &me, &canceled, cancel_id);
    int64_t left = j->in.expires_at_ms - timefmt_now_ms(), t0 = timefmt_mono_ms();
    int rc = known ? 1
                   : budget_take(p->shared->budget, priority_of(j),
                                 timefmt_mono_ms() + (left > 0 ? left : 0), j->abandon,
                                 &canceled);
    cancelwatch_leave(p->shared->watch, j->in.intent_id);
    int64_t took = timefmt_mono_ms() - t0;
    *waited = took >= 2;  /* more than one round trip */
    /* Queued behind others, not a slow round trip: off the happy path. */
    if (took >= 50) pipeline_detour(j, PIPELINE_DETOUR_TOKEN_WAIT);
    if (rc == 0) {
        alpaca_set_prepaid(p->alpaca, 1);
        return TOKEN_GRANTED;
    }
    if (atomic_load(j->abandon)) return TOKEN_ABANDONED;
    if (!known && !atomic_load(&canceled)) return TOKEN_EXPIRED;
    /* A cancel read before the ledger knew this intent marks it now (its
     * sender was checked against this intent's owner). */
    if (known && ledger_cancel_mark(p->ledger, j->in.intent_id, cancel_id, "requested", err,
                                    sizeof(err)) < 0) {
        log_msg(LOG_WARN, "ledger_failed", j->in.intent_id, "%s", err);
        return TOKEN_ABANDONED;
    }
    log_msg(LOG_DEBUG, "cancel_before_send", j->in.intent_id,
            "a cancel came while it waited for its token");
    return TOKEN_CANCELED;
}

/* The placement's token, taken before the intent enters "submitting" (see
 * pipeline_take_token).  *granted: the token is held for the next trading
 * call.  Otherwise the step to return: STEP_NEXT to read the ledger again
 * (a cancel came: its mark decides), STEP_RETRY (abandoned), or the
 * rejection of an intent that expired waiting. */
static step_t wait_token(pipeline_t *p, job_t *j, const char *from, int *granted) {
    int waited;
    token_t t = pipeline_take_token(p, j, &waited);
    *granted = t == TOKEN_GRANTED;
    if (t == TOKEN_GRANTED) return STEP_NEXT;
    if (t == TOKEN_ABANDONED) return STEP_RETRY;
    if (t == TOKEN_CANCELED) {
        j->state_known = 0;
        return STEP_NEXT;
    }
    return pipeline_reject(p, j, from, "expired",
                           "the intent expired waiting for its turn in the Alpaca budget", -1,
                           NULL);
}

/* The token of the placement, then "submitting" (refused by the ledger if
 * a cancel marked the intent meanwhile: the next read sees the mark). */
static step_t before_submitting(pipeline_t *p, job_t *j, const char *from, const char *via) {
    int granted = 0;
    step_t s = wait_token(p, j, from, &granted);
    if (!granted) return s;
    s = enter_submitting(p, j, from, via);
    if (!j->never_sent) alpaca_set_prepaid(p->alpaca, 0);  /* not moved: unspent */
    return s;
}

/* The kill switch and the risk checks (pretrade.h).  STEP_NEXT to go on. */
static step_t pre_trade(pipeline_t *p, job_t *j) {
    pretrade_deps_t d = {p->cfg, p->shared->trading, p->market, p->ledger};
    const char *reason = "";
    char msg[320];
    pipeline_context_until_expiry(p, j);
    int64_t t0 = timefmt_mono_us();
    pretrade_result_t res = pretrade_check(&d, &j->in, &reason, msg, sizeof(msg));
    metrics_stage("intake", "risk", t0, 1);
    switch (res) {
    case PRETRADE_PASS:
        return STEP_NEXT;
    case PRETRADE_REFUSE:
        return pipeline_reject(p, j, "validated", reason, msg, -1, NULL);
    case PRETRADE_RETRY:
        break;
    }
    return STEP_RETRY;
}

/* State "validated" up to its quota: expiry, the kill switch and the risk
 * checks.  STEP_NEXT when the intent goes on to its quota. */
static step_t before_quota(pipeline_t *p, job_t *j, int64_t now) {
    if (intent_is_expired(&j->in, now))
        return pipeline_reject(p, j, "validated", "expired",
                               "the intent expired before it could be sent", -1, NULL);
    return pre_trade(p, j);
}

/* State "validated": the checks, then the quota (pipeline_quota.c).
 * STEP_GRANTED when the quota granted the trade: the caller moves the
 * intent on to "submitting". */
static step_t validated(pipeline_t *p, job_t *j, int64_t now) {
    step_t s = before_quota(p, j, now);
    if (s == STEP_NEXT) pipeline_quota(p, &j, 1, &s);
    return s;
}

/* State "received": a valid intent is recorded "validated" at once; one
 * left in "received" was refused its signature when consumed, or breaks
 * the contract's rules. */
static step_t received(pipeline_t *p, job_t *j) {
    if (j->auth.status == AUTH_DENIED || (j->from_ledger && j->verdict.status == INTENT_VALID))
        return pipeline_reject(p, j, "received", "unauthorized", "the intent is not authorized",
                               -1, NULL);
    if (j->verdict.status == INTENT_INVALID) {
        char msg[256];
        snprintf(msg, sizeof(msg), "the intent breaks %d rule%s of the contract",
                 j->verdict.n_errors, j->verdict.n_errors == 1 ? "" : "s");
        return pipeline_reject(p, j, "received", "validation_failed", msg, -1, NULL);
    }
    return pipeline_transition(p, j, "received", NULL, "validated", NULL);
}

/* The step of a non-terminal state. */
static step_t step_from(pipeline_t *p, job_t *j, const char *state) {
    int64_t now = timefmt_now_ms();
    if (!strcmp(state, "received")) return received(p, j);
    if (j->in.cancel) {
        /* A cancel request: its own steps (pipeline_cancel.c). */
        if (!strcmp(state, "validated")) return pipeline_cancel(p, j);
        if (!strcmp(state, "submitting")) return pipeline_cancel_send(p, j);
        if (!strcmp(state, "submitted")) return flush_events(p, j->in.intent_id, 0);
    }
    if (!strcmp(state, "validated")) {
        step_t s = validated(p, j, now);
        /* Granted: its token, then straight on to "submitting" in the
         * same transaction. */
        return s == STEP_GRANTED ? before_submitting(p, j, "validated", "quota_granted") : s;
    }
    if (!strcmp(state, "quota_granted")) {
        if (intent_is_expired(&j->in, now))
            return pipeline_reject(p, j, "quota_granted", "expired",
                                   "the intent expired before it could be sent", -1, NULL);
        return before_submitting(p, j, "quota_granted", NULL);
    }
    if (!strcmp(state, "submitting")) return pipeline_submit(p, j);
    if (!strcmp(state, "submitted")) {
        /* Accepted and followed by the follower (fills.c): only make sure
         * what was recorded so far has been published. */
        return flush_events(p, j->in.intent_id, 0);
    }
    log_msg(LOG_ERROR, "unknown_state", j->in.intent_id, "ledger state %s", state);
    return STEP_RETRY;
}

/* Records the intent, or reads what the ledger holds of it, taking its
 * lock (one worker per intent at a time, across replicas: a redelivery
 * racing the original, after a rebalance or from a slow replica, waits
 * here; the lock is taken with the first read, in the same round trip).
 * 0 with j->state and *seen; 1 when another connection holds the intent
 * (this lane then lets go of its other locks); -1 with err. */
static int read_state(pipeline_t *p, job_t *j, ledger_seen_t *seen, char *err,
                      size_t errlen) {
    int admitted = j->verdict.status == INTENT_VALID && j->auth.status != AUTH_DENIED;
    int flags = (admitted && !j->from_ledger ? LEDGER_BEGIN_VALID : 0) |
                (j->locked ? 0 : LEDGER_BEGIN_LOCK);
    int64_t t0 = timefmt_mono_us();
    ledger_begin_t b = {.in = &j->in, .from = j->from, .raw = j->bytes, .raw_len = j->len};
    int rc = ledger_begin_many(p->ledger, &b, 1, flags, err, errlen);
    if (rc == 0 && b.busy) rc = 1;
    if (rc == 0) {
        *seen = b.seen;
        snprintf(j->state, sizeof(j->state), "%s", b.state);
        j->cancel_marked = b.cancel_marked;
        if (b.seen == LEDGER_FRESH) j->recorded = 1;
        else if (!j->recorded)  /* recorded before this call: resumed */
            pipeline_detour(j, j->from_ledger ? PIPELINE_DETOUR_RECONCILER
                                              : PIPELINE_DETOUR_RESUMED);
    }
    metrics_stage("intake", "ledger_record", t0, 1);
    if (rc == 1) {
        log_msg(LOG_DEBUG, "intent_busy", j->in.intent_id,
                "another worker holds this intent; waiting");
        release_others(p, j);
    }
    if (rc != 0) return rc;
    j->locked = 1;
    atomic_store(&p->shared->ledger_down, 0);
    return 0;
}

/* A dependency failed (err says which).  Nothing is acted on without the
 * ledger: when it is the ledger, intake stops taking new intents until it
 * answers again. */
static step_t dependency_failed(pipeline_t *p, job_t *j, const char *err) {
    log_msg(LOG_WARN, "dependency_failed", j->in.intent_id[0] ? j->in.intent_id : NULL,
            "%s", err);
    if (strstr(err, "ledger")) {
        atomic_store(&p->shared->ledger_down, 1);
        if (p->ledger) drop_ledger(p);
    }
    return STEP_RETRY;
}

/* One step of the intent, from the state the ledger holds (or the one this
 * call just wrote). */
static step_t step(pipeline_t *p, job_t *j) {
    char err[256];
    if (ensure_ledger(p, err, sizeof(err)) < 0) return dependency_failed(p, j, err);
    if (j->verdict.status == INTENT_UNREADABLE)
        return dead_letter(p, j, j->verdict.dlq_reason, j->verdict.detail);
    ledger_seen_t seen = LEDGER_SEEN;
    if (!j->state_known) {
        int rc = read_state(p, j, &seen, err, sizeof(err));
        if (rc < 0) return dependency_failed(p, j, err);
        if (rc == 1) return STEP_RETRY;
    }
    j->state_known = 0;  /* whatever moves it next says so again */
    if (seen == LEDGER_CONFLICT) {
        char detail[160];
        snprintf(detail, sizeof(detail),
                 "intent_id %s was already used for an intent with other content",
                 j->in.intent_id);
        return dead_letter(p, j, "intent_id_reused", detail);
    }
    if (ledger_state_is_terminal(j->state)) {
        /* Redelivery of a finished intent: its events again, same ids. */
        log_msg(LOG_DEBUG, "intent_redelivered", j->in.intent_id, "state %s", j->state);
        return flush_events(p, j->in.intent_id, 1);
    }
    /* A cancel marked it before it was sent: it never will be. */
    if (j->cancel_marked && !j->in.cancel &&
        (!strcmp(j->state, "validated") || !strcmp(j->state, "quota_granted")))
        return pipeline_cancel_unsent(p, j, j->state);
    return step_from(p, j, j->state);
}

int pipeline_has_deferred(const pipeline_t *p) { return ledger_has_deferred(p->ledger); }

void pipeline_idle(pipeline_t *p) {
    char err[256];
    if (!p->ledger || ledger_flush(p->ledger, err, sizeof(err)) == 0) return;
    log_msg(LOG_WARN, "ledger_failed", NULL, "%s", err);
    drop_ledger(p);  /* releases the locks the flush did not */
}

/* ---- one call: one intent, or a batch of them ------------------------------ */

static void job_init(pipeline_t *p, job_t *j, const pipeline_item_t *it) {
    memset(j, 0, sizeof(*j));
    j->from = &it->from;
    j->bytes = it->bytes;
    j->len = it->len;
    j->abandon = it->abandon;
    j->from_ledger = it->from_ledger;
    int64_t t0 = timefmt_mono_us();
    /* The signature first, on the bytes as received: nothing of a forged
     * intent is read before it is known to be one. */
    if (!it->from_ledger)
        auth_verify(p->shared->auth, p->cfg, it->source, it->from.key, it->from.key_len,
                    it->bytes, it->len, it->sig, it->sig_len, &j->auth);
    intent_decode(it->bytes, it->len, it->source, p->cfg->intent_max_age_ms, &j->in,
                  &j->verdict);
    if (!intent_key_ok(it->from.key, it->from.key_len, &j->verdict)) intent_free(&j->in);
    if (j->verdict.status != INTENT_UNREADABLE && p->shared->auth)
        auth_permit(p->shared->auth, &j->in, &j->auth);
    if (j->auth.status == AUTH_DENIED) {
        metrics_add(M_UNAUTHORIZED, 1, j->auth.why, NULL);
        log_msg(LOG_WARN, "intent_unauthorized", j->in.intent_id[0] ? j->in.intent_id : NULL,
                "%s[%d]@%lld from signer \"%s\": %s", it->from.topic, (int)it->from.partition,
                (long long)it->from.offset, j->auth.signer, j->auth.why);
    }
    metrics_stage("intake", "decode", t0, 1);
}

/* The per-intent loop: step() until the outcome is recorded and published
 * (0), or until the job is abandoned (-1). */
static int job_run(pipeline_t *p, job_t *j) {
    for (int attempt = 0; !atomic_load(j->abandon);) {
        step_t s = step(p, j);
        if (s == STEP_DONE) return 0;
        if (s == STEP_RETRY && p->ledger && !ledger_ok(p->ledger)) {
            drop_ledger(p);  /* its locks died with the connection */
            atomic_store(&p->shared->ledger_down, 1);
        }
        if (s == STEP_RETRY) {
            pipeline_detour(j, PIPELINE_DETOUR_RETRY);
            /* Not while holding other intents' locks: the follower, the
             * reconciler and redeliveries may wait on them. */
            release_others(p, j);
            pipeline_nap(j->abandon, pipeline_backoff_ms(p, attempt++));
        } else {
            attempt = 0;
        }
    }
    return -1;
}

/* Records the outcomes the batch's jobs collected, all in one durable
 * statement, and publishes their events with one wait; the jobs whose
 * outcome is written are done.  Any other job (not moved, a failure) is
 * left to job_run, which reads its state again. */
static void commit_collected(pipeline_t *p) {
    char err[256];
    ledger_outcome_t out[PIPELINE_BATCH_MAX];
    job_t *c[PIPELINE_BATCH_MAX];
    int q = 0;
    for (int i = 0; i < p->n_jobs; i++)
        if (p->jobs[i].collected) {
            out[q] = p->jobs[i].out;
            c[q++] = &p->jobs[i];
        }
    if (q == 0) return;
    int rc = p->ledger ? ledger_commit_many(p->ledger, p->pub, out, q, err, sizeof(err)) : -1;
    if (rc < 0 && p->ledger) {
        log_msg(LOG_WARN, "commit_failed", NULL, "%s", err);
        if (!ledger_ok(p->ledger)) drop_ledger(p);
    }
    for (int k = 0; k < q; k++) {
        /* Not moved: someone else did; job_run reads what. */
        c[k]->done = rc == 0 && out[k].moved &&
                     (ledger_state_is_terminal(out[k].to) || !strcmp(out[k].to, "submitted"));
        release_collected(c[k]);
        if (c[k]->done && ledger_state_is_terminal(out[k].to))
            pipeline_failpoint(p, "after_publish", c[k]->in.intent_id);
    }
}

/* The batch's fast path: fresh valid intents of distinct keys go through
 * their common steps together, each step one round trip for all of them:
 *
 *   record and lock them all (one statement) -> per intent: expiry, kill
 *   switch, risk -> the quota of those that passed (one round trip to
 *   Redis) -> move the granted ones to "submitting" (one
 *   durable statement: each one's state is durable before its order is
 *   sent) -> per intent: place the order -> record every outcome (one
 *   durable statement) and publish all their events (one wait).
 *
 * Nothing here is needed for correctness: an intent that leaves the path
 * at any point (seen before, busy, a failure, a wait) is left to job_run(),
 * which reads its state from the ledger and goes on from there.  So the
 * rules of the per-intent path hold unchanged: the ledger's state is the
 * program counter. */
static void run_fast(pipeline_t *p) {
    char err[256];
    ledger_begin_t b[PIPELINE_BATCH_MAX];
    job_t *c[PIPELINE_BATCH_MAX];
    int m = 0;
    if (ensure_ledger(p, err, sizeof(err)) < 0) return;  /* job_run reports it */
    for (int i = 0; i < p->n_jobs; i++) {
        job_t *j = &p->jobs[i];
        int dup = 0;
        for (int k = 0; k < m; k++) dup |= !strcmp(c[k]->in.intent_id, j->in.intent_id);
        /* Cancel requests take the per-intent path (pipeline_cancel.c). */
        if (j->verdict.status != INTENT_VALID || j->auth.status == AUTH_DENIED ||
            atomic_load(j->abandon) || dup || j->in.cancel)
            continue;
        b[m] = (ledger_begin_t){.in = &j->in, .from = j->from, .raw = j->bytes,
                                .raw_len = j->len};
        c[m++] = j;
    }
    if (m == 0) return;
    int64_t t0 = timefmt_mono_us();
    int begun = ledger_begin_many(p->ledger, b, m, LEDGER_BEGIN_VALID | LEDGER_BEGIN_LOCK, err,
                                  sizeof(err));
    metrics_stage("intake", "ledger_record", t0, m);
    if (begun < 0) {
        log_msg(LOG_WARN, "ledger_failed", NULL, "%s", err);
        drop_ledger(p);  /* may have taken some of the locks */
        return;
    }
    atomic_store(&p->shared->ledger_down, 0);
    job_t *ask[PIPELINE_BATCH_MAX];  /* those that reach the quota */
    step_t st[PIPELINE_BATCH_MAX];
    int a = 0, g = 0;                /* g: granted ones, gathered at the front of c */
    for (int k = 0; k < m; k++) {
        job_t *j = c[k];
        if (b[k].busy) continue;
        j->locked = 1;
        if (b[k].seen == LEDGER_FRESH) j->recorded = 1;
        if (b[k].seen != LEDGER_FRESH || strcmp(b[k].state, "validated") != 0) continue;
        j->collect = j->one_shot = 1;
        if (before_quota(p, j, timefmt_now_ms()) == STEP_NEXT) ask[a++] = j;
    }
    /* Their quotas together, in one round trip to Redis. */
    pipeline_quota(p, ask, a, st);
    for (int k = 0; k < a; k++)
        if (st[k] == STEP_GRANTED) c[g++] = ask[k];
    /* When the budget is short, placements would wait for their tokens
     * in "submitting", holding the batch: the granted ones go on one by
     * one instead (job_run; their quota decision is remembered), each
     * waiting for its token before "submitting", where a cancel stops it
     * (wait_token).  Otherwise each POST takes its token as it goes: a
     * token is spent within milliseconds of its grant, as the budget's
     * window assumes. */
    if (g > 0 && p->shared->budget && budget_is_short(p->shared->budget, g)) g = 0;
    if (g > 0) {
        const char *ids[PIPELINE_BATCH_MAX];
        int moved[PIPELINE_BATCH_MAX];
        for (int k = 0; k < g; k++) ids[k] = c[k]->in.intent_id;
        t0 = timefmt_mono_us();
        int tr = ledger_transition_many(p->ledger, ids, g, "validated", "quota_granted",
                                        "submitting", NULL, moved, err, sizeof(err));
        metrics_stage("intake", "submitting", t0, g);
        if (tr < 0) {
            log_msg(LOG_WARN, "ledger_failed", NULL, "%s", err);
            if (!ledger_ok(p->ledger)) drop_ledger(p);
            g = 0;
        }
        for (int k = 0; k < g; k++) {
            c[k]->never_sent = moved[k];
            if (moved[k]) pipeline_failpoint(p, "after_submitting", ids[k]);
        }
        /* The connection, and with it the locks, died: job_run takes them
         * again, and never_sent with them is gone. */
        int sendable = 0;
        for (int k = 0; k < g && ledger_ok(p->ledger); k++)
            if (moved[k] && !atomic_load(c[k]->abandon) && c[k]->locked) c[sendable++] = c[k];
        pipeline_submit_many(p, c, sendable);
    }
    commit_collected(p);  /* releases every collected outcome */
    for (int i = 0; i < p->n_jobs; i++) p->jobs[i].collect = p->jobs[i].one_shot = 0;
}

static void unlock_job(pipeline_t *p, job_t *j) {
    if (j->locked && p->ledger) ledger_unlock_intent(p->ledger, j->in.intent_id);
    j->locked = 0;
}

void pipeline_copy_free(pipeline_copy_t *c) {
    free(c->bytes);
    free(c->key);
    free(c->sig);
    c->bytes = c->key = c->sig = NULL;
}

/* What pipeline_stop_queued does with the target, once recorded and locked:
 * 1 ended, 0 left to its lane, -1 the ledger failed. */
static int stop_recorded(pipeline_t *p, job_t *t, const intent_t *by) {
    char err[256], from[LEDGER_STATE_MAX];
    if (ledger_state_is_terminal(t->state)) return 1;
    if (strcmp(t->state, "validated") != 0 && strcmp(t->state, "quota_granted") != 0) return 0;
    snprintf(from, sizeof(from), "%s", t->state);
    int marked = ledger_cancel_mark(p->ledger, t->in.intent_id, by->intent_id, "requested", err,
                                    sizeof(err));
    if (marked < 0) log_msg(LOG_WARN, "ledger_failed", by->intent_id, "%s", err);
    if (marked <= 0) return marked;
    step_t s = pipeline_cancel_unsent(p, t, from);
    return s == STEP_DONE ? 1 : s == STEP_RETRY ? -1 : 0;
}

int pipeline_stop_queued(pipeline_t *p, const pipeline_item_t *it, const intent_t *by,
                         int (*owned)(const intent_t *by, const intent_t *target)) {
    char err[256];
    job_t *t = calloc(1, sizeof(*t));
    if (!t) return 0;
    job_init(p, t, it);
    int rc = 0;
    /* Only a valid, signed intent of the request's sender, with the id the
     * request names: anything else is left to its lane's verdict. */
    if (t->verdict.status == INTENT_VALID && t->auth.status != AUTH_DENIED && !t->in.cancel &&
        !strcmp(t->in.intent_id, by->target_intent_id) && owned(by, &t->in)) {
        ledger_seen_t seen = LEDGER_SEEN;
        int r = ensure_ledger(p, err, sizeof(err)) < 0 ? -1 : read_state(p, t, &seen, err,
                                                                          sizeof(err));
        if (r < 0) {
            log_msg(LOG_WARN, "ledger_failed", by->intent_id, "%s", err);
            rc = -1;
        } else if (r == 0) {
            if (seen != LEDGER_CONFLICT) rc = stop_recorded(p, t, by);
            unlock_job(p, t);
        }
    }
    intent_free(&t->in);
    free(t);
    return rc;
}

void pipeline_handle_many(pipeline_t *p, pipeline_item_t *items, int n) {
    if (n > PIPELINE_BATCH_MAX) n = PIPELINE_BATCH_MAX;  /* intake never asks more */
    p->n_jobs = n;
    for (int i = 0; i < n; i++) job_init(p, &p->jobs[i], &items[i]);
    if (n > 1) run_fast(p);
    /* Finished ones first let go of their locks (written with the lane's
     * deferred bookkeeping), then the rest go on one by one. */
    for (int i = 0; i < n; i++) {
        job_t *j = &p->jobs[i];
        if (j->done) {
            items[i].rc = 0;
            metrics_add(M_INTENTS_SETTLED, 1, "batch", NULL);
            unlock_job(p, j);
        }
    }
    for (int i = 0; i < n; i++) {
        job_t *j = &p->jobs[i];
        if (j->done) continue;
        items[i].rc = job_run(p, j);
        if (items[i].rc == 0) metrics_add(M_INTENTS_SETTLED, 1, "single", NULL);
        unlock_job(p, j);
    }
    for (int i = 0; i < n; i++) intent_free(&p->jobs[i].in);
    p->n_jobs = 0;
}

int pipeline_handle(pipeline_t *p, const origin_t *from, intent_source_t source,
                    const char *bytes, size_t len, const atomic_int *abandon) {
    pipeline_item_t it = {*from, source, bytes, len, abandon, NULL, 0, 1, -1};
    pipeline_handle_many(p, &it, 1);
    return it.rc;
}
