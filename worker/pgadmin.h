/* pgadmin.h -- statements on an operator's ledger connection, and their
 * failures as one line of text.
 *
 * The operators' changes to the ledger (the kill switch's states in
 * trading.c, the bots and keys in auth.c) run on the connection intentctl
 * makes with the operator's role, not on a replica's.  This is what those
 * functions share: run one parameterised statement, and when it fails, say
 * so in one line, "what: libpq's message" with its newlines and tabs made
 * spaces (never a URL, a parameter or a secret), noting when a table is
 * missing (a ledger that was not migrated). */
#ifndef PGADMIN_H
#define PGADMIN_H

#include <libpq-fe.h>

typedef struct pgadmin_err {
    char msg[2048];      /* "what: message", one line */
    int missing_table;   /* the statement named a table the ledger lacks
                            (SQLSTATE 42P01): run `order-worker migrate` */
} pgadmin_err_t;

/* Sets e->msg to "what: msg" on one line ("failed" for an empty or NULL
 * msg) and clears e->missing_table. */
void pgadmin_fail(pgadmin_err_t *e, const char *what, const char *msg);

/* Runs sql with n text parameters (NULL for SQL NULL).  The result when
 * its status is want, else NULL with e filled. */
PGresult *pgadmin_exec(PGconn *db, const char *sql, int n, const char *const *params,
                       ExecStatusType want, const char *what, pgadmin_err_t *e);

/* pgadmin_exec for a statement that returns no rows: 0, or -1 with e. */
int pgadmin_cmd(PGconn *db, const char *sql, int n, const char *const *params,
                const char *what, pgadmin_err_t *e);

/* Ends the transaction in progress without its changes (errors ignored:
 * the caller is already reporting one). */
void pgadmin_rollback(PGconn *db);

#endif
