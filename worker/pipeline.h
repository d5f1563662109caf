/* pipeline.h -- the steps one intent goes through, from its bytes to its
 * durable outcome.
 *
 * decode and validate (intent.c) -> record in the ledger (ledger.c) -> check
 * expiry -> charge the quota (quota.c) -> mark submitting -> place the order
 * (alpaca.c) -> record the outcome -> publish the events (publish.c).
 * Every step is resumable from the ledger, so handling the same message
 * twice, or after a crash at any point, continues where the ledger says
 * instead of repeating work.  One pipeline_t per lane (not thread-safe). */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <stdatomic.h>
#include <stddef.h>
#include "account.h"
#include "auth.h"
#include "budget.h"
#include "cancelwatch.h"
#include "circuits.h"
#include "trading.h"
#include "config.h"
#include "intent.h"
#include "origin.h"
#include "publish.h"
#include "settled.h"

typedef struct pipeline pipeline_t;
typedef struct pipeline_copy pipeline_copy_t;

/* What the lanes of a process share (each part has its own lock). */
typedef struct pipeline_shared {
    publisher_t *pub;
    account_gate_t *gate;
    circuits_t *circuits;
    budget_t *budget;         /* NULL: Alpaca calls unpaced */
    trading_t *trading;       /* the kill switch; NULL: always active */
    auth_t *auth;             /* keys and bindings; NULL: none registered */
    cancelwatch_t *watch;     /* cancels meet their waiting targets */
    /* Whether a message before `from` in its partition is still on its way
     * through this process (intake.c): a cancel request whose target is
     * unknown waits for it.  NULL: never. */
    int (*queued_before)(void *ctx, const origin_t *from);
    /* A copy of order intent target_id's message if it is still queued
     * under the key of the cancel request `from` (intake.c): the cancel
     * stops it at once instead of waiting for its turn.  1 found, 0 not,
     * -1 without memory.  NULL: never. */
    int (*find_queued)(void *ctx, const origin_t *from, const char *target_id,
                       pipeline_copy_t *out);
    void *queued_ctx;
    atomic_int ledger_down;   /* set while PostgreSQL fails: intake pauses */
    settled_t *settled;       /* orders whose terminal outcome a lane wrote;
                                 NULL: none kept */
} pipeline_shared_t;

pipeline_t *pipeline_new(const config_t *cfg, pipeline_shared_t *shared,
                         char *err, size_t errlen);
void pipeline_free(pipeline_t *p);

/* Takes one message the ledger already holds (the reconciler: bytes are
 * the recorded raw intent) to a durable outcome, from its recorded state;
 * its signature was checked when it was consumed.  Failures of Redis,
 * PostgreSQL, Kafka or Alpaca are retried with backoff.  Returns 0 once the
 * outcome is recorded and published, or -1 if *abandon became non-zero
 * first. */
int pipeline_handle(pipeline_t *p, const origin_t *from, intent_source_t source,
                    const char *bytes, size_t len,
                    const atomic_int *abandon);

/* One consumed message for pipeline_handle_many. */
typedef struct pipeline_item {
    origin_t from;
    intent_source_t source;
    const char *bytes;
    size_t len;
    const atomic_int *abandon;
    const char *sig;          /* the x-signature header's value; NULL: none */
    size_t sig_len;
    int from_ledger;          /* re-run from the ledger: not verified again */
    int rc;                   /* out: 0 once the outcome is recorded and
                                 published (the offset may be stored), -1 if
                                 *abandon became non-zero first (it must not:
                                 the message will be redelivered) */
} pipeline_item_t;

/* A message copied out of a lane's queue (find_queued): the item's
 * strings point into the copy's own buffers. */
struct pipeline_copy {
    pipeline_item_t item;
    char topic[128];
    char *bytes, *key, *sig;
};
void pipeline_copy_free(pipeline_copy_t *c);

#define PIPELINE_BATCH_MAX 64

/* pipeline_handle for up to PIPELINE_BATCH_MAX messages of distinct keys
 * (their order among each other does not matter).  New valid intents go
 * through the ledger and the broker together, a few round trips for all of
 * them; anything else (a redelivery, a failure, a wait) goes on one by one
 * as pipeline_handle would.  Sets each item's rc. */
void pipeline_handle_many(pipeline_t *p, pipeline_item_t *items, int n);

/* The ledger bookkeeping left for later (published marks, released intent
 * locks: see ledger_defer_on) is written when a lane runs out of work:
 * pipeline_has_deferred tells whether there is any, pipeline_idle writes
 * it. */
int pipeline_has_deferred(const pipeline_t *p);
void pipeline_idle(pipeline_t *p);

#endif
