/* budget_lease.h -- blocks of tokens of the shared Alpaca budget leased to
 * one replica (budget.c): the arithmetic, without Redis or locks (budget.c
 * holds its lock around every call), so that it can be tested alone.
 *
 * While the fleet's window is far from its ceiling and nobody waits, one
 * script call grants a block of tokens at once, recorded in the shared log
 * as that many calls; the replica's callers then spend them without asking
 * Redis, until the block is spent or its time runs out (budget_lease_ms).
 * The tokens of a block not spent in time are returned: taken out of the
 * shared log again, with the replica's next script call (or at once, as
 * the replica stops). */
#ifndef BUDGET_LEASE_H
#define BUDGET_LEASE_H

#include <stdint.h>

/* A block's id: "<replica>:<n>", the id of the call that asked for it; its
 * tokens are the log's members "<id>:1" .. "<id>:<size>". */
#define BUDGET_LEASE_ID_MAX 192
/* The longest time a block may be spent in, whatever the period: leased
 * tokens count in the log from their grant plus this, so that a call made
 * at the last moment of its block still sits in the window a whole period
 * after it is made (and the key, which lives the window plus a second past
 * its last grant, never goes before them). */
#define BUDGET_LEASE_MAX_MS 1000

typedef struct budget_lease {
    char id[BUDGET_LEASE_ID_MAX];  /* the block held ("" none) */
    int size;                      /* its tokens */
    int taken;                     /* of them handed to callers (the first
                                      to the caller that asked for it) */
    int64_t expires_mono_ms;       /* none is handed out from then on */
    /* The unspent tokens of the last block that ended: members
     * "<ret_id>:<ret_from>" .. "<ret_id>:<ret_to>" of the log, to take out
     * of it with the next script call (ret_id "" : none). */
    char ret_id[BUDGET_LEASE_ID_MAX];
    int ret_from, ret_to;
} budget_lease_t;

/* How long a block may be spent: a twentieth of the period, at most
 * BUDGET_LEASE_MAX_MS (1 s of a minute), at least 1 ms. */
int64_t budget_lease_ms(int64_t period_ms);

/* The most calls the window may hold, the block included, for a block to
 * be granted: half of what bot placements may use (bots_ceiling).  Above
 * it every token is granted one by one through the priority queue, as if
 * there were no blocks. */
long long budget_lease_ceiling(long long bots_ceiling);

/* The tokens to ask for with the next script call: `setting`
 * (ALPACA_BUDGET_LEASE_TOKENS) when blocks can be granted at all (at least
 * 2, and within the lease ceiling), else 1 (one token per call). */
int budget_lease_size(int setting, long long lease_ceiling);

/* Records a block of size tokens granted to the call id that asked for it
 * at asked_mono_ms; that caller takes the first of them. */
void budget_lease_start(budget_lease_t *l, const char *id, int size, int64_t asked_mono_ms,
                        int64_t lease_ms);

/* Ends the block held, if any, at once (a 429, Alpaca's Remaining 0): its
 * unspent tokens are to be returned.  How many. */
int budget_lease_end(budget_lease_t *l);

/* Ends the block if its time has run out at now_mono_ms (as
 * budget_lease_end); how many tokens are to be returned. */
int budget_lease_expire(budget_lease_t *l, int64_t now_mono_ms);

/* Takes a token of the block held at now_mono_ms: 1, or 0 when there is
 * none (no block, spent, or its time ran out: then it ends). */
int budget_lease_take(budget_lease_t *l, int64_t now_mono_ms);

/* The tokens to return with the next script call: how many (0: none),
 * with the id and the range of their members. */
int budget_lease_returning(const budget_lease_t *l, const char **id, int *from, int *to);

/* The script took them out of the log: forgets them. */
void budget_lease_returned(budget_lease_t *l);

#endif
