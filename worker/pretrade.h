/* pretrade.h -- before the quota: the kill switch, then the risk checks.
 *
 * An intent in state "validated" is refused here, before any quota is
 * charged, when trading is halted for it (trading.h: globally, for its
 * user or for its bot), when trading is reducing and the intent would not
 * shrink the position of the scope that is reducing (positions.h), or when
 * it breaks a risk limit (risk.h).  One call per intent, from the lane's
 * pipeline, with the lane's own clients. */
#ifndef PRETRADE_H
#define PRETRADE_H

#include <stddef.h>
#include "config.h"
#include "intent.h"
#include "ledger.h"
#include "market.h"
#include "trading.h"

/* What the checks read: the kill switch (NULL: trading always active), the
 * ledger (the positions while reducing, the bot's open orders), and a quote
 * (the risk limits that need one). */
typedef struct pretrade_deps {
    const config_t *cfg;
    trading_t *trading;
    market_t *market;
    ledger_t *ledger;
} pretrade_deps_t;

typedef enum {
    PRETRADE_PASS = 0,  /* go on to the quota */
    PRETRADE_REFUSE,    /* reject the intent: *reason and msg say why */
    PRETRADE_RETRY      /* something needed could not be read (logged):
                           try again later */
} pretrade_result_t;

/* Checks the intent.  On PRETRADE_REFUSE, *reason is the rejection's reason
 * ("trading_halted" or "risk_rejected") and msg its message.  A quote is
 * fetched in the call context of the market's Alpaca client, which the
 * caller sets (alpaca_set_call_context). */
pretrade_result_t pretrade_check(const pretrade_deps_t *d, const intent_t *in,
                                 const char **reason, char *msg, size_t msglen);

#endif
