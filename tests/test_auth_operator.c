/* test_auth_operator.c -- the operators' side of who may sign (auth.c:
 * auth_bot_add, _rotate, _revoke, _bind, _unbind, _list) against the test
 * stack's PostgreSQL: changes with ADMIN_DATABASE_URL (else DATABASE_URL),
 * as intentctl makes them, checked through a replica's own view
 * (auth_start, reading with DATABASE_URL every 50 ms): a key handed out by
 * add or rotate is one the replicas accept, a revoked or expired one is
 * not, a binding lets a bot trade for a user.  And every change leaves its
 * row in bot_changes (who, what), a refused one none.
 *
 * Bot ids carry the pid and the time, so reruns never meet. */
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

static PGconn *db;
static auth_t *view;
static config_t *cfg;
static char tag[48];

static void id_of(char *out, size_t n, const char *what) { snprintf(out, n, "t-%s-%s", what, tag); }

static int hex_nibble(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The key's bytes from its 64 lowercase hex digits; -1 if they are not. */
static int key_bytes(const auth_new_key_t *k, unsigned char out[AUTH_KEY_BYTES]) {
    if (strlen(k->hex) != 2 * AUTH_KEY_BYTES)
        return -1;
    for (int i = 0; i < AUTH_KEY_BYTES; i++) {
        int hi = hex_nibble(k->hex[2 * i]), lo = hex_nibble(k->hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* What a replica says of an intent of bot for user signed with key: "" for
 * signed and permitted, else the reason it is refused. */
static const char *admit(const char *bot, const char *user, const auth_new_key_t *key) {
    unsigned char k[AUTH_KEY_BYTES];
    if (key_bytes(key, k) < 0)
        return "not a key";
    char now[40], msg[512], sig[AUTH_SIGNATURE_MAX];
    timefmt_format_rfc3339(timefmt_now_ms(), now, sizeof now);
    snprintf(msg, sizeof msg,
             "{\"intent_id\":\"0b4e28ba-2fa1-41d2-883f-0016d3cca427\",\"bot_id\":\"%s\","
             "\"user_id\":\"%s\",\"symbol\":\"AAPL\",\"side\":\"buy\",\"type\":\"market\","
             "\"qty\":\"1\",\"created_at\":\"%s\"}", bot, user, now);
    auth_sign(k, msg, strlen(msg), sig);
    auth_result_t r;
    auth_verify(view, cfg, INTENT_SOURCE_BOT, bot, strlen(bot), msg, strlen(msg), sig,
                strlen(sig), &r);
    intent_t in;
    intent_verdict_t v;
    intent_decode(msg, strlen(msg), INTENT_SOURCE_BOT, 60000, &in, &v);
    auth_permit(view, &in, &r);
    intent_free(&in);
    return r.status == AUTH_SIGNED ? "" : r.why ? r.why : "?";
}

/* admit() until it answers want, for up to 2 s (the view re-reads every
 * 50 ms); the last answer. */
static const char *admit_eventually(const char *bot, const char *user, const auth_new_key_t *key,
                                    const char *want) {
    const char *got = "";
    for (int i = 0; i < 40; i++) {
        got = admit(bot, user, key);
        if (!strcmp(got, want))
            break;
        usleep(50 * 1000);
    }
    return got;
}

/* bot's row of auth_bot_list: its keys and users ("?" if not listed). */
static void listed(const char *bot, char *keys, size_t kn, char *users, size_t un) {
    snprintf(keys, kn, "?");
    snprintf(users, un, "?");
    auth_bot_rows_t rows;
    pgadmin_err_t e;
    if (!EXPECT_MSG(auth_bot_list(db, &rows, &e) == 0, "auth_bot_list: %s", e.msg))
        return;
    for (size_t i = 0; i < rows.n; i++)
        if (!strcmp(rows.rows[i].bot_id, bot)) {
            snprintf(keys, kn, "%s", rows.rows[i].keys);
            snprintf(users, un, "%s", rows.rows[i].users);
        }
    auth_bot_rows_free(&rows);
}

/* bot's rows of bot_changes are want[0..n) (action, detail), each by
 * tester@host. */
static void expect_audit(const char *bot, const char *const want[][2], int n) {
    const char *p[] = {bot};
    PGresult *r = PQexecParams(db,
                               "SELECT action, coalesce(detail, ''), coalesce(changed_by, '')"
                               " FROM bot_changes WHERE bot_id = $1 ORDER BY change_id",
                               1, NULL, p, NULL, NULL, 0);
    if (!EXPECT_MSG(PQresultStatus(r) == PGRES_TUPLES_OK, "read bot_changes: %s",
                    PQerrorMessage(db))) {
        PQclear(r);
        return;
    }
    EXPECT_INT(PQntuples(r), n);
    for (int i = 0; i < n && i < PQntuples(r); i++) {
        EXPECT_STR(PQgetvalue(r, i, 0), want[i][0]);
        EXPECT_STR(PQgetvalue(r, i, 1), want[i][1]);
        EXPECT_STR(PQgetvalue(r, i, 2), "tester@host");
    }
    PQclear(r);
}

static void test_add_hands_out_a_usable_key(void) {
    char bot[64], keys[256], users[256];
    id_of(bot, sizeof bot, "add");
    const char *const u[] = {"t-alice", "t-bob"};
    auth_new_key_t key;
    pgadmin_err_t e;
    if (auth_bot_add(db, bot, u, 2, "tester@host", &key, &e) != AUTH_BOT_DONE)
        UNIT_ABORT("auth_bot_add: %s", e.msg);
    EXPECT_INT(key.key_no, 1);
    unsigned char raw[AUTH_KEY_BYTES];
    EXPECT_MSG(key_bytes(&key, raw) == 0, "key '%s' is 64 lowercase hex digits", key.hex);
    EXPECT_STR(admit_eventually(bot, "t-alice", &key, ""), "");
    EXPECT_STR(admit(bot, "t-bob", &key), "");
    EXPECT_STR(admit(bot, "t-carol", &key), "user_not_bound");
    listed(bot, keys, sizeof keys, users, sizeof users);
    EXPECT_STR(keys, "1 active");
    EXPECT_STR(users, "t-alice,t-bob");

    auth_new_key_t again;
    EXPECT_INT(auth_bot_add(db, bot, u, 1, "tester@host", &again, &e), AUTH_BOT_EXISTS);
    EXPECT_MSG(again.hex[0] == '\0', "a refused add's key is wiped");
    /* one audit row: the refused add left none */
    static const char *const audit[][2] = {{"add", "key 1; users t-alice,t-bob"}};
    expect_audit(bot, audit, 1);
}

static void test_rotate_then_revoke(void) {
    char bot[64], keys[256], users[256];
    id_of(bot, sizeof bot, "rotate");
    const char *const u[] = {"t-alice"};
    auth_new_key_t k1, k2, k3;
    pgadmin_err_t e;
    if (auth_bot_add(db, bot, u, 1, "tester@host", &k1, &e) != AUTH_BOT_DONE)
        UNIT_ABORT("auth_bot_add: %s", e.msg);
    /* a grace: both keys are good */
    if (auth_bot_rotate(db, bot, 60000, "tester@host", &k2, &e) != AUTH_BOT_DONE)
        UNIT_ABORT("auth_bot_rotate: %s", e.msg);
    EXPECT_INT(k2.key_no, 2);
    EXPECT_MSG(strcmp(k1.hex, k2.hex) != 0, "a new key");
    EXPECT_STR(admit_eventually(bot, "t-alice", &k2, ""), "");
    EXPECT_STR(admit(bot, "t-alice", &k1), "");
    listed(bot, keys, sizeof keys, users, sizeof users);
    EXPECT_MSG(strncmp(keys, "1 grace-until-", 14) == 0 && strstr(keys, ",2 active"),
               "keys '%s'", keys);
    /* no grace: the earlier keys end now */
    if (auth_bot_rotate(db, bot, 0, "tester@host", &k3, &e) != AUTH_BOT_DONE)
        UNIT_ABORT("auth_bot_rotate: %s", e.msg);
    EXPECT_INT(k3.key_no, 3);
    EXPECT_STR(admit_eventually(bot, "t-alice", &k2, "bad_signature"), "bad_signature");
    EXPECT_STR(admit(bot, "t-alice", &k3), "");
    listed(bot, keys, sizeof keys, users, sizeof users);
    EXPECT_STR(keys, "1 expired,2 expired,3 active");

    EXPECT_INT(auth_bot_revoke(db, bot, 3, "tester@host", &e), AUTH_BOT_DONE);
    EXPECT_STR(admit_eventually(bot, "t-alice", &k3, "no_usable_key"), "no_usable_key");
    EXPECT_INT(auth_bot_revoke(db, bot, 3, "tester@host", &e), AUTH_BOT_NO_KEY);
    EXPECT_INT(auth_bot_revoke(db, bot, 0, "tester@host", &e), AUTH_BOT_DONE);
    EXPECT_INT(auth_bot_revoke(db, bot, 0, "tester@host", &e), AUTH_BOT_NO_KEY);
    listed(bot, keys, sizeof keys, users, sizeof users);
    EXPECT_STR(keys, "1 revoked,2 revoked,3 revoked");
    /* each change with its audit row (the refused revokes left none) */
    static const char *const audit[][2] = {
        {"add", "key 1; users t-alice"},
        {"rotate", "new key; grace of the old ones 60000 ms"},
        {"rotate", "new key; grace of the old ones 0 ms"},
        {"revoke", "key 3"},
        {"revoke", "every key"}};
    expect_audit(bot, audit, 5);
}

static void test_bind_and_unbind(void) {
    char bot[64], keys[256], users[256];
    id_of(bot, sizeof bot, "bind");
    auth_new_key_t key;
    pgadmin_err_t e;
    if (auth_bot_add(db, bot, NULL, 0, "tester@host", &key, &e) != AUTH_BOT_DONE)
        UNIT_ABORT("auth_bot_add: %s", e.msg);
    EXPECT_STR(admit_eventually(bot, "t-dave", &key, "user_not_bound"), "user_not_bound");
    const char *const two[] = {"t-dave", "t-erin"}, *const one[] = {"t-dave"};
    EXPECT_INT(auth_bot_bind(db, bot, two, 2, "tester@host", &e), AUTH_BOT_DONE);
    EXPECT_INT(auth_bot_bind(db, bot, one, 1, "tester@host", &e), AUTH_BOT_DONE); /* again: fine */
    EXPECT_STR(admit_eventually(bot, "t-dave", &key, ""), "");
    listed(bot, keys, sizeof keys, users, sizeof users);
    EXPECT_STR(users, "t-dave,t-erin");
    EXPECT_INT(auth_bot_unbind(db, bot, one, 1, "tester@host", &e), AUTH_BOT_DONE);
    EXPECT_STR(admit_eventually(bot, "t-dave", &key, "user_not_bound"), "user_not_bound");
    EXPECT_STR(admit(bot, "t-erin", &key), "");
    const char *const all[] = {"*"};
    EXPECT_INT(auth_bot_bind(db, bot, all, 1, "tester@host", &e), AUTH_BOT_DONE);
    EXPECT_STR(admit_eventually(bot, "t-anyone", &key, ""), "");
    static const char *const audit[][2] = {{"add", "key 1; users none"},
                                           {"bind", "t-dave,t-erin"},
                                           {"bind", "t-dave"},
                                           {"unbind", "t-dave"},
                                           {"bind", "*"}};
    expect_audit(bot, audit, 5);
}

static void test_unknown_bot(void) {
    char bot[64];
    id_of(bot, sizeof bot, "nobody");
    const char *const u[] = {"t-alice"};
    auth_new_key_t key;
    pgadmin_err_t e;
    EXPECT_INT(auth_bot_rotate(db, bot, 0, "tester@host", &key, &e), AUTH_BOT_UNKNOWN);
    EXPECT_INT(auth_bot_bind(db, bot, u, 1, "tester@host", &e), AUTH_BOT_UNKNOWN);
    EXPECT_INT(auth_bot_revoke(db, bot, 0, "tester@host", &e), AUTH_BOT_NO_KEY);
    expect_audit(bot, NULL, 0); /* nothing happened: no audit row */
}

static const unit_test_t TESTS[] = {
    {"add_hands_out_a_usable_key", test_add_hands_out_a_usable_key},
    {"rotate_then_revoke", test_rotate_then_revoke},
    {"bind_and_unbind", test_bind_and_unbind},
    {"unknown_bot", test_unknown_bot},
    {NULL, NULL}};

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0)
        return unit_main(TESTS, argc, argv);
    db = stack_ledger();
    cfg = calloc(1, sizeof *cfg);
    char err[512] = "out of memory";
    if (db && cfg) {
        snprintf(cfg->database_url, sizeof cfg->database_url, "%s", getenv("DATABASE_URL"));
        snprintf(cfg->user_topic_signer, sizeof cfg->user_topic_signer, "t-backend");
        cfg->signing_required = 1;
        cfg->signing_refresh_ms = 50;
        view = auth_start(cfg, err, sizeof err);
    }
    int rc = 1;
    if (db && !view)
        printf("FAIL: auth_start: %s\n", err);
    if (view) {
        stack_tag(tag, sizeof tag);
        rc = unit_main(TESTS, argc, argv);
    }
    auth_stop(view);
    free(cfg);
    PQfinish(db);
    return rc;
}
