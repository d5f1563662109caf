/* account.h -- the account gate: may orders be placed on this account now?
 *
 * No order is placed while the Alpaca account is not ACTIVE or trading is
 * blocked.  Asking Alpaca before every order would spend the 200 calls a
 * minute on nothing, so one process-wide view of the account is kept and
 * refreshed at most every ACCOUNT_REFRESH_MS by whichever lane needs it. */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include <stddef.h>
#include "alpaca.h"
#include "config.h"

typedef struct account_gate account_gate_t;

account_gate_t *account_gate_new(const config_t *cfg);
void account_gate_free(account_gate_t *g);

/* 1: orders may be placed.  0: they may not; reason says why.  When the
 * account cannot be read (Alpaca unreachable), the last answer is used if
 * there is one, else 1: the order itself will meet the broker's refusal. */
int account_gate_check(account_gate_t *g, alpaca_t *client, char *reason,
                       size_t reason_len);

/* Forgets the cached view (after the broker refused an order in a way that
 * may concern the account), so the next check asks Alpaca again. */
void account_gate_invalidate(account_gate_t *g);

#endif
