/* ledger_cancel.c -- what the ledger knows of cancel requests (contract
 * section 3b): a cancel request's target as the cancel sees it, and the
 * target's mark "this cancel is canceling me" (intents.cancel_intent_id,
 * cancel_reason, cancel_requested_at; migration 007).
 *
 * The mark is written before the broker is asked to cancel, so that a crash
 * between the call and its record resumes from the ledger, and so that the
 * follower, when the broker reports the order canceled, knows which cancel
 * ended it.  One cancel at a time per target: a second one finds the mark of
 * the first. */
#include "ledger.h"

#include <stdio.h>
#include <string.h>

#include "ledger_internal.h"

int ledger_cancel_target(ledger_t *l, const char *target_id, ledger_target_t *t, char *err,
                         size_t errlen) {
    memset(t, 0, sizeof(*t));
    const char *p[] = {target_id};
    PGresult *r = ledger_exec(l,
        "SELECT i.source, COALESCE(i.bot_id, ''), COALESCE(i.user_id, ''), i.state,"
        " i.action, COALESCE(o.order_id, ''), COALESCE(i.cancel_intent_id, ''),"
        " COALESCE(i.cancel_reason, ''), COALESCE(c.state, '')"
        " FROM intents i LEFT JOIN broker_orders o ON o.intent_id = i.intent_id"
        " LEFT JOIN intents c ON c.intent_id = i.cancel_intent_id"
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
        snprintf(t->cancel_state, sizeof(t->cancel_state), "%s", PQgetvalue(r, 0, 8));
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
        " WHERE intent_id = $1 AND (cancel_intent_id IS NULL OR cancel_intent_id = $2)"
        " AND state NOT IN ('filled', 'canceled', 'expired', 'rejected')"
        " RETURNING 1",
        3, p, PGRES_TUPLES_OK, "mark cancel", err, errlen);
    if (!r) return -1;
    int marked = PQntuples(r) > 0;
    PQclear(r);
    return marked;
}
