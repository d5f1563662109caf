/* positions.c -- positions by bot, by user and for the account, from the
 * ledger (see positions.h).
 *
 * This file owns what the ledger says anyone holds: every statement that
 * sums positions, the lock of the reducing decision and the column that
 * records it (intents.reduce_passed_at, schemas/migrations/006).
 *
 * The figures of a scope and symbol, from its intents and their broker
 * orders:
 *   qty        sum of broker_orders.filled_qty, buys +, sells -, whatever
 *              the intent's state (a canceled order's partial fill counts);
 *   open_buy,  what is not filled yet (intent qty - filled_qty) of the
 *   open_sell  orders that may still fill: intents in quota_granted,
 *              submitting or submitted, and intents still in validated that
 *              passed the reducing decision (below).
 * The ledger learns of fills after the broker: its quantities lag Alpaca's
 * by the follower's delay, never lead them.
 *
 * The reducing decision (the kill switch's "reducing": only orders that
 * shrink a position).  A sell passes when qty <= the scope's position less
 * its open sells (a buy when qty <= the short position less its open buys).
 * The decision is made in state "validated", before the quota and the move
 * to "submitting", so a sell that passed is not yet an open order: another
 * replica deciding at that moment would not count it, and two sells each
 * within the position could together oversell it.  So every reducing
 * decision on a symbol, whatever its scope, is one transaction that
 *   1. takes a transaction-level advisory lock on the symbol (fleet-wide:
 *      every replica's decisions on the symbol take turns),
 *   2. reads the scope's figures (a statement after the lock, so it sees
 *      every decision committed before it got the lock),
 *   3. when the order passes, sets the intent's reduce_passed_at: from then
 *      on, while it stays "validated", it counts as an open order of its
 *      side, and once it moves on it counts as one by its state,
 * and commits, which releases the lock.  One lock per symbol rather than
 * per scope: a bot's decision and its user's (or the account's) then
 * always see each other's sells.  The intent itself is left out of the
 * figures (a redelivery decides again without counting itself); a refused
 * intent, or one the quota refuses later, ends rejected and counts no more.
 * The lock is held for three short statements and only ever while trading
 * is reducing; an order that passed as active just before a reduce came
 * into force counts once it reaches quota_granted, milliseconds later. */
#include "positions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"

/* Orders that may still fill, and intents on their way to becoming one. */
#define OPEN_ORDER                                                   \
    "(i.state IN ('quota_granted', 'submitting', 'submitted')"       \
    " OR (i.state = 'validated' AND i.reduce_passed_at IS NOT NULL))"

#define UNFILLED "i.qty - coalesce(o.filled_qty, 0)"

/* The figures' columns (qty, open_buy, open_sell, open_buy_unknown,
 * open_sell_unknown) over the scope's intents with a fill or open. */
#define FIGURES                                                                          \
    " coalesce(sum(CASE WHEN i.side = 'buy' THEN o.filled_qty ELSE -o.filled_qty END),"  \
    " 0)::text,"                                                                         \
    " coalesce(sum(" UNFILLED ") FILTER (WHERE i.side = 'buy' AND " OPEN_ORDER "),"      \
    " 0)::text,"                                                                         \
    " coalesce(sum(" UNFILLED ") FILTER (WHERE i.side = 'sell' AND " OPEN_ORDER "),"     \
    " 0)::text,"                                                                         \
    " count(*) FILTER (WHERE i.side = 'buy' AND i.qty IS NULL AND " OPEN_ORDER "),"      \
    " count(*) FILTER (WHERE i.side = 'sell' AND i.qty IS NULL AND " OPEN_ORDER ")"      \
    " FROM intents i LEFT JOIN broker_orders o ON o.intent_id = i.intent_id"             \
    " WHERE (o.filled_qty <> 0 OR " OPEN_ORDER ")"

/* One symbol of a scope, without the deciding intent (the last parameter). */
static const char SYMBOL_BOT[] =
    "SELECT" FIGURES " AND i.bot_id = $1 AND i.symbol = $2 AND i.intent_id <> $3";
static const char SYMBOL_USER[] =
    "SELECT" FIGURES " AND i.user_id = $1 AND i.symbol = $2 AND i.intent_id <> $3";
static const char SYMBOL_ACCOUNT[] =
    "SELECT" FIGURES " AND i.symbol = $1 AND i.intent_id <> $2";

