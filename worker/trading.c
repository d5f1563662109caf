/* trading.c -- the kill switch (see trading.h for what it means).
 *
 * This file owns the trading states in the ledger (tables trading_states and
 * trading_state_changes): every statement that reads or writes them is here,
 * the replicas' reading and the operators' changes alike (the end of the
 * file: trading_set, trading_list, trading_history, which intentctl calls
 * on the operator's connection, and trading_set_within, with which
 * ledger_cancel.c halts in the transaction of an operator's cancel).
 *
 * A replica's view of the trading states is the immutable
 * snapshot the lanes look states up in (a global state plus a sorted array
 * of user and bot states, so a lookup is two binary searches and allocates
 * nothing), re-read every TRADING_REFRESH_MS by a pgview (pgview.c: its own
 * connection, a refresher thread, the swap, and the rule that the last
 * snapshot stays in force when the rows cannot be read, which keeps a halt a
 * halt).  Each change a refresh observes is logged.  Only an unreadable
 * ledger at start is fatal (trading_start).  A state the code does not know
 * (the schema forbids it) counts as halted. */
#include "trading.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgview.h"

/* Changes logged one by one per refresh; beyond that, a count. */
#define TRADING_LOG_CHANGES_MAX 50
/* Reasons are operator text: shown in logs, but not without bound. */
#define TRADING_REASON_LOG_MAX 200

static const char SELECT_STATES[] =
    "SELECT scope, id, state, reason FROM trading_states WHERE state <> 'active'";

/* One user or bot state; id and reason point into the snapshot's arena. */
typedef struct entry {
    char scope;            /* 'b' bot, 'u' user */
    trading_state_t state;
    const char *id;
    const char *reason;    /* may be NULL */
} entry_t;

/* Immutable once published. */
typedef struct snapshot {
    trading_state_t global;
    const char *global_reason;
    entry_t *entries;      /* sorted by (scope, id) */
    size_t n;
    char *arena;           /* every id and reason */
} snapshot_t;

struct trading {
    pgview_t *view;  /* of snapshot_t */
};

const char *trading_state_name(trading_state_t s) {
    switch (s) {
    case TRADING_ACTIVE: return "active";
    case TRADING_REDUCING: return "reducing";
    case TRADING_HALTED: return "halted";
    }
    return "halted";
}

static trading_state_t parse_state(const char *s) {
    if (!strcmp(s, "active")) return TRADING_ACTIVE;
    if (!strcmp(s, "reducing")) return TRADING_REDUCING;
    return TRADING_HALTED;  /* "halted", or unknown: the safe reading */
}

static void snapshot_free(snapshot_t *s) {
    if (!s) return;
    free(s->entries);
    free(s->arena);
    free(s);
}

static int entry_cmp(const void *a, const void *b) {
    const entry_t *x = a, *y = b;
    if (x->scope != y->scope) return x->scope < y->scope ? -1 : 1;
    return strcmp(x->id, y->id);
}

static const entry_t *snapshot_find(const snapshot_t *s, char scope, const char *id) {
    if (!id || !*id || s->n == 0) return NULL;
    entry_t key = {.scope = scope, .id = id};
    return bsearch(&key, s->entries, s->n, sizeof(*s->entries), entry_cmp);
}

