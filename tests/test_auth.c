/* test_auth.c -- signed intents against a real PostgreSQL (DATABASE_URL).
 *
 * Writes bots, keys and bindings into the ledger the way `intentctl bot`
 * does, starts auth.c's view on it (re-read every 50 ms), and checks each
 * answer of auth_verify / auth_permit: a good signature, a forged one, a
 * wrong key, a malformed header, a missing one (required and optional), a
 * revoked key, a rotated key inside and after its grace, an unknown bot, a
 * bot trading for a user it is not bound to or under another bot's name,
 * and the user topic's signer bound to every user.
 *
 * Runs on tests/unit.h (`test_auth --list` names the tests); main writes
 * the bots (ids carry the pid) and removes them at the end.  key_rotation
 * and revocation change the first bot's keys: they come last, revocation
 * after everything. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "intent.h"
#include "stack.h"
#include "timefmt.h"
#include "unit.h"

#define FORGED "v1=00000000000000000000000000000000000000000000000000000000000000ff"

static PGconn *db;
static auth_t *a;
static config_t *cfg;
static char bot[40], other[40], backend[40];
/* the bot's first and rotated keys, the backend's (user topic), the other bot's */
static unsigned char k1[AUTH_KEY_BYTES], k2[AUTH_KEY_BYTES], kb[AUTH_KEY_BYTES],
    ko[AUTH_KEY_BYTES];
static char msg[512];   /* an intent of bot for "u-bound" */