/* Every symbol of a scope. */
#define BY_SYMBOL " GROUP BY i.symbol ORDER BY i.symbol"
static const char LIST_BOT[] = "SELECT i.symbol," FIGURES " AND i.bot_id = $1" BY_SYMBOL;
static const char LIST_USER[] = "SELECT i.symbol," FIGURES " AND i.user_id = $1" BY_SYMBOL;
static const char LIST_ACCOUNT[] = "SELECT i.symbol," FIGURES BY_SYMBOL;

/* The reducing decisions' lock: (namespace, symbol), a key space of its own
 * (the intents' locks are single bigint keys).  The transaction's
 * statements are planned for their parameters each time: a generic plan
 * cached on a long-lived connection while the ledger was small could keep
 * reading a symbol's rows through the user's index for a bot. */
static const char LOCK_SYMBOL[] =
    "SELECT pg_advisory_xact_lock(1886352177, hashtext($1)),"
    " set_config('plan_cache_mode', 'force_custom_plan', true)";
static const char RECORD_PASSED[] =
    "UPDATE intents SET reduce_passed_at = now() WHERE intent_id = $1 AND state = 'validated'";

const char *positions_scope_name(positions_scope_t s) {
    return s == POSITIONS_BOT ? "bot" : s == POSITIONS_USER ? "user" : "account";
}

/* ---- the arithmetic ------------------------------------------------------ */

int positions_reduces(const positions_row_t *p, const char *side, decimal_nanos_t qty) {
    if (qty <= 0) return 0;
    if (!strcmp(side, "sell")) return !p->open_sell_unknown && qty <= p->qty - p->open_sell;
    if (!strcmp(side, "buy")) return !p->open_buy_unknown && qty <= -p->qty - p->open_buy;
    return 0;
}

/* Whether broker lies within what the orders of r may have come to. */
static int within(const positions_row_t *r, decimal_nanos_t broker) {
    int above_low = r->open_sell_unknown || broker >= r->qty - r->open_sell;
    int below_high = r->open_buy_unknown || broker <= r->qty + r->open_buy;
    return above_low && below_high;
}

int positions_differ(const positions_row_t *a, const positions_row_t *b,
                     decimal_nanos_t broker, decimal_nanos_t *diff) {
    static const positions_row_t none;
    if (!a) a = &none;
    if (!b) b = &none;
    *diff = 0;
    if (within(a, broker) || within(b, broker)) return 0;
    *diff = broker - b->qty;
    return 1;
}

/* ---- reading ---------------------------------------------------------- */

/* The figures in columns col.. of row of r into p.  0, or -1 when a sum
 * does not fit (it cannot, for quantities that fit the ledger). */
static int figures_from(PGresult *r, int row, int col, positions_row_t *p) {
    if (decimal_text_to_nanos(PQgetvalue(r, row, col), &p->qty) < 0 ||
        decimal_text_to_nanos(PQgetvalue(r, row, col + 1), &p->open_buy) < 0 ||
        decimal_text_to_nanos(PQgetvalue(r, row, col + 2), &p->open_sell) < 0)
        return -1;
    p->open_buy_unknown = atol(PQgetvalue(r, row, col + 3));
    p->open_sell_unknown = atol(PQgetvalue(r, row, col + 4));
    return 0;
}

static int row_is_empty(const positions_row_t *p) {
    return !p->qty && !p->open_buy && !p->open_sell && !p->open_buy_unknown &&
           !p->open_sell_unknown;
}

/* A listing's rows (symbol, figures) into out, leaving out the empty ones.
 * 0, or -1 with the reason in why. */
static int rows_from(PGresult *r, positions_t *out, const char **why) {
    int rows = PQntuples(r);
    out->rows = rows ? calloc((size_t)rows, sizeof(*out->rows)) : NULL;
    out->n = 0;
    if (rows && !out->rows) {
        *why = "out of memory";
        return -1;
    }
    for (int i = 0; i < rows; i++) {
        positions_row_t *p = &out->rows[out->n];
        snprintf(p->symbol, sizeof(p->symbol), "%s", PQgetvalue(r, i, 0));
        if (figures_from(r, i, 1, p) < 0) {
            positions_free(out);
            *why = "a position that does not fit in 1e-9 shares";
            return -1;
        }
        if (!row_is_empty(p)) out->n++;
    }
    return 0;
}