/* Reads the restricting rows into a new snapshot (pgview_ops_t.read). */
static void *read_snapshot(pgview_t *v, void *ctx, char *err, size_t errlen) {
    (void)ctx;
    PGresult *res = pgview_query(v, SELECT_STATES, err, errlen);
    if (!res) return NULL;
    int rows = PQntuples(res);
    size_t bytes = 1;
    for (int i = 0; i < rows; i++)
        bytes += (size_t)PQgetlength(res, i, 1) + (size_t)PQgetlength(res, i, 3) + 2;
    snapshot_t *s = calloc(1, sizeof(*s));
    char *arena = malloc(bytes);
    entry_t *e = rows > 0 ? calloc((size_t)rows, sizeof(*e)) : NULL;
    if (!s || !arena || (rows > 0 && !e)) {
        free(s);
        free(arena);
        free(e);
        PQclear(res);
        snprintf(err, errlen, "trading: out of memory");
        return NULL;
    }
    s->arena = arena;
    s->entries = e;
    size_t off = 0, n = 0;
    for (int i = 0; i < rows; i++) {
        const char *scope = PQgetvalue(res, i, 0);
        trading_state_t st = parse_state(PQgetvalue(res, i, 2));
        const char *reason = NULL;
        if (!PQgetisnull(res, i, 3)) {
            size_t len = (size_t)PQgetlength(res, i, 3);
            memcpy(arena + off, PQgetvalue(res, i, 3), len + 1);
            reason = arena + off;
            off += len + 1;
        }
        if (!strcmp(scope, "global")) {
            /* One row at most (primary key); keep the strictest anyway. */
            if (st >= s->global) {
                s->global = st;
                s->global_reason = reason;
            }
            continue;
        }
        char sc = !strcmp(scope, "bot") ? 'b' : !strcmp(scope, "user") ? 'u' : 0;
        if (!sc || PQgetlength(res, i, 1) == 0) continue;  /* the schema forbids both */
        size_t len = (size_t)PQgetlength(res, i, 1);
        memcpy(arena + off, PQgetvalue(res, i, 1), len + 1);
        e[n].scope = sc;
        e[n].state = st;
        e[n].id = arena + off;
        e[n].reason = reason;
        off += len + 1;
        n++;
    }
    PQclear(res);
    s->n = n;
    if (n > 1) qsort(e, n, sizeof(*e), entry_cmp);
    return s;
}

/* ---- logging the changes a refresh observes ------------------------- */

static void log_change(const char *who, trading_state_t from, trading_state_t to,
                       const char *reason) {
    if (to == TRADING_ACTIVE) {
        log_msg(LOG_WARN, "trading_state", NULL, "trading ACTIVE again %s (was %s)", who,
                trading_state_name(from));
        return;
    }
    log_msg(LOG_WARN, "trading_state", NULL, "trading %s %s%s (reason: %.*s)",
            to == TRADING_HALTED ? "HALTED" : "REDUCING", who,
            to == TRADING_REDUCING ? ", only orders that shrink a position" : "",
            TRADING_REASON_LOG_MAX, reason && *reason ? reason : "none given");
}

static void log_entry_change(const entry_t *e, trading_state_t from, trading_state_t to,
                             const char *reason, size_t *logged) {
    if ((*logged)++ >= TRADING_LOG_CHANGES_MAX) return;
    char who[128];
    snprintf(who, sizeof(who), "for %s %.64s", e->scope == 'b' ? "bot" : "user", e->id);
    log_change(who, from, to, reason);
}

/* Logs every difference between old and new (both sorted). */
static void log_changes(const snapshot_t *old, const snapshot_t *new) {
    if (old->global != new->global)
        log_change("globally", old->global, new->global, new->global_reason);
    size_t i = 0, j = 0, logged = 0;
    while (i < old->n || j < new->n) {
        int c = i == old->n ? 1 : j == new->n ? -1 : entry_cmp(&old->entries[i], &new->entries[j]);
        if (c < 0) {  /* gone: active again */
            log_entry_change(&old->entries[i], old->entries[i].state, TRADING_ACTIVE, NULL,
                             &logged);
            i++;
        } else if (c > 0) {  /* new restriction */
            log_entry_change(&new->entries[j], TRADING_ACTIVE, new->entries[j].state,
                             new->entries[j].reason, &logged);
            j++;
        } else {
            if (old->entries[i].state != new->entries[j].state)
                log_entry_change(&new->entries[j], old->entries[i].state,
                                 new->entries[j].state, new->entries[j].reason, &logged);
            i++;
            j++;
        }
    }
    if (logged > TRADING_LOG_CHANGES_MAX)
        log_msg(LOG_WARN, "trading_state", NULL, "... and %zu more trading state changes",
                logged - TRADING_LOG_CHANGES_MAX);
}

/* ---- the view ------------------------------------------------------ */

static void free_snapshot(void *s) { snapshot_free(s); }

static void snapshot_changed(void *ctx, const void *old, const void *s) {
    (void)ctx;
    log_changes(old, s);
}

static const pgview_ops_t TRADING_VIEW = {"trading", read_snapshot, free_snapshot,
                                          snapshot_changed};

trading_t *trading_start(const config_t *cfg, char *err, size_t errlen) {
    trading_t *t = calloc(1, sizeof(*t));
    snapshot_t *empty = calloc(1, sizeof(*empty));
    if (!t || !empty) {
        free(t);
        free(empty);
        snprintf(err, errlen, "trading: out of memory");
        return NULL;
    }
    /* Nothing read yet: the diff of the first read logs what is in force. */
    t->view = pgview_start(cfg->database_url, cfg->trading_refresh_ms, &TRADING_VIEW, NULL,
                           empty, err, errlen);
    if (!t->view) {
        free(t);
        return NULL;
    }
    return t;
}

