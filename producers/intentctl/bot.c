/* bot.c -- `intentctl bot add|rotate|revoke|bind|unbind|list`: the bots
 * that may sign intents, their keys, and the users they may trade for.
 *
 * The tables, the making of a key (getrandom) and the transaction that
 * keeps each change with its audit row belong to worker/auth.c (auth_bot_*);
 * this file parses, names the operator, and shows a new key once: on stdout,
 * alone on stdout for --key-file - (to redirect it into a file, as from a
 * container), or only in the file of --key-file (created 0600, never over
 * an existing file).  Nothing else ever prints a key, and it is wiped from
 * memory once shown. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "common.h"
#include "intentctl.h"
#include "operator.h"

#define MAX_USERS 64

void bot_help(FILE *out) {
    fprintf(out,
"usage: intentctl bot add BOT [--user ID]... [--key-file F]\n"
"       intentctl bot rotate BOT [--grace-ms MS] [--key-file F]\n"
"       intentctl bot revoke BOT [--key N]\n"
"       intentctl bot bind|unbind BOT USER...\n"
"       intentctl bot list [--json]\n"
"\n"
"The bots that may sign intents, their keys and the users they may trade for.\n"
"A bot signs the exact bytes of each intent with HMAC-SHA256 under its key and\n"
"sends 'v1=<hex>' in the Kafka header x-signature (intentctl send\n"
"--sign-key-file does it).  Every replica re-reads keys and bindings every\n"
"SIGNING_REFRESH_MS (1000 ms by default).\n"
"\n"
"  add      register BOT with a new key (key 1) and bind it to each --user;\n"
"           USER '*' binds it to every user (the backend: USER_TOPIC_SIGNER)\n"
"  rotate   a new key; the bot's current keys stay valid for --grace-ms more\n"
"           (default 86400000, a day; 0 ends them now)\n"
"  revoke   every key of BOT now, or only key N (--key N); a revoked bot's\n"
"           intents are rejected unauthorized until it gets a key by rotate\n"
"  bind     let BOT trade for these users; unbind: no longer\n"
"  list     every bot, the state of each key, and its users\n"
"\n"
"  --key-file F          write the new key to F (mode 0600, must not exist); '-':\n"
"                        print only the key on stdout (redirect it to a file)\n"
"                        instead of stdout\n"
"  --json                list as JSON lines\n"
"  -h, --help            this text\n"
"\n"
"Needs ADMIN_DATABASE_URL (or DATABASE_URL).  Every change is recorded in\n"
"bot_changes with who made it.  Exit: 0 done; 1 refused; 2 usage.\n");
}

typedef struct bot_opts {
    const char *sub, *bot;
    const char *users[MAX_USERS];
    int n_users, json;
    const char *key_file;
    const char *grace;        /* --grace-ms as given */
    int64_t grace_ms;
    const char *key_no;       /* --key as given, or NULL: every key */
    int64_t key_num;
} bot_opts_t;

/* The options into o.  -1 to go on, else the exit code. */
static int bot_options(int argc, char **argv, bot_opts_t *o) {
    enum { O_USER = 5000, O_KEY_FILE, O_GRACE, O_KEY, O_JSON };
    static const struct option longopts[] = {
        {"user", required_argument, NULL, O_USER},
        {"key-file", required_argument, NULL, O_KEY_FILE},
        {"grace-ms", required_argument, NULL, O_GRACE},
        {"key", required_argument, NULL, O_KEY},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': bot_help(stdout); return EXIT_OK_;
        case O_USER:
            if (o->n_users == MAX_USERS)
                return usage_error("bot", "at most 64 --user at once");
            o->users[o->n_users++] = optarg;
            break;
        case O_KEY_FILE: o->key_file = optarg; break;
        case O_GRACE:
            if (parse_i64(optarg, &o->grace_ms) != 0 || o->grace_ms > 366LL * 86400000)
                return usage_error("bot", "--grace-ms wants milliseconds (at most a year), "
                                          "got '%s'", optarg);
            o->grace = optarg;
            break;
        case O_KEY:
            if (parse_i64(optarg, &o->key_num) != 0 || o->key_num < 1 || o->key_num > 1000000)
                return usage_error("bot", "--key wants a key number, got '%s'", optarg);
            o->key_no = optarg;
            break;
        case O_JSON: o->json = 1; break;
        default: return usage_hint("bot");
        }
    }
    return -1;
}

