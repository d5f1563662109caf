/* test_intent_values.c -- tests for worker/intent.c (contract section 3):
 * what a decoded intent holds, and the limits.
 *
 * The values intent_decode reads (exact decimals, every field of a full
 * intent, defaults, expiry, meta kept as sent, client_order_id), what an
 * invalid intent still carries, the error messages the contract names,
 * and the size limits: meta, the whole message, errors[], nesting, message
 * keys.  The verdict table, the content hash and threads are in
 * test_intent.c; the JSON pieces in intent_fixture.h.  Runs on tests/unit.h
 * (`test_intent_values --list` names the tests). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h"
#include "intent_fixture.h"
#include "unit.h"

typedef struct value_case {
    const char *json_tail; /* appended to MKT */
    const char *qty, *notional;
} value_case_t;

static const value_case_t value_cases[] = {
    {",'qty':1e2}", "100", NULL},
    {",'qty':1.50}", "1.5", NULL},
    {",'qty':0.1e1}", "1", NULL},
    {",'qty':'0010.500'}", "10.5", NULL},
    {",'qty':1E-9}", "0.000000001", NULL},
    {",'qty':123456789012345678901234567890}", "123456789012345678901234567890", NULL},
    {",'qty':0.30000000000000004e9}", "300000000.00000004", NULL},
    {",'notional':'100.10'}", NULL, "100.1"},
    {",'notional':2.5e1}", NULL, "25"},
};

/* qty and notional come out as exact canonical decimals. */
static void test_decimal_values(void) {
    for (size_t i = 0; i < sizeof(value_cases) / sizeof(value_cases[0]); i++) {
        const value_case_t *c = &value_cases[i];
        char json[1024];
        intent_t in;
        intent_verdict_t v;
        snprintf(json, sizeof(json), "{" MKT "%s", c->json_tail);
        decode_text(json, INTENT_SOURCE_BOT, &in, &v);
        EXPECT_MSG(v.status == INTENT_VALID && in.has_qty == (c->qty != NULL) &&
                       in.has_notional == (c->notional != NULL) &&
                       (!c->qty || !strcmp(in.qty.text, c->qty)) &&
                       (!c->notional || !strcmp(in.notional.text, c->notional)),
                   "value %s (expected valid, qty %s, notional %s; got status %d, qty %s,"
                   " notional %s)",
                   c->json_tail, c->qty ? c->qty : "-", c->notional ? c->notional : "-",
                   (int)v.status, in.has_qty ? in.qty.text : "-",
                   in.has_notional ? in.notional.text : "-");
        intent_free(&in);
    }
}

/* All fields of a full intent. */
static void test_full_intent(void) {
    intent_t in;
    intent_verdict_t v;
    char coid[64];
    decode_text("{" BASE ",'type':'stop_limit','qty':'1.5','limit_price':'187.250',"
                "'stop_price':187.1,'time_in_force':'gtc','extended_hours':true,"
                "'expires_at':'2026-11-23T13:22:25.500+00:00',"
                "'meta':{ 'strategy' : 'x y', 'confidence':0.70, 'l':[1, 2] }}",
                INTENT_SOURCE_BOT, &in, &v);
    EXPECT_INT(v.status, INTENT_VALID);
    EXPECT_STR(in.bot_id, "bot-1");
    EXPECT_STR(in.user_id, "user_1");
    EXPECT_STR(in.symbol, "AAPL");
    EXPECT_STR(in.side, "buy");
    EXPECT_STR(in.type, "stop_limit");
    EXPECT_INT(in.has_limit_price, 1);
    EXPECT_INT(in.has_stop_price, 1);
    EXPECT_STR(in.limit_price.text, "187.25");
    EXPECT_STR(in.stop_price.text, "187.1");
    EXPECT_INT(in.has_notional, 0);
    EXPECT_STR(in.time_in_force, "gtc");
    EXPECT_INT(in.extended_hours, 1);
    EXPECT_STR(in.created_at, "2026-11-23T13:21:25Z");
    EXPECT_INT(in.created_at_ms, 1795440085000LL);
    EXPECT_STR(in.expires_at, "2026-11-23T13:22:25.500+00:00");
    EXPECT_INT(in.expires_at_ms, 1795440145500LL);
    /* meta kept as sent, compact */
    EXPECT_STR(in.meta_json, "{\"strategy\":\"x y\",\"confidence\":0.70,\"l\":[1,2]}");
    intent_client_order_id(&in, coid, sizeof(coid));
    EXPECT_STR(coid, "ow-0b9f5c8e-1d2a-4c3b-9e8f-7a6b5c4d3e2f");
    EXPECT_INT(strlen(coid), 39);
    /* expired at expiry, not before */
    EXPECT_INT(intent_is_expired(&in, 1795440145500LL), 1);
    EXPECT_INT(intent_is_expired(&in, 1795440145499LL), 0);
    intent_free(&in);
    EXPECT_MSG(in.meta_json == NULL, "intent_free clears meta");
}

