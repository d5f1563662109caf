/* test_auth.c -- signed intents against a real PostgreSQL (DATABASE_URL).
 *
 * Writes bots, keys and bindings into the ledger the way `intentctl bot`
 * does, starts auth.c's view on it (re-read every 50 ms), and checks each
 * answer of auth_verify / auth_permit: a good signature, a forged one, a
 * wrong key, a malformed header, a missing one (required and optional), a
 * revoked key, a rotated key inside and after its grace, an unknown bot, a
 * bot trading for a user it is not bound to or under another bot's name,
 * and the user topic's signer bound to every user. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "check.h"
#include "config.h"
#include "intent.h"
#include "timefmt.h"

static PGconn *db;
static char bot[40], other[40], backend[40];

static void sql(const char *text, const char *a, const char *b) {
    const char *p[] = {a, b};
    int n = b ? 2 : a ? 1 : 0;
    PGresult *r = PQexecParams(db, text, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        printf("setup failed: %s: %s", text, PQresultErrorMessage(r));
        exit(2);
    }
    PQclear(r);
}

static void hex_of(const unsigned char *k, char *out) {
    for (int i = 0; i < AUTH_KEY_BYTES; i++) sprintf(out + 2 * i, "%02x", k[i]);
}

static void add_key(const char *who, int no, const unsigned char *k) {
    char hex[2 * AUTH_KEY_BYTES + 1], sqltext[256];
    hex_of(k, hex);
    snprintf(sqltext, sizeof sqltext,
             "INSERT INTO bot_keys (bot_id, key_no, secret) VALUES ($1, %d, decode($2, 'hex'))", no);
    sql(sqltext, who, hex);
}

/* Waits past two refreshes of the view. */
static void settle(void) { usleep(200 * 1000); }

static auth_status_t verify(auth_t *a, const config_t *cfg, intent_source_t src, const char *key,
                            const char *bytes, const char *sig, const char **why) {
    auth_result_t r;
    auth_verify(a, cfg, src, key, key ? strlen(key) : 0, bytes, strlen(bytes), sig,
                sig ? strlen(sig) : 0, &r);
    if (why) *why = r.why ? r.why : "";
    return r.status;
}

/* verify, then decode and permit: the whole check the pipeline makes. */
static auth_status_t admit(auth_t *a, const config_t *cfg, intent_source_t src, const char *key,
                           const char *bytes, const unsigned char *k, const char **why) {
    char sig[AUTH_SIGNATURE_MAX];
    auth_sign(k, bytes, strlen(bytes), sig);
    auth_result_t r;
    auth_verify(a, cfg, src, key, strlen(key), bytes, strlen(bytes), sig, strlen(sig), &r);
    intent_t in;
    intent_verdict_t v;
    intent_decode(bytes, strlen(bytes), src, 60000, &in, &v);
    if (v.status != INTENT_VALID) printf("test intent invalid: %s\n", bytes);
    auth_permit(a, &in, &r);
    intent_free(&in);
    *why = r.why ? r.why : "";
    return r.status;
}

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

