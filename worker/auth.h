/* auth.h -- who may trade: the signature on an intent, and the users its
 * bot may trade for.
 *
 * A bot signs the exact bytes of its intent with HMAC-SHA256 under one of
 * its keys and sends "v1=<64 hex digits>" in the Kafka header x-signature.
 * Keys and bindings live in the ledger (tables bots, bot_keys, bot_users,
 * changed by the auth_bot_* functions below, which `intentctl bot ...`
 * calls) and each replica re-reads them every SIGNING_REFRESH_MS.  The
 * signer of an intent is its message key on the bot topic (the bot_id) and
 * USER_TOPIC_SIGNER on the user topic.
 *
 * INTENT_SIGNING=required refuses unsigned intents; optional lets them
 * through unchecked but still checks every signed one.  A refused intent is
 * rejected "unauthorized", with no detail; the why below is for the
 * operator's log and metrics only. */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>
#include "config.h"
#include "intent.h"
#include "pgadmin.h"

#define AUTH_HEADER "x-signature"
#define AUTH_SCHEME "v1="

typedef struct auth auth_t;

typedef enum {
    AUTH_UNSIGNED = 0,  /* no signature, and signing is optional */
    AUTH_SIGNED,        /* a usable key of the signer made the signature */
    AUTH_DENIED         /* see why */
} auth_status_t;

typedef struct auth_result {
    auth_status_t status;
    const char *why;    /* AUTH_DENIED: "no_signature", "bad_signature_format",
                           "unknown_signer", "bad_signature", "bot_mismatch",
                           "user_not_bound" (static strings) */
    char signer[68];
} auth_result_t;

/* Reads the keys and bindings once (NULL and err if the ledger cannot be
 * read), then keeps them fresh on a thread of its own. */
auth_t *auth_start(const config_t *cfg, char *err, size_t errlen);
void auth_stop(auth_t *a);

/* Step one, before the bytes are even decoded: does sig (the header value,
 * NULL if absent) sign bytes under a usable key of the message's signer?
 * key is the Kafka message key.  Compares in constant time. */
void auth_verify(auth_t *a, const config_t *cfg, intent_source_t source, const char *key,
                 size_t key_len, const char *bytes, size_t len, const char *sig,
                 size_t sig_len, auth_result_t *r);

/* Step two, once decoded: a signed intent must name its signer as bot_id
 * (bot topic), and the signer must be bound to the intent's user_id.
 * Leaves an unsigned or denied result as it is. */
void auth_permit(auth_t *a, const intent_t *in, auth_result_t *r);

/* HMAC-SHA256 of bytes under the 32-byte key, as "v1=<hex>" (68 bytes
 * with the NUL): what a bot sends, shared with intentctl. */
#define AUTH_KEY_BYTES 32
#define AUTH_SIGNATURE_MAX 68
void auth_sign(const unsigned char key[AUTH_KEY_BYTES], const char *bytes, size_t len,
               char out[AUTH_SIGNATURE_MAX]);

/* ---- the operators' side: `intentctl bot ...` --------------------------
 *
 * On the operator's ledger connection (pgadmin.h).  Each change is one
 * transaction with its row in bot_changes (the bot, the action, a detail
 * that never holds a secret, and by: who made it).  A new key is made here
 * from getrandom() and handed back once, as hex: the ledger keeps it for the
 * replicas, and the caller shows it to the operator once and wipes it
 * (OPENSSL_cleanse).  Bot and user ids are the contract's
 * ([A-Za-z0-9._-]{1,64}; user '*' binds a bot to every user); the ledger's
 * checks refuse others. */

/* What a change came to, beyond done (0) or failed (-1, with e). */
typedef enum {
    AUTH_BOT_FAILED = -1,  /* e says why; nothing changed */
    AUTH_BOT_DONE = 0,
    AUTH_BOT_EXISTS = 1,   /* add: the bot is registered already */
    AUTH_BOT_UNKNOWN = 2,  /* no such bot */
    AUTH_BOT_NO_KEY = 3    /* revoke: no such key that is not revoked yet */
} auth_bot_rc_t;

#define AUTH_KEY_HEX (2 * AUTH_KEY_BYTES + 1)

/* A key just made: its number and its secret as 64 hex digits. */
typedef struct auth_new_key {
    int key_no;
    char hex[AUTH_KEY_HEX];
} auth_new_key_t;

/* Registers bot with a new key (key 1) and binds it to the n_users users.
 * DONE with *key, EXISTS, or FAILED. */
auth_bot_rc_t auth_bot_add(PGconn *db, const char *bot, const char *const *users, int n_users,
                           const char *by, auth_new_key_t *key, pgadmin_err_t *e);

/* Gives bot a new key; its current keys stay usable for grace_ms more
 * (0: they end now; a key already ending sooner keeps its end).  DONE with
 * *key, UNKNOWN, or FAILED. */
auth_bot_rc_t auth_bot_rotate(PGconn *db, const char *bot, int64_t grace_ms, const char *by,
                              auth_new_key_t *key, pgadmin_err_t *e);

/* Revokes key key_no of bot now, or every key for key_no 0.  DONE,
 * NO_KEY (nothing left to revoke), or FAILED. */
auth_bot_rc_t auth_bot_revoke(PGconn *db, const char *bot, int key_no, const char *by,
                              pgadmin_err_t *e);

/* Lets bot trade for the users (bind: those bound already stay so), or no
 * longer (unbind).  DONE, UNKNOWN (bind, no such bot), or FAILED. */
auth_bot_rc_t auth_bot_bind(PGconn *db, const char *bot, const char *const *users, int n_users,
                            const char *by, pgadmin_err_t *e);
auth_bot_rc_t auth_bot_unbind(PGconn *db, const char *bot, const char *const *users,
                              int n_users, const char *by, pgadmin_err_t *e);

/* One bot as `intentctl bot list` shows it. */
typedef struct auth_bot_row {
    char *bot_id;
    char *keys;   /* "N STATE" per key, by number, comma-separated ("" if
                     none); STATE: active, revoked, expired, or
                     grace-until-YYYY-MM-DDTHH:MM:SSZ (UTC) */
    char *users;  /* the users it may trade for, sorted, comma-separated */
} auth_bot_row_t;

typedef struct auth_bot_rows {
    auth_bot_row_t *rows;
    size_t n;
} auth_bot_rows_t;

/* Every bot, by bot_id.  0, or -1 with e.  auth_bot_rows_free frees what
 * the rows hold (NULL is fine). */
int auth_bot_list(PGconn *db, auth_bot_rows_t *out, pgadmin_err_t *e);
void auth_bot_rows_free(auth_bot_rows_t *rows);

#endif
