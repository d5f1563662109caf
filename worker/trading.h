/* trading.h -- the kill switch: the trading state operators set.
 *
 * A state (active, reducing: only orders that shrink a position, halted)
 * can be set globally, per user and per bot; the strictest that applies to
 * an intent wins.  States live in the ledger (table trading_states, written
 * by trading_set below, which `intentctl halt|reduce|resume` calls), so they
 * survive restarts; each replica re-reads them every TRADING_REFRESH_MS
 * (500 ms by default), so every replica obeys a change within a second.  If
 * the ledger cannot be read, the last known states stay in force. */
#ifndef TRADING_H
#define TRADING_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "config.h"
#include "pgadmin.h"

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

/* ---- the operators' side: `intentctl halt|reduce|resume|trading` ------
 *
 * On the operator's ledger connection (pgadmin.h).  Every change is one
 * transaction: the state and its row in trading_state_changes (who, why,
 * from what) commit together, and writers take turns (a table lock that
 * readers do not wait for), so the history's previous state is exact even
 * when two operators act at once. */

/* The SQL of a timestamp column as the operators see it: UTC, to the
 * millisecond ("YYYY-MM-DDTHH:MM:SS.mmmZ"). */
#define TRADING_TS(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* A state as set, or one change of a state, as the ledger has it. */
typedef struct trading_row {
    char scope[8];        /* "global", "user" or "bot" */
    char *id;             /* the user or bot; "" for global */
    char state[16];       /* the state (of a change: the new one) */
    char previous[16];    /* of a change or trading_set: the state before,
                             "active" when there was none; else "" */
    char *reason;         /* NULL: none given */
    char *by;             /* who set it; "" if unknown */
    char at[32];          /* when, UTC: "YYYY-MM-DDTHH:MM:SS.mmmZ" */
} trading_row_t;

typedef struct trading_rows {
    trading_row_t *rows;
    size_t n;
} trading_rows_t;

/* Sets the state of scope ("global", with id "", or "user" / "bot" with
 * the id) to `to`, with reason (may be NULL) and by (who) kept with it and
 * in the history.  0 with *out the row as written (previous and at set),
 * or -1 with e (nothing changed). */
int trading_set(PGconn *db, const char *scope, const char *id, trading_state_t to,
                const char *reason, const char *by, trading_row_t *out, pgadmin_err_t *e);

/* trading_set inside the caller's transaction (no BEGIN, no COMMIT): for a
 * change that must commit with other writes (ledger_operator_cancel's halt
 * --cancel-open).  On -1 the caller rolls back. */
int trading_set_within(PGconn *db, const char *scope, const char *id, trading_state_t to,
                       const char *reason, const char *by, trading_row_t *out,
                       pgadmin_err_t *e);

/* The states in force that restrict (all: also those set back to active),
 * strictest scope first (global, users, bots), then by id.  0, or -1 with
 * e. */
int trading_list(PGconn *db, int all, trading_rows_t *out, pgadmin_err_t *e);

/* The last n changes (n >= 1), newest first; each row's previous is the
 * state it changed from.  0, or -1 with e. */
int trading_history(PGconn *db, int64_t n, trading_rows_t *out, pgadmin_err_t *e);

/* Free what a row or rows hold (and zero them; NULL is fine). */
void trading_row_free(trading_row_t *r);
void trading_rows_free(trading_rows_t *rows);

#endif
