/* quota.h -- per-bot and per-user trade quotas, kept in Redis.
 *
 * One atomic Lua script per decision (GCRA: no burst at a window's edge),
 * keyed by the intent_id in the same script so that a redelivered intent is
 * never charged twice: the first decision for an intent_id is remembered and
 * returned again.  A batch's decisions share one round trip
 * (quota_charge_many).  Each worker lane owns one quota_t (one
 * connection). */
#ifndef QUOTA_H
#define QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "redisconn.h"

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

/* One charge of a batch (quota_charge_many): quota_charge's arguments, and
 * what came of them. */
typedef struct quota_request {
    const char *subject;      /* "bot" or "user" */
    const char *id;
    const char *intent_id;
    int limit;
    int64_t period_ms;
    int rc;                   /* out: 0 decided (d), -1 not (bad arguments, or
                                 mode FAIL and Redis failed) */
    quota_decision_t d;       /* out, when rc is 0 */
} quota_request_t;

/* Charges each of the n requests exactly as quota_charge would, with one
 * round trip to Redis for all of them (their scripts pipelined on this
 * quota_t's connection, run in order): idempotent per intent_id, the same
 * modes while Redis cannot be reached.  When Redis fails part way, the
 * requests it answered keep its decisions and the others are decided as
 * the mode says (FAIL: not at all).  Returns 0 when every request was
 * decided, else -1 with err (the first failure; each request's rc says
 * which). */
int quota_charge_many(quota_t *q, quota_request_t *reqs, int n, char *err, size_t errlen);

void quota_close(quota_t *q);

/* ---- the operators' side: `intentctl quota bot|user|set|unset` --------
 *
 * On the operator's Redis connection; read-only but for the override.  A
 * subject's override of its limit (ow:quota:{SUBJECT:ID}:limit) wins over
 * the default the worker is configured with, from the subject's next
 * trade. */

/* A subject's quota as the script would see it now. */
typedef struct quota_status {
    int64_t used, limit, remaining;  /* trades in the current period */
    int64_t reset_ms;                /* until the quota is whole again */
    int64_t retry_after_ms;          /* until the next trade would pass (0: now) */
    int64_t period_ms;
    int overridden;                  /* limit is the subject's override */
} quota_status_t;

/* A subject's stored GCRA state, as the script keeps it. */
typedef struct quota_gcra {
    int present;         /* 0: no state (an idle subject) */
    int64_t tat;         /* theoretical arrival time, ms (Redis clock) */
    int64_t frac;        /* remainder, in ticks of 1/state_limit ms */
    int64_t state_limit; /* the limit the state was written under */
} quota_gcra_t;

/* 1 when limit trades per period_ms are within what the quota script
 * counts exactly (limit * period_ms below 2^50), else 0. */
int quota_limit_exact(int64_t limit, int64_t period_ms);

/* The figures of state s at Redis time now_ms under limit per period_ms
 * (which must be exact), computed as the script computes them.  Pure: no
 * Redis.  out->overridden is left 0. */
void quota_status_at(const quota_gcra_t *s, int64_t now_ms, int64_t limit, int64_t period_ms,
                     quota_status_t *out);

/* Subject ("bot" or "user") id's quota: its override if set, else
 * default_limit, per period_ms.  0 with *out, or -1 with err (Redis
 * unreachable or refusing, a bad id, a limit beyond exact counting). */
int quota_show(redisconn_t *rc, const char *subject, const char *id, int64_t default_limit,
               int64_t period_ms, quota_status_t *out, char *err, size_t errlen);

/* The override of subject id: 1 with *limit, 0 when none is set (a value
 * below 1 counts as none, as in the script), -1 with err. */
int quota_override_get(redisconn_t *rc, const char *subject, const char *id, int64_t *limit,
                       char *err, size_t errlen);

/* Sets subject id's override to limit (1 .. 1000000), or removes it for
 * limit 0.  0, or -1 with err. */
int quota_override_set(redisconn_t *rc, const char *subject, const char *id, int64_t limit,
                       char *err, size_t errlen);

#endif
