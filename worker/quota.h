/* quota.h -- per-bot and per-user trade quotas, kept in Redis.
 *
 * One atomic Lua script per decision (GCRA: no burst at a window's edge),
 * keyed by the intent_id in the same script so that a redelivered intent is
 * never charged twice: the first decision for an intent_id is remembered and
 * returned again.  Each worker lane owns one quota_t (one connection). */
#ifndef QUOTA_H
#define QUOTA_H

#include <stddef.h>
#include <stdint.h>

typedef struct quota quota_t;

typedef struct quota_decision {
    int allowed;             /* 1 granted, 0 refused */
    int replayed;            /* 1 if this intent_id was decided before and the
                                stored decision was returned (no new charge) */
    int64_t retry_after_ms;  /* when refused: ms until one trade is available */
    int64_t remaining;       /* trades still available right now after this one */
    int64_t limit;           /* trades per period */
} quota_decision_t;

/* Connects (AUTH and SELECT from the URL) and loads the script. */
quota_t *quota_connect(const char *redis_url, char *err, size_t errlen);

/* Charges one trade to subject ("bot" or "user") id for intent_id, allowing
 * limit trades per period_ms.  Returns 0 with *out filled, or -1 with err on
 * a Redis failure (connection lost, script error); it reconnects on the
 * next call. */
int quota_charge(quota_t *q, const char *subject, const char *id,
                 const char *intent_id, int limit, int64_t period_ms,
                 quota_decision_t *out, char *err, size_t errlen);

void quota_close(quota_t *q);

#endif
