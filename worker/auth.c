/* auth.c -- signed intents and bot bindings (see auth.h for the rules).
 *
 * This file owns the replica's copy of the signing keys and the bot-user
 * bindings, and the two checks made with them.  The copy is a pgview
 * snapshot (pgview.c) re-read every SIGNING_REFRESH_MS, so a revocation or
 * a new binding reaches every replica within that time, and a lane never
 * waits for the database to check a signature.  If the rows cannot be read
 * the last copy stays in force (a revoked key may then live on until
 * PostgreSQL answers again; the failure is logged).
 *
 * Only usable keys are read: not revoked and, for a key retired by a
 * rotation, not past its grace period (checked again against the clock at
 * each verification, so the grace ends on time between refreshes).  Keys
 * are wiped from memory when a snapshot is freed.
 *
 * The signature is compared with CRYPTO_memcmp against the HMAC under each
 * usable key of the signer (two during a rotation's grace), so the time
 * taken tells nothing about how much of a forged signature was right.
 *
 * The operators' changes to the same tables (`intentctl bot ...`) are here
 * too, at the end of the file, so that one file holds every statement on
 * bots, bot_keys, bot_users and bot_changes: a new key is made from
 * getrandom(), stored, and handed back once; each change commits with its
 * audit row in bot_changes or not at all. */
#include "auth.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pgview.h"
#include "timefmt.h"

static const char SELECT_KEYS[] =
    "SELECT bot_id, encode(secret, 'hex'),"
    " COALESCE((extract(epoch FROM valid_until) * 1000)::bigint, 0)"
    " FROM bot_keys WHERE revoked_at IS NULL"
    " AND (valid_until IS NULL OR valid_until > now())";

static const char SELECT_BINDINGS[] = "SELECT bot_id, user_id FROM bot_users";

typedef struct key {
    const char *bot_id;          /* into the snapshot's arena */
    unsigned char secret[AUTH_KEY_BYTES];
    int64_t valid_until_ms;      /* 0: no end */
} signkey_t;

typedef struct binding {
    const char *bot_id, *user_id;
} binding_t;

/* Immutable once published. */
typedef struct snapshot {
    signkey_t *keys;                /* sorted by bot_id */
    size_t n_keys;
    binding_t *bindings;         /* sorted by (bot_id, user_id) */
    size_t n_bindings;
    char *arena;
} snapshot_t;

struct auth {
    pgview_t *view;
};

static void snapshot_free(void *p) {
    snapshot_t *s = p;
    if (!s) return;
    if (s->keys) OPENSSL_cleanse(s->keys, s->n_keys * sizeof(*s->keys));
    free(s->keys);
    free(s->bindings);
    free(s->arena);
    free(s);
}

static int key_cmp(const void *a, const void *b) {
    return strcmp(((const signkey_t *)a)->bot_id, ((const signkey_t *)b)->bot_id);
}

