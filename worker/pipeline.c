/* pipeline.c -- one intent from its bytes to its durable outcome (see
 * pipeline.h for the order of the steps).
 *
 * The ledger's state is the program counter.  step() reads the recorded
 * state (or takes the one this call just wrote) and performs the next step,
 * writing the new state before the action it announces; pipeline_handle()
 * repeats step() until the intent is terminal.  Any failure of a dependency makes step() return STEP_RETRY and
 * the whole thing starts again from the ledger after a backoff, which is
 * what makes redeliveries, crashes and retries all the same case.
 *
 * At most one broker order per intent follows from two rules here:
 *  - the order's client_order_id is derived from intent_id, so a second POST
 *    for the same intent is refused by Alpaca ("must be unique");
 *  - an intent found in state "submitting" that this call did not put there
 *    is looked up at Alpaca by client_order_id before anything is placed.
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
#include "alpaca.h"
#include "budget.h"
#include "decimal.h"
#include "fills.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "market.h"
#include "quota.h"
#include "risk.h"
#include "timefmt.h"

/* Beyond the HTTP timeout, how long a lost POST may still take to become
 * visible at the broker before a lookup that misses it is believed. */
#define SETTLE_MARGIN_MS 2000

typedef enum {
    STEP_DONE = 0,   /* terminal outcome recorded and published (or, for a
                        collecting job, kept for the batch's commit) */
    STEP_NEXT,       /* state advanced: run the next step now */
    STEP_RETRY,      /* a dependency failed: back off, then start again */
    STEP_GRANTED     /* validated(): the quota granted the trade */
} step_t;

/* What one call of pipeline_handle carries between steps. */
typedef struct job {
    const origin_t *from;
    const char *bytes;
    size_t len;
    intent_t in;
    intent_verdict_t verdict;
    auth_result_t auth;   /* AUTH_DENIED: rejected "unauthorized", nothing
                             else is done for it */
    int from_ledger;      /* the reconciler's: the ledger state decided */
    int never_sent;       /* this call moved the intent into "submitting" and
                             has not sent a POST since: no order can exist */
    const atomic_int *abandon;
    int locked;           /* holds the intent's lock on p->ledger */
    char state[LEDGER_STATE_MAX];
    int state_known;      /* state is what this call just wrote: the next
                             step need not read it back */
    /* What submit() learned, kept across its calls (a batch's job may
     * leave it and come back through job_run): */
    int exists;           /* Alpaca said the order exists (422 duplicate):
                             only ever look it up again */
    int posted;           /* this process sent a POST for it */
    int held;             /* it waited on an open breaker */
    /* On a batch's fast path (pipeline_handle_many): */
    int collect;          /* commit() keeps the outcome here, unwritten */
    int one_shot;         /* where a step would wait, it returns STEP_RETRY:
                             the per-intent loop resumes it from the ledger */
    int collected;        /* out, evs and order hold an outcome */
    int done;             /* outcome recorded and published */
    ledger_outcome_t out;
    char out_to[LEDGER_STATE_MAX], out_reason[48];
    event_t evs[1 + FILLS_MAX_EVENTS];
    alpaca_order_t order;
} job_t;

struct pipeline {
    const config_t *cfg;
    pipeline_shared_t *shared;
    publisher_t *pub;
    ledger_t *ledger;     /* connected lazily, reconnected after failures */
    quota_t *quota;
    alpaca_t *alpaca;
    market_t *market;      /* quotes for the risk checks */
    account_gate_t *gate;  /* shared by the lanes of this process */
    unsigned int rand_state;
    job_t jobs[PIPELINE_BATCH_MAX];  /* the call in progress */
    int n_jobs;
};

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
    alpaca_free(p->alpaca);
    free(p);
}

/* Tests only (WORKER_FAILPOINT): dies here as a crash would, without
 * cleaning anything up, to prove that every point of the path resumes. */
static void failpoint(const pipeline_t *p, const char *name, const char *intent_id) {
    if (strcmp(p->cfg->failpoint, name) != 0) return;
    log_msg(LOG_ERROR, "failpoint", intent_id, "exiting at %s (WORKER_FAILPOINT)", name);
    _exit(86);
}

