/* operator.c -- the operator commands' shared pieces (see operator.h).
 *
 * The operator's commands run with the ledger owner's role where the
 * worker's own may only do what a worker needs (README, least privilege):
 * ADMIN_DATABASE_URL first, DATABASE_URL when there is no separate owner.
 * libpq's messages name host and port, never the URL or password. */
#include "operator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common.h"
#include "config.h"
#include "envfile.h"

int valid_subject_id(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

void operator_name(char *out, size_t len) {
    const char *user = getenv("USER");
    char host[256];
    if (!user || !*user) {
        snprintf(out, len, "intentctl");
        return;
    }
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    if (*host)
        snprintf(out, len, "%s@%s", user, host);
    else
        snprintf(out, len, "%s", user);
}

PGconn *operator_connect(const char *cmd, int *rc) {
    static const char *const admin[] = {"ADMIN_DATABASE_URL", "ADMIN_DATABASE_PASSWORD",
                                        "DATABASE_SSLMODE", NULL};
    static const char *const worker[] = {"DATABASE_URL", "DATABASE_PASSWORD",
                                         "DATABASE_SSLMODE", NULL};
    int use_admin = envfile_is_set("ADMIN_DATABASE_URL");
    if (!use_admin && !envfile_is_set("DATABASE_URL")) {
        usage_error(cmd, "neither ADMIN_DATABASE_URL nor DATABASE_URL is set (the ledger's "
                         "postgresql:// URL)");
        *rc = EXIT_USAGE;
        return NULL;
    }
    config_t *cfg = calloc(1, sizeof *cfg);
    char err[512];
    if (!cfg || config_load_only(cfg, use_admin ? admin : worker, err, sizeof err) < 0) {
        fprintf(stderr, "intentctl: %s\n", cfg ? err : "out of memory");
        free(cfg);
        *rc = EXIT_USAGE;
        return NULL;
    }
    /* Settings before dbname are defaults the URL may override. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"10", "intentctl",
                                use_admin ? cfg->admin_database_url : cfg->database_url, NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    OPENSSL_cleanse(cfg, sizeof *cfg);
    free(cfg);
    if (!db || PQstatus(db) != CONNECTION_OK) {
        pgadmin_err_t e;
        pgadmin_fail(&e, "cannot reach the ledger (DATABASE_URL)", db ? PQerrorMessage(db) : NULL);
        ledger_error(&e);
        PQfinish(db);
        *rc = EXIT_REFUSED;
        return NULL;
    }
    return db;
}

void ledger_error(const pgadmin_err_t *e) {
    fprintf(stderr, "intentctl: %s\n", e->msg);
    if (e->missing_table)
        fprintf(stderr, "intentctl: the ledger lacks the kill switch tables: run "
                        "'order-worker migrate'\n");
}