/* Defaults, and expiry without expires_at: created_at + max_age. */
static void test_defaults_and_expiry(void) {
    intent_t in;
    intent_verdict_t v;
    decode_text("{" MKT ",'qty':'1'}", INTENT_SOURCE_BOT, &in, &v);
    EXPECT_INT(v.status, INTENT_VALID);
    EXPECT_STR(in.time_in_force, "day");
    EXPECT_INT(in.extended_hours, 0);
    EXPECT_MSG(in.meta_json == NULL, "no meta -> NULL (got %s)", in.meta_json);
    EXPECT_STR(in.expires_at, "");
    EXPECT_INT(in.expires_at_ms, 1795440085000LL + MAX_AGE);
    EXPECT_INT(intent_is_expired(&in, 1795440085000LL + MAX_AGE - 1), 0);
    EXPECT_INT(intent_is_expired(&in, 1795440085000LL + MAX_AGE), 1);
    intent_free(&in);
    /* max_age_ms is honoured */
    char *json = dq("{" MKT ",'qty':'1'}");
    intent_decode(json, strlen(json), INTENT_SOURCE_BOT, 5000, &in, &v);
    EXPECT_INT(in.expires_at_ms, 1795440090000LL);
    intent_free(&in);
    /* ...and a huge one saturates */
    intent_decode(json, strlen(json), INTENT_SOURCE_BOT, INT64_MAX, &in, &v);
    EXPECT_INT(in.expires_at_ms, INT64_MAX);
    intent_free(&in);
    free(json);
    /* created_at before 1970 (negative ms) expires max_age after it; it
     * overflowed and never expired (found by tests/fuzz/fuzz_intent). */
    decode_text("{" WHO ",'symbol':'AAPL','side':'buy','type':'market','qty':'1',"
                "'created_at':'1969-12-31T23:59:59Z'}", INTENT_SOURCE_BOT, &in, &v);
    EXPECT_INT(v.status, INTENT_VALID);
    EXPECT_INT(in.created_at_ms, -1000);
    EXPECT_INT(in.expires_at_ms, -1000 + MAX_AGE);
    EXPECT_INT(intent_is_expired(&in, 1795440085000LL), 1);
    intent_free(&in);
}

/* An invalid intent still carries what could be read. */
static void test_invalid_keeps_fields(void) {
    intent_t in;
    intent_verdict_t v;
    decode_text("{" MKT ",'qty':'-1','meta':{'s':1}}", INTENT_SOURCE_BOT, &in, &v);
    EXPECT_INT(v.status, INTENT_INVALID);
    EXPECT_STR(in.bot_id, "bot-1");
    EXPECT_STR(in.user_id, "user_1");
    EXPECT_STR(in.symbol, "AAPL");
    EXPECT_STR(in.side, "buy");
    EXPECT_STR(in.meta_json, "{\"s\":1}");
    EXPECT_INT(strlen(in.content_hash), 64);
    intent_free(&in);
}

