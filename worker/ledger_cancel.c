/* ledger_cancel.c -- what the ledger knows of cancel requests (contract
 * section 3b): a cancel request's target as the cancel sees it, and the
 * target's mark "this cancel is canceling me" (intents.cancel_intent_id,
 * cancel_reason, cancel_requested_at; migration 007).
 *
 * The mark is written before the broker is asked to cancel, so that a crash
 * between the call and its record resumes from the ledger, and so that the
 * follower, when the broker reports the order canceled, knows which cancel
 * ended it.  One cancel at a time per target: a second one finds the mark of
 * the first.
 *
 * Operators' cancels (migration 008) mark too, and only here: every open
 * order intent of a scope, with cancel_reason "operator" and no
 * cancel_intent_id, in one transaction with their row in operator_cancels
 * (and with the halt, for halt --cancel-open), on the operator's connection
 * (pgadmin.h) that intentctl makes.  A mark, whoever made it, is never
 * overwritten: an operator marks only targets not yet marked, and a cancel
 * request only those not marked or marked by itself.  The follower's leader
 * (cancel_sender.c) reads the marked orders at the broker whose DELETE is
 * not answered yet and records the answer (cancel_sent_at); a marked target
 * not yet at the broker is the pipeline's, which refuses to send it. */
#include "ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"

int ledger_cancel_target(ledger_t *l, const char *target_id, ledger_target_t *t, char *err,
                         size_t errlen) {
    memset(t, 0, sizeof(*t));
    const char *p[] = {target_id};
    PGresult *r = ledger_exec(l,
        "SELECT i.source, COALESCE(i.bot_id, ''), COALESCE(i.user_id, ''), i.state,"
        " i.action, COALESCE(o.order_id, ''), COALESCE(i.cancel_intent_id, ''),"
        " COALESCE(i.cancel_reason, '')"
        " FROM intents i LEFT JOIN broker_orders o ON o.intent_id = i.intent_id"
        " WHERE i.intent_id = $1",
        1, p, PGRES_TUPLES_OK, "read cancel target", err, errlen);
    if (!r) return -1;
    int found = PQntuples(r) > 0;
    if (found) {
        t->user_source = !strcmp(PQgetvalue(r, 0, 0), "user");
        snprintf(t->bot_id, sizeof(t->bot_id), "%s", PQgetvalue(r, 0, 1));
        snprintf(t->user_id, sizeof(t->user_id), "%s", PQgetvalue(r, 0, 2));
        snprintf(t->state, sizeof(t->state), "%s", PQgetvalue(r, 0, 3));
        t->is_cancel = !strcmp(PQgetvalue(r, 0, 4), "cancel");
        snprintf(t->order_id, sizeof(t->order_id), "%s", PQgetvalue(r, 0, 5));
        snprintf(t->cancel_intent_id, sizeof(t->cancel_intent_id), "%s", PQgetvalue(r, 0, 6));
        snprintf(t->cancel_reason, sizeof(t->cancel_reason), "%s", PQgetvalue(r, 0, 7));
    }
    PQclear(r);
    return found;
}

int ledger_cancel_mark(ledger_t *l, const char *target_id, const char *cancel_id,
                       const char *reason, char *err, size_t errlen) {
    const char *p[] = {target_id, cancel_id, reason};
    PGresult *r = ledger_exec(l,
        "UPDATE intents SET cancel_intent_id = $2, cancel_reason = $3,"
        " cancel_requested_at = COALESCE(cancel_requested_at, now())"
        " WHERE intent_id = $1 AND (cancel_requested_at IS NULL OR cancel_intent_id = $2)"
        " AND state NOT IN ('filled', 'canceled', 'expired', 'rejected')"
        " RETURNING 1",
        3, p, PGRES_TUPLES_OK, "mark cancel", err, errlen);
    if (!r) return -1;
    int marked = PQntuples(r) > 0;
    PQclear(r);
    return marked;
}

/* ---- operators' cancels ------------------------------------------------- */

/* The marks and the audit row in one statement: the row's count is the
 * marks'.  The scope's test is a CASE, so the statement reads the open
 * intents (open_intents) and keeps the scope's: an operator's command, not
 * a hot path.  The row is inserted by
 * the same statement that refers to it; the foreign key is checked at the
 * statement's end, when it exists. */