/* Runs a statement of up to two parameters; 0, or -1 after printing why. */
static int sql(const char *text, const char *p1, const char *p2) {
    const char *p[] = {p1, p2};
    int n = p2 ? 2 : p1 ? 1 : 0;
    PGresult *r = PQexecParams(db, text, n, NULL, p, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        printf("FAIL: %s: %s", text, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

static int add_key(const char *who, int no, const unsigned char *k) {
    char hex[2 * AUTH_KEY_BYTES + 1], sqltext[256];
    for (int i = 0; i < AUTH_KEY_BYTES; i++)
        sprintf(hex + 2 * i, "%02x", k[i]);
    snprintf(sqltext, sizeof sqltext,
             "INSERT INTO bot_keys (bot_id, key_no, secret) VALUES ($1, %d, decode($2, 'hex'))",
             no);
    return sql(sqltext, who, hex);
}

/* Waits past two refreshes of the view. */
static void settle(void) { usleep(200 * 1000); }

/* auth_verify's answer to bytes signed sig (NULL: none) under message key key. */
static auth_result_t verify(intent_source_t src, const char *key, const char *bytes,
                            const char *sig) {
    auth_result_t r;
    auth_verify(a, cfg, src, key, key ? strlen(key) : 0, bytes, strlen(bytes), sig,
                sig ? strlen(sig) : 0, &r);
    return r;
}

/* verify, then decode and permit: the whole check the pipeline makes, of
 * bytes signed with k. */
static auth_result_t admit(intent_source_t src, const char *key, const char *bytes,
                           const unsigned char *k) {
    char sig[AUTH_SIGNATURE_MAX];
    auth_sign(k, bytes, strlen(bytes), sig);
    auth_result_t r = verify(src, key, bytes, sig);
    intent_t in;
    intent_verdict_t v;
    intent_decode(bytes, strlen(bytes), src, 60000, &in, &v);
    EXPECT_MSG(v.status == INTENT_VALID, "test intent invalid: %s", bytes);
    auth_permit(a, &in, &r);
    intent_free(&in);
    return r;
}

static const char *status_name(auth_status_t s) {
    return s == AUTH_SIGNED ? "signed" : s == AUTH_UNSIGNED ? "unsigned" : "denied";
}

/* r is want, and when want_why is not NULL, denied for want_why. */
static int expect_answer(auth_result_t r, auth_status_t want, const char *want_why,
                         const char *what, const char *file, int line) {
    const char *why = r.why ? r.why : "";
    int ok = r.status == want && (!want_why || !strcmp(why, want_why));
    return unit_check(ok, file, line, "%s (expected %s%s%s, got %s%s%s)", what, status_name(want),
                      want_why ? " " : "", want_why ? want_why : "", status_name(r.status),
                      why[0] ? " " : "", why);
}
#define EXPECT_ANSWER(call, want, want_why) \
    expect_answer((call), (want), (want_why), #call, __FILE__, __LINE__)

static void intent_json(char *out, size_t n, const char *bot_id, const char *user) {
    char now[40];
    timefmt_format_rfc3339(timefmt_now_ms(), now, sizeof now);
    snprintf(out, n,
             "{\"intent_id\":\"0b6c8c1e-3d2a-4c8e-9a51-%012x\",%s%s%s\"user_id\":\"%s\","
             "\"symbol\":\"AAPL\",\"side\":\"buy\",\"type\":\"market\",\"qty\":\"1\","
             "\"created_at\":\"%s\"}",
             (unsigned)getpid(), bot_id ? "\"bot_id\":\"" : "", bot_id ? bot_id : "",
             bot_id ? "\"," : "", user, now);
}

/* The wire form, against a vector made by OpenSSL's command line (the
 * Python library checks the same one). */
static void test_wire_form(void) {
    unsigned char vkey[AUTH_KEY_BYTES];
    char sig[AUTH_SIGNATURE_MAX];
    for (int i = 0; i < AUTH_KEY_BYTES; i++)
        vkey[i] = (unsigned char)i;
    auth_sign(vkey, "hello intent", 12, sig);
    EXPECT_STR(sig, "v1=f6f92ede57c79d4f4317c232ef7867fe3b7d7592a638c55e140728cbd58c488c");
}

/* A good signature, and the checks after decoding. */
static void test_signed_and_bound(void) {
    char unbound[512], claims_other[512];
    EXPECT_ANSWER(admit(INTENT_SOURCE_BOT, bot, msg, k1), AUTH_SIGNED, NULL);
    intent_json(unbound, sizeof unbound, bot, "u-stranger");
    EXPECT_ANSWER(admit(INTENT_SOURCE_BOT, bot, unbound, k1), AUTH_DENIED, "user_not_bound");
    /* signed by bot under its own key, but the intent claims the other bot */
    intent_json(claims_other, sizeof claims_other, other, "u-bound");
    EXPECT_ANSWER(admit(INTENT_SOURCE_BOT, bot, claims_other, k1), AUTH_DENIED, "bot_mismatch");
}

/* Forged, wrong key, malformed, tampered bytes. */
static void test_forged_and_malformed(void) {
    char sig[AUTH_SIGNATURE_MAX], tampered[512];
    EXPECT_ANSWER(verify(INTENT_SOURCE_BOT, bot, msg, FORGED), AUTH_DENIED, "bad_signature");
    auth_sign(ko, msg, strlen(msg), sig);
    EXPECT_ANSWER(verify(INTENT_SOURCE_BOT, bot, msg, sig), AUTH_DENIED, "bad_signature");
    EXPECT_ANSWER(verify(INTENT_SOURCE_BOT, bot, msg, "v1=abc"), AUTH_DENIED,
                  "bad_signature_format");
    EXPECT_ANSWER(
        verify(INTENT_SOURCE_BOT, bot, msg,
               "v2=0000000000000000000000000000000000000000000000000000000000000000"),
        AUTH_DENIED, "bad_signature_format");
    EXPECT_ANSWER(
        verify(INTENT_SOURCE_BOT, bot, msg,
               "v1=zz00000000000000000000000000000000000000000000000000000000000000"),
        AUTH_DENIED, "bad_signature_format");
    auth_sign(k1, msg, strlen(msg), sig);
    snprintf(tampered, sizeof tampered, "%s", msg);
    *strstr(tampered, "\"1\"") = ' '; /* one byte changed after signing */
    EXPECT_ANSWER(verify(INTENT_SOURCE_BOT, bot, tampered, sig), AUTH_DENIED, "bad_signature");
    EXPECT_ANSWER(verify(INTENT_SOURCE_BOT, bot, msg, sig), AUTH_SIGNED, NULL);
}

/* Missing: refused when required, let through unchecked when optional; a
 * signed one is checked in both modes. */
static void test_missing_signature(void) {
    EXPECT_ANSWER(verify(INTENT_SOURCE_BOT, bot, msg, NULL), AUTH_DENIED, "no_signature");
    cfg->signing_required = 0;
    EXPECT_ANSWER(verify(INTENT_SOURCE_BOT, bot, msg, NULL), AUTH_UNSIGNED, NULL);
    EXPECT_ANSWER(verify(INTENT_SOURCE_BOT, bot, msg, FORGED), AUTH_DENIED, NULL);
    cfg->signing_required = 1;
}

/* No key for the message key's bot; no message key at all. */
static void test_no_usable_key(void) {
    char sig[AUTH_SIGNATURE_MAX];
    auth_sign(k1, msg, strlen(msg), sig);
    EXPECT_ANSWER(verify(INTENT_SOURCE_BOT, "t-nobody", msg, sig), AUTH_DENIED, "no_usable_key");
    EXPECT_ANSWER(verify(INTENT_SOURCE_BOT, NULL, msg, sig), AUTH_DENIED, "no_usable_key");
}

/* The user topic: the backend's key, bound to every user. */
static void test_user_topic_signer(void) {
    char user_msg[512];
    intent_json(user_msg, sizeof user_msg, NULL, "u-anyone");
    EXPECT_ANSWER(admit(INTENT_SOURCE_USER, "u-anyone", user_msg, kb), AUTH_SIGNED, NULL);
    EXPECT_ANSWER(admit(INTENT_SOURCE_USER, "u-anyone", user_msg, k1), AUTH_DENIED,
                  "bad_signature");
}

/* Rotation: key 2 added, key 1 in a grace of 400 ms. */
static void test_key_rotation(void) {
    if (add_key(bot, 2, k2) != 0 ||
        sql("UPDATE bot_keys SET valid_until = now() + interval '400 milliseconds'"
            " WHERE bot_id = $1 AND key_no = 1",
            bot, NULL) != 0)
        UNIT_ABORT("rotating the keys failed (above)");
    settle();
    EXPECT_ANSWER(admit(INTENT_SOURCE_BOT, bot, msg, k2), AUTH_SIGNED, NULL);
    EXPECT_ANSWER(admit(INTENT_SOURCE_BOT, bot, msg, k1), AUTH_SIGNED, NULL);
    usleep(450 * 1000);
    EXPECT_ANSWER(admit(INTENT_SOURCE_BOT, bot, msg, k1), AUTH_DENIED, "bad_signature");
    EXPECT_ANSWER(admit(INTENT_SOURCE_BOT, bot, msg, k2), AUTH_SIGNED, NULL);
}

/* Revocation of every key; a binding removed. */
static void test_revocation(void) {
    char claims_other[512];
    if (sql("UPDATE bot_keys SET revoked_at = now() WHERE bot_id = $1", bot, NULL) != 0 ||
        sql("DELETE FROM bot_users WHERE bot_id = $1", other, NULL) != 0)
        UNIT_ABORT("revoking failed (above)");
    settle();
    EXPECT_ANSWER(admit(INTENT_SOURCE_BOT, bot, msg, k2), AUTH_DENIED, "no_usable_key");
    intent_json(claims_other, sizeof claims_other, other, "u-bound");
    EXPECT_ANSWER(admit(INTENT_SOURCE_BOT, other, claims_other, ko), AUTH_DENIED,
                  "user_not_bound");
}

static const unit_test_t TESTS[] = {
    {"wire_form", test_wire_form},
    {"signed_and_bound", test_signed_and_bound},
    {"forged_and_malformed", test_forged_and_malformed},
    {"missing_signature", test_missing_signature},
    {"no_usable_key", test_no_usable_key},
    {"user_topic_signer", test_user_topic_signer},
    {"key_rotation", test_key_rotation},
    {"revocation", test_revocation},
    {NULL, NULL}};

/* Three bots with a key each: bot and other bound to u-bound, backend (the
 * user topic's signer) to every user.  0, or -1 after printing why. */
static int write_bots(void) {
    snprintf(bot, sizeof bot, "t-auth-%d", (int)getpid());
    snprintf(other, sizeof other, "t-other-%d", (int)getpid());
    snprintf(backend, sizeof backend, "t-backend-%d", (int)getpid());
    for (int i = 0; i < AUTH_KEY_BYTES; i++) {
        k1[i] = (unsigned char)(i * 7 + 1);
        k2[i] = (unsigned char)(i * 11 + 3);
        kb[i] = (unsigned char)(i * 13 + 5);
        ko[i] = (unsigned char)(i * 17 + 9);
    }
    if (sql("INSERT INTO bots (bot_id) VALUES ($1)", bot, NULL) != 0 ||
        sql("INSERT INTO bots (bot_id) VALUES ($1)", other, NULL) != 0 ||
        sql("INSERT INTO bots (bot_id) VALUES ($1)", backend, NULL) != 0 ||
        add_key(bot, 1, k1) != 0 || add_key(other, 1, ko) != 0 || add_key(backend, 1, kb) != 0)
        return -1;
    if (sql("INSERT INTO bot_users (bot_id, user_id) VALUES ($1, 'u-bound')", bot, NULL) != 0 ||
        sql("INSERT INTO bot_users (bot_id, user_id) VALUES ($1, 'u-bound')", other, NULL) != 0 ||
        sql("INSERT INTO bot_users (bot_id, user_id) VALUES ($1, '*')", backend, NULL) != 0)
        return -1;
    intent_json(msg, sizeof msg, bot, "u-bound");
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0)
        return unit_main(TESTS, argc, argv);
    db = stack_ledger();
    cfg = calloc(1, sizeof *cfg);
    if (!db || !cfg) {
        free(cfg);
        PQfinish(db);
        return 2;
    }
    int rc = 2;
    char err[512];
    if (write_bots() == 0) {
        snprintf(cfg->database_url, sizeof cfg->database_url, "%s", getenv("DATABASE_URL"));
        snprintf(cfg->user_topic_signer, sizeof cfg->user_topic_signer, "%s", backend);
        cfg->signing_required = 1;
        cfg->signing_refresh_ms = 50;
        a = auth_start(cfg, err, sizeof err);
        if (a)
            rc = unit_main(TESTS, argc, argv);
        else
            printf("FAIL: auth_start: %s\n", err);
    }
    auth_stop(a);
    sql("DELETE FROM bots WHERE bot_id IN ($1, $2)", bot, other);
    sql("DELETE FROM bots WHERE bot_id = $1", backend, NULL);
    PQfinish(db);
    free(cfg);
    return rc;
}