void trading_stop(trading_t *t) {
    if (!t) return;
    pgview_stop(t->view);
    free(t);
}

trading_state_t trading_state_for(trading_t *t, const char *user_id, const char *bot_id,
                                  const char **scope) {
    const char *which = "";
    trading_state_t best = TRADING_ACTIVE;
    if (t) {
        const snapshot_t *s = pgview_acquire(t->view);
        /* Ties go to the broader scope: it is the one to lift first. */
        if (s->global > best) {
            best = s->global;
            which = "global";
        }
        const entry_t *e = snapshot_find(s, 'u', user_id);
        if (e && e->state > best) {
            best = e->state;
            which = "user";
        }
        e = snapshot_find(s, 'b', bot_id);
        if (e && e->state > best) {
            best = e->state;
            which = "bot";
        }
        pgview_release(t->view);
    }
    if (scope) *scope = which;
    return best;
}

/* ---- the operators' side -------------------------------------------- */

static int valid_scope(const char *scope, const char *id) {
    if (!scope || !id) return 0;
    if (!strcmp(scope, "global")) return *id == '\0';
    return (!strcmp(scope, "user") || !strcmp(scope, "bot")) && *id;
}

void trading_row_free(trading_row_t *r) {
    if (!r) return;
    free(r->id);
    free(r->reason);
    free(r->by);
    memset(r, 0, sizeof(*r));
}

void trading_rows_free(trading_rows_t *rows) {
    if (!rows) return;
    for (size_t i = 0; i < rows->n; i++) trading_row_free(&rows->rows[i]);
    free(rows->rows);
    rows->rows = NULL;
    rows->n = 0;
}

/* The row's texts, copied (reason NULL stays NULL).  0, or -1 out of
 * memory (r then holds nothing to free). */
static int row_strings(trading_row_t *r, const char *id, const char *reason, const char *by) {
    r->id = strdup(id);
    r->reason = reason ? strdup(reason) : NULL;
    r->by = strdup(by);
    if (r->id && r->by && (r->reason || !reason)) return 0;
    trading_row_free(r);
    return -1;
}

/* Inside the caller's transaction: the state before (previous, "active"
 * when there was no row), the new row, its time (at), the history row.
 * 0, or -1 with e (the caller rolls back). */
