/* intent.h -- decoding and validating an order intent (contract section 3)
 * and a cancel request (section 3b: "action": "cancel", target_intent_id).
 *
 * The one place that knows what a valid intent is.  Both order-worker and
 * intentctl call intent_decode(), so a bot that checks with intentctl gets
 * the same answer the worker will give. */
#ifndef INTENT_H
#define INTENT_H

#include <stddef.h>
#include <stdint.h>
#include "decimal.h"

#define INTENT_MAX_BYTES      65536   /* whole message */
#define INTENT_MAX_META_BYTES 8192    /* meta, serialised compactly */
#define INTENT_MAX_ERRORS     32
#define INTENT_MAX_KEY_BYTES  256     /* Kafka message key */

typedef enum {
    INTENT_SOURCE_BOT = 0,   /* orders.intents.bot: bot_id required */
    INTENT_SOURCE_USER = 1   /* orders.intents.user: bot_id absent */
} intent_source_t;

typedef struct intent_error {
    char field[32];     /* top-level field name, e.g. "qty" */
    char message[160];  /* what is wrong, e.g. "must be positive" */
} intent_error_t;

typedef enum {
    INTENT_VALID = 0,    /* every rule holds */
    INTENT_INVALID,      /* has a usable intent_id but breaks rules: errors[]
                            lists every broken field -> validation_failed */
    INTENT_UNREADABLE    /* cannot be read as an intent at all -> DLQ with
                            dlq_reason */
} intent_status_t;

typedef struct intent_verdict {
    intent_status_t status;
    const char *dlq_reason;  /* for INTENT_UNREADABLE: "too_large",
                                "not_json", "not_object", "no_intent_id",
                                "bad_key" (intent_key_ok) */
    char detail[200];        /* human text for the DLQ reason */
    int n_errors;
    intent_error_t errors[INTENT_MAX_ERRORS];
} intent_verdict_t;

/* A decoded intent.  String fields are empty when absent or not strings;
 * on INTENT_INVALID every field that could be read is still filled, so a
 * rejection event can carry bot_id, user_id, symbol and side. */
typedef struct intent {
    intent_source_t source;
    char intent_id[40];
    char bot_id[68];
    char user_id[68];
    char symbol[20];
    char side[8];            /* "buy" | "sell" */
    char type[16];           /* "market" | "limit" | "stop" | "stop_limit" */
    int has_qty, has_notional, has_limit_price, has_stop_price;
    decimal_t qty, notional, limit_price, stop_price;
    char time_in_force[8];   /* defaults to "day" */
    int extended_hours;      /* 0 | 1, default 0 */
    char created_at[48];     /* as sent */
    int64_t created_at_ms;
    char expires_at[48];     /* as sent, empty if absent */
    int64_t expires_at_ms;   /* effective expiry: expires_at, or created_at +
                                max_age_ms */
    int cancel;              /* action "cancel": a cancel request (section 3b);
                                0 for an order intent ("place", the default) */
    char target_intent_id[40]; /* a cancel request's target */
    char *meta_json;         /* compact JSON of meta, malloc'd; NULL if none */
    char content_hash[65];   /* SHA-256 hex of the canonical content: equal
                                for a redelivery, different for a reused
                                intent_id with other content */
} intent_t;

/* Decodes and validates len bytes.  max_age_ms is INTENT_MAX_AGE_MS (the
 * expiry of an intent without expires_at).  Always fills *v; fills *out as
 * far as it can.  Call intent_free() afterwards whatever the verdict. */
void intent_decode(const char *bytes, size_t len, intent_source_t source,
                   int64_t max_age_ms, intent_t *out, intent_verdict_t *v);

/* 1 if the message key (NULL: none) can be recorded: at most
 * INTENT_MAX_KEY_BYTES of UTF-8 text without NUL.  Otherwise 0, and *v is
 * set to INTENT_UNREADABLE with dlq_reason "bad_key" (the ledger's text
 * columns would refuse it, and a correct key is a bot_id or user_id). */
int intent_key_ok(const char *key, size_t len, intent_verdict_t *v);

/* 1 if the intent's effective expiry is at or before now_ms. */
int intent_is_expired(const intent_t *in, int64_t now_ms);

/* The broker's client_order_id for this intent: "ow-" + intent_id. */
void intent_client_order_id(const intent_t *in, char *buf, size_t buflen);

void intent_free(intent_t *in);

#endif
