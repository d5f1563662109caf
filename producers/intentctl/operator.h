/* operator.h -- what the operator commands (halt, reduce, resume, trading,
 * positions, bot) share: the ledger connection with the operator's role,
 * how a refusal of the ledger is shown, who is acting, and the contract's
 * rule for ids.  The state itself, its tables and statements, belongs to
 * the worker's modules (trading.h, positions.h, auth.h); the commands only
 * parse, call and print. */
#ifndef INTENTCTL_OPERATOR_H
#define INTENTCTL_OPERATOR_H

#include <stddef.h>

#include <libpq-fe.h>

#include "pgadmin.h"

/* A bot or user id as the contract allows: 1..64 of A-Z a-z 0-9 . _ - (so
 * it can never forge another Redis key or hash tag). */
int valid_subject_id(const char *s);

/* Who is changing the state: "$USER@hostname", or "intentctl". */
void operator_name(char *out, size_t len);

/* The ledger connection: ADMIN_DATABASE_URL (the operator's role) if set,
 * else DATABASE_URL, each read as the worker reads its settings (NAME or
 * NAME_FILE, the password apart or in the URL, DATABASE_SSLMODE).  NULL
 * after saying why, with *rc: EXIT_USAGE (not set, malformed) or
 * EXIT_REFUSED (unreachable).  Neither URL is ever printed.  (Not named
 * ledger_connect: the worker's ledger.h has one, linked in with
 * positions.h.) */
PGconn *operator_connect(const char *cmd, int *rc);

/* Prints a refusal of the ledger ("intentctl: what: message"), and what to
 * do when a table is missing. */
void ledger_error(const pgadmin_err_t *e);

#endif