static int write_state(PGconn *db, const char *scope, const char *id, const char *to_state,
                       const char *reason, const char *by, trading_row_t *out,
                       pgadmin_err_t *e) {
    /* Writers one at a time (readers are not blocked), so the history's
     * from_state is exact even when two operators act at once. */
    if (pgadmin_cmd(db, "LOCK TABLE trading_states IN SHARE ROW EXCLUSIVE MODE", 0, NULL,
                    "lock trading_states", e) < 0)
        return -1;
    const char *p_key[] = {scope, id};
    PGresult *r = pgadmin_exec(db, "SELECT state FROM trading_states WHERE scope = $1 AND id = $2",
                               2, p_key, PGRES_TUPLES_OK, "read trading_states", e);
    if (!r) return -1;
    int had_row = PQntuples(r) > 0;
    if (had_row) snprintf(out->previous, sizeof(out->previous), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *p_set[] = {scope, id, to_state, reason, by};
    r = pgadmin_exec(db,
                     "INSERT INTO trading_states (scope, id, state, reason, updated_by)"
                     " VALUES ($1, $2, $3, $4, $5)"
                     " ON CONFLICT (scope, id) DO UPDATE SET state = EXCLUDED.state,"
                     " reason = EXCLUDED.reason, updated_by = EXCLUDED.updated_by,"
                     " updated_at = now() RETURNING " TRADING_TS("updated_at"),
                     5, p_set, PGRES_TUPLES_OK, "write trading_states", e);
    if (!r) return -1;
    snprintf(out->at, sizeof(out->at), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *p_hist[] = {scope, id, had_row ? out->previous : NULL, to_state, reason, by};
    if (pgadmin_cmd(db,
                    "INSERT INTO trading_state_changes (scope, id, from_state, to_state, reason,"
                    " changed_by) VALUES ($1, $2, $3, $4, $5, $6)",
                    6, p_hist, "write trading_state_changes", e) < 0)
        return -1;
    return 0;
}

int trading_set_within(PGconn *db, const char *scope, const char *id, trading_state_t to,
                       const char *reason, const char *by, trading_row_t *out,
                       pgadmin_err_t *e) {
    memset(out, 0, sizeof(*out));
    if (!valid_scope(scope, id) || !by) {
        pgadmin_fail(e, "trading", "a scope of global (no id), user or bot (with an id)");
        return -1;
    }
    if (row_strings(out, id, reason, by) < 0) {
        pgadmin_fail(e, "trading", "out of memory");
        return -1;
    }
    snprintf(out->scope, sizeof(out->scope), "%s", scope);
    snprintf(out->state, sizeof(out->state), "%s", trading_state_name(to));
    snprintf(out->previous, sizeof(out->previous), "active");
    if (write_state(db, scope, id, out->state, reason, by, out, e) < 0) {
        trading_row_free(out);
        return -1;
    }
    return 0;
}

int trading_set(PGconn *db, const char *scope, const char *id, trading_state_t to,
                const char *reason, const char *by, trading_row_t *out, pgadmin_err_t *e) {
    memset(out, 0, sizeof(*out));
    if (pgadmin_cmd(db, "BEGIN", 0, NULL, "begin", e) < 0) return -1;
    if (trading_set_within(db, scope, id, to, reason, by, out, e) < 0 ||
        pgadmin_cmd(db, "COMMIT", 0, NULL, "commit", e) < 0) {
        pgadmin_rollback(db);
        trading_row_free(out);
        return -1;
    }
    return 0;
}

/* Rows of (scope, id, state, reason, by, at[, previous]) into out. */
static int rows_from(PGresult *r, int with_previous, trading_rows_t *out, pgadmin_err_t *e) {
    int n = PQntuples(r);
    out->rows = n ? calloc((size_t)n, sizeof(*out->rows)) : NULL;
    if (n && !out->rows) {
        pgadmin_fail(e, "trading", "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        trading_row_t *row = &out->rows[i];
        if (row_strings(row, PQgetvalue(r, i, 1), PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3),
                        PQgetisnull(r, i, 4) ? "" : PQgetvalue(r, i, 4)) < 0) {
            trading_rows_free(out);
            pgadmin_fail(e, "trading", "out of memory");
            return -1;
        }
        out->n++;
        snprintf(row->scope, sizeof(row->scope), "%s", PQgetvalue(r, i, 0));
        snprintf(row->state, sizeof(row->state), "%s", PQgetvalue(r, i, 2));
        snprintf(row->at, sizeof(row->at), "%s", PQgetvalue(r, i, 5));
        if (with_previous)
            snprintf(row->previous, sizeof(row->previous), "%s", PQgetvalue(r, i, 6));
    }
    return 0;
}

/* Runs sql (one parameter) and reads its rows into out. */
static int read_rows(PGconn *db, const char *sql, const char *param, int with_previous,
                     const char *what, trading_rows_t *out, pgadmin_err_t *e) {
    memset(out, 0, sizeof(*out));
    PGresult *r = pgadmin_exec(db, sql, 1, &param, PGRES_TUPLES_OK, what, e);
    if (!r) return -1;
    int rc = rows_from(r, with_previous, out, e);
    PQclear(r);
    return rc;
}

int trading_list(PGconn *db, int all, trading_rows_t *out, pgadmin_err_t *e) {
    return read_rows(db,
                     "SELECT scope, id, state, reason, updated_by, " TRADING_TS("updated_at")
                     " FROM trading_states WHERE state <> 'active' OR $1::int = 1"
                     " ORDER BY CASE scope WHEN 'global' THEN 0 WHEN 'user' THEN 1 ELSE 2 END, id",
                     all ? "1" : "0", 0, "read trading_states", out, e);
}

int trading_history(PGconn *db, int64_t n, trading_rows_t *out, pgadmin_err_t *e) {
    char limit[24];
    snprintf(limit, sizeof(limit), "%" PRId64, n);
    return read_rows(db,
                     "SELECT scope, id, to_state, reason, changed_by, " TRADING_TS("changed_at")
                     ", coalesce(from_state, 'active') FROM trading_state_changes"
                     " ORDER BY change_id DESC LIMIT $1::bigint",
                     limit, 1, "read trading_state_changes", out, e);
}