/* v has exactly one error: on field (NULL: any), its message containing
 * phrase (NULL: any); one check per part. */
static void expect_one_error(const intent_verdict_t *v, const char *field, const char *phrase) {
    if (!EXPECT_INT(v->n_errors, 1)) return;
    if (field) EXPECT_STR(v->errors[0].field, field);
    if (phrase)
        EXPECT_MSG(strstr(v->errors[0].message, phrase) != NULL,
                   "error message contains \"%s\" (got \"%s\")", phrase, v->errors[0].message);
}

/* Error messages that the contract names. */
static void test_error_messages(void) {
    intent_t in;
    intent_verdict_t v;
    decode_text("{" WHO ",'symbol':'aapl','side':'buy','type':'market','qty':'1',"
                "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, &in, &v);
    expect_one_error(&v, NULL, "must be upper case");
    EXPECT_STR(in.symbol, "");                   /* a bad symbol is not kept */
    intent_free(&in);
    decode_text("{" MKT ",'qty':'1','side':5}", INTENT_SOURCE_BOT, &in, &v);
    EXPECT_INT(v.status, INTENT_UNREADABLE);     /* a duplicate side */
    EXPECT_STR(v.dlq_reason, "not_json");
    intent_free(&in);
    decode_text("{" WHO ",'symbol':'AAPL','side':5,'type':'market','qty':'1',"
                "'created_at':'2026-11-23T13:21:25Z'}", INTENT_SOURCE_BOT, &in, &v);
    expect_one_error(&v, "side", "must be a string");
    intent_free(&in);
    decode_text("{" MKT ",'qty':'1','extended_hours':'yes'}", INTENT_SOURCE_BOT, &in, &v);
    expect_one_error(&v, NULL, "must be a boolean");
    intent_free(&in);
    /* an unknown field's name is cut to the 31 bytes errors[].field holds... */
    decode_text("{" MKT ",'qty':'1','this_is_a_very_long_unknown_field_name_indeed':1}",
                INTENT_SOURCE_BOT, &in, &v);
    expect_one_error(&v, "this_is_a_very_long_unknown_fie", NULL);
    intent_free(&in);
    /* ...on a UTF-8 boundary (15 two-byte characters, not 15 and a half) */
    decode_text("{" MKT ",'qty':'1','\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                "\xc3\xa9\xc3\xa9':1}", INTENT_SOURCE_BOT, &in, &v);
    if (EXPECT_INT(v.n_errors, 1)) EXPECT_INT(strlen(v.errors[0].field), 30);
    intent_free(&in);
}

/* ---- size limits ------------------------------------------------------------ */

/* The start of an intent whose meta is {"pad":"...; META_KEY is how far
 * back from its end "meta": ends. */
#define META_HEAD "{" MKT ",'qty':'1','meta':{'pad':'"
#define META_KEY 8

/* Decodes a message of exactly its own size (ASan sees any read past it):
 * META_HEAD with double quotes, less its last `cut` bytes, then n bytes of
 * fill, then tail.  Returns the message's length. */
static size_t decode_padded(size_t cut, char fill, size_t n, const char *tail, intent_t *in,
                            intent_verdict_t *v) {
    char *head = dq(META_HEAD);
    size_t hl = strlen(head) - cut, tl = strlen(tail);
    char *buf = malloc(hl + n + tl);
    if (buf == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memcpy(buf, head, hl);
    memset(buf + hl, fill, n);
    memcpy(buf + hl + n, tail, tl);
    intent_decode(buf, hl + n + tl, INTENT_SOURCE_BOT, MAX_AGE, in, v);
    free(buf);
    free(head);
    return hl + n + tl;
}

static void test_meta_size(void) {
    intent_t in;
    intent_verdict_t v;
    char fields[512];

    /* meta of exactly 8192 bytes when compact ({"pad":"..."} = 10 + pad). */
    decode_padded(0, 'x', INTENT_MAX_META_BYTES - 10, "\"}}", &in, &v);
    EXPECT_INT(v.status, INTENT_VALID);
    if (EXPECT_MSG(in.meta_json != NULL, "meta of 8192 bytes is kept"))
        EXPECT_INT(strlen(in.meta_json), INTENT_MAX_META_BYTES);
    intent_free(&in);

    /* one byte more */
    decode_padded(0, 'x', INTENT_MAX_META_BYTES - 9, "\"}}", &in, &v);
    EXPECT_INT(v.status, INTENT_INVALID);
    EXPECT_MSG(same_fields(&v, "meta"), "meta of 8193 bytes: an error on meta only (got \"%s\")",
               verdict_fields(&v, fields, sizeof(fields)));
    EXPECT_MSG(in.meta_json == NULL, "meta of 8193 bytes is not kept");
    intent_free(&in);

    /* meta under the limit only because of whitespace outside strings */
    decode_padded(META_KEY, ' ', 20000, "{\"pad\":\"xx\"}}", &in, &v);
    EXPECT_INT(v.status, INTENT_VALID);
    EXPECT_STR(in.meta_json, "{\"pad\":\"xx\"}");
    intent_free(&in);
}

/* A message of exactly 64 KiB is read; one byte more is too large. */
static void test_message_size(void) {
    intent_t in;
    intent_verdict_t v;
    char fields[512];
    size_t pad = INTENT_MAX_BYTES - strlen(META_HEAD) - 6;

    EXPECT_INT(decode_padded(0, ' ', pad, "x\"}}  ", &in, &v), INTENT_MAX_BYTES);
    EXPECT_INT(v.status, INTENT_INVALID);
    EXPECT_MSG(same_fields(&v, "meta"), "64 KiB message: an error on meta only (got \"%s\")",
               verdict_fields(&v, fields, sizeof(fields)));
    intent_free(&in);
    decode_padded(0, ' ', pad, "x\"}}   ", &in, &v);
    EXPECT_INT(v.status, INTENT_UNREADABLE);
    EXPECT_STR(v.dlq_reason, "too_large");
    intent_free(&in);
}

/* More unknown fields than errors[] holds: capped, still invalid. */
static void test_errors_capped(void) {
    intent_t in;
    intent_verdict_t v;
    char buf[4096];
    char *p = buf;
    p += sprintf(p, "%s", "{\"intent_id\":\"0b9f5c8e-1d2a-4c3b-9e8f-7a6b5c4d3e2f\"");
    for (int i = 0; i < 100; i++) p += sprintf(p, ",\"u%d\":%d", i, i);
    p += sprintf(p, "}");
    intent_decode(buf, (size_t)(p - buf), INTENT_SOURCE_BOT, MAX_AGE, &in, &v);
    EXPECT_INT(v.status, INTENT_INVALID);
    EXPECT_INT(v.n_errors, INTENT_MAX_ERRORS);
    intent_free(&in);
}

/* meta nested beyond jansson's limit is not JSON. */
static void test_nesting_limit(void) {
    intent_t in;
    intent_verdict_t v;
    char close[3002];
    memset(close, ']', 3000);
    close[3000] = '}';
    close[3001] = '\0';
    decode_padded(META_KEY, '[', 3000, close, &in, &v);
    EXPECT_INT(v.status, INTENT_UNREADABLE);
    EXPECT_STR(v.dlq_reason, "not_json");
    intent_free(&in);
}

/* Message keys the ledger can record, and those it cannot. */
static const struct {
    const char *what, *key;
    size_t len;
    int ok;
} key_cases[] = {
    {"no key", NULL, 0, 1},
    {"a bot_id", "bot-1", 5, 1},
    {"UTF-8 text", "b\xc3\xa9", 3, 1},
    {"4-byte UTF-8", "\xf0\x9f\x98\x80", 4, 1},
    {"invalid byte", "b\xff", 2, 0},
    {"truncated sequence", "b\xc3", 2, 0},
    {"overlong slash", "\xc0\xaf", 2, 0},
    {"surrogate", "\xed\xa0\x80", 3, 0},
    {"beyond U+10FFFF", "\xf4\x90\x80\x80", 4, 0},
    {"NUL byte", "b\0c", 3, 0},
};

static void test_message_keys(void) {
    intent_verdict_t v;
    for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
        memset(&v, 0, sizeof(v));
        int ok = intent_key_ok(key_cases[i].key, key_cases[i].len, &v);
        EXPECT_MSG(ok == key_cases[i].ok &&
                       (ok ? v.status == INTENT_VALID
                           : v.status == INTENT_UNREADABLE && !strcmp(v.dlq_reason, "bad_key")),
                   "key: %s (expected ok %d, got ok %d status %d dlq %s)", key_cases[i].what,
                   key_cases[i].ok, ok, (int)v.status, v.dlq_reason ? v.dlq_reason : "-");
    }
    char long_key[INTENT_MAX_KEY_BYTES + 2];
    memset(long_key, 'k', sizeof(long_key));
    EXPECT_INT(intent_key_ok(long_key, INTENT_MAX_KEY_BYTES, &v), 1);
    EXPECT_INT(intent_key_ok(long_key, INTENT_MAX_KEY_BYTES + 1, &v), 0);
    EXPECT_STR(v.dlq_reason, "bad_key");
    EXPECT_MSG(strstr(v.detail, "257 bytes") != NULL, "detail says 257 bytes (got \"%s\")",
               v.detail);
}

/* A cancel request's values: its target, no order fields, no defaults. */
static void test_cancel_request(void) {
    intent_t in;
    intent_verdict_t v;
    decode_text("{" CXL ",'meta':{'why':'x'}}", INTENT_SOURCE_BOT, &in, &v);
    EXPECT_INT(v.status, INTENT_VALID);
    EXPECT_INT(in.cancel, 1);
    EXPECT_STR(in.target_intent_id, "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f");
    EXPECT_STR(in.bot_id, "bot-1");
    EXPECT_STR(in.symbol, "");
    EXPECT_STR(in.time_in_force, "");
    EXPECT_STR(in.meta_json, "{\"why\":\"x\"}");
    EXPECT_INT(in.expires_at_ms, 1795440085000LL + MAX_AGE);
    intent_free(&in);
    decode_text("{" MKT ",'qty':'1','action':'place'}", INTENT_SOURCE_BOT, &in, &v);
    EXPECT_INT(v.status, INTENT_VALID);
    EXPECT_INT(in.cancel, 0);
    EXPECT_STR(in.target_intent_id, "");
    intent_free(&in);
    decode_text("{" CXL ",'qty':'1'}", INTENT_SOURCE_BOT, &in, &v);
    EXPECT_INT(v.status, INTENT_INVALID);
    EXPECT_STR(v.errors[0].field, "qty");
    EXPECT_STR(v.errors[0].message, "is not allowed in a cancel request");
    intent_free(&in);
}

static const unit_test_t TESTS[] = {
    {"cancel_request", test_cancel_request},
    {"decimal_values", test_decimal_values},
    {"full_intent", test_full_intent},
    {"defaults_and_expiry", test_defaults_and_expiry},
    {"invalid_keeps_fields", test_invalid_keeps_fields},
    {"error_messages", test_error_messages},
    {"meta_size", test_meta_size},
    {"message_size", test_message_size},
    {"errors_capped", test_errors_capped},
    {"nesting_limit", test_nesting_limit},
    {"message_keys", test_message_keys},
    {NULL, NULL},
};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
