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
 * taken tells nothing about how much of a forged signature was right. */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

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

void auth_sign(const unsigned char key[AUTH_KEY_BYTES], const char *bytes, size_t len,
               char out[AUTH_SIGNATURE_MAX]) {
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), key, AUTH_KEY_BYTES, (const unsigned char *)bytes, len, mac, &mac_len);
    memcpy(out, AUTH_SCHEME, 3);
    for (unsigned int i = 0; i < 32; i++) {
        out[3 + 2 * i] = digits[mac[i] >> 4];
        out[3 + 2 * i + 1] = digits[mac[i] & 15];
    }
    out[3 + 64] = '\0';
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
