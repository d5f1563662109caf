/* fuzz_intent.c -- libFuzzer target for worker/intent.c.
 *
 * Owns the hostile-input checks of the intent decoder and validator, the
 * first code every byte a bot publishes reaches: intent_decode on both
 * topics (bot with INTENT_MAX_AGE_MS' default, user with the largest max
 * age, which exercises the expiry's overflow guard), intent_client_order_id
 * and intent_free.  Why: a crash here is a poison message that stops a
 * partition, and a wrong verdict is an order the contract forbids, so
 * besides ASan/UBSan the target asserts (abort) what the pipeline relies on:
 *
 *   - every verdict is well formed: UNREADABLE has a dlq_reason and no
 *     errors, INVALID has 1..INTENT_MAX_ERRORS errors with NUL-terminated
 *     fields and messages, VALID has none;
 *   - a VALID intent obeys contract section 3: a UUID intent_id, bot_id
 *     exactly on the bot topic, user_id, symbol, side, type, exactly one of
 *     qty and notional (notional only for market, at most 2 places; qty at
 *     most 9), limit_price and stop_price exactly as the type needs, all
 *     positive; a time_in_force; created_at before the expiry; meta within
 *     INTENT_MAX_META_BYTES; a 64-hex content hash;
 *   - the content hash is what makes a redelivery idempotent: decoding the
 *     same bytes again gives the same hash, and so does the VALID intent
 *     re-encoded canonically (decimals as strings, defaults written out,
 *     other key order, meta as the worker stored it), which must decode as
 *     VALID to the same fields;
 *   - the client order id is "ow-" + intent_id, and is cut cleanly (never
 *     overrun) in a short buffer;
 *   - the same bytes as a message key: intent_key_ok accepts exactly what
 *     jansson (an independent UTF-8 reader) takes as a string without NUL
 *     within INTENT_MAX_KEY_BYTES.
 *
 * Input: the raw message, exactly as it would arrive from Kafka.  No state
 * between runs (jansson's hash seed is fixed, for repeatable runs). */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "intent.h"
#include "fuzz.h"

#define FUZZ_MAX_AGE_MS 60000

static void fuzz_check_verdict(const intent_verdict_t *v) {
    FUZZ_TERMINATED(v->detail);
    switch (v->status) {
    case INTENT_UNREADABLE:
        FUZZ_ASSERT(v->dlq_reason != NULL);
        FUZZ_ASSERT(v->n_errors == 0);
        break;
    case INTENT_INVALID:
        FUZZ_ASSERT(v->n_errors >= 1 && v->n_errors <= INTENT_MAX_ERRORS);
        break;
    case INTENT_VALID:
        FUZZ_ASSERT(v->n_errors == 0);
        break;
    default:
        FUZZ_ASSERT(!"unknown verdict status");
    }
    for (int i = 0; i < v->n_errors; i++) {
        FUZZ_TERMINATED(v->errors[i].field);
        FUZZ_TERMINATED(v->errors[i].message);
        FUZZ_ASSERT(v->errors[i].message[0] != '\0');
    }
}

