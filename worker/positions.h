/* positions.h -- positions by bot, by user and for the account, from the
 * ledger; the kill switch's "reducing" decision on them.
 *
 * Every order the worker placed is in the ledger with its intent's bot,
 * user, symbol and side, and the broker's cumulative filled quantity
 * (broker_orders.filled_qty).  A scope's position in a symbol is the sum of
 * its filled buys less its filled sells; its open buys and open sells are
 * what is not filled yet of its orders that may still fill (see
 * positions.c for exactly which).  Quantities are exact: billionths of a
 * share (decimal.h), from numeric sums, never floating point.
 *
 * The worker reads on its own ledger connection (ledger.h): the reducing
 * decision (pretrade.c) and the account's positions (positions_check.c);
 * operators' tools on theirs (pgadmin.h): `intentctl positions`. */
#ifndef POSITIONS_H
#define POSITIONS_H

#include <stddef.h>
#include <libpq-fe.h>

#include "decimal.h"
#include "intent.h"
#include "pgadmin.h"

typedef struct ledger ledger_t;  /* ledger.h */

/* Whose position. */
typedef enum {
    POSITIONS_ACCOUNT = 0,  /* every order the worker placed */
    POSITIONS_USER,         /* one user's: its user intents and its bots' */
    POSITIONS_BOT           /* one bot's */
} positions_scope_t;

/* One symbol of a scope. */
typedef struct positions_row {
    char symbol[20];
    decimal_nanos_t qty;        /* filled buys - filled sells: < 0 is short */
    decimal_nanos_t open_buy;   /* not yet filled of the open buy orders */
    decimal_nanos_t open_sell;  /* not yet filled of the open sell orders */
    long open_buy_unknown;      /* open buy orders of unknown quantity
                                   (notional), not in open_buy */
    long open_sell_unknown;     /* the same for sells */
} positions_row_t;

typedef struct positions {
    positions_row_t *rows;      /* by symbol; symbols with nothing held or
                                   open are left out */
    size_t n;
} positions_t;

/* "account", "user" or "bot". */
const char *positions_scope_name(positions_scope_t s);

/* Whether an order of side ("buy" / "sell") for qty (> 0) shrinks the
 * position p without flipping it, counting the orders already open on its
 * side: a sell when qty <= p->qty - p->open_sell, a buy when
 * qty <= -p->qty - p->open_buy, neither while an open order of its side
 * has an unknown quantity.  1 yes, 0 no. */
int positions_reduces(const positions_row_t *p, const char *side, decimal_nanos_t qty);

/* Whether the broker's quantity of a symbol (broker, signed) disagrees with
 * the ledger's figures for it read just before (a) and just after (b) the
 * broker's: it agrees when it lies within [qty - open_sell, qty + open_buy]
 * of either read (orders in flight may have filled at the broker and not
 * yet in the ledger; an open order of unknown quantity leaves its side
 * unbounded).  A NULL row is a symbol the ledger has nothing of.  1 with
 * *diff = broker - b's qty (a's when b is NULL), or 0 with *diff 0. */
int positions_differ(const positions_row_t *a, const positions_row_t *b,
                     decimal_nanos_t broker, decimal_nanos_t *diff);

/* The kill switch's "reducing" decision for the intent, against the
 * position of the scope that is reducing (id: its user or bot; ignored for
 * the account), taken under a lock on the symbol that every replica's
 * decision takes, in one transaction that also records a passing intent as
 * an open order of its side (see positions.c: two quick sells cannot
 * together oversell).  *row (may be NULL) gets the scope's figures without
 * this intent.  1 passes (and is recorded), 0 does not (a notional order
 * never does), -1 with err when the ledger failed. */
int positions_reduce_check(ledger_t *l, positions_scope_t scope, const char *id,
                           const intent_t *in, positions_row_t *row, char *err,
                           size_t errlen);

/* The scope's positions (id: the user or bot; ignored for the account).
 * 0, or -1 with err.  Free with positions_free. */
int positions_read(ledger_t *l, positions_scope_t scope, const char *id, positions_t *out,
                   char *err, size_t errlen);

/* positions_read on an operator's connection (`intentctl positions`): 0,
 * or -1 with e. */
int positions_list(PGconn *db, positions_scope_t scope, const char *id, positions_t *out,
                   pgadmin_err_t *e);

/* The row of symbol in p, or NULL. */
const positions_row_t *positions_find(const positions_t *p, const char *symbol);

/* Frees what p holds (and empties it; NULL is fine). */
void positions_free(positions_t *p);

#endif
