/* ledger_follow.c -- the follower's batch reads (see ledger.h): the intents
 * of a batch of broker orders, found by client_order_id and locked, then
 * read as they stand once locked.
 *
 * Why two statements: a statement sees the ledger as it was when it began,
 * so a state read in the statement that takes the lock may predate the
 * lock; another holder may have moved the intent and let go in between.
 * What the follower acts on is therefore read by a second statement, after
 * every lock of the batch is held, and so is current.  Two round trips for
 * the whole batch, instead of three per order (lock, read, and the lookup
 * of the order's intent). */
#include "ledger.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"

void ledger_follow_clear(ledger_follow_t *f, int n) {
    for (int i = 0; i < n; i++) {
        free(f[i].raw);
        free(f[i].key);
        free(f[i].cancel_raw);
        free(f[i].cancel_key);
        f[i].raw = f[i].key = f[i].cancel_raw = f[i].cancel_key = NULL;
    }
}

/* The entry of f whose intent is id, or NULL. */
static ledger_follow_t *by_intent(ledger_follow_t *f, int n, const char *id) {
    for (int i = 0; i < n; i++)
        if (f[i].intent_id[0] && !strcmp(f[i].intent_id, id)) return &f[i];
    return NULL;
}

int ledger_follow_lock_many(ledger_t *l, const char *const *client_order_ids, int n,
                            ledger_follow_t *out, char *err, size_t errlen) {
    memset(out, 0, (size_t)n * sizeof(*out));
    char *arr = ledger_id_array(client_order_ids, n);
    if (!arr) {
        snprintf(err, errlen, "ledger: out of memory");
        return -1;
    }
    const char *p[] = {arr};
    /* A finished intent is not locked: nothing will be done to it. */
    PGresult *r = ledger_exec(l,
        "SELECT x.n, i.intent_id, i.state IN ('filled', 'canceled', 'expired', 'rejected'),"
        " CASE WHEN i.state IN ('filled', 'canceled', 'expired', 'rejected') THEN false"
        "  ELSE pg_try_advisory_lock(hashtextextended(i.intent_id, 0)) END"
        " FROM unnest($1::text[]) WITH ORDINALITY AS x(cid, n)"
        " JOIN intents i ON i.client_order_id = x.cid ORDER BY x.n",
        1, p, PGRES_TUPLES_OK, "find and lock followed intents", err, errlen);
    free(arr);
    if (!r) return -1;
    for (int row = 0; row < PQntuples(r); row++) {
        int k = atoi(PQgetvalue(r, row, 0)) - 1;
        if (k < 0 || k >= n) continue;
        snprintf(out[k].intent_id, sizeof(out[k].intent_id), "%s", PQgetvalue(r, row, 1));
        out[k].terminal = PQgetvalue(r, row, 2)[0] == 't';
        out[k].held = PQgetvalue(r, row, 3)[0] == 't';
    }
    PQclear(r);
    return 0;
}

int ledger_follow_read_many(ledger_t *l, ledger_follow_t *f, int n, char *err,
                            size_t errlen) {
    const char *ids[LEDGER_FOLLOW_MAX];
    int m = 0;
    for (int i = 0; i < n && m < LEDGER_FOLLOW_MAX; i++)
        if (f[i].held) ids[m++] = f[i].intent_id;
    if (m == 0) return 0;
    char *arr = ledger_id_array(ids, m);
    if (!arr) {
        snprintf(err, errlen, "ledger: out of memory");
        return -1;
    }
    const char *p[] = {arr};
    PGresult *r = ledger_exec(l,
        "SELECT i.intent_id, i.state, i.source, i.raw, i.msg_key, o.order_id, o.status,"
        " COALESCE(o.filled_qty::text, '0'), COALESCE(o.filled_avg_price::text, ''),"
        " (SELECT count(*) FROM events e WHERE e.intent_id = i.intent_id"
        "   AND e.event_type = 'partial_fill'),"
        " COALESCE(i.cancel_intent_id, ''), COALESCE(i.cancel_reason, ''),"
        " COALESCE(c.state, ''), c.source, c.raw, c.msg_key"
        " FROM intents i LEFT JOIN broker_orders o ON o.intent_id = i.intent_id"
        " LEFT JOIN intents c ON c.intent_id = i.cancel_intent_id"
        " WHERE i.intent_id = ANY ($1::text[])",
        1, p, PGRES_TUPLES_OK, "read followed intents", err, errlen);
    free(arr);
    if (!r) return -1;
    for (int row = 0; row < PQntuples(r); row++) {
        ledger_follow_t *e = by_intent(f, n, PQgetvalue(r, row, 0));
        if (!e || !e->held) continue;
        snprintf(e->prog.state, sizeof(e->prog.state), "%s", PQgetvalue(r, row, 1));
        e->source = !strcmp(PQgetvalue(r, row, 2), "user") ? INTENT_SOURCE_USER
                                                          : INTENT_SOURCE_BOT;
        free(e->raw);
        free(e->key);
        e->raw = strdup(PQgetvalue(r, row, 3));
        e->key = PQgetisnull(r, row, 4) ? NULL : strdup(PQgetvalue(r, row, 4));
        if (!e->raw || (!PQgetisnull(r, row, 4) && !e->key)) {
            PQclear(r);
            snprintf(err, errlen, "ledger: out of memory");
            return -1;
        }
        snprintf(e->order_id, sizeof(e->order_id), "%s",
                 PQgetisnull(r, row, 5) ? "" : PQgetvalue(r, row, 5));
        snprintf(e->order_status, sizeof(e->order_status), "%s",
                 PQgetisnull(r, row, 6) ? "" : PQgetvalue(r, row, 6));
        snprintf(e->prog.filled_qty, sizeof(e->prog.filled_qty), "%s", PQgetvalue(r, row, 7));
        snprintf(e->prog.filled_avg_price, sizeof(e->prog.filled_avg_price), "%s",
                 PQgetvalue(r, row, 8));
        e->prog.partials = atoi(PQgetvalue(r, row, 9));
        snprintf(e->cancel_intent_id, sizeof(e->cancel_intent_id), "%s", PQgetvalue(r, row, 10));
        snprintf(e->cancel_reason, sizeof(e->cancel_reason), "%s", PQgetvalue(r, row, 11));
        snprintf(e->cancel_state, sizeof(e->cancel_state), "%s", PQgetvalue(r, row, 12));
        e->cancel_source = !strcmp(PQgetvalue(r, row, 13), "user") ? INTENT_SOURCE_USER
                                                                   : INTENT_SOURCE_BOT;
        free(e->cancel_raw);
        free(e->cancel_key);
        e->cancel_raw = PQgetisnull(r, row, 14) ? NULL : strdup(PQgetvalue(r, row, 14));
        e->cancel_key = PQgetisnull(r, row, 15) ? NULL : strdup(PQgetvalue(r, row, 15));
        if ((!PQgetisnull(r, row, 14) && !e->cancel_raw) ||
            (!PQgetisnull(r, row, 15) && !e->cancel_key)) {
            PQclear(r);
            snprintf(err, errlen, "ledger: out of memory");
            return -1;
        }
        e->read = 1;
    }
    PQclear(r);
    return 0;
}