/* The listing statement of a scope, with its parameters (n of them). */
static const char *list_sql(positions_scope_t scope, const char *id, const char **p, int *n) {
    p[0] = id;
    *n = scope == POSITIONS_ACCOUNT ? 0 : 1;
    return scope == POSITIONS_BOT ? LIST_BOT : scope == POSITIONS_USER ? LIST_USER : LIST_ACCOUNT;
}

int positions_read(ledger_t *l, positions_scope_t scope, const char *id, positions_t *out,
                   char *err, size_t errlen) {
    const char *p[1], *why = "";
    int n;
    const char *sql = list_sql(scope, id, p, &n);
    memset(out, 0, sizeof(*out));
    PGresult *r = ledger_exec(l, sql, n, p, PGRES_TUPLES_OK, "read positions", err, errlen);
    if (!r) return -1;
    int rc = rows_from(r, out, &why);
    PQclear(r);
    if (rc < 0) snprintf(err, errlen, "ledger: read positions: %s", why);
    return rc;
}

int positions_list(PGconn *db, positions_scope_t scope, const char *id, positions_t *out,
                   pgadmin_err_t *e) {
    const char *p[1], *why = "";
    int n;
    const char *sql = list_sql(scope, id, p, &n);
    memset(out, 0, sizeof(*out));
    PGresult *r = pgadmin_exec(db, sql, n, p, PGRES_TUPLES_OK, "read positions", e);
    if (!r) return -1;
    int rc = rows_from(r, out, &why);
    PQclear(r);
    if (rc < 0) pgadmin_fail(e, "read positions", why);
    return rc;
}

const positions_row_t *positions_find(const positions_t *p, const char *symbol) {
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->rows[i].symbol, symbol)) return &p->rows[i];
    return NULL;
}

void positions_free(positions_t *p) {
    if (!p) return;
    free(p->rows);
    p->rows = NULL;
    p->n = 0;
}

/* ---- the reducing decision ---------------------------------------------- */

/* Inside the decision's transaction, after the lock: the scope's figures
 * for the intent's symbol, without the intent.  0, or -1 with err. */
static int read_symbol(ledger_t *l, positions_scope_t scope, const char *id,
                       const intent_t *in, positions_row_t *row, char *err, size_t errlen) {
    const char *with_id[] = {id, in->symbol, in->intent_id};
    const char *account[] = {in->symbol, in->intent_id};
    PGresult *r = scope == POSITIONS_ACCOUNT
        ? ledger_exec(l, SYMBOL_ACCOUNT, 2, account, PGRES_TUPLES_OK, "read a position", err,
                      errlen)
        : ledger_exec(l, scope == POSITIONS_BOT ? SYMBOL_BOT : SYMBOL_USER, 3, with_id,
                      PGRES_TUPLES_OK, "read a position", err, errlen);
    if (!r) return -1;
    int rc = PQntuples(r) == 1 ? figures_from(r, 0, 0, row) : -1;
    PQclear(r);
    if (rc < 0) snprintf(err, errlen, "ledger: read a position: no figures for %s", in->symbol);
    return rc;
}

int positions_reduce_check(ledger_t *l, positions_scope_t scope, const char *id,
                           const intent_t *in, positions_row_t *row, char *err,
                           size_t errlen) {
    positions_row_t mine;
    if (!row) row = &mine;
    memset(row, 0, sizeof(*row));
    snprintf(row->symbol, sizeof(row->symbol), "%s", in->symbol);
    decimal_nanos_t qty;
    /* A notional order's quantity is unknown: it never passes. */
    if (!in->has_qty || decimal_to_nanos(&in->qty, &qty) < 0) return 0;
    const char *sym[] = {in->symbol};
    const char *self[] = {in->intent_id};
    if (ledger_exec_cmd(l, "BEGIN", 0, NULL, "begin", err, errlen) < 0) return -1;
    int passes = -1;
    PGresult *r = ledger_exec(l, LOCK_SYMBOL, 1, sym, PGRES_TUPLES_OK, "lock a symbol", err,
                              errlen);
    if (r && read_symbol(l, scope, id, in, row, err, errlen) == 0) {
        passes = positions_reduces(row, in->side, qty);
        if (passes && ledger_exec_cmd(l, RECORD_PASSED, 1, self, "record a reducing order",
                                      err, errlen) < 0)
            passes = -1;
    }
    PQclear(r);
    if (passes < 0 || ledger_exec_cmd(l, "COMMIT", 0, NULL, "commit", err, errlen) < 0) {
        ledger_rollback(l);
        return -1;
    }
    return passes;
}