static int fuzz_is_one_of(const char *s, const char *const *list) {
    for (; *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

static int fuzz_is_uuid(const char *s) {
    if (strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!strchr("0123456789abcdefABCDEF", s[i]) || s[i] == '\0') {
            return 0;
        }
    }
    return 1;
}

static void fuzz_check_positive(const decimal_t *d, int max_scale) {
    FUZZ_TERMINATED(d->text);
    FUZZ_ASSERT(!d->negative && !d->zero && d->text[0] != '\0');
    if (max_scale >= 0) FUZZ_ASSERT(d->scale <= max_scale);
}

/* Contract section 3 on a VALID intent. */
static void fuzz_check_valid(const intent_t *in, intent_source_t source) {
    static const char *const sides[] = {"buy", "sell", NULL};
    static const char *const types[] = {"market", "limit", "stop", "stop_limit", NULL};
    static const char *const tifs[] = {"day", "gtc", "opg", "cls", "ioc", "fok", NULL};

    FUZZ_ASSERT(fuzz_is_uuid(in->intent_id));
    FUZZ_ASSERT(source == INTENT_SOURCE_BOT ? in->bot_id[0] != '\0' : in->bot_id[0] == '\0');
    FUZZ_ASSERT(in->user_id[0] != '\0');
    FUZZ_ASSERT(in->symbol[0] != '\0' && strlen(in->symbol) <= 15);
    FUZZ_ASSERT(fuzz_is_one_of(in->side, sides));
    FUZZ_ASSERT(fuzz_is_one_of(in->type, types));
    FUZZ_ASSERT(fuzz_is_one_of(in->time_in_force, tifs));
    FUZZ_ASSERT(in->has_qty + in->has_notional == 1);
    if (in->has_qty) fuzz_check_positive(&in->qty, 9);
    if (in->has_notional) {
        FUZZ_ASSERT(!strcmp(in->type, "market"));
        fuzz_check_positive(&in->notional, 2);
    }
    int needs_limit = !strcmp(in->type, "limit") || !strcmp(in->type, "stop_limit");
    int needs_stop = !strcmp(in->type, "stop") || !strcmp(in->type, "stop_limit");
    FUZZ_ASSERT(in->has_limit_price == needs_limit);
    FUZZ_ASSERT(in->has_stop_price == needs_stop);
    if (in->has_limit_price) fuzz_check_positive(&in->limit_price, -1);
    if (in->has_stop_price) fuzz_check_positive(&in->stop_price, -1);
    FUZZ_ASSERT(in->extended_hours == 0 || in->extended_hours == 1);
    FUZZ_ASSERT(in->created_at[0] != '\0');
    if (in->meta_json) FUZZ_ASSERT(strlen(in->meta_json) <= INTENT_MAX_META_BYTES);
}

static void fuzz_check_hash(const intent_t *in) {
    FUZZ_ASSERT(strlen(in->content_hash) == 64);
    FUZZ_ASSERT(strspn(in->content_hash, "0123456789abcdef") == 64);
}

static void fuzz_set_decimal(json_t *o, const char *key, int has, const decimal_t *d) {
    if (has) json_object_set_new(o, key, json_string(d->text));
}

/* The VALID intent as a canonical producer would write it: other key order
 * (alphabetical), decimals as strings, defaults explicit, meta as stored. */
static char *fuzz_reencode(const intent_t *in) {
    json_t *o = json_object();
    if (in->bot_id[0]) json_object_set_new(o, "bot_id", json_string(in->bot_id));
    json_object_set_new(o, "created_at", json_string(in->created_at));
    if (in->expires_at[0]) json_object_set_new(o, "expires_at", json_string(in->expires_at));
    json_object_set_new(o, "extended_hours", json_boolean(in->extended_hours));
    json_object_set_new(o, "intent_id", json_string(in->intent_id));
    fuzz_set_decimal(o, "limit_price", in->has_limit_price, &in->limit_price);
    fuzz_set_decimal(o, "notional", in->has_notional, &in->notional);
    fuzz_set_decimal(o, "qty", in->has_qty, &in->qty);
    json_object_set_new(o, "side", json_string(in->side));
    fuzz_set_decimal(o, "stop_price", in->has_stop_price, &in->stop_price);
    json_object_set_new(o, "symbol", json_string(in->symbol));
    json_object_set_new(o, "time_in_force", json_string(in->time_in_force));
    json_object_set_new(o, "type", json_string(in->type));
    json_object_set_new(o, "user_id", json_string(in->user_id));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    FUZZ_ASSERT(text != NULL);
    if (!in->meta_json) return text;
    /* Splice meta's stored text in as it is: jansson would re-print it. */
    size_t tl = strlen(text), ml = strlen(in->meta_json);
    char *with_meta = malloc(tl + ml + 16);
    FUZZ_ASSERT(with_meta != NULL);
    memcpy(with_meta, text, tl - 1);
    snprintf(with_meta + tl - 1, ml + 16, ",\"meta\":%s}", in->meta_json);
    free(text);
    return with_meta;
}

static void fuzz_check_same_intent(const intent_t *a, const intent_t *b) {
    FUZZ_ASSERT(!strcmp(a->intent_id, b->intent_id));
    FUZZ_ASSERT(!strcmp(a->bot_id, b->bot_id));
    FUZZ_ASSERT(!strcmp(a->user_id, b->user_id));
    FUZZ_ASSERT(!strcmp(a->symbol, b->symbol));
    FUZZ_ASSERT(!strcmp(a->side, b->side));
    FUZZ_ASSERT(!strcmp(a->type, b->type));
    FUZZ_ASSERT(a->has_qty == b->has_qty && a->has_notional == b->has_notional);
    FUZZ_ASSERT(a->has_limit_price == b->has_limit_price);
    FUZZ_ASSERT(a->has_stop_price == b->has_stop_price);
    FUZZ_ASSERT(!a->has_qty || !strcmp(a->qty.text, b->qty.text));
    FUZZ_ASSERT(!a->has_notional || !strcmp(a->notional.text, b->notional.text));
    FUZZ_ASSERT(!a->has_limit_price || !strcmp(a->limit_price.text, b->limit_price.text));
    FUZZ_ASSERT(!a->has_stop_price || !strcmp(a->stop_price.text, b->stop_price.text));
    FUZZ_ASSERT(!strcmp(a->time_in_force, b->time_in_force));
    FUZZ_ASSERT(a->extended_hours == b->extended_hours);
    FUZZ_ASSERT(a->created_at_ms == b->created_at_ms && a->expires_at_ms == b->expires_at_ms);
    FUZZ_ASSERT((a->meta_json == NULL) == (b->meta_json == NULL));
    FUZZ_ASSERT(!a->meta_json || !strcmp(a->meta_json, b->meta_json));
    FUZZ_ASSERT(!strcmp(a->content_hash, b->content_hash));
}

static void fuzz_decode(const char *bytes, size_t len, intent_source_t source,
                        int64_t max_age_ms) {
    intent_t in, again;
    intent_verdict_t v, v2;

    intent_decode(bytes, len, source, max_age_ms, &in, &v);
    fuzz_check_verdict(&v);
    FUZZ_ASSERT(in.source == source);
    if (v.status == INTENT_UNREADABLE) {
        intent_free(&in);
        return;
    }
    FUZZ_ASSERT(fuzz_is_uuid(in.intent_id));
    fuzz_check_hash(&in);

    /* The same bytes again: the same verdict and hash (redelivery). */
    intent_decode(bytes, len, source, max_age_ms, &again, &v2);
    FUZZ_ASSERT(v2.status == v.status && v2.n_errors == v.n_errors);
    FUZZ_ASSERT(!strcmp(in.content_hash, again.content_hash));
    intent_free(&again);

    /* The client order id, whole and cut short. */
    char cid[64], small[8];
    intent_client_order_id(&in, cid, sizeof(cid));
    FUZZ_ASSERT(!strncmp(cid, "ow-", 3) && !strcmp(cid + 3, in.intent_id));
    intent_client_order_id(&in, small, sizeof(small));
    FUZZ_ASSERT(strlen(small) == sizeof(small) - 1 && !strncmp(small, cid, sizeof(small) - 1));

    if (v.status == INTENT_VALID) {
        fuzz_check_valid(&in, source);
        if (!in.expires_at[0]) {
            FUZZ_ASSERT(in.expires_at_ms >= in.created_at_ms);
            FUZZ_ASSERT(intent_is_expired(&in, in.created_at_ms) == (max_age_ms <= 0));
        }
        char *canon = fuzz_reencode(&in);
        intent_decode(canon, strlen(canon), source, max_age_ms, &again, &v2);
        if (v2.status != INTENT_VALID)
            fprintf(stderr, "fuzz_intent: re-encoded intent is not valid: %s\n%s\n",
                    v2.n_errors ? v2.errors[0].message : v2.detail, canon);
        FUZZ_ASSERT(v2.status == INTENT_VALID);
        fuzz_check_same_intent(&in, &again);
        intent_free(&again);
        free(canon);
    }
    intent_free(&in);
    FUZZ_ASSERT(in.meta_json == NULL);
    intent_free(&in); /* twice is harmless */
}

/* The same bytes as a Kafka message key: accepted only if the ledger can
 * hold it as text (no NUL, at most INTENT_MAX_KEY_BYTES, and jansson, an
 * independent UTF-8 reader, takes it as a string); refused as bad_key. */
static void fuzz_key(const char *bytes, size_t size) {
    intent_verdict_t v;
    memset(&v, 0, sizeof(v));
    int ok = intent_key_ok(size ? bytes : NULL, size, &v);
    if (!ok) {
        FUZZ_ASSERT(v.status == INTENT_UNREADABLE && !strcmp(v.dlq_reason, "bad_key"));
        FUZZ_TERMINATED(v.detail);
        /* Refused for its text: jansson must refuse it too. */
        if (size <= INTENT_MAX_KEY_BYTES && !memchr(bytes, '\0', size)) {
            json_t *s = json_stringn(bytes, size);
            FUZZ_ASSERT(s == NULL);
        }
        return;
    }
    FUZZ_ASSERT(v.status == INTENT_VALID && size <= INTENT_MAX_KEY_BYTES);
    FUZZ_ASSERT(memchr(bytes, '\0', size) == NULL);
    json_t *s = json_stringn(bytes, size);
    FUZZ_ASSERT(s != NULL);
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *bytes = (const char *)data;
    fuzz_decode(bytes, size, INTENT_SOURCE_BOT, FUZZ_MAX_AGE_MS);
    fuzz_decode(bytes, size, INTENT_SOURCE_USER, INT64_MAX);
    fuzz_key(bytes, size);
    return 0;
}
