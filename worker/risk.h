/* risk.h -- pre-trade risk checks, each off or on by configuration.
 *
 *   RISK_MAX_NOTIONAL             an order's notional may not exceed this many
 *                                 dollars: qty x the quote (ask for a buy, bid
 *                                 for a sell) for market orders, qty x the
 *                                 limit (or stop) price otherwise, the
 *                                 notional itself for notional orders
 *   RISK_PRICE_COLLAR_PCT         a limit or stop price may not be further than
 *                                 this percentage from the quote (ask for a
 *                                 buy, bid for a sell)
 *   RISK_MAX_OPEN_ORDERS_PER_BOT  a bot may not have more orders open
 *   RISK_SYMBOLS                  only these symbols may be traded
 * A check that needs a quote refuses when no quote can be had (fail
 * closed).  Arithmetic is exact (decimal billionths). */
#ifndef RISK_H
#define RISK_H

#include <stddef.h>
#include "config.h"
#include "intent.h"

typedef struct risk_verdict {
    int ok;                /* 1: every enabled check passed */
    char check[32];        /* which refused: "max_notional", "price_collar",
                              "max_open_orders", "symbol_allow_list" */
    char limit[64];        /* the configured limit, as text */
    char value[64];        /* what the intent came to, as text */
    char message[256];     /* human text naming the limit */
} risk_verdict_t;

/* Whether a quote of the intent's symbol is needed for the enabled checks. */
int risk_needs_quote(const config_t *cfg, const intent_t *in);

/* Whether the bot's count of open orders is needed. */
int risk_needs_open_orders(const config_t *cfg, const intent_t *in);

/* Runs the enabled checks.  bid/ask: the quote (decimal text), or NULL when
 * none could be had; open_orders: the bot's orders now open (ignored for
 * user intents or when the check is off).  Always fills *v. */
void risk_check(const config_t *cfg, const intent_t *in, const char *bid, const char *ask,
                long open_orders, risk_verdict_t *v);

#endif
