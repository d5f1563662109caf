/* auth.h -- who may trade: the signature on an intent, and the users its
 * bot may trade for.
 *
 * A bot signs the exact bytes of its intent with HMAC-SHA256 under one of
 * its keys and sends "v1=<64 hex digits>" in the Kafka header x-signature.
 * Keys and bindings live in the ledger (tables bots, bot_keys, bot_users,
 * managed by `intentctl bot ...`) and each replica re-reads them every
 * SIGNING_REFRESH_MS.  The signer of an intent is its message key on the
 * bot topic (the bot_id) and USER_TOPIC_SIGNER on the user topic.
 *
 * INTENT_SIGNING=required refuses unsigned intents; optional lets them
 * through unchecked but still checks every signed one.  A refused intent is
 * rejected "unauthorized", with no detail; the why below is for the
 * operator's log and metrics only. */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>
#include "config.h"
#include "intent.h"

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

#endif
