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
    int local;               /* decided in memory: Redis was unreachable */
    int unavailable;         /* refused because Redis was unreachable and
                                the mode is "closed" */
} quota_decision_t;

/* What quota_charge does while Redis cannot be reached. */
typedef enum {
    QUOTA_DOWN_FAIL = 0,  /* return -1 (the caller decides) */
    QUOTA_DOWN_LOCAL,     /* decide in memory, per lane (exact per subject:
                             a subject's intents all reach one lane) */
    QUOTA_DOWN_CLOSED     /* refuse: allowed 0, unavailable 1 */
} quota_down_mode_t;

/* Parses the URL; connects at the first charge (and again after failures).
 * NULL with err if the URL is malformed. */
quota_t *quota_new(const char *redis_url, quota_down_mode_t mode, char *err,
                   size_t errlen);

/* Like quota_new with QUOTA_DOWN_FAIL, but connects now: NULL with err if
 * Redis cannot be reached (AUTH and SELECT from the URL). */
quota_t *quota_connect(const char *redis_url, char *err, size_t errlen);

/* 1 while decisions are not shared (Redis unreachable at the last try). */
int quota_is_local(const quota_t *q);

/* Charges one trade to subject ("bot" or "user") id for intent_id, allowing
 * limit trades per period_ms.  Returns 0 with *out filled, or -1 with err on
 * bad arguments or (mode FAIL) a Redis failure; it reconnects on the next
 * call.  In the LOCAL and CLOSED modes a Redis failure still gives 0. */
int quota_charge(quota_t *q, const char *subject, const char *id,
                 const char *intent_id, int limit, int64_t period_ms,
                 quota_decision_t *out, char *err, size_t errlen);

void quota_close(quota_t *q);

#endif
