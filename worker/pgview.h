/* pgview.h -- a replica's read-only view of some ledger rows, re-read
 * periodically on a connection of its own.
 *
 * The kill switch (trading.c) and the signers' keys (auth.c) are both read
 * by every lane for every intent and written rarely by operators
 * (intentctl).  A view keeps an immutable snapshot of the rows; a refresher
 * thread builds a new one every refresh_ms with the owner's read function
 * and swaps it in.  Lanes never wait for the database, and when the rows
 * cannot be read the last snapshot stays in force (the failure is logged
 * once). */
#ifndef PGVIEW_H
#define PGVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

typedef struct pgview pgview_t;

typedef struct pgview_ops {
    const char *name;  /* "trading", "auth": log lines and application_name */
    /* Builds a new snapshot with pgview_query; NULL with err on failure. */
    void *(*read)(pgview_t *v, void *ctx, char *err, size_t errlen);
    void (*free)(void *snap);
    /* Optional: told of each new snapshot before the swap (old may be the
     * initial one).  Runs on the refresher thread, the only writer. */
    void (*changed)(void *ctx, const void *old, const void *snap);
} pgview_ops_t;

/* Reads the first snapshot before returning (NULL and err if it cannot:
 * the ledger must be readable at start), then starts the refresher.
 * initial (owned by the view from now on, even on failure) is what the
 * first snapshot is compared with by ops->changed. */
pgview_t *pgview_start(const char *database_url, int64_t refresh_ms, const pgview_ops_t *ops,
                       void *ctx, void *initial, char *err, size_t errlen);
void pgview_stop(pgview_t *v);

/* For ops->read: runs sql (no parameters) with a bounded wait.  The result
 * (PGRES_TUPLES_OK), or NULL with err (the connection is then dropped and
 * made again at the next refresh). */
PGresult *pgview_query(pgview_t *v, const char *sql, char *err, size_t errlen);

/* The current snapshot, valid until pgview_release (which must follow,
 * soon: the refresher waits for it to swap). */
const void *pgview_acquire(pgview_t *v);
void pgview_release(pgview_t *v);

#endif