static int is_sub(const bot_opts_t *o, const char *name) { return strcmp(o->sub, name) == 0; }

/* The operands (what, BOT, USER...) and what they allow.  -1 to go on,
 * else the exit code. */
static int bot_operands(int argc, char **argv, bot_opts_t *o) {
    o->sub = optind < argc ? argv[optind++] : NULL;
    if (!o->sub)
        return usage_error("bot", "say what: add, rotate, revoke, bind, unbind or list");
    static const char *const subs[] = {"add", "rotate", "revoke", "bind", "unbind", "list", NULL};
    int known = 0;
    for (int i = 0; subs[i]; i++)
        known |= is_sub(o, subs[i]);
    if (!known)
        return usage_error("bot", "no such bot command '%s' (add, rotate, revoke, bind, unbind, "
                                  "list)", o->sub);
    int binding = is_sub(o, "bind") || is_sub(o, "unbind");
    if (!is_sub(o, "list")) {
        o->bot = optind < argc ? argv[optind++] : NULL;
        if (!o->bot || !valid_subject_id(o->bot))
            return usage_error("bot", "'%s' is not a bot id (1 to 64 characters of A-Z a-z 0-9 "
                                      ". _ -)", o->bot ? o->bot : "");
    }
    if (binding)
        while (optind < argc && o->n_users < MAX_USERS)
            o->users[o->n_users++] = argv[optind++];
    if (optind < argc)
        return usage_error("bot", "unexpected argument '%s'", argv[optind]);
    if (binding && o->n_users == 0)
        return usage_error("bot", "%s wants at least one USER", o->sub);
    for (int i = 0; i < o->n_users; i++)
        if (strcmp(o->users[i], "*") != 0 && !valid_subject_id(o->users[i]))
            return usage_error("bot", "'%s' is not a user id (or '*')", o->users[i]);
    if (o->key_file && !(is_sub(o, "add") || is_sub(o, "rotate")))
        return usage_error("bot", "--key-file is for add and rotate");
    if (o->key_file && access(o->key_file, F_OK) == 0)
        return usage_error("bot", "--key-file %s exists; the new key is never written over a "
                                  "file", o->key_file);
    return -1;
}

/* ------------------------------------------------------------ output */

/* With --key-file -, stdout holds the key alone: the rest goes to stderr. */
static FILE *bot_out(const bot_opts_t *o) {
    return o->key_file && !strcmp(o->key_file, "-") ? stderr : stdout;
}

/* Shows the new key once: into key_file (0600, not overwritten), alone on
 * stdout for key_file "-" (`... --key-file - > bot.key`, as from a
 * container), or in a sentence on stdout.  0, or -1 after saying why. */
static int bot_emit_key(const char *bot, const auth_new_key_t *key, const char *key_file) {
    if (key_file && !strcmp(key_file, "-")) {
        printf("%s\n", key->hex);
        fprintf(stderr, "intentctl: bot %s: key %d printed on stdout; it is shown this once\n",
                bot, key->key_no);
        return 0;
    }
    if (!key_file) {
        printf("bot %s: key %d: %s\n", bot, key->key_no, key->hex);
        fprintf(stderr, "intentctl: the key is shown this once; give it to the bot "
                        "(INTENT_SIGNING_KEY_FILE) and keep it secret\n");
        return 0;
    }
    int fd = open(key_file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f || fprintf(f, "%s\n", key->hex) < 0 || fclose(f) != 0) {
        fprintf(stderr, "intentctl: cannot write the key to %s: %s\n", key_file, strerror(errno));
        if (fd >= 0 && !f)
            close(fd);
        return -1;
    }
    printf("bot %s: key %d written to %s\n", bot, key->key_no, key_file);
    return 0;
}

