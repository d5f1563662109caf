/* intent.c -- decoding and validating an order intent (contract section 3).
 *
 * Owns the single answer to "is this message an intent, and a valid one?"
 * for both order-worker and intentctl.  The work is done in three steps:
 *
 * 1. A small scanner (jsonscan.c) walks the top-level object of the raw
 *    bytes and records, for every member, the byte span of its key and of
 *    its value.  Numbers at the top level are then blanked ("187.25" ->
 *    "0     ") in a private copy of the message before jansson parses it,
 *    so jansson never turns a quantity into a double (nor fails on one too
 *    big for a double): the decimal is read exactly from the recorded
 *    lexeme instead.  Nested values (inside meta) are left alone.
 * 2. jansson parses the copy (duplicate keys and bad UTF-8 are refused), and
 *    every rule of section 3 is checked, each broken field giving one error.
 * 3. A SHA-256 of a canonical form of the content is computed, so that a
 *    redelivery is recognised whatever its whitespace or key order.
 *
 * jansson keeps object members in insertion order, which is document order;
 * with duplicates refused, member i of the scanner is member i of jansson's
 * object.  That is how a jansson key finds its raw lexeme.
 *
 * No global state; every call owns its memory, so any number of threads can
 * decode at once.  Allocation failure aborts, as in the rest of the worker. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "decimal.h"
#include "intent.h"
#include "jsonscan.h"
#include "timefmt.h"

#define INTENT_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)

/* ---------------------------------------------------------------------------
 * Verdict helpers
 * ------------------------------------------------------------------------ */

