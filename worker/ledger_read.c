/* ledger_read.c -- what the ledger's other users read (see ledger.h): the
 * follower's lease, open orders, order progress and count of placements
 * (fills.c), the reconciler's stuck intents (reconcile.c) and the risk
 * checks' count of a bot's open orders (pipeline.c).
 *
 * Reads only, each one statement (the lease's upsert aside); rows are
 * copied out into the caller's structs, whose strings are malloc'd, and a
 * copy that runs out of memory frees what it made and says so. */
#include "ledger.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_internal.h"

int ledger_take_lease(ledger_t *l, const char *name, const char *holder,
                      int64_t ms, char *err, size_t errlen) {
    char dur[32];
    snprintf(dur, sizeof(dur), "%lld", (long long)ms);
    const char *p[] = {name, holder, dur};
    PGresult *r = ledger_exec(l,
        "INSERT INTO leases (name, holder, until)"
        " VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond')"
        " ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until"
        " WHERE leases.holder = EXCLUDED.holder OR leases.until < now()"
        " RETURNING holder",
        3, p, PGRES_TUPLES_OK, "take lease", err, errlen);
    if (!r) return -1;
    int held = PQntuples(r) == 1;
    PQclear(r);
    return held;
}

static void copy_col(PGresult *r, int row, int col, char *buf, size_t len) {
    snprintf(buf, len, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

static intent_source_t source_col(PGresult *r, int row, int col) {
    return !strcmp(PQgetvalue(r, row, col), "user") ? INTENT_SOURCE_USER : INTENT_SOURCE_BOT;
}

/* Clears r and says that memory ran out: -1. */
static int rows_failed(PGresult *r, char *err, size_t errlen) {
    PQclear(r);
    snprintf(err, errlen, "ledger: out of memory");
    return -1;
}

/* An array of one zeroed struct per row of r (NULL for none).  Sets *fail
 * (and err, and clears r) when memory runs out. */
static void *rows_alloc(PGresult *r, size_t size, int *fail, char *err, size_t errlen) {
    int rows = PQntuples(r);
    void *o = rows ? calloc((size_t)rows, size) : NULL;
    *fail = rows && !o;
    if (*fail) rows_failed(r, err, errlen);
    return o;
}

/* A copy of the column's text into *out (NULL for SQL NULL).  -1 without
 * memory. */
static int copy_text(PGresult *r, int row, int col, char **out) {
    *out = PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
    return PQgetisnull(r, row, col) || *out ? 0 : -1;
}

/* The single number a counting query answers, or -1. */
static long count_of(ledger_t *l, const char *sql, int n, const char *const *params,
                     const char *what, char *err, size_t errlen) {
    PGresult *r = ledger_exec(l, sql, n, params, PGRES_TUPLES_OK, what, err, errlen);
    if (!r) return -1;
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

int ledger_open_orders(ledger_t *l, int limit, ledger_open_order_t **out,
                       size_t *n, char *err, size_t errlen) {
    *out = NULL;
    *n = 0;
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {lim};
    PGresult *r = ledger_exec(l,
        "SELECT i.intent_id, o.order_id, o.status, o.filled_qty::text,"
        " o.filled_avg_price::text, o.raw->>'submitted_at', i.source, i.raw, i.msg_key"
        " FROM open_intents oi JOIN intents i ON i.intent_id = oi.intent_id"
        " JOIN broker_orders o ON o.intent_id = i.intent_id"
        " WHERE i.state = 'submitted' ORDER BY i.updated_at LIMIT $1::int",
        1, p, PGRES_TUPLES_OK, "read open orders", err, errlen);
    if (!r) return -1;
    int rows = PQntuples(r), fail;
    ledger_open_order_t *o = rows_alloc(r, sizeof(*o), &fail, err, errlen);
    if (fail) return -1;
    for (int i = 0; i < rows; i++) {
        copy_col(r, i, 0, o[i].intent_id, sizeof(o[i].intent_id));
        copy_col(r, i, 1, o[i].order_id, sizeof(o[i].order_id));
        copy_col(r, i, 2, o[i].status, sizeof(o[i].status));
        copy_col(r, i, 3, o[i].filled_qty, sizeof(o[i].filled_qty));
        copy_col(r, i, 4, o[i].filled_avg_price, sizeof(o[i].filled_avg_price));
        copy_col(r, i, 5, o[i].submitted_at, sizeof(o[i].submitted_at));
        o[i].source = source_col(r, i, 6);
        if (copy_text(r, i, 7, &o[i].raw) < 0 || copy_text(r, i, 8, &o[i].key) < 0) {
            ledger_open_orders_free(o, (size_t)i + 1);
            return rows_failed(r, err, errlen);
        }
    }
    PQclear(r);
    *out = o;
    *n = (size_t)rows;
    return 0;
}

void ledger_open_orders_free(ledger_open_order_t *o, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(o[i].raw);
        free(o[i].key);
    }
    free(o);
}

int ledger_stuck_intents(ledger_t *l, int64_t older_than_ms, int limit, ledger_stuck_t **out,
                         size_t *n, char *err, size_t errlen) {
    *out = NULL;
    *n = 0;
    char age[32], lim[16];
    snprintf(age, sizeof(age), "%lld", (long long)older_than_ms);
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {age, lim};
    PGresult *r = ledger_exec(l,
        "SELECT i.intent_id, i.state, i.source, i.topic, i.kafka_partition, i.kafka_offset,"
        " i.msg_key, i.raw FROM open_intents oi JOIN intents i ON i.intent_id = oi.intent_id"
        " WHERE i.state IN ('received', 'validated', 'quota_granted', 'submitting')"
        " AND i.updated_at < now() - $1::bigint * interval '1 millisecond'"
        " ORDER BY i.updated_at LIMIT $2::int",
        2, p, PGRES_TUPLES_OK, "read stuck intents", err, errlen);
    if (!r) return -1;
    int rows = PQntuples(r), fail;
    ledger_stuck_t *o = rows_alloc(r, sizeof(*o), &fail, err, errlen);
    if (fail) return -1;
    for (int i = 0; i < rows; i++) {
        copy_col(r, i, 0, o[i].intent_id, sizeof(o[i].intent_id));
        copy_col(r, i, 1, o[i].state, sizeof(o[i].state));
        o[i].source = source_col(r, i, 2);
        copy_col(r, i, 3, o[i].topic, sizeof(o[i].topic));
        o[i].partition = (int32_t)atoi(PQgetvalue(r, i, 4));
        o[i].offset = atoll(PQgetvalue(r, i, 5));
        if (copy_text(r, i, 6, &o[i].key) < 0 || copy_text(r, i, 7, &o[i].raw) < 0) {
            ledger_stuck_free(o, (size_t)i + 1);
            return rows_failed(r, err, errlen);
        }
    }
    PQclear(r);
    *out = o;
    *n = (size_t)rows;
    return 0;
}

void ledger_stuck_free(ledger_stuck_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(s[i].key);
        free(s[i].raw);
    }
    free(s);
}

long ledger_count_open_orders(ledger_t *l, const char *bot_id, char *err, size_t errlen) {
    const char *p[] = {bot_id};
    return count_of(l,
                    "SELECT count(*) FROM open_intents oi"
                    " JOIN intents i ON i.intent_id = oi.intent_id WHERE oi.bot_id = $1"
                    " AND i.state IN ('quota_granted', 'submitting', 'submitted')",
                    1, p, "count open orders", err, errlen);
}

long ledger_count_placing(ledger_t *l, int64_t before_ms, char *err, size_t errlen) {
    char before[24];
    snprintf(before, sizeof(before), "%lld", (long long)before_ms);
    const char *p[] = {before};
    return count_of(l,
                    "SELECT count(*) FROM open_intents oi"
                    " JOIN intents i ON i.intent_id = oi.intent_id"
                    " WHERE i.state IN ('quota_granted', 'submitting')"
                    " AND ($1::bigint = 0 OR i.updated_at < to_timestamp($1::bigint / 1000.0))",
                    1, p, "count placements", err, errlen);
}

int ledger_order_progress(ledger_t *l, const char *intent_id,
                          ledger_progress_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    const char *p[] = {intent_id};
    PGresult *r = ledger_exec(l,
        "SELECT i.state, COALESCE(o.filled_qty::text, '0'),"
        " COALESCE(o.filled_avg_price::text, ''),"
        " (SELECT count(*) FROM events e WHERE e.intent_id = i.intent_id"
        "   AND e.event_type = 'partial_fill')"
        " FROM intents i LEFT JOIN broker_orders o ON o.intent_id = i.intent_id"
        " WHERE i.intent_id = $1",
        1, p, PGRES_TUPLES_OK, "read order progress", err, errlen);
    if (!r) return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        snprintf(err, errlen, "ledger: no intent %s", intent_id);
        return -1;
    }
    copy_col(r, 0, 0, out->state, sizeof(out->state));
    copy_col(r, 0, 1, out->filled_qty, sizeof(out->filled_qty));
    copy_col(r, 0, 2, out->filled_avg_price, sizeof(out->filled_avg_price));
    out->partials = atoi(PQgetvalue(r, 0, 3));
    PQclear(r);
    return 0;
}

