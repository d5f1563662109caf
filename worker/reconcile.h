/* reconcile.h -- the reconciler: settles intents stuck in a non-terminal
 * state.
 *
 * Redelivery resumes an unfinished intent, but only while its message is
 * delivered again; an intent left behind (its offset committed by a former
 * owner at a bad moment, a partition truncated, a bug) would stay
 * unfinished.  Every RECONCILE_INTERVAL_MS one replica at a time (a Redis
 * lock with a random token, released only by its holder, expiring by
 * itself if the holder dies: the seed's cron lock, done safely) looks for
 * intents that have not moved for RECONCILE_AFTER_MS and runs them through
 * the pipeline again from the copy the ledger keeps: the same resumable
 * steps as a redelivery, so an order that may exist is looked up first and
 * finished intents only re-publish their events.  Orders already accepted
 * ("submitted") are the follower's. */
#ifndef RECONCILE_H
#define RECONCILE_H

#include <stddef.h>
#include "config.h"
#include "pipeline.h"

typedef struct reconciler reconciler_t;

reconciler_t *reconcile_start(const config_t *cfg, pipeline_shared_t *shared, char *err,
                              size_t errlen);
void reconcile_stop(reconciler_t *r);

#endif
