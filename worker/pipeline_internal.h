/* pipeline_internal.h -- what the parts of the pipeline share (pipeline.c,
 * the state machine and the batch; pipeline_quota.c, the quota step;
 * pipeline_order.c, the broker order); not part of its interface, which is
 * pipeline.h. */
#ifndef PIPELINE_INTERNAL_H
#define PIPELINE_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include "alpaca.h"
#include "fills.h"
#include "ledger.h"
#include "market.h"
#include "pipeline.h"
#include "quota.h"

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
    int cancel_marked;    /* the ledger says a cancel is canceling it */
    int cancel_waits;     /* a cancel request's looks at its target so far */
    char state[LEDGER_STATE_MAX];
    int state_known;      /* state is what this call just wrote: the next
                             step need not read it back */
    /* What pipeline_submit() learned, kept across its calls (a batch's job may
     * leave it and come back through job_run): */
    int exists;           /* Alpaca said the order exists (422 duplicate):
                             only ever look it up again */
    int posted;           /* this process sent a POST for it */
    int held;             /* it waited on an open breaker */
    /* Off the happy path: NULL while this call has taken the intent from
     * its recording straight on; else why not (a JSON object, a literal:
     * see pipeline_detour), and its moves are then recorded with it as
     * intent_transitions rows instead of steps in the intent's row. */
    const char *detour;
    int recorded;         /* this call recorded the intent (it was new) */
    /* On a batch's fast path (pipeline_handle_many): */
    int collect;          /* pipeline_commit() keeps the outcome here */
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
    alpaca_batch_t *posts; /* a batch's POSTs in flight together; made at
                              its first use (pipeline_submit_many) */
    market_t *market;      /* quotes for the risk checks */
    account_gate_t *gate;  /* shared by the lanes of this process */
    unsigned int rand_state;
    job_t jobs[PIPELINE_BATCH_MAX];  /* the call in progress */
    int n_jobs;
};

/* Tests only (WORKER_FAILPOINT): dies at the named point as a crash would. */
void pipeline_failpoint(const pipeline_t *p, const char *name, const char *intent_id);

/* Sleeps ms, waking early (every 50 ms checked) when *abandon is set. */
void pipeline_nap(const atomic_int *abandon, int64_t ms);

/* Backoff with full jitter before the next attempt of a failing step. */
int64_t pipeline_backoff_ms(pipeline_t *p, int attempt);

/* The Alpaca call context of the job's next calls (alpaca_set_call_context):
 * a token of the budget may be waited for until the intent expires
 * (placements, pre-trade reads), or as long as it takes (lookups of an
 * order that may exist). */
void pipeline_context_until_expiry(pipeline_t *p, job_t *j);
void pipeline_context_unbounded(pipeline_t *p, job_t *j);

/* Why a job left the happy path (the detail of its later moves in the
 * ledger): the first reason given stays. */
extern const char PIPELINE_DETOUR_RESUMED[], PIPELINE_DETOUR_RECONCILER[],
    PIPELINE_DETOUR_RETRY[], PIPELINE_DETOUR_HELD[], PIPELINE_DETOUR_TOKEN_WAIT[],
    PIPELINE_DETOUR_CANCEL[];
void pipeline_detour(job_t *j, const char *why);

/* Records events and the state change from -> to (reason may be NULL) in
 * one transaction, then publishes (a collecting job keeps it all for its
 * batch's commit instead).  Takes the events, and the order's raw text. */
step_t pipeline_commit(pipeline_t *p, job_t *j, const char *from, const char *to,
                       const char *reason, alpaca_order_t *order, event_t *evs, int n);

/* Rejects the intent from state `from` with reason and message (a
 * rejected event; retry_after_ms -1 for none; broker: the broker's refusal,
 * or NULL). */
step_t pipeline_reject(pipeline_t *p, job_t *j, const char *from, const char *reason,
                       const char *message, long long retry_after_ms,
                       const alpaca_error_t *broker);

/* Moves the intent from -> (via ->) to; *moved (if not NULL) says whether
 * it was in `from`.  STEP_NEXT, or STEP_RETRY when the ledger failed. */
step_t pipeline_transition(pipeline_t *p, job_t *j, const char *from, const char *via,
                           const char *to, int *moved);

/* The quota of the n jobs (state "validated", every other check passed),
 * charged in one round trip to Redis; steps[i] is what became of jobs[i]:
 * STEP_GRANTED (the caller moves it on), its rejection's step, or
 * STEP_RETRY (pipeline_quota.c). */
void pipeline_quota(pipeline_t *p, job_t **jobs, int n, step_t *steps);

/* State "submitting" (pipeline_order.c). */
step_t pipeline_submit(pipeline_t *p, job_t *j);
/* pipeline_submit for a batch's jobs that this call just moved into
 * "submitting" (never_sent): their first POSTs go out together
 * (ALPACA_PARALLEL_POSTS at a time); what follows an answer is
 * pipeline_submit's, job by job. */
void pipeline_submit_many(pipeline_t *p, job_t **jobs, int n);

/* A cancel request's states "validated" and "submitting"
 * (pipeline_cancel.c). */
step_t pipeline_cancel(pipeline_t *p, job_t *j);
step_t pipeline_cancel_send(pipeline_t *p, job_t *j);

/* An order intent that a cancel marked before it was sent (state `from`:
 * validated, quota_granted, or submitting once no order is proven to
 * exist) ends "canceled", with no broker order (pipeline_cancel.c). */
step_t pipeline_cancel_unsent(pipeline_t *p, job_t *j, const char *from);

/* The placement's token of the shared budget (none needed without one),
 * taken before the POST, so that a cancel read while it waits stops the
 * intent unsent: cancelwatch.h wakes the wait, or tells of a cancel read
 * before it began (the intent then marks itself for it, its sender being
 * its owner); the ledger's mark decides.  *waited: the token did not come
 * at once.  GRANTED: the next trading call spends it (alpaca_set_prepaid);
 * CANCELED: a cancel came; EXPIRED: the intent's expiry came first;
 * ABANDONED: the job was, or the ledger failed (pipeline.c). */
typedef enum { TOKEN_GRANTED, TOKEN_CANCELED, TOKEN_EXPIRED, TOKEN_ABANDONED } token_t;
token_t pipeline_take_token(pipeline_t *p, job_t *j, int *waited);

/* For the cancel request `by`: records its target, a copy of whose message
 * is still queued in this process (it), and, if it is valid, owned(by, it)
 * and not yet placed, marks it for the request and ends it canceled
 * unsent, under its lock; its own message later finds it ended.  1 when
 * the target has ended (now or before), 0 when it is left to its lane, -1
 * when the ledger failed (pipeline.c). */
int pipeline_stop_queued(pipeline_t *p, const pipeline_item_t *it, const intent_t *by,
                         int (*owned)(const intent_t *by, const intent_t *target));


#endif