static int binding_cmp(const void *a, const void *b) {
    const binding_t *x = a, *y = b;
    int c = strcmp(x->bot_id, y->bot_id);
    return c ? c : strcmp(x->user_id, y->user_id);
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* n bytes from 2n hex digits; -1 if any is not one. */
static int from_hex(const char *hex, unsigned char *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* Copies every text of the two results into one arena. */
static void *read_snapshot(pgview_t *v, void *ctx, char *err, size_t errlen) {
    (void)ctx;
    PGresult *kr = pgview_query(v, SELECT_KEYS, err, errlen);
    if (!kr) return NULL;
    PGresult *br = pgview_query(v, SELECT_BINDINGS, err, errlen);
    if (!br) {
        PQclear(kr);
        return NULL;
    }
    size_t nk = (size_t)PQntuples(kr), nb = (size_t)PQntuples(br), bytes = 1;
    for (size_t i = 0; i < nk; i++) bytes += (size_t)PQgetlength(kr, (int)i, 0) + 1;
    for (size_t i = 0; i < nb; i++)
        bytes += (size_t)PQgetlength(br, (int)i, 0) + (size_t)PQgetlength(br, (int)i, 1) + 2;
    snapshot_t *s = calloc(1, sizeof(*s));
    if (s) {
        s->arena = malloc(bytes);
        s->keys = calloc(nk ? nk : 1, sizeof(*s->keys));
        s->bindings = calloc(nb ? nb : 1, sizeof(*s->bindings));
    }
    if (!s || !s->arena || !s->keys || !s->bindings) {
        snapshot_free(s);
        PQclear(kr);
        PQclear(br);
        snprintf(err, errlen, "auth: out of memory");
        return NULL;
    }
    size_t off = 0;
    for (size_t i = 0; i < nk; i++) {
        int row = (int)i;
        signkey_t *k = &s->keys[s->n_keys];
        size_t len = (size_t)PQgetlength(kr, row, 0);
        const char *hex = PQgetvalue(kr, row, 1);
        /* The schema keeps secrets at 32 bytes; anything else is skipped. */
        if (strlen(hex) != 2 * AUTH_KEY_BYTES || from_hex(hex, k->secret, AUTH_KEY_BYTES) < 0)
            continue;
        memcpy(s->arena + off, PQgetvalue(kr, row, 0), len + 1);
        k->bot_id = s->arena + off;
        off += len + 1;
        k->valid_until_ms = strtoll(PQgetvalue(kr, row, 2), NULL, 10);
        s->n_keys++;
    }
    for (size_t i = 0; i < nb; i++) {
        binding_t *b = &s->bindings[i];
        for (int c = 0; c < 2; c++) {
            size_t len = (size_t)PQgetlength(br, (int)i, c);
            memcpy(s->arena + off, PQgetvalue(br, (int)i, c), len + 1);
            if (c == 0) b->bot_id = s->arena + off;
            else b->user_id = s->arena + off;
            off += len + 1;
        }
    }
    s->n_bindings = nb;
    /* Sorted here, by strcmp: the database's collation may order otherwise. */
    qsort(s->keys, s->n_keys, sizeof(*s->keys), key_cmp);
    qsort(s->bindings, s->n_bindings, sizeof(*s->bindings), binding_cmp);
    /* The hex texts of the secrets go with the results. */
    for (size_t i = 0; i < nk; i++)
        OPENSSL_cleanse(PQgetvalue(kr, (int)i, 1), (size_t)PQgetlength(kr, (int)i, 1));
    PQclear(kr);
    PQclear(br);
    return s;
}

static const pgview_ops_t AUTH_VIEW = {"auth", read_snapshot, snapshot_free, NULL};

auth_t *auth_start(const config_t *cfg, char *err, size_t errlen) {
    auth_t *a = calloc(1, sizeof(*a));
    snapshot_t *empty = calloc(1, sizeof(*empty));
    if (!a || !empty) {
        free(a);
        free(empty);
        snprintf(err, errlen, "auth: out of memory");
        return NULL;
    }
    a->view = pgview_start(cfg->database_url, cfg->signing_refresh_ms, &AUTH_VIEW, NULL, empty,
                           err, errlen);
    if (!a->view) {
        free(a);
        return NULL;
    }
    return a;
}

void auth_stop(auth_t *a) {
    if (!a) return;
    pgview_stop(a->view);
    free(a);
}

/* n bytes as 2n lowercase hex digits and a NUL. */
static void to_hex(const unsigned char *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void auth_sign(const unsigned char key[AUTH_KEY_BYTES], const char *bytes, size_t len,
               char out[AUTH_SIGNATURE_MAX]) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), key, AUTH_KEY_BYTES, (const unsigned char *)bytes, len, mac, &mac_len);
    memcpy(out, AUTH_SCHEME, 3);
    to_hex(mac, 32, out + 3);
}

static void deny(auth_result_t *r, const char *why) {
    r->status = AUTH_DENIED;
    r->why = why;
}