/* Sleeps ms, waking early (every 50 ms checked) when the job is abandoned. */
static void nap(const atomic_int *abandon, int64_t ms) {
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
    if (p->ledger) ledger_defer_on(p->ledger);  /* flushed by pipeline_idle */
    return p->ledger ? 0 : -1;
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

/* Records events and the state change in one transaction, then publishes.
 * A collecting job keeps all of it (taking the events and the order) for
 * the batch's one commit instead. */
static step_t commit(pipeline_t *p, job_t *j, const char *from, const char *to,
                     const char *reason, alpaca_order_t *order,
                     event_t *evs, int n) {
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
                                    j->from->key, j->from->key_len, 0};
        j->collected = 1;
        return STEP_DONE;
    }
    int rc = ledger_commit(p->ledger, p->pub, j->in.intent_id, from, to, reason, order,
                           evs, n, j->from->key, j->from->key_len, err, sizeof(err));
    for (int i = 0; i < n; i++) publish_event_clear(&evs[i]);
    if (rc < 0) {
        log_msg(LOG_WARN, "commit_failed", j->in.intent_id, "%s", err);
        return STEP_RETRY;
    }
    if (rc == 1) return STEP_NEXT;  /* moved by someone else: re-read */
    if (ledger_state_is_terminal(to)) failpoint(p, "after_publish", j->in.intent_id);
    return ledger_state_is_terminal(to) ? STEP_DONE : STEP_NEXT;
}

static step_t reject(pipeline_t *p, job_t *j, const char *from,
                     const char *reason, const char *message,
                     long long retry_after_ms, const alpaca_error_t *broker) {
    event_t ev;
    publish_build_rejection(p->cfg, &j->in, reason, message,
                            !strcmp(reason, "validation_failed") ? &j->verdict : NULL,
                            retry_after_ms, broker, &ev);
    log_msg(LOG_DEBUG, "intent_rejected", j->in.intent_id, "%s: %s", reason, message);
    return commit(p, j, from, "rejected", reason, NULL, &ev, 1);
}

/* Moves the intent from -> [via ->] to.  *moved (may be NULL) tells whether
 * this call made the change (0: someone else had already moved it). */
