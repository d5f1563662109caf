/* ledger_internal.h -- what the parts of the ledger share (ledger.c,
 * ledger_schema.c, ledger_read.c); not part of its interface, which is
 * ledger.h.  The connection with its prepared statements and deferred
 * bookkeeping, and the statement helpers every part runs its SQL through. */
#ifndef LEDGER_INTERNAL_H
#define LEDGER_INTERNAL_H

#include <libpq-fe.h>
#include <stddef.h>

#include "jsonw.h"
#include "ledger.h"

/* Statements are prepared once per connection, on first use: parsing and
 * planning the ledger's statements cost PostgreSQL more than running them.
 * Keyed by the SQL text's address (every statement is a string literal). */
#define LEDGER_PREPARED_MAX 48

/* Deferred bookkeeping (ledger_defer_on): "these events are published" and
 * "release this intent's lock", kept per connection and written for many
 * intents in one statement by ledger_flush(), instead of two round trips
 * per intent.  Neither is anything another step waits for: a lost mark
 * only leaves published_at unset (as a crash between the acknowledgement
 * and the mark always could), and a lock held a little longer makes a
 * racing redelivery wait a little longer. */
#define LEDGER_DEFER_MAX 64

typedef struct deferred {
    char intent_id[40];
    char seq[24];            /* mark published up to this seq; "" none */
    int unlock;              /* release the intent's lock */
} deferred_t;

struct ledger {
    PGconn *conn;
    char replica[128];
    const char *prepared[LEDGER_PREPARED_MAX];
    int n_prepared;
    int defer;               /* ledger_defer_on */
    deferred_t pending[LEDGER_DEFER_MAX];
    int n_pending;
    int broken;              /* a flush failed: the owner must reconnect so
                                that no lock outlives the list that held it */
    const char *stage_path;  /* ledger_set_stage_path: "intake" by default */
    settled_t *settled;      /* ledger_set_settled; NULL: none */
    jsonw_t rows;            /* the JSON rows of the batch statements, its
                                buffer kept from statement to statement */
};

/* err = "ledger: <what>: <PostgreSQL's message>" on one line (the message
 * of r, or of the connection c when r is NULL). */
void ledger_set_err(char *err, size_t errlen, const char *what, PGconn *c, PGresult *r);

/* Runs sql (a string literal: see struct ledger) with n text parameters;
 * the result if its status is want, else NULL with err. */
PGresult *ledger_exec(ledger_t *l, const char *sql, int n, const char *const *v,
                      ExecStatusType want, const char *what, char *err, size_t errlen);
/* ledger_exec of a command: 0, or -1 with err. */
int ledger_exec_cmd(ledger_t *l, const char *sql, int n, const char *const *v,
                    const char *what, char *err, size_t errlen);

/* ids as a PostgreSQL array literal (malloc'd), or NULL without memory. */
char *ledger_id_array(const char *const *ids, int n);

/* Opens a durable transaction (it waits for its WAL flush at COMMIT): 0,
 * or -1 with err.  ledger_rollback ends one that failed. */
int ledger_begin_durable(ledger_t *l, char *err, size_t errlen);
void ledger_rollback(ledger_t *l);

#endif