static const char MARK_SQL[] =
    "WITH m AS ("
    " UPDATE intents SET cancel_reason = 'operator', cancel_intent_id = NULL,"
    " cancel_requested_at = now(), operator_cancel_id = $1::bigint"
    " WHERE intent_id IN (SELECT intent_id FROM open_intents)"
    " AND action = 'place' AND cancel_requested_at IS NULL"
    " AND state NOT IN ('filled', 'canceled', 'expired', 'rejected')"
    " AND CASE $2 WHEN 'global' THEN true WHEN 'user' THEN user_id = $3"
    " WHEN 'bot' THEN bot_id = $3 ELSE intent_id = $3 END"
    " RETURNING 1)"
    " INSERT INTO operator_cancels (cancel_id, scope, id, halted, reason, requested_by, marked)"
    " SELECT $1::bigint, $2, $3, $4::boolean, $5, $6, count(*) FROM m"
    " RETURNING marked, " TRADING_TS("requested_at");

static int opcancel_scope_ok(const ledger_opcancel_t *q) {
    if (!q->scope || !q->id || !q->by) return 0;
    if (!strcmp(q->scope, "global")) return !q->id[0];
    if (!strcmp(q->scope, "intent")) return q->id[0] && !q->halt;
    return (!strcmp(q->scope, "user") || !strcmp(q->scope, "bot")) && q->id[0];
}

/* Inside the transaction: the audit row's id, then the marks with it. */
static int opcancel_write(PGconn *db, const ledger_opcancel_t *q, ledger_opcancel_result_t *out,
                          pgadmin_err_t *e) {
    PGresult *r = pgadmin_exec(db,
                               "SELECT nextval(pg_get_serial_sequence('operator_cancels',"
                               " 'cancel_id'))",
                               0, NULL, PGRES_TUPLES_OK, "number the operator's cancel", e);
    if (!r) return -1;
    snprintf(out->cancel_id, sizeof(out->cancel_id), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *p[] = {out->cancel_id, q->scope, q->id, q->halt ? "true" : "false",
                       q->reason, q->by};
    r = pgadmin_exec(db, MARK_SQL, 6, p, PGRES_TUPLES_OK, "mark the open orders", e);
    if (!r) return -1;
    out->marked = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    snprintf(out->at, sizeof(out->at), "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

int ledger_operator_cancel(PGconn *db, const ledger_opcancel_t *req,
                           ledger_opcancel_result_t *out, pgadmin_err_t *e) {
    memset(out, 0, sizeof(*out));
    if (!opcancel_scope_ok(req)) {
        pgadmin_fail(e, "cancel", "a scope of global (no id), user, bot or intent (with an id; "
                                  "no halt for an intent)");
        return -1;
    }
    if (pgadmin_cmd(db, "BEGIN", 0, NULL, "begin", e) < 0) return -1;
    /* The halt first: once committed together, no new intent of the scope
     * passes, and every open one is marked. */
    if ((req->halt && trading_set_within(db, req->scope, req->id, TRADING_HALTED, req->reason,
                                         req->by, &out->halt, e) < 0) ||
        opcancel_write(db, req, out, e) < 0 ||
        pgadmin_cmd(db, "COMMIT", 0, NULL, "commit", e) < 0) {
        pgadmin_rollback(db);
        trading_row_free(&out->halt);
        return -1;
    }
    return 0;
}

int ledger_operator_cancels_unsent(ledger_t *l, ledger_unsent_cancel_t *out, int max,
                                   char *err, size_t errlen) {
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", max);
    const char *p[] = {limit};
    /* The predicate is the one of the partial index intents_operator_cancel_unsent,
     * and the state is read from the rows it finds (state is in no index:
     * migration 009). */
    PGresult *r = ledger_exec(l,
        "SELECT i.intent_id, o.order_id FROM intents i"
        " JOIN broker_orders o ON o.intent_id = i.intent_id"
        " WHERE i.cancel_reason = 'operator' AND i.cancel_sent_at IS NULL"
        " AND i.state = 'submitted'"
        " ORDER BY i.cancel_requested_at LIMIT $1::int",
        1, p, PGRES_TUPLES_OK, "read operators' cancels to send", err, errlen);
    if (!r) return -1;
    int n = PQntuples(r);
    for (int i = 0; i < n && i < max; i++) {
        snprintf(out[i].intent_id, sizeof(out[i].intent_id), "%s", PQgetvalue(r, i, 0));
        snprintf(out[i].order_id, sizeof(out[i].order_id), "%s", PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return n < max ? n : max;
}

int ledger_operator_cancel_sent(ledger_t *l, const char *intent_id, char *err,
                                size_t errlen) {
    const char *p[] = {intent_id};
    return ledger_exec_cmd(l,
                           "UPDATE intents SET cancel_sent_at = now()"
                           " WHERE intent_id = $1 AND cancel_sent_at IS NULL",
                           1, p, "record an operator's cancel as sent", err, errlen);
}