/* The contract's rule for a bot_id (and so for a signer's name). */
static int is_signer_name(const char *s, size_t n) {
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

void auth_verify(auth_t *a, const config_t *cfg, intent_source_t source, const char *key,
                 size_t key_len, const char *bytes, size_t len, const char *sig,
                 size_t sig_len, auth_result_t *r) {
    memset(r, 0, sizeof(*r));
    if (!sig) {
        r->status = AUTH_UNSIGNED;
        if (cfg->signing_required) deny(r, "no_signature");
        return;
    }
    unsigned char want[32];
    if (sig_len != 3 + 64 || memcmp(sig, AUTH_SCHEME, 3) != 0 || from_hex(sig + 3, want, 32) < 0) {
        deny(r, "bad_signature_format");
        return;
    }
    const char *signer = source == INTENT_SOURCE_BOT ? key : cfg->user_topic_signer;
    size_t signer_len = source == INTENT_SOURCE_BOT ? (key ? key_len : 0) : strlen(signer);
    if (!signer || !is_signer_name(signer, signer_len) || !a) {
        deny(r, "no_usable_key");
        return;
    }
    memcpy(r->signer, signer, signer_len);
    r->signer[signer_len] = '\0';

    int found = 0, match = 0;
    int64_t now = timefmt_now_ms();
    const snapshot_t *s = pgview_acquire(a->view);
    signkey_t probe = {.bot_id = r->signer};
    const signkey_t *k = s->n_keys ? bsearch(&probe, s->keys, s->n_keys, sizeof(*k), key_cmp) : NULL;
    if (k) {
        while (k > s->keys && !strcmp(k[-1].bot_id, r->signer)) k--;
        for (; k < s->keys + s->n_keys && !strcmp(k->bot_id, r->signer); k++) {
            if (k->valid_until_ms && k->valid_until_ms <= now) continue;
            unsigned char mac[EVP_MAX_MD_SIZE];
            unsigned int mac_len = 0;
            found = 1;
            HMAC(EVP_sha256(), k->secret, AUTH_KEY_BYTES, (const unsigned char *)bytes, len,
                 mac, &mac_len);
            match |= CRYPTO_memcmp(mac, want, 32) == 0;
        }
    }
    pgview_release(a->view);
    if (!found) deny(r, "no_usable_key");
    else if (!match) deny(r, "bad_signature");
    else r->status = AUTH_SIGNED;
}

static int is_bound(const snapshot_t *s, const char *bot_id, const char *user_id) {
    binding_t probe = {bot_id, user_id};
    return s->n_bindings &&
           bsearch(&probe, s->bindings, s->n_bindings, sizeof(probe), binding_cmp) != NULL;
}

void auth_permit(auth_t *a, const intent_t *in, auth_result_t *r) {
    if (r->status != AUTH_SIGNED) return;
    if (in->source == INTENT_SOURCE_BOT && strcmp(in->bot_id, r->signer) != 0) {
        deny(r, "bot_mismatch");
        return;
    }
    const snapshot_t *s = pgview_acquire(a->view);
    int ok = in->user_id[0] && (is_bound(s, r->signer, in->user_id) || is_bound(s, r->signer, "*"));
    pgview_release(a->view);
    if (!ok) deny(r, "user_not_bound");
}

/* ---- the operators' side -------------------------------------------- */

/* bot_change's answer when the statement that must find a row found none. */
#define CHANGE_NOTHING 100

/* A new key from getrandom(), as hex; the raw bytes are wiped.  0, or -1
 * with e. */
static int new_key(auth_new_key_t *key, pgadmin_err_t *e) {
    unsigned char raw[AUTH_KEY_BYTES];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            pgadmin_fail(e, "getrandom", strerror(errno));
            return -1;
        }
        got += (size_t)n;
    }
    to_hex(raw, sizeof(raw), key->hex);
    OPENSSL_cleanse(raw, sizeof(raw));
    key->key_no = 0;
    return 0;
}

/* "a,b,c" (malloc'd; "" for none), or NULL with e. */
static char *join_users(const char *const *users, int n, pgadmin_err_t *e) {
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(users[i]) + 1;
    char *csv = malloc(len);
    if (!csv) {
        pgadmin_fail(e, "bot", "out of memory");
        return NULL;
    }
    size_t o = 0;
    for (int i = 0; i < n; i++) o += (size_t)sprintf(csv + o, "%s%s", i ? "," : "", users[i]);
    csv[o] = '\0';
    return csv;
}

/* Runs one of a change's statements with every parameter, as text (so a
 * statement may leave some unused).  DONE (its first value, if it returns
 * rows, to out), CHANGE_NOTHING (it returns rows and found none), EXISTS
 * (a unique key), UNKNOWN (a missing bot), or FAILED with e. */
static int change_statement(PGconn *db, const char *sql, const char *const *params,
                            int n_params, const char *action, char *out, size_t outlen,
                            pgadmin_err_t *e) {
    static const Oid text[] = {25, 25, 25, 25, 25, 25};
    PGresult *r = PQexecParams(db, sql, n_params, text, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    int rc = AUTH_BOT_DONE;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && !strcmp(state, "23505"))
            rc = AUTH_BOT_EXISTS;
        else if (state && !strcmp(state, "23503"))
            rc = AUTH_BOT_UNKNOWN;
        else
            rc = AUTH_BOT_FAILED;
        pgadmin_fail(e, action, PQresultErrorMessage(r));
    } else if (st == PGRES_TUPLES_OK && out) {
        if (PQntuples(r) == 0)
            rc = CHANGE_NOTHING;
        else
            snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return rc;
}