int main(void) {
    const char *url = getenv("DATABASE_URL");
    if (!url) {
        printf("DATABASE_URL is not set\n");
        return 2;
    }
    const char *admin = getenv("ADMIN_DATABASE_URL");
    db = PQconnectdb(admin && *admin ? admin : url);
    if (PQstatus(db) != CONNECTION_OK) {
        printf("cannot connect: %s", PQerrorMessage(db));
        return 2;
    }
    snprintf(bot, sizeof bot, "t-auth-%d", (int)getpid());
    snprintf(other, sizeof other, "t-other-%d", (int)getpid());
    snprintf(backend, sizeof backend, "t-backend-%d", (int)getpid());
    unsigned char k1[AUTH_KEY_BYTES], k2[AUTH_KEY_BYTES], kb[AUTH_KEY_BYTES], ko[AUTH_KEY_BYTES];
    for (int i = 0; i < AUTH_KEY_BYTES; i++) {
        k1[i] = (unsigned char)(i * 7 + 1);
        k2[i] = (unsigned char)(i * 11 + 3);
        kb[i] = (unsigned char)(i * 13 + 5);
        ko[i] = (unsigned char)(i * 17 + 9);
    }
    sql("INSERT INTO bots (bot_id) VALUES ($1)", bot, NULL);
    sql("INSERT INTO bots (bot_id) VALUES ($1)", other, NULL);
    sql("INSERT INTO bots (bot_id) VALUES ($1)", backend, NULL);
    add_key(bot, 1, k1);
    add_key(other, 1, ko);
    add_key(backend, 1, kb);
    sql("INSERT INTO bot_users (bot_id, user_id) VALUES ($1, 'u-bound')", bot, NULL);
    sql("INSERT INTO bot_users (bot_id, user_id) VALUES ($1, 'u-bound')", other, NULL);
    sql("INSERT INTO bot_users (bot_id, user_id) VALUES ($1, '*')", backend, NULL);

    config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.database_url, sizeof cfg.database_url, "%s", url);
    snprintf(cfg.user_topic_signer, sizeof cfg.user_topic_signer, "%s", backend);
    cfg.signing_required = 1;
    cfg.signing_refresh_ms = 50;
    char err[512];
    auth_t *a = auth_start(&cfg, err, sizeof err);
    if (!a) {
        printf("auth_start: %s\n", err);
        return 2;
    }

    char msg[512], sig[AUTH_SIGNATURE_MAX];
    const char *why;

    /* The wire form, against a vector made by OpenSSL's command line (the
     * Python library checks the same one). */
    unsigned char vkey[AUTH_KEY_BYTES];
    for (int i = 0; i < AUTH_KEY_BYTES; i++) vkey[i] = (unsigned char)i;
    auth_sign(vkey, "hello intent", 12, sig);
    CHECK(!strcmp(sig, "v1=f6f92ede57c79d4f4317c232ef7867fe3b7d7592a638c55e140728cbd58c488c"));
    intent_json(msg, sizeof msg, bot, "u-bound");

    /* A good signature, and the checks after decoding. */
    CHECK(admit(a, &cfg, INTENT_SOURCE_BOT, bot, msg, k1, &why) == AUTH_SIGNED);
    char unbound[512];
    intent_json(unbound, sizeof unbound, bot, "u-stranger");
    CHECK(admit(a, &cfg, INTENT_SOURCE_BOT, bot, unbound, k1, &why) == AUTH_DENIED &&
          !strcmp(why, "user_not_bound"));
    /* Signed by bot under its own key, but the intent claims the other bot. */
    char claims_other[512];
    intent_json(claims_other, sizeof claims_other, other, "u-bound");
    CHECK(admit(a, &cfg, INTENT_SOURCE_BOT, bot, claims_other, k1, &why) == AUTH_DENIED &&
          !strcmp(why, "bot_mismatch"));

    /* Forged, wrong key, malformed, tampered bytes. */
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, bot, msg,
                 "v1=00000000000000000000000000000000000000000000000000000000000000ff", &why) ==
              AUTH_DENIED && !strcmp(why, "bad_signature"));
    auth_sign(ko, msg, strlen(msg), sig);
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, bot, msg, sig, &why) == AUTH_DENIED &&
          !strcmp(why, "bad_signature"));
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, bot, msg, "v1=abc", &why) == AUTH_DENIED &&
          !strcmp(why, "bad_signature_format"));
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, bot, msg,
                 "v2=0000000000000000000000000000000000000000000000000000000000000000", &why) ==
              AUTH_DENIED && !strcmp(why, "bad_signature_format"));
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, bot, msg,
                 "v1=zz00000000000000000000000000000000000000000000000000000000000000", &why) ==
              AUTH_DENIED && !strcmp(why, "bad_signature_format"));
    auth_sign(k1, msg, strlen(msg), sig);
    char tampered[512];
    snprintf(tampered, sizeof tampered, "%s", msg);
    *strstr(tampered, "\"1\"") = ' ';  /* one byte changed after signing */
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, bot, tampered, sig, &why) == AUTH_DENIED &&
          !strcmp(why, "bad_signature"));
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, bot, msg, sig, &why) == AUTH_SIGNED);

    /* Missing: refused when required, let through unchecked when optional;
     * a signed one is checked in both modes. */
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, bot, msg, NULL, &why) == AUTH_DENIED &&
          !strcmp(why, "no_signature"));
    cfg.signing_required = 0;
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, bot, msg, NULL, &why) == AUTH_UNSIGNED);
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, bot, msg,
                 "v1=00000000000000000000000000000000000000000000000000000000000000ff", &why) ==
              AUTH_DENIED);
    cfg.signing_required = 1;

    /* No key for the message key's bot; no message key at all. */
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, "t-nobody", msg, sig, &why) == AUTH_DENIED &&
          !strcmp(why, "no_usable_key"));
    CHECK(verify(a, &cfg, INTENT_SOURCE_BOT, NULL, msg, sig, &why) == AUTH_DENIED &&
          !strcmp(why, "no_usable_key"));

    /* The user topic: the backend's key, bound to every user. */
    char user_msg[512];
    intent_json(user_msg, sizeof user_msg, NULL, "u-anyone");
    CHECK(admit(a, &cfg, INTENT_SOURCE_USER, "u-anyone", user_msg, kb, &why) == AUTH_SIGNED);
    CHECK(admit(a, &cfg, INTENT_SOURCE_USER, "u-anyone", user_msg, k1, &why) == AUTH_DENIED &&
          !strcmp(why, "bad_signature"));

    /* Rotation: key 2 added, key 1 in a grace of 400 ms. */
    add_key(bot, 2, k2);
    sql("UPDATE bot_keys SET valid_until = now() + interval '400 milliseconds'"
        " WHERE bot_id = $1 AND key_no = 1", bot, NULL);
    settle();
    CHECK(admit(a, &cfg, INTENT_SOURCE_BOT, bot, msg, k2, &why) == AUTH_SIGNED);
    CHECK(admit(a, &cfg, INTENT_SOURCE_BOT, bot, msg, k1, &why) == AUTH_SIGNED);
    usleep(450 * 1000);
    CHECK(admit(a, &cfg, INTENT_SOURCE_BOT, bot, msg, k1, &why) == AUTH_DENIED &&
          !strcmp(why, "bad_signature"));
    CHECK(admit(a, &cfg, INTENT_SOURCE_BOT, bot, msg, k2, &why) == AUTH_SIGNED);

    /* Revocation of every key; a binding removed. */
    sql("UPDATE bot_keys SET revoked_at = now() WHERE bot_id = $1", bot, NULL);
    sql("DELETE FROM bot_users WHERE bot_id = $1", other, NULL);
    settle();
    CHECK(admit(a, &cfg, INTENT_SOURCE_BOT, bot, msg, k2, &why) == AUTH_DENIED &&
          !strcmp(why, "no_usable_key"));
    CHECK(admit(a, &cfg, INTENT_SOURCE_BOT, other, claims_other, ko, &why) == AUTH_DENIED &&
          !strcmp(why, "user_not_bound"));

    auth_stop(a);
    sql("DELETE FROM bots WHERE bot_id IN ($1, $2)", bot, other);
    sql("DELETE FROM bots WHERE bot_id = $1", backend, NULL);
    PQfinish(db);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