static void set_unreadable(intent_verdict_t *v, const char *reason,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_unreadable(intent_verdict_t *v, const char *reason,
                           const char *fmt, ...) {
    va_list ap;
    v->status = INTENT_UNREADABLE;
    v->dlq_reason = reason;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
    va_end(ap);
}

/* Copies at most dstsize-1 bytes of src, never cutting a UTF-8 sequence. */
static void copy_truncated(char *dst, size_t dstsize, const char *src) {
    size_t n = strlen(src);
    if (n >= dstsize) {
        n = dstsize - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void add_error(intent_verdict_t *v, const char *field, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));

static void add_error(intent_verdict_t *v, const char *field, const char *fmt,
                      ...) {
    intent_error_t *e;
    va_list ap;

    if (v->n_errors >= INTENT_MAX_ERRORS) return;
    e = &v->errors[v->n_errors++];
    copy_truncated(e->field, sizeof(e->field), field);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

static const char *json_type_name(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

/* ---------------------------------------------------------------------------
 * Field rules
 * ------------------------------------------------------------------------ */

/* The fields of section 3, in the order their errors are listed. */
enum {
    F_INTENT_ID, F_BOT_ID, F_USER_ID, F_SYMBOL, F_SIDE, F_TYPE, F_QTY,
    F_NOTIONAL, F_LIMIT_PRICE, F_STOP_PRICE, F_TIME_IN_FORCE,
    F_EXTENDED_HOURS, F_CREATED_AT, F_EXPIRES_AT, F_META, F_ACTION,
    F_TARGET_INTENT_ID, F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "intent_id", "bot_id", "user_id", "symbol", "side", "type", "qty",
    "notional", "limit_price", "stop_price", "time_in_force",
    "extended_hours", "created_at", "expires_at", "meta", "action",
    "target_intent_id"};

static int field_index(const char *key) {
    for (int f = 0; f < F_COUNT; f++)
        if (strcmp(key, field_names[f]) == 0) return f;
    return -1;
}

/* What one decode call knows about the message's top-level members. */
typedef struct fields {
    json_t *val[F_COUNT];          /* borrowed from root; NULL if absent */
    const jsonscan_member_t *mem[F_COUNT];  /* raw spans; NULL if absent */
    int decimal_ok[F_COUNT];       /* qty..stop_price parsed */
} fields_t;

static int is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

static int is_uuid(const char *s, size_t len) {
    if (len != 36) return 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* [A-Za-z0-9._-]{1,64} */
static int is_id(const char *s, size_t len) {
    if (len < 1 || len > 64) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Reads a string field; 1 and the value if it is a string, else an error. */
static int get_string(intent_verdict_t *v, const char *name, json_t *j,
                      const char **s, size_t *len) {
    if (!json_is_string(j)) {
        add_error(v, name, "must be a string, not %s", json_type_name(j));
        return 0;
    }
    *s = json_string_value(j);
    *len = json_string_length(j);
    return 1;
}

static void check_id(intent_verdict_t *v, const char *name, json_t *j,
                     char *dst, size_t dstsize) {
    const char *s;
    size_t len;

    if (!j) {
        add_error(v, name, "is required");
        return;
    }
    if (!get_string(v, name, j, &s, &len)) return;
    if (!is_id(s, len)) {
        add_error(v, name, "must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
        return;
    }
    if (len < dstsize) memcpy(dst, s, len + 1);
}

static void check_symbol(intent_verdict_t *v, json_t *j, intent_t *out) {
    const char *s;
    size_t len;
    int lower = 0;

    if (!j) {
        add_error(v, "symbol", "is required");
        return;
    }
    if (!get_string(v, "symbol", j, &s, &len)) return;
    if (len < 1 || len > 15) {
        add_error(v, "symbol", "must be 1 to 15 characters long");
        return;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') {
            lower = 1;
        } else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '/')) {
            add_error(v, "symbol", "may only contain A-Z 0-9 . /");
            return;
        }
    }
    if (lower) {
        add_error(v, "symbol", "must be upper case");
        return;
    }
    memcpy(out->symbol, s, len + 1);
}

/* A required or optional string that must be one of a NULL-ended list. */
static void check_enum(intent_verdict_t *v, const char *name, json_t *j,
                       int required, const char *const *allowed,
                       const char *allowed_text, char *dst, size_t dstsize) {
    const char *s;
    size_t len;

    if (!j) {
        if (required) add_error(v, name, "is required");
        return;
    }
    if (!get_string(v, name, j, &s, &len)) return;
    for (size_t k = 0; allowed[k]; k++) {
        if (len == strlen(allowed[k]) && memcmp(s, allowed[k], len) == 0) {
            if (len < dstsize) memcpy(dst, s, len + 1);
            return;
        }
    }
    add_error(v, name, "must be one of %s", allowed_text);
}

/* Reads a decimal field (JSON string or number) exactly; checks that it is
 * positive and has at most max_scale fraction digits.  1 if it is fine. */
static int check_decimal(intent_verdict_t *v, const char *raw,
                         const fields_t *fs, int f, int max_scale,
                         decimal_t *out) {
    const char *name = field_names[f];
    json_t *j = fs->val[f];
    const jsonscan_member_t *m = fs->mem[f];
    decimal_status_t st;
    int is_string = json_is_string(j);

    if (is_string) {
        st = decimal_parse(json_string_value(j), json_string_length(j), 0, out);
    } else if (json_is_number(j) && m && m->kind == 'n') {
        st = decimal_parse(raw + m->val_off, m->val_len, 1, out);
    } else {
        add_error(v, name, "must be a decimal (a string like \"0.5\" or a "
                  "number), not %s", json_type_name(j));
        return 0;
    }
    if (st == DECIMAL_SYNTAX) {
        add_error(v, name, "must be a decimal like \"10\" or \"0.5\" (digits and an "
                  "optional fraction; no exponent, '+' or spaces)");
        return 0;
    }
    if (st == DECIMAL_RANGE) {
        add_error(v, name, "has too many digits");
        return 0;
    }
    if (out->negative || out->zero) {
        add_error(v, name, "must be positive");
        return 0;
    }
    if (max_scale >= 0 && out->scale > max_scale) {
        add_error(v, name, "must have at most %d decimal places", max_scale);
        return 0;
    }
    return 1;
}

/* created_at / expires_at: a string, RFC 3339, short enough to keep. */
static int check_time(intent_verdict_t *v, const char *name, json_t *j,
                      char *dst, size_t dstsize, int64_t *ms) {
    const char *s;
    size_t len;

    if (!get_string(v, name, j, &s, &len)) return 0;
    if (len >= dstsize) {
        add_error(v, name, "must be at most %zu characters", dstsize - 1);
        return 0;
    }
    if (timefmt_parse_rfc3339(s, len, ms) < 0) {
        add_error(v, name, "must be an RFC 3339 date-time like "
                  "\"2026-11-23T13:21:25Z\" (with a valid date, time and "
                  "offset)");
        return 0;
    }
    memcpy(dst, s, len + 1);
    return 1;
}

static void check_meta(intent_verdict_t *v, const char *raw,
                       const fields_t *fs, intent_t *out) {
    json_t *j = fs->val[F_META];
    const jsonscan_member_t *m = fs->mem[F_META];
    size_t n;
    char *text;

    if (!json_is_object(j)) {
        add_error(v, "meta", "must be an object, not %s", json_type_name(j));
        return;
    }
    text = jsonscan_compact(raw + m->val_off, m->val_len, &n);
    if (n > INTENT_MAX_META_BYTES) {
        add_error(v, "meta", "is %zu bytes when compact, over the limit of %d",
                  n, INTENT_MAX_META_BYTES);
        free(text);
        return;
    }
    out->meta_json = text;
}

/* ---------------------------------------------------------------------------
 * Content hash
 * ------------------------------------------------------------------------ */

/* The canonical content is the JSON text, compact with sorted keys (nested
 * ones too), of {"source": "bot"|"user", "intent": {...}} where "intent" is
 * every top-level member as sent except that: decimals that parsed are
 * replaced by their canonical text (so "10", 10, 1e1 and "10.0" are equal),
 * other top-level numbers by ["#number", lexeme], and an absent
 * time_in_force / extended_hours by its default.  This is computed the same
 * way for VALID and INVALID intents, so it includes unknown fields too. */
static void content_hash(const char *raw, json_t *root, const jsonscan_t *sc,
                         const fields_t *fs, intent_t *out) {
    json_t *canon = json_object(), *body = json_object();
    const char *key;
    json_t *val;
    size_t i = 0;
    char *text;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    json_object_foreach(root, key, val) {
        const jsonscan_member_t *m = &sc->m[i++];
        int f = field_index(key);
        json_t *c;

        /* "place" is the default: stated or not, the same intent (and the
         * same hash as before actions existed). */
        if (f == F_ACTION && json_is_string(val) && !strcmp(json_string_value(val), "place"))
            continue;
        if (f >= F_QTY && f <= F_STOP_PRICE && fs->decimal_ok[f]) {
            const decimal_t *d = f == F_QTY ? &out->qty
                               : f == F_NOTIONAL ? &out->notional
                               : f == F_LIMIT_PRICE ? &out->limit_price
                               : &out->stop_price;
            c = json_string(d->text);
        } else if (m->kind == 'n') {
            c = json_pack("[ss%]", "#number", raw + m->val_off, m->val_len);
        } else {
            c = json_incref(val);
        }
        json_object_set_new(body, key, c);
    }
    if (!fs->val[F_TIME_IN_FORCE] && !out->cancel)
        json_object_set_new(body, "time_in_force", json_string("day"));
    if (!fs->val[F_EXTENDED_HOURS] && !out->cancel)
        json_object_set_new(body, "extended_hours", json_false());
    json_object_set_new(canon, "source", json_string(
        out->source == INTENT_SOURCE_USER ? "user" : "bot"));
    json_object_set_new(canon, "intent", body);

    text = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(canon);
    if (!text) {
        fprintf(stderr, "intent: out of memory\n");
        abort();
    }
    EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL);
    free(text);
    for (unsigned int k = 0; k < mdlen && k < 32; k++)
        snprintf(out->content_hash + 2 * k, 3, "%02x", md[k]);
}

/* ---------------------------------------------------------------------------
 * Decoding
 * ------------------------------------------------------------------------ */

/* action: "place" (the default) or "cancel" (section 3b). */
static void check_action(intent_verdict_t *v, json_t *j, intent_t *out) {
    static const char *const actions[] = {"place", "cancel", NULL};
    char action[8] = "";
    if (!j) return;
    check_enum(v, "action", j, 0, actions, "place, cancel", action, sizeof(action));
    out->cancel = !strcmp(action, "cancel");
}

/* A cancel request: its target, and none of an order's fields. */
static void validate_cancel(intent_verdict_t *v, fields_t *fs, intent_t *out) {
    json_t *t = fs->val[F_TARGET_INTENT_ID];
    if (!t)
        add_error(v, "target_intent_id", "is required in a cancel request");
    else if (!json_is_string(t))
        add_error(v, "target_intent_id", "must be a string, not %s", json_type_name(t));
    else if (!is_uuid(json_string_value(t), json_string_length(t)))
        add_error(v, "target_intent_id", "must be a UUID (8-4-4-4-12 hexadecimal digits)");
    else if (!strcmp(json_string_value(t), out->intent_id))
        add_error(v, "target_intent_id", "must name another intent, not the cancel request");
    else
        memcpy(out->target_intent_id, json_string_value(t), 37);
    for (int f = F_SYMBOL; f <= F_EXTENDED_HOURS; f++)
        if (fs->val[f]) add_error(v, field_names[f], "is not allowed in a cancel request");
}

/* An order intent's own fields (section 3). */
static void validate_order(const char *raw, intent_verdict_t *v, fields_t *fs,
                           intent_t *out) {
    static const char *const sides[] = {"buy", "sell", NULL};
    static const char *const types[] = {"market", "limit", "stop",
                                        "stop_limit", NULL};
    static const char *const tifs[] = {"day", "gtc", "opg", "cls", "ioc",
                                       "fok", NULL};
    int has_type, needs_limit = 0, needs_stop = 0;

    if (fs->val[F_TARGET_INTENT_ID])
        add_error(v, "target_intent_id", "is only allowed with action cancel");
    check_symbol(v, fs->val[F_SYMBOL], out);
    check_enum(v, "side", fs->val[F_SIDE], 1, sides, "buy, sell", out->side,
               sizeof(out->side));
    check_enum(v, "type", fs->val[F_TYPE], 1, types,
               "market, limit, stop, stop_limit", out->type,
               sizeof(out->type));
    has_type = out->type[0] != '\0';
    if (has_type) {
        needs_limit = !strcmp(out->type, "limit") ||
                      !strcmp(out->type, "stop_limit");
        needs_stop = !strcmp(out->type, "stop") ||
                     !strcmp(out->type, "stop_limit");
    }

    /* Exactly one of qty and notional. */
    if (fs->val[F_QTY]) {
        fs->decimal_ok[F_QTY] = check_decimal(v, raw, fs, F_QTY, 9, &out->qty);
        out->has_qty = fs->decimal_ok[F_QTY];
    }
    if (fs->val[F_NOTIONAL]) {
        if (fs->val[F_QTY]) {
            add_error(v, "notional", "must not be given together with qty: "
                      "give exactly one of them");
        } else if (has_type && strcmp(out->type, "market") != 0) {
            add_error(v, "notional", "is only allowed with type market");
        } else {
            fs->decimal_ok[F_NOTIONAL] =
                check_decimal(v, raw, fs, F_NOTIONAL, 2, &out->notional);
            out->has_notional = fs->decimal_ok[F_NOTIONAL];
        }
    } else if (!fs->val[F_QTY]) {
        add_error(v, "qty", "is required: give exactly one of qty and "
                  "notional");
    }

    if (fs->val[F_LIMIT_PRICE]) {
        if (has_type && !needs_limit) {
            add_error(v, "limit_price", "is not allowed with type %s",
                      out->type);
        } else {
            fs->decimal_ok[F_LIMIT_PRICE] = check_decimal(
                v, raw, fs, F_LIMIT_PRICE, -1, &out->limit_price);
            out->has_limit_price = fs->decimal_ok[F_LIMIT_PRICE];
        }
    } else if (needs_limit) {
        add_error(v, "limit_price", "is required with type %s", out->type);
    }
    if (fs->val[F_STOP_PRICE]) {
        if (has_type && !needs_stop) {
            add_error(v, "stop_price", "is not allowed with type %s",
                      out->type);
        } else {
            fs->decimal_ok[F_STOP_PRICE] = check_decimal(
                v, raw, fs, F_STOP_PRICE, -1, &out->stop_price);
            out->has_stop_price = fs->decimal_ok[F_STOP_PRICE];
        }
    } else if (needs_stop) {
        add_error(v, "stop_price", "is required with type %s", out->type);
    }

    if (fs->val[F_TIME_IN_FORCE])
        check_enum(v, "time_in_force", fs->val[F_TIME_IN_FORCE], 0, tifs,
                   "day, gtc, opg, cls, ioc, fok", out->time_in_force,
                   sizeof(out->time_in_force));
    else
        strcpy(out->time_in_force, "day");

    if (fs->val[F_EXTENDED_HOURS]) {
        if (json_is_boolean(fs->val[F_EXTENDED_HOURS]))
            out->extended_hours = json_is_true(fs->val[F_EXTENDED_HOURS]);
        else
            add_error(v, "extended_hours", "must be a boolean, not %s",
                      json_type_name(fs->val[F_EXTENDED_HOURS]));
    }
}

static void validate(const char *raw, json_t *root, const jsonscan_t *sc,
                     int64_t max_age_ms, intent_t *out, intent_verdict_t *v,
                     fields_t *fs) {
    const char *key;
    json_t *val;
    int created_ok = 0;
    size_t i = 0;

    /* Known fields and their raw spans, in lockstep with the scanner. */
    json_object_foreach(root, key, val) {
        int f = field_index(key);
        if (f >= 0) {
            fs->val[f] = val;
            fs->mem[f] = &sc->m[i];
        }
        i++;
    }

    if (out->source == INTENT_SOURCE_BOT)
        check_id(v, "bot_id", fs->val[F_BOT_ID], out->bot_id,
                 sizeof(out->bot_id));
    else if (fs->val[F_BOT_ID])
        add_error(v, "bot_id", "must be absent on the user topic");
    check_id(v, "user_id", fs->val[F_USER_ID], out->user_id,
             sizeof(out->user_id));
    check_action(v, fs->val[F_ACTION], out);
    if (out->cancel)
        validate_cancel(v, fs, out);
    else
        validate_order(raw, v, fs, out);

    if (!fs->val[F_CREATED_AT])
        add_error(v, "created_at", "is required");
    else
        created_ok = check_time(v, "created_at", fs->val[F_CREATED_AT],
                                out->created_at, sizeof(out->created_at),
                                &out->created_at_ms);
    if (fs->val[F_EXPIRES_AT] &&
        check_time(v, "expires_at", fs->val[F_EXPIRES_AT], out->expires_at,
                   sizeof(out->expires_at), &out->expires_at_ms)) {
        /* expires_at_ms set by check_time */
    } else if (created_ok) {
        /* Saturating created_at + max_age; created_at may be before 1970
         * (negative), which INT64_MAX - created_at would overflow. */
        if (max_age_ms > 0 && out->created_at_ms > INT64_MAX - max_age_ms)
            out->expires_at_ms = INT64_MAX;
        else
            out->expires_at_ms = out->created_at_ms + max_age_ms;
    }

    if (fs->val[F_META]) check_meta(v, raw, fs, out);

    /* Unknown fields, one error each, after the known ones. */
    json_object_foreach(root, key, val) {
        if (field_index(key) < 0)
            add_error(v, key, "is not a known field (extras belong in meta)");
    }
}

/* Checks that scanner member i and jansson key agree (they always should;
 * this guards the lockstep walk).  Keys with escapes are not compared. */
static int lockstep_ok(const char *raw, json_t *root, const jsonscan_t *sc) {
    const char *key;
    json_t *val;
    size_t i = 0;

    if (json_object_size(root) != sc->n) return 0;
    json_object_foreach(root, key, val) {
        const jsonscan_member_t *m = &sc->m[i++];
        const char *k = raw + m->key_off + 1;
        size_t klen = m->key_len - 2;
        (void)val;
        if (memchr(k, '\\', klen)) continue;
        if (strlen(key) != klen || memcmp(key, k, klen) != 0) return 0;
    }
    return 1;
}

void intent_decode(const char *bytes, size_t len, intent_source_t source,
                   int64_t max_age_ms, intent_t *out, intent_verdict_t *v) {
    jsonscan_t sc = {NULL, 0, 0, NULL};
    fields_t fs;
    json_t *root = NULL, *id;
    json_error_t jerr;

    memset(out, 0, sizeof(*out));
    memset(v, 0, sizeof(*v));
    memset(&fs, 0, sizeof(fs));
    out->source = source;

    if (len > INTENT_MAX_BYTES) {
        set_unreadable(v, "too_large", "message is %zu bytes, over the limit "
                       "of %d", len, INTENT_MAX_BYTES);
        return;
    }
    /* JSON text never holds a raw NUL, but jansson 2.14 skips one that
     * follows a number ({"a":1\0}), and inside meta it would cut the
     * stored text short: refused before anything reads it. */
    const char *nul = len ? memchr(bytes, '\0', len) : NULL;
    if (nul) {
        set_unreadable(v, "not_json", "not valid JSON: a NUL byte at offset %zu",
                       (size_t)(nul - bytes));
        return;
    }
    if (jsonscan_object(bytes, len, &sc) == 0)
        root = json_loadb(sc.masked, len, INTENT_JSON_FLAGS, &jerr);
    else
        root = json_loadb(bytes, len, INTENT_JSON_FLAGS, &jerr);
    if (!root) {
        set_unreadable(v, "not_json", "not valid JSON: %s (line %d, column %d)",
                       jerr.text, jerr.line, jerr.column);
        goto done;
    }
    if (!json_is_object(root)) {
        set_unreadable(v, "not_object", "the message is %s, not a JSON object",
                       json_type_name(root));
        goto done;
    }
    if (!lockstep_ok(bytes, root, &sc)) {
        /* Cannot happen for input jansson accepts; refuse rather than guess. */
        set_unreadable(v, "not_json", "the object's members could not be "
                       "located in the raw text");
        goto done;
    }

    id = json_object_get(root, "intent_id");
    if (!id) {
        set_unreadable(v, "no_intent_id", "intent_id is missing");
        goto done;
    }
    if (!json_is_string(id)) {
        set_unreadable(v, "no_intent_id", "intent_id is %s, not a string",
                       json_type_name(id));
        goto done;
    }
    if (!is_uuid(json_string_value(id), json_string_length(id))) {
        set_unreadable(v, "no_intent_id", "intent_id is not a UUID "
                       "(8-4-4-4-12 hexadecimal digits)");
        goto done;
    }
    memcpy(out->intent_id, json_string_value(id), 37);

    validate(bytes, root, &sc, max_age_ms, out, v, &fs);
    content_hash(bytes, root, &sc, &fs, out);
    v->status = v->n_errors ? INTENT_INVALID : INTENT_VALID;

done:
    json_decref(root);
    jsonscan_free(&sc);
}

/* Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, at most
 * U+10FFFF), and no NUL: what a PostgreSQL text column takes. */
static int is_text(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len;
        unsigned int cp, min;
        if (c == 0) return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07, min = 0x10000;
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

int intent_key_ok(const char *key, size_t len, intent_verdict_t *v) {
    if (len <= INTENT_MAX_KEY_BYTES && (!key || is_text((const unsigned char *)key, len)))
        return 1;
    memset(v, 0, sizeof(*v));
    set_unreadable(v, "bad_key", len > INTENT_MAX_KEY_BYTES
                                     ? "the message key is %zu bytes, over the limit of %d"
                                     : "the message key (%zu bytes) is not UTF-8 text without NUL",
                   len, INTENT_MAX_KEY_BYTES);
    return 0;
}

int intent_is_expired(const intent_t *in, int64_t now_ms) {
    return in->expires_at_ms <= now_ms;
}

void intent_client_order_id(const intent_t *in, char *buf, size_t buflen) {
    snprintf(buf, buflen, "ow-%s", in->intent_id);
}

void intent_free(intent_t *in) {
    free(in->meta_json);
    in->meta_json = NULL;
}