/* One change in one transaction: the statements, then the audit row.  The
 * last statement's first value (if it returns rows) goes to out.  What
 * change_statement answers, rolled back unless DONE. */
static int bot_change(PGconn *db, const char *const *sqls, int n_sql, const char *const *params,
                      int n_params, const char *bot, const char *action, const char *detail,
                      const char *by, char *out, size_t outlen, pgadmin_err_t *e) {
    if (pgadmin_cmd(db, "BEGIN", 0, NULL, "begin", e) < 0) return AUTH_BOT_FAILED;
    for (int i = 0; i < n_sql; i++) {
        int rc = change_statement(db, sqls[i], params, n_params, action, out, outlen, e);
        if (rc != AUTH_BOT_DONE) {
            pgadmin_rollback(db);
            return rc;
        }
    }
    const char *p_audit[] = {bot, action, detail, by};
    if (pgadmin_cmd(db, "INSERT INTO bot_changes (bot_id, action, detail, changed_by)"
                        " VALUES ($1, $2, $3, $4)", 4, p_audit, "write bot_changes", e) < 0 ||
        pgadmin_cmd(db, "COMMIT", 0, NULL, "commit", e) < 0) {
        pgadmin_rollback(db);
        return AUTH_BOT_FAILED;
    }
    return AUTH_BOT_DONE;
}

auth_bot_rc_t auth_bot_add(PGconn *db, const char *bot, const char *const *users, int n_users,
                           const char *by, auth_new_key_t *key, pgadmin_err_t *e) {
    static const char *const sqls[] = {
        "INSERT INTO bots (bot_id, created_by) VALUES ($1, $3)",
        "INSERT INTO bot_users (bot_id, user_id)"
        " SELECT $1, unnest(string_to_array($4, ',')) ON CONFLICT DO NOTHING",
        "INSERT INTO bot_keys (bot_id, key_no, secret) VALUES ($1, 1, decode($2, 'hex'))"
        " RETURNING key_no"};
    if (new_key(key, e) < 0) return AUTH_BOT_FAILED;
    char *csv = join_users(users, n_users, e);
    char *detail = csv ? malloc(strlen(csv) + 32) : NULL;
    int rc = AUTH_BOT_FAILED;
    if (csv && !detail) pgadmin_fail(e, "bot", "out of memory");
    if (detail) {
        sprintf(detail, "key 1; users %s", n_users ? csv : "none");
        const char *p[] = {bot, key->hex, by, csv};
        char got[32] = "";
        rc = bot_change(db, sqls, 3, p, 4, bot, "add", detail, by, got, sizeof(got), e);
        key->key_no = atoi(got);
    }
    free(detail);
    free(csv);
    if (rc != AUTH_BOT_DONE) OPENSSL_cleanse(key->hex, sizeof(key->hex));
    return (auth_bot_rc_t)rc;
}

auth_bot_rc_t auth_bot_rotate(PGconn *db, const char *bot, int64_t grace_ms, const char *by,
                              auth_new_key_t *key, pgadmin_err_t *e) {
    static const char *const sqls[] = {
        "SELECT 1 FROM bots WHERE bot_id = $1 FOR UPDATE",
        "UPDATE bot_keys SET valid_until = LEAST(COALESCE(valid_until, 'infinity'),"
        " now() + $3::bigint * interval '1 millisecond')"
        " WHERE bot_id = $1 AND revoked_at IS NULL",
        "INSERT INTO bot_keys (bot_id, key_no, secret) SELECT $1,"
        " COALESCE(max(key_no), 0) + 1, decode($2, 'hex') FROM bot_keys WHERE bot_id = $1"
        " RETURNING key_no"};
    if (new_key(key, e) < 0) return AUTH_BOT_FAILED;
    char grace[24], detail[80], got[32] = "";
    snprintf(grace, sizeof(grace), "%" PRId64, grace_ms);
    snprintf(detail, sizeof(detail), "new key; grace of the old ones %s ms", grace);
    const char *p[] = {bot, key->hex, grace};
    int rc = bot_change(db, sqls, 3, p, 3, bot, "rotate", detail, by, got, sizeof(got), e);
    key->key_no = atoi(got);
    if (rc == CHANGE_NOTHING) rc = AUTH_BOT_UNKNOWN;
    if (rc != AUTH_BOT_DONE) OPENSSL_cleanse(key->hex, sizeof(key->hex));
    return (auth_bot_rc_t)rc;
}

