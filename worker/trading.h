/* trading.h -- the kill switch: the trading state operators set.
 *
 * A state (active, reducing: only orders that shrink a position, halted)
 * can be set globally, per user and per bot; the strictest that applies to
 * an intent wins.  States live in the ledger (table trading_states, written
 * by `intentctl halt|reduce|resume`), so they survive restarts; each replica
 * re-reads them every TRADING_REFRESH_MS (500 ms by default), so every
 * replica obeys a change within a second.  If the ledger cannot be read, the
 * last known states stay in force. */
#ifndef TRADING_H
#define TRADING_H

#include <stddef.h>
#include "config.h"

typedef enum {
    TRADING_ACTIVE = 0,
    TRADING_REDUCING = 1,
    TRADING_HALTED = 2
} trading_state_t;

typedef struct trading trading_t;

/* Starts the refresher thread; the first read is done before returning
 * (err set and NULL if the ledger cannot be read at all). */
trading_t *trading_start(const config_t *cfg, char *err, size_t errlen);
void trading_stop(trading_t *t);

/* The state in force for an intent of user_id (and bot_id, NULL or "" for a
 * user intent): the strictest of the global, user and bot states.  *scope
 * (may be NULL) is set to "global", "user" or "bot" (the one that decided),
 * or "" when active. */
trading_state_t trading_state_for(trading_t *t, const char *user_id, const char *bot_id,
                                  const char **scope);

const char *trading_state_name(trading_state_t s);

#endif
