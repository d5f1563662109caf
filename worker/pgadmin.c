/* pgadmin.c -- statements on an operator's ledger connection (see
 * pgadmin.h).
 *
 * Owns nothing but the wording of a failure: libpq's messages run over
 * several lines ("ERROR:  ...\nLINE 1: ..."), and an operator's tool prints
 * one line per failure, so every newline and tab becomes a space.  The
 * statement's parameters are never part of the message. */
#include "pgadmin.h"

#include <stdio.h>
#include <string.h>

#include "pqmsg.h"

void pgadmin_fail(pgadmin_err_t *e, const char *what, const char *msg) {
    pqmsg_line(e->msg, sizeof(e->msg), what, msg);
    e->missing_table = 0;
}

PGresult *pgadmin_exec(PGconn *db, const char *sql, int n, const char *const *params,
                       ExecStatusType want, const char *what, pgadmin_err_t *e) {
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == want) return r;
    pgadmin_fail(e, what, r ? PQresultErrorMessage(r) : PQerrorMessage(db));
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    e->missing_table = state && strcmp(state, "42P01") == 0; /* undefined_table */
    PQclear(r);
    return NULL;
}

int pgadmin_cmd(PGconn *db, const char *sql, int n, const char *const *params,
                const char *what, pgadmin_err_t *e) {
    PGresult *r = pgadmin_exec(db, sql, n, params, PGRES_COMMAND_OK, what, e);
    if (!r) return -1;
    PQclear(r);
    return 0;
}

void pgadmin_rollback(PGconn *db) { PQclear(PQexec(db, "ROLLBACK")); }