auth_bot_rc_t auth_bot_revoke(PGconn *db, const char *bot, int key_no, const char *by,
                              pgadmin_err_t *e) {
    static const char *const sqls[] = {
        "UPDATE bot_keys SET revoked_at = now() WHERE bot_id = $1 AND revoked_at IS NULL"
        " AND ($2::int IS NULL OR key_no = $2::int) RETURNING key_no"};
    char no[16], detail[32], got[32];
    snprintf(no, sizeof(no), "%d", key_no);
    snprintf(detail, sizeof(detail), "%s%s", key_no ? "key " : "every key", key_no ? no : "");
    const char *p[] = {bot, key_no ? no : NULL};
    int rc = bot_change(db, sqls, 1, p, 2, bot, "revoke", detail, by, got, sizeof(got), e);
    return (auth_bot_rc_t)(rc == CHANGE_NOTHING ? AUTH_BOT_NO_KEY : rc);
}

/* bind and unbind: the users' list is both the parameter and the detail. */
static auth_bot_rc_t bind_change(PGconn *db, const char *sql, const char *bot,
                                 const char *const *users, int n_users, const char *by,
                                 const char *action, pgadmin_err_t *e) {
    char *csv = join_users(users, n_users, e);
    if (!csv) return AUTH_BOT_FAILED;
    const char *p[] = {bot, csv};
    int rc = bot_change(db, &sql, 1, p, 2, bot, action, csv, by, NULL, 0, e);
    free(csv);
    return (auth_bot_rc_t)rc;
}

auth_bot_rc_t auth_bot_bind(PGconn *db, const char *bot, const char *const *users, int n_users,
                            const char *by, pgadmin_err_t *e) {
    return bind_change(db,
                       "INSERT INTO bot_users (bot_id, user_id)"
                       " SELECT $1, unnest(string_to_array($2, ',')) ON CONFLICT DO NOTHING",
                       bot, users, n_users, by, "bind", e);
}

auth_bot_rc_t auth_bot_unbind(PGconn *db, const char *bot, const char *const *users,
                              int n_users, const char *by, pgadmin_err_t *e) {
    return bind_change(db,
                       "DELETE FROM bot_users WHERE bot_id = $1"
                       " AND user_id = ANY(string_to_array($2, ','))",
                       bot, users, n_users, by, "unbind", e);
}

void auth_bot_rows_free(auth_bot_rows_t *rows) {
    if (!rows) return;
    for (size_t i = 0; i < rows->n; i++) {
        free(rows->rows[i].bot_id);
        free(rows->rows[i].keys);
        free(rows->rows[i].users);
    }
    free(rows->rows);
    rows->rows = NULL;
    rows->n = 0;
}

int auth_bot_list(PGconn *db, auth_bot_rows_t *out, pgadmin_err_t *e) {
    memset(out, 0, sizeof(*out));
    PGresult *r = pgadmin_exec(db,
        "SELECT b.bot_id,"
        " COALESCE((SELECT string_agg(k.key_no || ' ' || CASE"
        "   WHEN k.revoked_at IS NOT NULL THEN 'revoked'"
        "   WHEN k.valid_until IS NULL THEN 'active'"
        "   WHEN k.valid_until > now() THEN 'grace-until-' ||"
        "     to_char(k.valid_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        "   ELSE 'expired' END, ',' ORDER BY k.key_no) FROM bot_keys k"
        "   WHERE k.bot_id = b.bot_id), ''),"
        " COALESCE((SELECT string_agg(u.user_id, ',' ORDER BY u.user_id) FROM bot_users u"
        "   WHERE u.bot_id = b.bot_id), '')"
        " FROM bots b ORDER BY b.bot_id", 0, NULL, PGRES_TUPLES_OK, "read bots", e);
    if (!r) return -1;
    int n = PQntuples(r);
    out->rows = calloc(n ? (size_t)n : 1, sizeof(*out->rows));
    int ok = out->rows != NULL;
    for (int i = 0; ok && i < n; i++) {
        auth_bot_row_t *row = &out->rows[out->n++];
        row->bot_id = strdup(PQgetvalue(r, i, 0));
        row->keys = strdup(PQgetvalue(r, i, 1));
        row->users = strdup(PQgetvalue(r, i, 2));
        ok = row->bot_id && row->keys && row->users;
    }
    PQclear(r);
    if (!ok) {
        auth_bot_rows_free(out);
        pgadmin_fail(e, "read bots", "out of memory");
        return -1;
    }
    return 0;
}
