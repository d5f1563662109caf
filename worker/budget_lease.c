/* budget_lease.c -- blocks of tokens leased to one replica (see
 * budget_lease.h): what a block holds, when it ends, and what is given back.
 *
 * Why a block is safe: the script grants it only while the window holds
 * few calls and nobody waits, and writes every token of it into the shared
 * log before any is spent, scored at the grant plus budget_lease_ms; a
 * token is handed out only before that time (counted on this replica's
 * monotonic clock from before the request, so never later than Redis's
 * score).  Every call made with a leased token therefore sits in the log
 * for at least a whole period after it is made, exactly like a token
 * granted one by one: the log never counts fewer calls than were made.
 * Unspent tokens are over-counted calls until they are returned, which
 * errs on the safe side; returning them (removing members that no caller
 * ever took: the lock of budget.c makes taking and ending one step) makes
 * the log exact again.  At most one return is pending: a new block comes
 * only with a script call, which carries the pending return. */
#include "budget_lease.h"

#include <stdio.h>
#include <string.h>

int64_t budget_lease_ms(int64_t period_ms) {
    int64_t ms = period_ms / 20;
    if (ms > BUDGET_LEASE_MAX_MS) ms = BUDGET_LEASE_MAX_MS;
    return ms < 1 ? 1 : ms;
}

long long budget_lease_ceiling(long long bots_ceiling) {
    return bots_ceiling > 0 ? bots_ceiling / 2 : 0;
}

int budget_lease_size(int setting, long long lease_ceiling) {
    return setting >= 2 && setting <= lease_ceiling ? setting : 1;
}

void budget_lease_start(budget_lease_t *l, const char *id, int size, int64_t asked_mono_ms,
                        int64_t lease_ms) {
    budget_lease_end(l);  /* none is held when one is asked for; should one be */
    snprintf(l->id, sizeof(l->id), "%s", id);
    l->size = size;
    l->taken = size > 0 ? 1 : 0;
    l->expires_mono_ms = asked_mono_ms + lease_ms;
}

int budget_lease_end(budget_lease_t *l) {
    int left = l->id[0] ? l->size - l->taken : 0;
    /* Only one return is pending at a time (see the top): should another
     * be, these stay counted, which is safe. */
    if (left > 0 && !l->ret_id[0]) {
        snprintf(l->ret_id, sizeof(l->ret_id), "%s", l->id);
        l->ret_from = l->taken + 1;
        l->ret_to = l->size;
    } else {
        left = 0;
    }
    l->id[0] = '\0';
    l->size = l->taken = 0;
    return left;
}

int budget_lease_expire(budget_lease_t *l, int64_t now_mono_ms) {
    if (!l->id[0] || now_mono_ms < l->expires_mono_ms) return 0;
    return budget_lease_end(l);
}

int budget_lease_take(budget_lease_t *l, int64_t now_mono_ms) {
    budget_lease_expire(l, now_mono_ms);
    if (!l->id[0] || l->taken >= l->size) return 0;
    l->taken++;
    return 1;
}

int budget_lease_returning(const budget_lease_t *l, const char **id, int *from, int *to) {
    if (!l->ret_id[0]) return 0;
    *id = l->ret_id;
    *from = l->ret_from;
    *to = l->ret_to;
    return l->ret_to - l->ret_from + 1;
}

void budget_lease_returned(budget_lease_t *l) {
    l->ret_id[0] = '\0';
    l->ret_from = l->ret_to = 0;
}
