/* budget.h -- Alpaca's trading-API budget (ALPACA_CALLS_PER_MIN calls per
 * RATE_PERIOD_MS for the whole account), shared by every replica, every bot
 * and every user: every call to Alpaca takes a token first.
 *
 * The budget is a log of granted calls in Redis (a sorted set of times),
 * counted over RATE_PERIOD_MS + ALPACA_BUDGET_MARGIN_MS, so that no window
 * of Alpaca's, whatever the network jitter up to the margin, sees more than
 * the limit.  Callers that find it empty wait in a queue ordered by
 * priority, then arrival: cancels, then user placements, then bot
 * placements, then order following.  A caller is granted a token when the calls in the log plus
 * the callers queued ahead of it are below its ceiling, so nothing jumps the
 * queue when tokens are scarce and nobody waits when they are plenty.  The
 * ceiling keeps a reserve (ALPACA_BUDGET_RESERVE_PCT) from bot placements
 * and following: a bot flood that fills the window still leaves calls for
 * users' placements and for cancels, which would otherwise wait for the
 * window's oldest call to leave it (up to a whole period).
 * Alpaca's own word tightens it: a 429, or X-Ratelimit-Remaining 0 while the
 * log thought there was room (another program spends the account's calls),
 * blocks every grant until X-Ratelimit-Reset.  Without Redis, calls go unpaced
 * (Alpaca's 429 then protects the account). */
#ifndef BUDGET_H
#define BUDGET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "redisconn.h"

typedef enum {
    BUDGET_CANCEL = 0,   /* cancels (requested or an operator's): first,
                            they reduce risk */
    BUDGET_USER = 1,     /* placements for user intents */
    BUDGET_BOT = 2,      /* placements for bot intents */
    BUDGET_FOLLOW = 3    /* following orders: last */
} budget_priority_t;

typedef struct budget budget_t;

/* Thread-safe: one per process, shared by the lanes and the follower. */
budget_t *budget_new(const config_t *cfg, char *err, size_t errlen);
void budget_free(budget_t *b);

/* Waits for a token, in the queue from its first ask.  Returns 0 when
 * granted (or when Redis cannot be reached: unpaced), 1 when
 * deadline_mono_ms passed or *abandon or *canceled (each may be NULL)
 * became set first; a caller that gives up leaves the queue at once. */
int budget_take(budget_t *b, budget_priority_t prio, int64_t deadline_mono_ms,
                const atomic_int *abandon, const atomic_int *canceled);

/* Whether `calls` more calls would likely wait for tokens: at this
 * replica's last look, the shared window had fewer left, or a grant was
 * refused.  A hint for batching (budget_take decides). */
int budget_is_short(budget_t *b, int calls);

/* What an answer of Alpaca said: remaining calls and the reset time (epoch
 * seconds), -1 when absent; was_429 for a 429. */
void budget_observe(budget_t *b, long long remaining, long long reset_epoch_s, int was_429);

/* ---- the operators' side: `intentctl quota alpaca` ---------------------
 * Read-only, on the operator's Redis connection. */

typedef struct budget_status {
    int64_t used;           /* calls granted in the last period_ms */
    int64_t limit, remaining, period_ms;
    int64_t reset_ms;       /* until the oldest of them leaves the window */
    int blocked;            /* Alpaca's word is recorded: blocked_until is set */
    int64_t blocked_until;  /* ms since the epoch (Redis clock) */
    int64_t blocked_ms;     /* how long from now it still holds (0: past) */
} budget_status_t;

/* The shared budget now, for limit calls per period_ms.  0 with *out, or
 * -1 with err (Redis unreachable or refusing). */
int budget_show(redisconn_t *rc, int64_t limit, int64_t period_ms, budget_status_t *out,
                char *err, size_t errlen);

#endif
