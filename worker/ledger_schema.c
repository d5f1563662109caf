/* ledger_schema.c -- the ledger's schema (see ledger.h): migrations, the
 * worker role's grants, and the check that a worker runs on the schema it
 * was built for.
 *
 * The migrations are compiled in (schemas/migrations, embedded at build
 * time) and applied by `order-worker migrate`, each in its own durable
 * transaction with the version row it adds, concurrent runs serialised by
 * a lock on schema_migrations.  A worker never migrates: it refuses to
 * start on a schema that lacks one (ledger_check_schema). */
#include "ledger.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "ledger_internal.h"

static const char *MIGRATIONS_TABLE =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

static int applied(ledger_t *l, int version, int *yes, char *err, size_t errlen) {
    char v[16];
    snprintf(v, sizeof(v), "%d", version);
    const char *p[] = {v};
    PGresult *r = ledger_exec(l, "SELECT 1 FROM schema_migrations WHERE version = $1",
                              1, p, PGRES_TUPLES_OK, "read schema_migrations", err, errlen);
    if (!r) return -1;
    *yes = PQntuples(r) > 0;
    PQclear(r);
    return 0;
}

int ledger_migrate(ledger_t *l, char *err, size_t errlen) {
    if (ledger_exec_cmd(l, MIGRATIONS_TABLE, 0, NULL, "create schema_migrations", err,
                        errlen) < 0)
        return -1;
    for (const ledger_migration_t *m = ledger_migrations; m->sql; m++) {
        if (ledger_begin_durable(l, err, errlen) < 0) return -1;
        /* Serialise concurrent `migrate` runs. */
        if (ledger_exec_cmd(l, "LOCK TABLE schema_migrations IN EXCLUSIVE MODE", 0,
                            NULL, "lock schema_migrations", err, errlen) < 0) {
            ledger_rollback(l);
            return -1;
        }
        int yes = 0;
        if (applied(l, m->version, &yes, err, errlen) < 0) {
            ledger_rollback(l);
            return -1;
        }
        if (yes) {
            ledger_rollback(l);
            continue;
        }
        PGresult *r = PQexec(l->conn, m->sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            char what[160];
            snprintf(what, sizeof(what), "migration %s", m->name);
            ledger_set_err(err, errlen, what, l->conn, r);
            PQclear(r);
            ledger_rollback(l);
            return -1;
        }
        PQclear(r);
        char v[16];
        snprintf(v, sizeof(v), "%d", m->version);
        const char *p[] = {v, m->name};
        if (ledger_exec_cmd(l, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            2, p, "record migration", err, errlen) < 0 ||
            ledger_exec_cmd(l, "COMMIT", 0, NULL, "commit migration", err, errlen) < 0) {
            ledger_rollback(l);
            return -1;
        }
    }
    return 0;
}

/* What the worker's role may do, and no more: read and write the ledger
 * tables it records intents in, read the kill switch, the bots' keys and
 * bindings, and the migrations.  No DELETE, but from open_intents (a
 * working set: a row leaves it when its intent's terminal state is written,
 * which the intent's row still records), no DDL, nothing on the audit
 * tables.  %I is the role, quoted by format(). */
static const char *const WORKER_GRANTS[] = {
    "GRANT SELECT, INSERT, UPDATE ON intents, intent_transitions, broker_orders, events,"
    " dead_letters, leases TO %I",
    "GRANT SELECT, INSERT, DELETE ON open_intents TO %I",
    "GRANT SELECT ON intent_history, trading_states, bot_keys, bot_users, schema_migrations TO %I",
    "GRANT USAGE ON SEQUENCE intent_transitions_id_seq, events_seq_seq TO %I",
    NULL};

int ledger_role(ledger_t *l, char *out, size_t outlen, char *err, size_t errlen) {
    PGresult *r = ledger_exec(l, "SELECT current_user", 0, NULL, PGRES_TUPLES_OK,
                              "read current_user", err, errlen);
    if (!r) return -1;
    snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int ledger_grant_worker(ledger_t *l, const char *role, char *err, size_t errlen) {
    for (int i = 0; WORKER_GRANTS[i]; i++) {
        /* The role's name is quoted by the server, never pasted in here. */
        const char *p[] = {WORKER_GRANTS[i], role};
        PGresult *r = ledger_exec(l, "SELECT format($1, $2::text)", 2, p, PGRES_TUPLES_OK,
                                  "quote the worker's role", err, errlen);
        if (!r) return -1;
        /* Not ledger_exec(): it keeps statements by address, for literals only. */
        PGresult *g = PQexec(l->conn, PQgetvalue(r, 0, 0));
        PQclear(r);
        int ok = PQresultStatus(g) == PGRES_COMMAND_OK;
        if (!ok) ledger_set_err(err, errlen, "grant the worker's role", l->conn, g);
        PQclear(g);
        if (!ok) return -1;
    }
    return 0;
}

int ledger_check_schema(ledger_t *l, char *err, size_t errlen) {
    PGresult *r = ledger_exec(l, "SELECT to_regclass('schema_migrations') IS NOT NULL",
                              0, NULL, PGRES_TUPLES_OK, "check schema", err, errlen);
    if (!r) return -1;
    int exists = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    for (const ledger_migration_t *m = ledger_migrations; m->sql; m++) {
        int yes = 0;
        if (exists && applied(l, m->version, &yes, err, errlen) < 0) return -1;
        if (!yes) {
            snprintf(err, errlen,
                     "ledger: migration %s is not applied (run `order-worker migrate`)",
                     m->name);
            return -1;
        }
    }
    return 0;
}