/* Says why a change was not made; 0 if it was, else -1. */
static int bot_refused(auth_bot_rc_t r, const char *bot, const pgadmin_err_t *e) {
    switch (r) {
    case AUTH_BOT_DONE:
        return 0;
    case AUTH_BOT_EXISTS:
        fprintf(stderr, "intentctl: bot %s exists already (rotate makes a new key)\n", bot);
        break;
    case AUTH_BOT_UNKNOWN:
        fprintf(stderr, "intentctl: no bot %s (add it first)\n", bot);
        break;
    case AUTH_BOT_NO_KEY:
        fprintf(stderr, "intentctl: bot %s has no such key that is not revoked already\n", bot);
        break;
    case AUTH_BOT_FAILED:
        ledger_error(e);
        break;
    }
    return -1;
}

/* "bot B: <what> u1,u2\n" */
static void print_users(FILE *out, const bot_opts_t *o, const char *what) {
    fprintf(out, "bot %s: %s ", o->bot, what);
    for (int i = 0; i < o->n_users; i++)
        fprintf(out, "%s%s", i ? "," : "", o->users[i]);
    fputc('\n', out);
}

static void print_list(const auth_bot_rows_t *rows, int json) {
    for (size_t i = 0; i < rows->n; i++) {
        const auth_bot_row_t *r = &rows->rows[i];
        if (json)
            json_print_line(json_pack("{s:s, s:s, s:s}", "bot_id", r->bot_id, "keys", r->keys,
                                      "users", r->users));
        else
            printf("%-24s keys: %-40s users: %s\n", r->bot_id, *r->keys ? r->keys : "-",
                   *r->users ? r->users : "-");
    }
}

/* ------------------------------------------------------------ the run */

/* A change of the ledger; 0 when made, else -1 after saying why. */
static int bot_change(PGconn *db, const bot_opts_t *o, const char *by) {
    pgadmin_err_t e;
    auth_new_key_t key;
    memset(&key, 0, sizeof key);
    int r;
    if (is_sub(o, "add") || is_sub(o, "rotate")) {
        int add = is_sub(o, "add");
        r = bot_refused(add ? auth_bot_add(db, o->bot, o->users, o->n_users, by, &key, &e)
                            : auth_bot_rotate(db, o->bot, o->grace_ms, by, &key, &e),
                        o->bot, &e);
        if (r == 0)
            r = bot_emit_key(o->bot, &key, o->key_file);
        OPENSSL_cleanse(key.hex, sizeof key.hex);
        if (r == 0 && add && o->n_users)
            print_users(bot_out(o), o, "may trade for");
        if (r == 0 && !add)
            fprintf(bot_out(o), "bot %s: its earlier keys stay valid for %s ms\n", o->bot,
                    o->grace);
    } else if (is_sub(o, "revoke")) {
        r = bot_refused(auth_bot_revoke(db, o->bot, (int)o->key_num, by, &e), o->bot, &e);
        if (r == 0)
            printf("bot %s: %s%s revoked\n", o->bot, o->key_no ? "key " : "every key",
                   o->key_no ? o->key_no : "");
    } else {
        int bind = is_sub(o, "bind");
        r = bot_refused(bind ? auth_bot_bind(db, o->bot, o->users, o->n_users, by, &e)
                             : auth_bot_unbind(db, o->bot, o->users, o->n_users, by, &e),
                        o->bot, &e);
        if (r == 0)
            print_users(stdout, o, bind ? "may now trade for" : "may no longer trade for");
    }
    return r;
}

int cmd_bot(common_t *c, int argc, char **argv) {
    (void)c;
    bot_opts_t o;
    memset(&o, 0, sizeof o);
    o.grace = "86400000";
    o.grace_ms = 86400000;
    int rc = bot_options(argc, argv, &o);
    if (rc < 0)
        rc = bot_operands(argc, argv, &o);
    if (rc >= 0)
        return rc;
    PGconn *db = operator_connect("bot", &rc);
    if (!db)
        return rc;
    pgadmin_err_t e;
    if (is_sub(&o, "list")) {
        auth_bot_rows_t rows;
        rc = EXIT_REFUSED;
        if (auth_bot_list(db, &rows, &e) == 0) {
            print_list(&rows, o.json);
            auth_bot_rows_free(&rows);
            rc = EXIT_OK_;
        } else {
            ledger_error(&e);
        }
    } else {
        char by[320];
        operator_name(by, sizeof by);
        rc = bot_change(db, &o, by) == 0 ? EXIT_OK_ : EXIT_REFUSED;
    }
    PQfinish(db);
    return rc;
}