static step_t transition(pipeline_t *p, job_t *j, const char *from, const char *via,
                         const char *to, int *moved) {
    char err[256];
    int rc = ledger_transition(p->ledger, j->in.intent_id, from, via, to, NULL, err,
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

/* ---- the broker order ---------------------------------------------------- */

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
    fills_known_t none = {"0", "", 0};
    n += fills_plan(p->cfg, &j->in, &none, o, evs + n, &to, &reason);
    log_msg(LOG_DEBUG, "order_placed", j->in.intent_id, "order %s status %s", o->id,
            o->status);
    step_t s = commit(p, j, "submitting", to, reason, o, evs, n);
    alpaca_order_clear(o);
    return !strcmp(to, "submitted") && s == STEP_NEXT ? STEP_DONE : s;
}

/* The budget queue place of this intent's calls: users before bots. */
static budget_priority_t priority_of(const job_t *j) {
    return j->in.source == INTENT_SOURCE_USER ? BUDGET_USER : BUDGET_BOT;
}

/* Calls that may wait for a token until the intent expires (placements),
 * or as long as it takes (lookups of an order that may exist). */
static void context_until_expiry(pipeline_t *p, job_t *j) {
    int64_t left = j->in.expires_at_ms - timefmt_now_ms();
    alpaca_set_call_context(p->alpaca, priority_of(j),
                            timefmt_mono_ms() + (left > 0 ? left : 0), j->abandon);
}
static void context_unbounded(pipeline_t *p, job_t *j) {
    alpaca_set_call_context(p->alpaca, priority_of(j), INT64_MAX, j->abandon);
}

/* Backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)]. */
static int64_t backoff_ms(pipeline_t *p, int attempt) {
    int64_t cap = 5000, base = 100;
    int64_t ceil = attempt >= 6 ? cap : base << attempt;
    if (ceil > cap) ceil = cap;
    return (int64_t)(rand_r(&p->rand_state) % (unsigned)(ceil + 1));
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
    nap(j->abandon, ms);
    return 0;
}

/* Looks the order up by client_order_id until Alpaca gives a definite
 * answer.  Returns ALPACA_OK (found), ALPACA_NOT_FOUND, or ALPACA_TRANSIENT
 * if the job was abandoned first. */
static alpaca_result_t look_up(pipeline_t *p, job_t *j, const char *cid,
                               alpaca_order_t *o) {
    context_unbounded(p, j);
    for (int attempt = 0; !atomic_load(j->abandon); attempt++) {
        alpaca_error_t e;
        alpaca_result_t r = alpaca_get_order_by_client_id(p->alpaca, cid, o, &e);
        if (r == ALPACA_OK || r == ALPACA_NOT_FOUND) return r;
        if (r == ALPACA_RATE_LIMITED) {
            if (hold(j, rate_limit_wait_ms(&e))) break;
            continue;
        }
        log_msg(r == ALPACA_BREAKER_OPEN ? LOG_DEBUG : LOG_WARN, "alpaca_lookup_failed", j->in.intent_id, "%s", e.message);
        if (hold(j, backoff_ms(p, attempt))) break;
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

/* State "submitting": find the order or place it, then settle it.
 *
 * The order may exist unless this very call moved the intent into
 * "submitting" and has not sent anything since (never_sent).  Then:
 *  - it is looked up by client_order_id before anything is placed;
 *  - after a 422 "must be unique" it is known to exist and is only ever
 *    looked up again, never placed;
 *  - the intent is given up (expired / broker_unavailable) only after a
 *    lookup that started late enough to have seen any POST of ours. */
static step_t submit(pipeline_t *p, job_t *j) {
    char cid[64];
    intent_client_order_id(&j->in, cid, sizeof(cid));
    alpaca_order_t o;
    alpaca_error_t e;
    int unknown = !j->never_sent;  /* may exist: look before placing */
    /* Latest moment a POST for this intent may have started: now, for an
     * intent resumed in "submitting" (a crashed predecessor may have just
     * sent one); our own POSTs move it later. */
    int64_t horizon_ms = j->never_sent ? 0 : timefmt_mono_ms();
    for (int attempt = 0;; attempt++) {
        if (atomic_load(j->abandon)) return STEP_RETRY;
        if (unknown || j->exists) {
            int64_t lookup_ms = timefmt_mono_ms();
            alpaca_result_t r = look_up(p, j, cid, &o);
            if (r == ALPACA_OK) return settle_order(p, j, &o);
            if (r != ALPACA_NOT_FOUND) return STEP_RETRY;
            if (j->exists || !absence_is_proven(p, horizon_ms, lookup_ms)) {
                /* Not visible yet: look again later, never place again. */
                if (hold(j, backoff_ms(p, attempt))) return STEP_RETRY;
                continue;
            }
            unknown = 0;
        }
        /* Known not to exist: placing is safe, unless it is too late. */
        if (intent_is_expired(&j->in, timefmt_now_ms()))
            return reject(p, j, "submitting",
                          !j->posted && !j->held ? "expired" : "broker_unavailable",
                          !j->posted && !j->held ? "the intent expired before it could be sent"
                                            : "the broker stayed unreachable until the intent expired",
                          -1, NULL);
        if (!circuits_allow_peek(p->shared->circuits, OP_PLACE)) {
            /* The broker is failing: hold the intent (intake stops taking
             * new ones meanwhile) until a probe succeeds or it expires. */
            j->held = 1;
            if (hold(j, 200)) return STEP_RETRY;
            continue;
        }
        context_until_expiry(p, j);
        if (!j->posted) {
            char why[200];
            if (!account_gate_check(p->gate, p->alpaca, why, sizeof(why))) {
                char msg[256];
                snprintf(msg, sizeof(msg), "the account may not trade: %s", why);
                return reject(p, j, "submitting", "broker_rejected", msg, -1, NULL);
            }
        }
        j->never_sent = 0;
        j->posted = 1;
        horizon_ms = timefmt_mono_ms();
        alpaca_result_t r = alpaca_place_order(p->alpaca, &j->in, cid, &o, &e);
        switch (r) {
        case ALPACA_OK:
            failpoint(p, "after_post", j->in.intent_id);
            return settle_order(p, j, &o);
        case ALPACA_DUPLICATE:
            j->exists = 1;  /* it exists: fetch it, never create another */
            continue;
        case ALPACA_REJECTED:
            if (e.http_status == 403) account_gate_invalidate(p->gate);
            return reject(p, j, "submitting", "broker_rejected", e.message, -1, &e);
        case ALPACA_RATE_LIMITED:
            /* Refused before processing: nothing was created. */
            log_msg(LOG_WARN, "alpaca_rate_limited", j->in.intent_id,
                    "429 from the broker; waiting for the reset");
            if (hold(j, rate_limit_wait_ms(&e))) return STEP_RETRY;
            continue;
        case ALPACA_UNAUTHORIZED:
            log_msg(LOG_ERROR, "alpaca_unauthorized", j->in.intent_id,
                    "the broker refused the API keys (HTTP 401): check "
                    "ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY");
            if (hold(j, backoff_ms(p, attempt))) return STEP_RETRY;
            continue;
        case ALPACA_BREAKER_OPEN:
            /* Nothing was sent: wait for the breaker, as above. */
            j->held = 1;
            if (hold(j, 200)) return STEP_RETRY;
            continue;
        case ALPACA_NO_BUDGET:
            /* Nothing was sent, and the intent expired waiting for its turn
             * in the shared budget: the expiry check above rejects it. */
            continue;
        case ALPACA_NOT_FOUND:
        case ALPACA_TRANSIENT:
            /* The answer is lost or the broker failed: the order may or may
             * not exist, so the next round looks it up first. */
            log_msg(LOG_WARN, "alpaca_place_failed", j->in.intent_id, "%s", e.message);
            if (hold(j, backoff_ms(p, attempt))) return STEP_RETRY;
            unknown = 1;
            continue;
        }
    }
}

/* ---- before the quota: the kill switch and the risk checks --------------- */

/* Whether the intent shrinks the account's position in its symbol without
 * flipping it (what "reducing" lets through).  1 yes, 0 no, -1 unknown. */
static int reduces_position(pipeline_t *p, job_t *j) {
    if (!j->in.has_qty) return 0;  /* a notional order's quantity is unknown */
    alpaca_position_t *pos = NULL;
    size_t n = 0;
    alpaca_error_t e;
    context_until_expiry(p, j);
    if (alpaca_get_positions(p->alpaca, &pos, &n, &e) != ALPACA_OK) {
        log_msg(LOG_WARN, "positions_unreadable", j->in.intent_id, "%s", e.message);
        return -1;
    }
    decimal_nanos_t held = 0, want = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(pos[i].symbol, j->in.symbol) && decimal_text_to_nanos(pos[i].qty, &held) < 0)
            held = 0;
    free(pos);
    if (decimal_to_nanos(&j->in.qty, &want) < 0) return 0;
    if (!strcmp(j->in.side, "sell")) return held > 0 && want <= held;
    return held < 0 && want <= -held;
}

/* The kill switch, then the risk checks.  STEP_NEXT to go on. */
static step_t pre_trade(pipeline_t *p, job_t *j) {
    char msg[320], err[256];
    const char *scope = "";
    trading_state_t ts = p->shared->trading
                             ? trading_state_for(p->shared->trading, j->in.user_id,
                                                 j->in.bot_id, &scope)
                             : TRADING_ACTIVE;
    const char *whom = !strcmp(scope, "bot") ? j->in.bot_id : j->in.user_id;
    if (ts == TRADING_HALTED) {
        if (!strcmp(scope, "global")) snprintf(msg, sizeof(msg), "trading is halted for everyone");
        else snprintf(msg, sizeof(msg), "trading is halted for %s %s", scope, whom);
        return reject(p, j, "validated", "trading_halted", msg, -1, NULL);
    }
    if (ts == TRADING_REDUCING) {
        int r = reduces_position(p, j);
        if (r < 0) return STEP_RETRY;
        if (!r) {
            if (!strcmp(scope, "global"))
                snprintf(msg, sizeof(msg), "trading is reducing for everyone: only orders "
                                           "that shrink a position are taken");
            else
                snprintf(msg, sizeof(msg), "trading is reducing for %s %s: only orders that "
                                           "shrink a position are taken", scope, whom);
            return reject(p, j, "validated", "trading_halted", msg, -1, NULL);
        }
    }
    const char *bid = NULL, *ask = NULL;
    market_quote_t q;
    if (risk_needs_quote(p->cfg, &j->in)) {
        context_until_expiry(p, j);
        if (market_quote(p->market, j->in.symbol, &q, err, sizeof(err)) == 0) {
            bid = q.q.bid;
            ask = q.q.ask;
        } else {
            log_msg(LOG_WARN, "quote_unavailable", j->in.intent_id, "%s", err);
        }
    }
    long open = 0;
    if (risk_needs_open_orders(p->cfg, &j->in)) {
        open = ledger_count_open_orders(p->ledger, j->in.bot_id, err, sizeof(err));
        if (open < 0) {
            log_msg(LOG_WARN, "ledger_failed", j->in.intent_id, "%s", err);
            return STEP_RETRY;
        }
    }
    risk_verdict_t v;
    risk_check(p->cfg, &j->in, bid, ask, open, &v);
    if (!v.ok) return reject(p, j, "validated", "risk_rejected", v.message, -1, NULL);
    return STEP_NEXT;
}

/* ---- the state machine --------------------------------------------------- */

/* from [-> via] -> "submitting", durably, before anything is sent. */
static step_t enter_submitting(pipeline_t *p, job_t *j, const char *from, const char *via) {
    int moved = 0;
    step_t s = transition(p, j, from, via, "submitting", &moved);
    /* Only the call that made the change knows nothing was sent yet. */
    j->never_sent = s == STEP_NEXT && moved;
    if (j->never_sent) failpoint(p, "after_submitting", j->in.intent_id);
    return s;
}

/* State "validated": expiry, the kill switch and the risk checks, then the
 * quota.  STEP_GRANTED when the quota granted the trade: the caller moves
 * the intent on to "submitting". */
static step_t validated(pipeline_t *p, job_t *j, int64_t now) {
    char err[256];
    if (intent_is_expired(&j->in, now))
        return reject(p, j, "validated", "expired",
                      "the intent expired before it could be sent", -1, NULL);
    step_t s = pre_trade(p, j);
    if (s != STEP_NEXT) return s;
    int bot = j->in.source == INTENT_SOURCE_BOT;
    quota_decision_t d;
    if (quota_charge(p->quota, bot ? "bot" : "user", bot ? j->in.bot_id : j->in.user_id,
                     j->in.intent_id,
                     bot ? p->cfg->bot_trades_per_min : p->cfg->user_trades_per_min,
                     p->cfg->rate_period_ms, &d, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "dependency_failed", j->in.intent_id, "%s", err);
        return STEP_RETRY;
    }
    if (d.unavailable || !d.allowed)
        metrics_add(M_QUOTA_REFUSALS, 1, bot ? "bot" : "user", NULL);
    if (d.unavailable)
        return reject(p, j, "validated", "quota_exceeded",
                      "the quota service (Redis) is unreachable and "
                      "QUOTA_REDIS_DOWN_MODE=closed refuses trades meanwhile",
                      (long long)d.retry_after_ms, NULL);
    if (!d.allowed) {
        char msg[200];
        snprintf(msg, sizeof(msg), "%s %s has used its %lld trades per %lld ms",
                 bot ? "bot" : "user", bot ? j->in.bot_id : j->in.user_id,
                 (long long)d.limit, (long long)p->cfg->rate_period_ms);
        return reject(p, j, "validated", "quota_exceeded", msg,
                      (long long)d.retry_after_ms, NULL);
    }
    return STEP_GRANTED;
}

static step_t step(pipeline_t *p, job_t *j) {
    char err[256];
    if (j->verdict.status == INTENT_UNREADABLE) {
        if (ensure_ledger(p, err, sizeof(err)) < 0) goto infra;
        return dead_letter(p, j, j->verdict.dlq_reason, j->verdict.detail);
    }
    if (ensure_ledger(p, err, sizeof(err)) < 0) goto infra;
    ledger_seen_t seen = LEDGER_SEEN;
    const char *state = j->state;
    if (!j->state_known) {
        /* One worker per intent at a time, across replicas: a redelivery
         * racing the original (a rebalance, a slow replica) waits here.  The
         * lock is taken with the first read, in the same round trip. */
        int admitted = j->verdict.status == INTENT_VALID && j->auth.status != AUTH_DENIED;
        int flags = (admitted && !j->from_ledger ? LEDGER_BEGIN_VALID : 0) |
                    (j->locked ? 0 : LEDGER_BEGIN_LOCK);
        int rc = ledger_begin_intent(p->ledger, &j->in, j->from, j->bytes, j->len, flags,
                                     &seen, j->state, err, sizeof(err));
        if (rc < 0) goto infra;
        if (rc == 1) {
            log_msg(LOG_DEBUG, "intent_busy", j->in.intent_id,
                    "another worker holds this intent; waiting");
            release_others(p, j);
            return STEP_RETRY;
        }
        j->locked = 1;
        atomic_store(&p->shared->ledger_down, 0);
    }
    j->state_known = 0;  /* whatever moves it next says so again */
    if (seen == LEDGER_CONFLICT) {
        char detail[160];
        snprintf(detail, sizeof(detail),
                 "intent_id %s was already used for an intent with other content",
                 j->in.intent_id);
        return dead_letter(p, j, "intent_id_reused", detail);
    }
    if (ledger_state_is_terminal(state)) {
        /* Redelivery of a finished intent: its events again, same ids. */
        log_msg(LOG_DEBUG, "intent_redelivered", j->in.intent_id, "state %s", state);
        return flush_events(p, j->in.intent_id, 1);
    }
    int64_t now = timefmt_now_ms();
    if (!strcmp(state, "received")) {
        /* A valid intent is recorded "validated" at once; one left in
         * "received" was refused its signature when consumed. */
        if (j->auth.status == AUTH_DENIED ||
            (j->from_ledger && j->verdict.status == INTENT_VALID))
            return reject(p, j, "received", "unauthorized",
                          "the intent is not authorized", -1, NULL);
        if (j->verdict.status == INTENT_INVALID) {
            char msg[256];
            snprintf(msg, sizeof(msg), "the intent breaks %d rule%s of the contract",
                     j->verdict.n_errors, j->verdict.n_errors == 1 ? "" : "s");
            return reject(p, j, "received", "validation_failed", msg, -1, NULL);
        }
        return transition(p, j, "received", NULL, "validated", NULL);
    }
    if (!strcmp(state, "validated")) {
        step_t s = validated(p, j, now);
        /* Granted: straight on to "submitting" in the same transaction. */
        return s == STEP_GRANTED ? enter_submitting(p, j, "validated", "quota_granted") : s;
    }
    if (!strcmp(state, "quota_granted")) {
        if (intent_is_expired(&j->in, now))
            return reject(p, j, "quota_granted", "expired",
                          "the intent expired before it could be sent", -1, NULL);
        return enter_submitting(p, j, "quota_granted", NULL);
    }
    if (!strcmp(state, "submitting")) return submit(p, j);
    if (!strcmp(state, "submitted")) {
        /* Accepted and followed by the follower (fills.c): only make sure
         * what was recorded so far has been published. */
        return flush_events(p, j->in.intent_id, 0);
    }
    log_msg(LOG_ERROR, "unknown_state", j->in.intent_id, "ledger state %s", state);
    return STEP_RETRY;
infra:
    log_msg(LOG_WARN, "dependency_failed", j->in.intent_id[0] ? j->in.intent_id : NULL,
            "%s", err);
    if (strstr(err, "ledger")) {
        /* Nothing is acted on without the ledger: intake stops taking new
         * intents until it answers again. */
        atomic_store(&p->shared->ledger_down, 1);
        if (p->ledger) drop_ledger(p);
    }
    return STEP_RETRY;
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
            /* Not while holding other intents' locks: the follower, the
             * reconciler and redeliveries may wait on them. */
            release_others(p, j);
            nap(j->abandon, backoff_ms(p, attempt++));
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
            failpoint(p, "after_publish", c[k]->in.intent_id);
    }
}

/* The batch's fast path: fresh valid intents of distinct keys go through
 * their common steps together, each step one round trip for all of them:
 *
 *   record and lock them all (one statement) -> per intent: expiry, kill
 *   switch, risk, quota -> move the granted ones to "submitting" (one
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
        if (j->verdict.status != INTENT_VALID || j->auth.status == AUTH_DENIED ||
            atomic_load(j->abandon) || dup)
            continue;
        b[m] = (ledger_begin_t){.in = &j->in, .from = j->from, .raw = j->bytes,
                                .raw_len = j->len};
        c[m++] = j;
    }
    if (m == 0) return;
    if (ledger_begin_many(p->ledger, b, m, LEDGER_BEGIN_VALID | LEDGER_BEGIN_LOCK, err,
                          sizeof(err)) < 0) {
        log_msg(LOG_WARN, "ledger_failed", NULL, "%s", err);
        drop_ledger(p);  /* may have taken some of the locks */
        return;
    }
    atomic_store(&p->shared->ledger_down, 0);
    int g = 0;  /* granted ones, gathered at the front of c */
    for (int k = 0; k < m; k++) {
        job_t *j = c[k];
        if (b[k].busy) continue;
        j->locked = 1;
        if (b[k].seen != LEDGER_FRESH || strcmp(b[k].state, "validated") != 0) continue;
        j->collect = j->one_shot = 1;
        if (validated(p, j, timefmt_now_ms()) == STEP_GRANTED) c[g++] = j;
    }
    if (g > 0) {
        const char *ids[PIPELINE_BATCH_MAX];
        int moved[PIPELINE_BATCH_MAX];
        for (int k = 0; k < g; k++) ids[k] = c[k]->in.intent_id;
        if (ledger_transition_many(p->ledger, ids, g, "validated", "quota_granted",
                                   "submitting", NULL, moved, err, sizeof(err)) < 0) {
            log_msg(LOG_WARN, "ledger_failed", NULL, "%s", err);
            if (!ledger_ok(p->ledger)) drop_ledger(p);
            g = 0;
        }
        for (int k = 0; k < g; k++) {
            c[k]->never_sent = moved[k];
            if (moved[k]) failpoint(p, "after_submitting", ids[k]);
        }
        /* When the Alpaca budget is short, a placement may wait long for
         * its token: what the batch settled so far is committed (and
         * published) first instead of waiting with it. */
        int short_budget = p->shared->budget && budget_is_short(p->shared->budget, g);
        for (int k = 0; k < g; k++) {
            if (!moved[k] || atomic_load(c[k]->abandon)) continue;
            if (short_budget) commit_collected(p);
            /* The connection, and with it the locks, died: job_run takes
             * them again, and never_sent with them is gone. */
            if (!c[k]->locked || !ledger_ok(p->ledger)) break;
            submit(p, c[k]);
        }
    }
    commit_collected(p);  /* releases every collected outcome */
    for (int i = 0; i < p->n_jobs; i++) p->jobs[i].collect = p->jobs[i].one_shot = 0;
}

static void unlock_job(pipeline_t *p, job_t *j) {
    if (j->locked && p->ledger) ledger_unlock_intent(p->ledger, j->in.intent_id);
    j->locked = 0;
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
