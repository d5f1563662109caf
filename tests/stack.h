/* stack.h -- what the C tests that need the running stack share: the
 * ledger connection and a tag that makes their ids unique.
 *
 * The stack (`compose/dev test`) puts its settings in the environment:
 * DATABASE_URL (the workers' role) and ADMIN_DATABASE_URL (the owner's,
 * which operators and these tests write with). */
#ifndef STACK_H
#define STACK_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "timefmt.h"

/* The ledger as an operator reaches it: ADMIN_DATABASE_URL, else
 * DATABASE_URL.  NULL after printing why. */
static inline PGconn *stack_ledger(void) {
    const char *url = getenv("DATABASE_URL"), *admin = getenv("ADMIN_DATABASE_URL");
    if (!url || !*url) {
        printf("FAIL: DATABASE_URL is not set (the test stack's ledger)\n");
        return NULL;
    }
    PGconn *db = PQconnectdb(admin && *admin ? admin : url);
    if (PQstatus(db) != CONNECTION_OK) {
        printf("FAIL: cannot connect to the ledger: %s", PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    return db;
}

/* "<pid>-<ms>": unique per run, so reruns against one stack never meet. */
static inline void stack_tag(char *out, size_t n) {
    snprintf(out, n, "%d-%lld", (int)getpid(), (long long)timefmt_now_ms());
}

#endif
