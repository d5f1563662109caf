/* intentctl.c -- the command-line producer and observer for order-worker.
 *
 * Owns: `intentctl send` (build intents from flags or read them as JSON
 * lines, check every one with the worker's own validator intent_decode()
 * before it leaves, publish with the idempotent producer and report each
 * delivery) and `intentctl tail` (read the result topics by plain partition
 * assignment, never joining a consumer group, and print events as a table or
 * as JSON lines, with the stop conditions scripts need).  Modelled on kcat:
 * small and exact.
 *
 * Also the operator's commands: the kill switch (`halt`, `reduce`, `resume`,
 * `trading`: the ledger's trading_states, through libpq) and the quotas
 * (`quota`: the worker's Redis keys, read-only except `quota set|unset`).
 * They live here because an operator already has intentctl and the stack's
 * environment; they read the same keys and tables the worker does.  And the
 * dead-letter topic (`dlq list`, `dlq replay`: read it whole, re-publish
 * chosen messages byte for byte to where they came from).
 *
 * Exit codes: 0 ok; 1 something was refused or failed (an invalid intent, a
 * tail condition not met, the ledger or Redis unreachable or refusing); 2
 * usage error (also: DATABASE_URL / REDIS_URL not set); 3 Kafka/connection
 * error.
 *
 * All state lives in structs passed down from main(); the only static is the
 * sig_atomic_t flag set by the SIGINT/SIGTERM handler of `tail`. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include <openssl/crypto.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "auth.h"
#include "config.h"
#include "envfile.h"
#include "intent.h"
#include "redisconn.h"
#include "timefmt.h"

enum { EXIT_OK_ = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_KAFKA = 3 };

#define MAX_PROPS 64
#define MAX_TOPICS 16

/* ------------------------------------------------------------------ common */

typedef struct common {
    const char *brokers;
    const char *topic_bot, *topic_user, *topic_fills, *topic_rej, *topic_dlq;
    int64_t connect_timeout_ms;
    int64_t max_age_ms;
    const char *props[MAX_PROPS]; /* "name=value" from -X */
    int n_props;
} common_t;

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return (v && *v) ? v : fallback;
}

/* Strict non-negative integer; returns 0 or -1. */
static int parse_i64(const char *s, int64_t *out) {
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static void common_init(common_t *c) {
    memset(c, 0, sizeof *c);
    c->brokers = env_or("KAFKA_BROKERS", NULL);
    c->topic_bot = env_or("TOPIC_INTENTS_BOT", "orders.intents.bot");
    c->topic_user = env_or("TOPIC_INTENTS_USER", "orders.intents.user");
    c->topic_fills = env_or("TOPIC_FILLS", "orders.fills");
    c->topic_rej = env_or("TOPIC_REJECTIONS", "orders.rejections");
    c->topic_dlq = env_or("TOPIC_DLQ", "orders.dlq");
    c->connect_timeout_ms = 10000;
    int64_t age = 60000;
    const char *a = getenv("INTENT_MAX_AGE_MS");
    if (a && *a && parse_i64(a, &age) != 0)
        age = 60000;
    c->max_age_ms = age;
}

/* Prints "intentctl: <fmt with arg>" (unless fmt is NULL: getopt has already
 * said what is wrong) and where to find help; returns EXIT_USAGE. */
static int usage_error(const char *cmd, const char *fmt, const char *arg) {
    if (fmt) {
        fprintf(stderr, "intentctl: ");
        fprintf(stderr, fmt, arg ? arg : "");
        fputc('\n', stderr);
    }
    fprintf(stderr, "Try 'intentctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

/* Options every level accepts.  Returns 1 if handled, 0 if not ours, or
 * -1 after printing a usage error. */
enum { OPT_BROKERS = 1000, OPT_CONNECT_TIMEOUT };
#define COMMON_LONGOPTS                                                        \
    {"brokers", required_argument, NULL, 'b'},                                 \
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT}

static int common_opt(common_t *c, int opt, const char *arg, const char *cmd) {
    switch (opt) {
    case 'b':
        c->brokers = arg;
        return 1;
    case 'X':
        if (!strchr(arg, '=') || arg[0] == '=') {
            usage_error(cmd, "-X wants name=value, got '%s'", arg);
            return -1;
        }
        if (c->n_props == MAX_PROPS) {
            usage_error(cmd, "too many -X properties%s", "");
            return -1;
        }
        c->props[c->n_props++] = arg;
        return 1;
    case OPT_CONNECT_TIMEOUT:
        if (parse_i64(arg, &c->connect_timeout_ms) != 0 || c->connect_timeout_ms <= 0) {
            usage_error(cmd, "--connect-timeout wants milliseconds > 0, got '%s'", arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value) {
    char err[512];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "intentctl: %s\n", err);
        return -1;
    }
    return 0;
}

/* A configuration with the brokers, then the command's own settings
 * (NULL-terminated name/value pairs), then every -X property, so -X can
 * override anything; NULL after printing why (a usage error). */
static rd_kafka_conf_t *make_conf(const common_t *c, const char *const *settings) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_set(conf, "bootstrap.servers", c->brokers) ||
        conf_set(conf, "client.id", "intentctl") ||
        conf_set(conf, "log.connection.close", "false"))
        goto fail;
    for (int i = 0; settings && settings[i]; i += 2)
        if (conf_set(conf, settings[i], settings[i + 1]))
            goto fail;
    /* The worker's KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_*
     * settings (NAME_FILE too), before -X, which may override them. */
    config_t *sec = calloc(1, sizeof *sec);
    char err[512];
    int bad = !sec || config_load_kafka_security(sec, err, sizeof err) < 0;
    if (bad)
        fprintf(stderr, "intentctl: %s\n", sec ? err : "out of memory");
    const char *props[CONFIG_KAFKA_PROPS_MAX][2];
    int n_props = bad ? 0 : config_kafka_properties(sec, props);
    for (int i = 0; i < n_props && !bad; i++)
        bad = conf_set(conf, props[i][0], props[i][1]) != 0;
    if (sec)
        OPENSSL_cleanse(sec, sizeof *sec);
    free(sec);
    if (bad)
        goto fail;
    for (int i = 0; i < c->n_props; i++) {
        const char *eq = strchr(c->props[i], '=');
        char name[256];
        size_t n = (size_t)(eq - c->props[i]);
        if (n >= sizeof name) {
            fprintf(stderr, "intentctl: property name too long: %s\n", c->props[i]);
            goto fail;
        }
        memcpy(name, c->props[i], n);
        name[n] = '\0';
        if (conf_set(conf, name, eq + 1))
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Fails fast (exit 3) when no broker answers within the connect timeout. */
static int check_connection(rd_kafka_t *rk, const common_t *c) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, (int)c->connect_timeout_ms);
    if (err) {
        fprintf(stderr, "intentctl: cannot reach Kafka at %s: %s\n", c->brokers,
                rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

/* A JSON string from arbitrary bytes: invalid UTF-8 becomes U+FFFD. */
static json_t *json_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    json_t *j = json_stringn((const char *)s, n);
    if (j)
        return j;
    char *buf = malloc(n * 3 + 1);
    if (!buf)
        return json_string("");
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        size_t len = 0;
        if (b < 0x80)
            len = 1;
        else if (b >= 0xC2 && b <= 0xDF)
            len = 2;
        else if (b >= 0xE0 && b <= 0xEF)
            len = 3;
        else if (b >= 0xF0 && b <= 0xF4)
            len = 4;
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                ok = 0;
        if (ok && len >= 3) {
            unsigned char b1 = s[i + 1];
            if ((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 >= 0xA0) ||
                (b == 0xF0 && b1 < 0x90) || (b == 0xF4 && b1 >= 0x90))
                ok = 0;
        }
        if (ok) {
            memcpy(buf + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += 1;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j ? j : json_string("");
}

static const char *jstr(const json_t *obj, const char *name) {
    const char *s = json_string_value(json_object_get(obj, name));
    return s ? s : "";
}

/* A decimal field of an event as text (events use strings; numbers are shown
 * by their JSON lexeme). */
static void jdec(const json_t *obj, const char *name, char *buf, size_t len) {
    json_t *v = json_object_get(obj, name);
    buf[0] = '\0';
    if (json_is_string(v)) {
        snprintf(buf, len, "%s", json_string_value(v));
    } else if (json_is_number(v)) {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        if (s)
            snprintf(buf, len, "%s", s);
        free(s);
    }
}

/* ----------------------------------------------------------- a string set */

typedef struct strset {
    char **slots;
    size_t cap, size;
} strset_t;

static uint64_t str_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int strset_has(const strset_t *set, const char *s) {
    if (!set->cap)
        return 0;
    for (size_t i = str_hash(s) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (!set->slots[i])
            return 0;
        if (strcmp(set->slots[i], s) == 0)
            return 1;
    }
}

/* 1 if added, 0 if present, -1 out of memory. */
static int strset_add(strset_t *set, const char *s) {
    if (strset_has(set, s))
        return 0;
    if ((set->size + 1) * 2 > set->cap) {
        size_t ncap = set->cap ? set->cap * 2 : 64;
        char **ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slots[i])
                continue;
            size_t j = str_hash(set->slots[i]) & (ncap - 1);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = set->slots[i];
        }
        free(set->slots);
        set->slots = ns;
        set->cap = ncap;
    }
    char *copy = strdup(s);
    if (!copy)
        return -1;
    size_t i = str_hash(s) & (set->cap - 1);
    while (set->slots[i])
        i = (i + 1) & (set->cap - 1);
    set->slots[i] = copy;
    set->size++;
    return 1;
}

static void strset_free(strset_t *set) {
    for (size_t i = 0; i < set->cap; i++)
        free(set->slots[i]);
    free(set->slots);
    memset(set, 0, sizeof *set);
}

/* ------------------------------------------------------------------- send */

typedef struct send_opts {
    const char *bot, *user, *symbol, *side, *type, *qty, *notional, *limit, *stop;
    const char *tif, *created_at, *intent_id, *meta, *topic, *key;
    int extended_hours, has_expires_in, from_stdin, raw, json, dry_run;
    int64_t expires_in_ms, repeat;
    int intent_flags; /* how many intent-building flags were given */
    const char *signature;  /* --signature: this header value, as given */
    int signing;            /* sign with key (--sign-key-file or the environment) */
    unsigned char sign_key[AUTH_KEY_BYTES];
} send_opts_t;

typedef struct send_state {
    const common_t *c;
    const send_opts_t *o;
    rd_kafka_t *rk;
    long refused, failed, sent;
} send_state_t;

typedef struct msg_info {
    char intent_id[48];
    long line;
} msg_info_t;

static void send_help(FILE *out) {
    fprintf(out,
"usage: intentctl [global options] send [options]\n"
"\n"
"Publishes order intents.  Each intent is checked with the worker's own\n"
"validator first; an invalid one is reported field by field and not sent.\n"
"Bot intents (with bot_id) go to the bot topic keyed by bot_id, user intents\n"
"to the user topic keyed by user_id.  Waits for every delivery report.\n"
"\n"
"One intent from flags (created_at defaults to now, intent_id to a new UUID v4):\n"
"  --bot ID              bot_id (omit for a user intent)\n"
"  --user ID             user_id\n"
"  --symbol SYM          e.g. AAPL\n"
"  --side buy|sell\n"
"  --type TYPE           market (default), limit, stop, stop_limit\n"
"  --qty DEC | --notional DEC\n"
"  --limit DEC           limit_price\n"
"  --stop DEC            stop_price\n"
"  --tif TIF             time_in_force: day, gtc, opg, cls, ioc, fok\n"
"  --extended-hours      extended_hours: true\n"
"  --expires-in MS       expires_at = now + MS\n"
"  --created-at RFC3339  created_at (default now)\n"
"  --intent-id UUID      intent_id (default: fresh random UUID v4)\n"
"  --meta JSON           meta object\n"
"  --repeat N            send N such intents, each with a fresh intent_id\n"
"\n"
"Or many at once:\n"
"  --stdin               read intents from stdin, one JSON object per line\n"
"                        (sent byte for byte; blank lines are skipped)\n"
"  --raw                 send every stdin line unchecked, as is (to exercise\n"
"                        the DLQ and validation paths); topic defaults to the\n"
"                        bot topic\n"
"  --key K               message key for --raw (default: none)\n"
"\n"
"Signing (header x-signature: HMAC-SHA256 of the exact bytes, see 'intentctl bot'):\n"
"  --sign-key-file F     the bot's key (64 hex digits) from file F; also taken from\n"
"                        $INTENT_SIGNING_KEY_FILE or $INTENT_SIGNING_KEY\n"
"  --signature S         send header value S instead (tests: a forged signature)\n"
"  --no-sign             send unsigned even if the environment has a key\n"
"\n"
"Output:\n"
"  --topic T             publish to T whatever the intent says\n"
"  --json                one JSON object per intent on stdout:\n"
"                        {\"status\":\"sent\"|\"refused\"|\"failed\",\"intent_id\",...}\n"
"  --dry-run             check only; print the intents that would be sent, as\n"
"                        JSON lines, and send nothing (needs no Kafka)\n"
"  -h, --help            this text\n"
"\n"
"Prints 'sent <intent_id> -> <topic> [<partition>]' per delivered intent.\n"
"Exit: 0 all sent; 1 some intent refused; 2 usage; 3 Kafka or delivery error.\n");
}

static void uuid_v4(char out[37]) {
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("intentctl: getrandom");
            exit(EXIT_REFUSED);
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    send_state_t *st = opaque;
    msg_info_t *mi = m->_private;
    const char *topic = rd_kafka_topic_name(m->rkt);
    const char *id = mi ? mi->intent_id : "-";
    if (m->err) {
        st->failed++;
        fprintf(stderr, "intentctl: delivery of %s to %s failed: %s\n", id, topic,
                rd_kafka_err2str(m->err));
        if (st->o->json) {
            json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "status", "failed",
                                  "intent_id", id, "topic", topic, "error",
                                  rd_kafka_err2str(m->err));
            json_dumpf(j, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(j);
        }
    } else {
        st->sent++;
        if (st->o->json) {
            json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:I, s:o}", "status", "sent",
                                  "intent_id", id, "topic", topic, "partition",
                                  (int)m->partition, "offset", (json_int_t)m->offset,
                                  "key", m->key ? json_bytes(m->key, m->key_len)
                                                : json_null());
            json_dumpf(j, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(j);
        } else {
            printf("sent %s -> %s [%" PRId32 "]\n", id, topic, m->partition);
        }
    }
    free(mi);
}

static void report_refused(send_state_t *st, const char *id, long line,
                           const intent_verdict_t *v) {
    st->refused++;
    const char *what = v->status == INTENT_UNREADABLE ? v->dlq_reason : "validation_failed";
    if (st->o->json) {
        json_t *errs = json_array();
        for (int i = 0; i < v->n_errors; i++)
            json_array_append_new(errs, json_pack("{s:s, s:s}", "field", v->errors[i].field,
                                                  "message", v->errors[i].message));
        json_t *j = json_pack("{s:s, s:o, s:I, s:s, s:o}", "status", "refused",
                              "intent_id", *id ? json_string(id) : json_null(), "line", (json_int_t)line, "reason",
                              what ? what : "invalid", "errors", errs);
        if (v->status == INTENT_UNREADABLE)
            json_object_set_new(j, "message", json_string(v->detail));
        json_dumpf(j, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(j);
        return;
    }
    fprintf(stderr, "refused %s (line %ld): %s", *id ? id : "-", line, what ? what : "invalid");
    if (v->status == INTENT_UNREADABLE)
        fprintf(stderr, ": %s", v->detail);
    fputc('\n', stderr);
    for (int i = 0; i < v->n_errors; i++)
        fprintf(stderr, "  %s: %s\n", v->errors[i].field, v->errors[i].message);
}

/* Produces one message; retries while the local queue is full. */
static void produce(send_state_t *st, const char *topic, const char *key,
                    const char *bytes, size_t len, const char *id, long line) {
    char sig[AUTH_SIGNATURE_MAX];
    const char *sig_value = st->o->signature;
    if (!sig_value && st->o->signing) {
        auth_sign(st->o->sign_key, bytes, len, sig);
        sig_value = sig;
    }
    msg_info_t *mi = calloc(1, sizeof *mi);
    if (!mi) {
        st->failed++;
        return;
    }
    snprintf(mi->intent_id, sizeof mi->intent_id, "%s", id);
    mi->line = line;
    /* librdkafka owns the headers once a message is queued, not before. */
    rd_kafka_headers_t *hdrs = NULL;
    if (sig_value) {
        hdrs = rd_kafka_headers_new(1);
        rd_kafka_header_add(hdrs, AUTH_HEADER, -1, sig_value, -1);
    }
    for (;;) {
        rd_kafka_resp_err_t err =
            hdrs ? rd_kafka_producev(st->rk, RD_KAFKA_V_TOPIC(topic),
                                     RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                     RD_KAFKA_V_VALUE((void *)bytes, len),
                                     RD_KAFKA_V_HEADERS(hdrs),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_OPAQUE(mi), RD_KAFKA_V_END)
                 : rd_kafka_producev(st->rk, RD_KAFKA_V_TOPIC(topic),
                                     RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                     RD_KAFKA_V_VALUE((void *)bytes, len),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_OPAQUE(mi), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(st->rk, 100);
            continue;
        }
        if (err) {
            st->failed++;
            fprintf(stderr, "intentctl: cannot produce %s to %s: %s\n", id, topic,
                    rd_kafka_err2str(err));
            free(mi);
            rd_kafka_headers_destroy(hdrs);
        }
        break;
    }
    rd_kafka_poll(st->rk, 0);
}

/* Checks and sends one intent given as bytes (a stdin line or the JSON
 * built from flags). */
static void send_one(send_state_t *st, const char *bytes, size_t len, long line) {
    const send_opts_t *o = st->o;
    const common_t *c = st->c;
    char id[48] = "-";

    if (o->raw) {
        json_t *j = json_loadb(bytes, len, 0, NULL);
        const char *s = json_string_value(json_object_get(j, "intent_id"));
        if (s)
            snprintf(id, sizeof id, "%s", s);
        json_decref(j);
        const char *topic = o->topic ? o->topic : c->topic_bot;
        if (o->dry_run) {
            fwrite(bytes, 1, len, stdout);
            putchar('\n');
            return;
        }
        produce(st, topic, o->key, bytes, len, id, line);
        return;
    }

    intent_source_t source;
    if (o->topic && strcmp(o->topic, c->topic_user) == 0) {
        source = INTENT_SOURCE_USER;
    } else if (o->topic && strcmp(o->topic, c->topic_bot) == 0) {
        source = INTENT_SOURCE_BOT;
    } else {
        json_t *j = json_loadb(bytes, len, 0, NULL);
        json_t *b = json_object_get(j, "bot_id");
        source = (b && !json_is_null(b)) || !json_is_object(j) ? INTENT_SOURCE_BOT
                                                               : INTENT_SOURCE_USER;
        json_decref(j);
    }

    intent_t in;
    intent_verdict_t v;
    memset(&in, 0, sizeof in);
    memset(&v, 0, sizeof v);
    intent_decode(bytes, len, source, c->max_age_ms, &in, &v);
    if (in.intent_id[0])
        snprintf(id, sizeof id, "%s", in.intent_id);
    if (v.status != INTENT_VALID) {
        report_refused(st, in.intent_id, line, &v);
        intent_free(&in);
        return;
    }
    if (intent_is_expired(&in, timefmt_now_ms()))
        fprintf(stderr, "note: %s is already past its expiry; the worker will reject it as expired\n",
                id);
    const char *topic = o->topic ? o->topic
                                 : source == INTENT_SOURCE_BOT ? c->topic_bot : c->topic_user;
    const char *key = source == INTENT_SOURCE_BOT ? in.bot_id : in.user_id;
    if (o->dry_run) {
        fwrite(bytes, 1, len, stdout);
        putchar('\n');
    } else {
        produce(st, topic, key, bytes, len, id, line);
    }
    intent_free(&in);
}

/* 64 hex digits -> 32 bytes (surrounding white space ignored); -1 if not. */
static int parse_key_hex(const char *text, unsigned char key[AUTH_KEY_BYTES]) {
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
        text++;
    size_t n = strcspn(text, " \t\r\n");
    if (n != 2 * AUTH_KEY_BYTES || text[n + strspn(text + n, " \t\r\n")] != '\0')
        return -1;
    for (size_t i = 0; i < AUTH_KEY_BYTES; i++) {
        unsigned int b;
        char pair[3] = {text[2 * i], text[2 * i + 1], '\0'};
        if (strspn(pair, "0123456789abcdefABCDEF") != 2 || sscanf(pair, "%2x", &b) != 1)
            return -1;
        key[i] = (unsigned char)b;
    }
    return 0;
}

/* The signing key of `send`: --sign-key-file, else $INTENT_SIGNING_KEY_FILE,
 * else $INTENT_SIGNING_KEY.  1 with key filled, 0 if none is given, -1
 * after a usage error (which never shows the key). */
static int signing_key(const char *path, unsigned char key[AUTH_KEY_BYTES]) {
    const char *from = path ? "--sign-key-file" : "INTENT_SIGNING_KEY_FILE";
    if (!path)
        path = getenv("INTENT_SIGNING_KEY_FILE");
    char buf[256];
    const char *text = NULL;
    if (path && *path) {
        FILE *f = fopen(path, "r");
        if (!f) {
            fprintf(stderr, "intentctl: %s %s: %s\n", from, path, strerror(errno));
            return -1;
        }
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        text = buf;
    } else {
        from = "INTENT_SIGNING_KEY";
        text = getenv("INTENT_SIGNING_KEY");
        if (!text || !*text)
            return 0;
    }
    int rc = parse_key_hex(text, key);
    OPENSSL_cleanse(buf, sizeof buf);
    if (rc < 0) {
        fprintf(stderr, "intentctl: %s is not a signing key (64 hexadecimal digits)\n", from);
        return -1;
    }
    return 1;
}

/* Builds the intent of the flags as compact JSON (malloc'd), or NULL after
 * a usage error. */
static char *build_intent(const send_opts_t *o) {
    json_t *j = json_object();
    char uuid[37];
    if (o->intent_id) {
        json_object_set_new(j, "intent_id", json_string(o->intent_id));
    } else {
        uuid_v4(uuid);
        json_object_set_new(j, "intent_id", json_string(uuid));
    }
#define PUT(name, val) \
    if (val) json_object_set_new(j, name, json_bytes(val, strlen(val)))
    PUT("bot_id", o->bot);
    PUT("user_id", o->user);
    PUT("symbol", o->symbol);
    PUT("side", o->side);
    PUT("type", o->type ? o->type : "market");
    PUT("qty", o->qty);
    PUT("notional", o->notional);
    PUT("limit_price", o->limit);
    PUT("stop_price", o->stop);
    PUT("time_in_force", o->tif);
#undef PUT
    if (o->extended_hours)
        json_object_set_new(j, "extended_hours", json_true());
    int64_t now = timefmt_now_ms();
    char ts[64];
    if (o->created_at) {
        json_object_set_new(j, "created_at", json_bytes(o->created_at, strlen(o->created_at)));
    } else {
        timefmt_format_rfc3339(now, ts, sizeof ts);
        json_object_set_new(j, "created_at", json_string(ts));
    }
    if (o->has_expires_in) {
        timefmt_format_rfc3339(now + o->expires_in_ms, ts, sizeof ts);
        json_object_set_new(j, "expires_at", json_string(ts));
    }
    if (o->meta) {
        json_error_t err;
        json_t *m = json_loads(o->meta, JSON_DECODE_ANY, &err);
        if (!m) {
            usage_error("send", "--meta is not JSON: %s", err.text);
            json_decref(j);
            return NULL;
        }
        json_object_set_new(j, "meta", m);
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static int cmd_send(common_t *c, int argc, char **argv) {
    enum {
        O_BOT = 2000, O_USER, O_SYMBOL, O_SIDE, O_TYPE, O_QTY, O_NOTIONAL, O_LIMIT,
        O_STOP, O_TIF, O_EXT, O_EXPIRES_IN, O_CREATED_AT, O_INTENT_ID, O_META,
        O_REPEAT, O_STDIN, O_RAW, O_KEY, O_TOPIC, O_JSON, O_DRY, O_SIGN_KEY_FILE,
        O_SIGNATURE, O_NO_SIGN
    };
    static const struct option longopts[] = {
        {"bot", required_argument, NULL, O_BOT},
        {"user", required_argument, NULL, O_USER},
        {"symbol", required_argument, NULL, O_SYMBOL},
        {"side", required_argument, NULL, O_SIDE},
        {"type", required_argument, NULL, O_TYPE},
        {"qty", required_argument, NULL, O_QTY},
        {"notional", required_argument, NULL, O_NOTIONAL},
        {"limit", required_argument, NULL, O_LIMIT},
        {"stop", required_argument, NULL, O_STOP},
        {"tif", required_argument, NULL, O_TIF},
        {"extended-hours", no_argument, NULL, O_EXT},
        {"expires-in", required_argument, NULL, O_EXPIRES_IN},
        {"created-at", required_argument, NULL, O_CREATED_AT},
        {"intent-id", required_argument, NULL, O_INTENT_ID},
        {"meta", required_argument, NULL, O_META},
        {"repeat", required_argument, NULL, O_REPEAT},
        {"stdin", no_argument, NULL, O_STDIN},
        {"raw", no_argument, NULL, O_RAW},
        {"key", required_argument, NULL, O_KEY},
        {"topic", required_argument, NULL, O_TOPIC},
        {"json", no_argument, NULL, O_JSON},
        {"dry-run", no_argument, NULL, O_DRY},
        {"sign-key-file", required_argument, NULL, O_SIGN_KEY_FILE},
        {"signature", required_argument, NULL, O_SIGNATURE},
        {"no-sign", no_argument, NULL, O_NO_SIGN},
        {"help", no_argument, NULL, 'h'},
        COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    const char *key_file = NULL;
    int no_sign = 0;
    send_opts_t o;
    memset(&o, 0, sizeof o);
    o.repeat = 1;
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "+hb:X:", longopts, NULL)) != -1) {
        int r = common_opt(c, opt, optarg, "send");
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        switch (opt) {
        case 'h': send_help(stdout); return EXIT_OK_;
        case O_BOT: o.bot = optarg; o.intent_flags++; break;
        case O_USER: o.user = optarg; o.intent_flags++; break;
        case O_SYMBOL: o.symbol = optarg; o.intent_flags++; break;
        case O_SIDE: o.side = optarg; o.intent_flags++; break;
        case O_TYPE: o.type = optarg; o.intent_flags++; break;
        case O_QTY: o.qty = optarg; o.intent_flags++; break;
        case O_NOTIONAL: o.notional = optarg; o.intent_flags++; break;
        case O_LIMIT: o.limit = optarg; o.intent_flags++; break;
        case O_STOP: o.stop = optarg; o.intent_flags++; break;
        case O_TIF: o.tif = optarg; o.intent_flags++; break;
        case O_EXT: o.extended_hours = 1; o.intent_flags++; break;
        case O_EXPIRES_IN:
            if (parse_i64(optarg, &o.expires_in_ms) != 0)
                return usage_error("send", "--expires-in wants milliseconds, got '%s'", optarg);
            o.has_expires_in = 1;
            o.intent_flags++;
            break;
        case O_CREATED_AT: o.created_at = optarg; o.intent_flags++; break;
        case O_INTENT_ID: o.intent_id = optarg; o.intent_flags++; break;
        case O_META: o.meta = optarg; o.intent_flags++; break;
        case O_REPEAT:
            if (parse_i64(optarg, &o.repeat) != 0 || o.repeat < 1)
                return usage_error("send", "--repeat wants a count >= 1, got '%s'", optarg);
            break;
        case O_STDIN: o.from_stdin = 1; break;
        case O_RAW: o.raw = 1; break;
        case O_KEY: o.key = optarg; break;
        case O_TOPIC: o.topic = optarg; break;
        case O_JSON: o.json = 1; break;
        case O_DRY: o.dry_run = 1; break;
        case O_SIGN_KEY_FILE: key_file = optarg; break;
        case O_SIGNATURE: o.signature = optarg; break;
        case O_NO_SIGN: no_sign = 1; break;
        default: return usage_error("send", NULL, NULL);
        }
    }
    if (optind < argc)
        return usage_error("send", "unexpected argument '%s'", argv[optind]);
    if (o.from_stdin && o.raw)
        return usage_error("send", "--stdin and --raw exclude each other%s", "");
    if ((o.from_stdin || o.raw) && o.intent_flags)
        return usage_error("send", "intent flags cannot be combined with --stdin/--raw%s", "");
    if (!o.from_stdin && !o.raw && !o.intent_flags)
        return usage_error("send", "nothing to send: give intent flags, --stdin or --raw%s", "");
    if (o.key && !o.raw)
        return usage_error("send", "--key is only for --raw (intents are keyed by bot_id/user_id)%s", "");
    if (o.repeat > 1 && (o.intent_id || o.from_stdin || o.raw))
        return usage_error("send", "--repeat makes fresh intent_ids from flags; not with --intent-id, --stdin or --raw%s", "");
    if (o.topic && !*o.topic)
        return usage_error("send", "--topic is empty%s", "");
    if (!no_sign && !o.signature) {
        int r = signing_key(key_file, o.sign_key);
        if (r < 0)
            return EXIT_USAGE;
        o.signing = r;
    }

    send_state_t st;
    memset(&st, 0, sizeof st);
    st.c = c;
    st.o = &o;
    int64_t msg_timeout_ms = 30000;

    if (!o.dry_run) {
        if (!c->brokers || !*c->brokers)
            return usage_error("send", "no brokers: give --brokers or set KAFKA_BROKERS%s", "");
        static const char *const settings[] = {"enable.idempotence", "true",
                                               "message.timeout.ms", "30000", NULL};
        rd_kafka_conf_t *conf = make_conf(c, settings);
        if (!conf)
            return EXIT_USAGE;
        char val[64];
        size_t vlen = sizeof val;
        if (rd_kafka_conf_get(conf, "message.timeout.ms", val, &vlen) == RD_KAFKA_CONF_OK)
            parse_i64(val, &msg_timeout_ms);
        rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
        rd_kafka_conf_set_opaque(conf, &st);
        char err[512];
        st.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        if (!st.rk) {
            rd_kafka_conf_destroy(conf);
            fprintf(stderr, "intentctl: %s\n", err);
            return EXIT_KAFKA;
        }
        if (check_connection(st.rk, c) != 0) {
            rd_kafka_destroy(st.rk);
            return EXIT_KAFKA;
        }
    }

    if (o.from_stdin || o.raw) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        long lineno = 0;
        while ((n = getline(&line, &cap, stdin)) != -1) {
            lineno++;
            if (n > 0 && line[n - 1] == '\n')
                line[--n] = '\0';
            if (!o.raw) {
                if (n > 0 && line[n - 1] == '\r')
                    line[--n] = '\0';
                if (strspn(line, " \t\r") == (size_t)n)
                    continue;
            }
            send_one(&st, line, (size_t)n, lineno);
        }
        free(line);
    } else {
        for (int64_t i = 0; i < o.repeat; i++) {
            char *s = build_intent(&o);
            if (!s) {
                if (st.rk) {
                    rd_kafka_flush(st.rk, (int)msg_timeout_ms);
                    rd_kafka_destroy(st.rk);
                }
                return EXIT_USAGE;
            }
            send_one(&st, s, strlen(s), (long)i + 1);
            free(s);
        }
    }

    if (st.rk) {
        int64_t deadline = timefmt_mono_ms() + msg_timeout_ms + 10000;
        while (rd_kafka_outq_len(st.rk) > 0 && timefmt_mono_ms() < deadline)
            rd_kafka_flush(st.rk, 500);
        if (rd_kafka_outq_len(st.rk) > 0) {
            fprintf(stderr, "intentctl: %d messages still undelivered; giving up\n",
                    rd_kafka_outq_len(st.rk));
            rd_kafka_purge(st.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_flush(st.rk, 1000);
            st.failed++;
        }
        rd_kafka_destroy(st.rk);
    }
    OPENSSL_cleanse(o.sign_key, sizeof o.sign_key);
    fflush(stdout);
    if (st.failed)
        return EXIT_KAFKA;
    if (st.refused) {
        if (!o.json)
            fprintf(stderr, "intentctl: %ld intent(s) refused, not sent\n", st.refused);
        return EXIT_REFUSED;
    }
    return EXIT_OK_;
}

/* ------------------------------------------------------------------- tail */

static volatile sig_atomic_t tail_stop;

static void on_signal(int sig) {
    (void)sig;
    tail_stop = 1;
}

typedef struct tail_opts {
    int json, from_beginning, exit_at_end;
    int64_t count, until_terminal;      /* -1: none */
    int until_all;                      /* --until-terminal all */
    int64_t idle_timeout_ms, timeout_ms; /* -1: none */
    const char *intents_file;
    const char *topics[MAX_TOPICS];
    int n_topics;
    char *topics_buf;
} tail_opts_t;

typedef struct part_state {
    const char *topic;
    int32_t partition;
    int64_t end;   /* high watermark at start (for --exit-at-end) */
    int done;
} part_state_t;

typedef struct tail_state {
    const common_t *c;
    const tail_opts_t *o;
    strset_t filter;     /* --intents */
    int filtering;
    strset_t terminal;   /* ids with a terminal outcome */
    int64_t printed;
    part_state_t *parts;
    int n_parts, parts_done;
} tail_state_t;

static void tail_help(FILE *out) {
    fprintf(out,
"usage: intentctl [global options] tail [options]\n"
"\n"
"Follows the result topics (orders.fills, orders.rejections, orders.dlq) by\n"
"assigning all their partitions directly (joins no group, commits nothing) and\n"
"prints one line per message.\n"
"\n"
"  --topics A,B          topics to read instead of the three result topics\n"
"  --from-beginning      start at the oldest message (default: the end, as of\n"
"                        the moment tail starts)\n"
"  --json                one JSON object per line: the event plus \"_topic\",\n"
"                        \"_partition\", \"_offset\", \"_key\", \"_timestamp\"; messages\n"
"                        with headers add \"_headers\"; DLQ messages (and values\n"
"                        that are not a JSON object) carry the bytes as \"_value\"\n"
"  --intents FILE        only messages of the ids listed in FILE, one per line:\n"
"                        the event's intent_id; for a DLQ message the original's\n"
"                        intent_id, or its key if it has none\n"
"  --count N             stop after printing N messages\n"
"  --until-terminal N|all\n"
"                        stop once N distinct ids (all: every id of --intents)\n"
"                        have a terminal outcome: a fill, canceled or expired\n"
"                        event, a rejection, or a DLQ message\n"
"  -e, --exit-at-end     stop once every partition is read up to where it\n"
"                        ended when tail started\n"
"  --idle-timeout MS     stop after MS without any new message\n"
"  --timeout MS          stop after MS in all\n"
"  -h, --help            this text\n"
"\n"
"Exit: 0 stopped as asked; 1 a --count/--until-terminal condition was not met\n"
"before a timeout, the end (-e) or a signal, or -e alone did not reach the end\n"
"before a timeout or a signal; 2 usage; 3 Kafka error.\n");
}

static int load_intents(tail_state_t *st, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "intentctl: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) != -1) {
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t len = strlen(s);
        while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' ||
                       s[len - 1] == '\t'))
            s[--len] = '\0';
        if (!len || *s == '#')
            continue;
        if (strset_add(&st->filter, s) < 0) {
            rc = -1;
            break;
        }
    }
    free(line);
    fclose(f);
    st->filtering = 1;
    return rc;
}

/* Looks up each topic's partitions (retrying while a topic is still being
 * created) and their watermarks; fills st->parts.  -1 on Kafka errors. */
static int tail_partitions(rd_kafka_t *rk, tail_state_t *st) {
    const common_t *c = st->c;
    int cap = 0;
    for (int t = 0; t < st->o->n_topics; t++) {
        const char *name = st->o->topics[t];
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
        if (!rkt) {
            fprintf(stderr, "intentctl: topic %s: %s\n", name,
                    rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        int64_t deadline = timefmt_mono_ms() + c->connect_timeout_ms;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        for (;;) {
            int64_t left = deadline - timefmt_mono_ms();
            err = rd_kafka_metadata(rk, 0, rkt, &md, (int)(left > 0 ? left : 1));
            if (!err && md->topic_cnt == 1 && md->topics[0].err)
                err = md->topics[0].err;
            if (!err || timefmt_mono_ms() >= deadline || err == RD_KAFKA_RESP_ERR__TRANSPORT)
                break;
            if (md) {
                rd_kafka_metadata_destroy(md);
                md = NULL;
            }
            usleep(200 * 1000);
        }
        rd_kafka_topic_destroy(rkt);
        if (err || md->topic_cnt != 1) {
            fprintf(stderr, "intentctl: topic %s at %s: %s\n", name, c->brokers,
                    rd_kafka_err2str(err ? err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
            if (md)
                rd_kafka_metadata_destroy(md);
            return -1;
        }
        int np = md->topics[0].partition_cnt;
        if (st->n_parts + np > cap) {
            cap = (st->n_parts + np) * 2;
            part_state_t *p = realloc(st->parts, (size_t)cap * sizeof *p);
            if (!p) {
                rd_kafka_metadata_destroy(md);
                return -1;
            }
            st->parts = p;
        }
        for (int i = 0; i < np; i++) {
            part_state_t *p = &st->parts[st->n_parts++];
            p->topic = name;
            p->partition = md->topics[0].partitions[i].id;
            p->done = 0;
            p->end = 0;
        }
        rd_kafka_metadata_destroy(md);
    }
    for (int i = 0; i < st->n_parts; i++) {
        part_state_t *p = &st->parts[i];
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, p->topic, p->partition, &lo, &hi, (int)c->connect_timeout_ms);
        if (err) {
            fprintf(stderr, "intentctl: offsets of %s [%d]: %s\n", p->topic,
                    (int)p->partition, rd_kafka_err2str(err));
            return -1;
        }
        p->end = hi;
        /* empty, or starting at the end: nothing to read for -e */
        if (lo >= hi || !st->o->from_beginning) {
            p->done = 1;
            st->parts_done++;
        }
    }
    return 0;
}

static json_t *headers_json(const rd_kafka_message_t *m) {
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs)
        return NULL;
    json_t *h = json_object();
    const char *name;
    const void *val;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; i++)
        json_object_set_new(h, name, val ? json_bytes(val, size) : json_null());
    return h;
}

/* Shortens s in place to at most n display bytes (adds "..."). */
static void clip(char *s, size_t n) {
    if (strlen(s) > n && n > 3) {
        size_t k = n - 3;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--; /* do not cut a UTF-8 sequence */
        memcpy(s + k, "...", 4);
    }
}

static void print_row(const tail_state_t *st, const rd_kafka_message_t *m,
                      const char *topic, const json_t *ev, const json_t *hdrs) {
    const common_t *c = st->c;
    char when[64] = "-";
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    if (ts >= 0) {
        char full[64];
        timefmt_format_rfc3339(ts, full, sizeof full);
        if (strlen(full) >= 23)
            snprintf(when, sizeof when, "%.12s", full + 11);
    }
    char key[80] = "-";
    if (m->key && m->key_len)
        snprintf(key, sizeof key, "%.*s", (int)(m->key_len < 79 ? m->key_len : 79),
                 (const char *)m->key);
    clip(key, 16);
    char event[64] = "-", qty[64] = "-", filled[96] = "-", msg[512] = "";
    const char *id = "-", *symbol = "-", *side = "-";
    if (strcmp(topic, c->topic_dlq) == 0) {
        snprintf(event, sizeof event, "dlq:%s",
                 json_string_value(json_object_get(hdrs, "x-dlq-reason"))
                     ? json_string_value(json_object_get(hdrs, "x-dlq-reason"))
                     : "?");
        char val[128];
        size_t vl = m->len < 100 ? m->len : 100;
        size_t o = 0;
        for (size_t i = 0; i < vl && o + 5 < sizeof val; i++) {
            unsigned char b = ((const unsigned char *)m->payload)[i];
            if (b >= 0x20 && b < 0x7F) {
                val[o++] = (char)b;
            } else {
                o += (size_t)snprintf(val + o, sizeof val - o, "\\x%02x", b);
            }
        }
        val[o] = '\0';
        clip(val, 60);
        if (*jstr(hdrs, "x-dlq-topic"))
            snprintf(msg, sizeof msg, "from %s [%s] @%s: '%s'",
                     jstr(hdrs, "x-dlq-topic"), jstr(hdrs, "x-dlq-partition"),
                     jstr(hdrs, "x-dlq-offset"), val);
        else
            snprintf(msg, sizeof msg, "'%s'", val);
    } else if (ev) {
        id = *jstr(ev, "intent_id") ? jstr(ev, "intent_id") : "-";
        symbol = *jstr(ev, "symbol") ? jstr(ev, "symbol") : "-";
        side = *jstr(ev, "side") ? jstr(ev, "side") : "-";
        char d[48], p[48];
        jdec(ev, "qty", d, sizeof d);
        if (*d) {
            snprintf(qty, sizeof qty, "%s", d);
        } else {
            jdec(ev, "notional", d, sizeof d);
            if (*d)
                snprintf(qty, sizeof qty, "$%s", d);
        }
        if (json_object_get(ev, "reason")) {
            snprintf(event, sizeof event, "%s", jstr(ev, "reason"));
            size_t o = (size_t)snprintf(msg, sizeof msg, "%s", jstr(ev, "message"));
            json_t *ra = json_object_get(ev, "retry_after_ms");
            if (json_is_integer(ra) && o < sizeof msg)
                o += (size_t)snprintf(msg + o, sizeof msg - o, " (retry after %" JSON_INTEGER_FORMAT " ms)",
                                      json_integer_value(ra));
            json_t *errs = json_object_get(ev, "errors");
            size_t i;
            json_t *e;
            json_array_foreach(errs, i, e) {
                if (o >= sizeof msg)
                    break;
                o += (size_t)snprintf(msg + o, sizeof msg - o, "%s%s: %s", i ? "; " : " [",
                                      jstr(e, "field"), jstr(e, "message"));
                if (i + 1 == json_array_size(errs) && o < sizeof msg)
                    o += (size_t)snprintf(msg + o, sizeof msg - o, "]");
            }
            json_t *br = json_object_get(ev, "broker");
            if (json_is_object(br) && o < sizeof msg) {
                char code[48];
                jdec(br, "code", code, sizeof code);
                snprintf(msg + o, sizeof msg - o, " (broker %s %s: %s)",
                         json_is_integer(json_object_get(br, "status")) ? "status" : "",
                         code, jstr(br, "message"));
            }
        } else {
            snprintf(event, sizeof event, "%s", *jstr(ev, "type") ? jstr(ev, "type") : "?");
            jdec(ev, "filled_qty", d, sizeof d);
            jdec(ev, "filled_avg_price", p, sizeof p);
            if (*d && strcmp(d, "0") != 0)
                snprintf(filled, sizeof filled, "%s@%s", d, *p ? p : "?");
            if (*jstr(ev, "status"))
                snprintf(msg, sizeof msg, "status %s", jstr(ev, "status"));
        }
    } else {
        snprintf(event, sizeof event, "(not an event)");
    }
    printf("%-12s  %-17s  %-18s  %-36s  %-16s  %-6s  %-4s  %10s  %-18s  %s\n", when, topic,
           event, id, key, symbol, side, qty, filled, msg);
}

/* Handles one message; returns 1 if it was printed. */
static int tail_message(tail_state_t *st, const rd_kafka_message_t *m) {
    const common_t *c = st->c;
    const char *topic = rd_kafka_topic_name(m->rkt);
    int is_dlq = strcmp(topic, c->topic_dlq) == 0;
    int is_fills = strcmp(topic, c->topic_fills) == 0;
    int is_rej = strcmp(topic, c->topic_rej) == 0;

    json_t *val = m->payload ? json_loadb(m->payload, m->len, 0, NULL) : NULL;
    if (val && !json_is_object(val)) {
        json_decref(val);
        val = NULL;
    }
    char id[160] = "";
    const char *vid = json_string_value(json_object_get(val, "intent_id"));
    if (vid)
        snprintf(id, sizeof id, "%s", vid);
    else if (is_dlq && m->key && m->key_len)
        snprintf(id, sizeof id, "%.*s", (int)(m->key_len < 159 ? m->key_len : 159),
                 (const char *)m->key);

    if (st->filtering && !strset_has(&st->filter, id)) {
        json_decref(val);
        return 0;
    }

    int terminal = 0;
    if (is_rej || is_dlq) {
        terminal = 1;
    } else if (is_fills) {
        const char *type = jstr(val, "type");
        terminal = !strcmp(type, "fill") || !strcmp(type, "canceled") || !strcmp(type, "expired");
    }
    if (terminal) {
        char unit[200];
        if (*id)
            snprintf(unit, sizeof unit, "%s", id);
        else
            snprintf(unit, sizeof unit, "dlq@%s/%d/%" PRId64, topic, (int)m->partition,
                     (int64_t)m->offset);
        strset_add(&st->terminal, unit);
    }

    json_t *hdrs = headers_json(m);
    if (st->o->json) {
        json_t *out;
        if (val && !is_dlq) {
            out = json_incref(val);
        } else {
            out = json_object();
            json_object_set_new(out, "_value",
                                m->payload ? json_bytes(m->payload, m->len) : json_null());
        }
        json_object_set_new(out, "_topic", json_string(topic));
        json_object_set_new(out, "_partition", json_integer(m->partition));
        json_object_set_new(out, "_offset", json_integer(m->offset));
        json_object_set_new(out, "_key", m->key ? json_bytes(m->key, m->key_len) : json_null());
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        json_object_set_new(out, "_timestamp", ts >= 0 ? json_integer(ts) : json_null());
        if (hdrs)
            json_object_set(out, "_headers", hdrs);
        json_dumpf(out, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(out);
    } else {
        print_row(st, m, topic, val, hdrs);
    }
    json_decref(hdrs);
    json_decref(val);
    st->printed++;
    return 1;
}

static int cmd_tail(common_t *c, int argc, char **argv) {
    enum { O_TOPICS = 3000, O_FROM_BEGINNING, O_JSON, O_INTENTS, O_COUNT, O_UNTIL,
           O_IDLE, O_TIMEOUT };
    static const struct option longopts[] = {
        {"topics", required_argument, NULL, O_TOPICS},
        {"from-beginning", no_argument, NULL, O_FROM_BEGINNING},
        {"json", no_argument, NULL, O_JSON},
        {"intents", required_argument, NULL, O_INTENTS},
        {"count", required_argument, NULL, O_COUNT},
        {"until-terminal", required_argument, NULL, O_UNTIL},
        {"exit-at-end", no_argument, NULL, 'e'},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    tail_opts_t o;
    memset(&o, 0, sizeof o);
    o.count = o.until_terminal = o.idle_timeout_ms = o.timeout_ms = -1;
    int opt;
    optind = 0;
    int rc = EXIT_USAGE;
    while ((opt = getopt_long(argc, argv, "+hb:X:e", longopts, NULL)) != -1) {
        int r = common_opt(c, opt, optarg, "tail");
        if (r < 0)
            goto out;
        if (r > 0)
            continue;
        switch (opt) {
        case 'h': tail_help(stdout); rc = EXIT_OK_; goto out;
        case 'e': o.exit_at_end = 1; break;
        case O_FROM_BEGINNING: o.from_beginning = 1; break;
        case O_JSON: o.json = 1; break;
        case O_INTENTS: o.intents_file = optarg; break;
        case O_TOPICS: {
            free(o.topics_buf);
            o.topics_buf = strdup(optarg);
            o.n_topics = 0;
            char *save = NULL;
            for (char *t = strtok_r(o.topics_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (o.n_topics == MAX_TOPICS) {
                    usage_error("tail", "more than 16 topics in --topics%s", "");
                    goto out;
                }
                o.topics[o.n_topics++] = t;
            }
            if (!o.n_topics) {
                usage_error("tail", "--topics is empty%s", "");
                goto out;
            }
            break;
        }
        case O_COUNT:
            if (parse_i64(optarg, &o.count) != 0 || o.count < 1) {
                usage_error("tail", "--count wants a number >= 1, got '%s'", optarg);
                goto out;
            }
            break;
        case O_UNTIL:
            if (strcmp(optarg, "all") == 0) {
                o.until_all = 1;
                o.until_terminal = 0;
            } else if (parse_i64(optarg, &o.until_terminal) != 0 || o.until_terminal < 1) {
                usage_error("tail", "--until-terminal wants a number >= 1 or 'all', got '%s'", optarg);
                goto out;
            }
            break;
        case O_IDLE:
            if (parse_i64(optarg, &o.idle_timeout_ms) != 0) {
                usage_error("tail", "--idle-timeout wants milliseconds, got '%s'", optarg);
                goto out;
            }
            break;
        case O_TIMEOUT:
            if (parse_i64(optarg, &o.timeout_ms) != 0) {
                usage_error("tail", "--timeout wants milliseconds, got '%s'", optarg);
                goto out;
            }
            break;
        default: usage_error("tail", NULL, NULL); goto out;
        }
    }
    if (optind < argc) {
        usage_error("tail", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (o.until_all && !o.intents_file) {
        usage_error("tail", "--until-terminal all needs --intents FILE%s", "");
        goto out;
    }
    if (!c->brokers || !*c->brokers) {
        usage_error("tail", "no brokers: give --brokers or set KAFKA_BROKERS%s", "");
        goto out;
    }
    if (!o.n_topics) {
        o.topics[0] = c->topic_fills;
        o.topics[1] = c->topic_rej;
        o.topics[2] = c->topic_dlq;
        o.n_topics = 3;
    }

    tail_state_t st;
    memset(&st, 0, sizeof st);
    st.c = c;
    st.o = &o;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *list = NULL;
    if (o.intents_file && load_intents(&st, o.intents_file) != 0) {
        rc = EXIT_REFUSED;
        goto done;
    }
    if (o.until_all)
        o.until_terminal = (int64_t)st.filter.size;

    /* assign() needs a group.id even though no group is joined and nothing
     * is committed: a throwaway one */
    char group[64], uuid[37];
    uuid_v4(uuid);
    snprintf(group, sizeof group, "intentctl-tail-%s", uuid);
    const char *const settings[] = {"group.id", group, "enable.auto.commit", "false",
                                    "enable.auto.offset.store", "false", NULL};
    rd_kafka_conf_t *conf = make_conf(c, settings);
    if (!conf)
        goto done;
    char err[512];
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "intentctl: %s\n", err);
        rc = EXIT_KAFKA;
        goto done;
    }
    rd_kafka_poll_set_consumer(rk);
    rc = EXIT_KAFKA;
    if (check_connection(rk, c) != 0 || tail_partitions(rk, &st) != 0)
        goto done;
    list = rd_kafka_topic_partition_list_new(st.n_parts);
    for (int i = 0; i < st.n_parts; i++)
        rd_kafka_topic_partition_list_add(list, st.parts[i].topic, st.parts[i].partition)->offset =
            o.from_beginning ? RD_KAFKA_OFFSET_BEGINNING : st.parts[i].end;
    rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, list);
    if (aerr) {
        fprintf(stderr, "intentctl: assign: %s\n", rd_kafka_err2str(aerr));
        goto done;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (!o.json)
        printf("%-12s  %-17s  %-18s  %-36s  %-16s  %-6s  %-4s  %10s  %-18s  %s\n", "TIME",
               "TOPIC", "EVENT", "INTENT_ID", "KEY", "SYMBOL", "SIDE", "QTY", "FILLED",
               "MESSAGE");
    int64_t start = timefmt_mono_ms(), last = start;
    const char *why = "interrupted";
    int met = 0;
    for (;;) {
        if (o.count >= 0 && st.printed >= o.count) { met = 1; why = "count reached"; break; }
        if (o.until_terminal >= 0 && (int64_t)st.terminal.size >= o.until_terminal) {
            met = 1;
            why = "terminal outcomes reached";
            break;
        }
        if (o.exit_at_end && st.parts_done == st.n_parts) {
            met = o.count < 0 && o.until_terminal < 0; /* -e alone: reaching the end */
            why = "end reached";
            break;
        }
        if (tail_stop) break;
        int64_t now = timefmt_mono_ms();
        int64_t wait = 500;
        if (o.timeout_ms >= 0) {
            if (now - start >= o.timeout_ms) { why = "timeout"; break; }
            if (o.timeout_ms - (now - start) < wait) wait = o.timeout_ms - (now - start);
        }
        if (o.idle_timeout_ms >= 0) {
            if (now - last >= o.idle_timeout_ms) { why = "idle timeout"; break; }
            if (o.idle_timeout_ms - (now - last) < wait) wait = o.idle_timeout_ms - (now - last);
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, (int)wait);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "intentctl: %s\n", rd_kafka_message_errstr(m));
                char ferr[256];
                if (rd_kafka_fatal_error(rk, ferr, sizeof ferr)) {
                    rd_kafka_message_destroy(m);
                    goto done;
                }
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        last = timefmt_mono_ms();
        tail_message(&st, m);
        for (int i = 0; i < st.n_parts; i++) {
            part_state_t *p = &st.parts[i];
            if (!p->done && p->partition == m->partition &&
                strcmp(p->topic, rd_kafka_topic_name(m->rkt)) == 0 && m->offset + 1 >= p->end) {
                p->done = 1;
                st.parts_done++;
            }
        }
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    if (o.count >= 0 || o.until_terminal >= 0 || o.exit_at_end) {
        if (met) {
            rc = EXIT_OK_;
        } else {
            rc = EXIT_REFUSED;
            fprintf(stderr, "intentctl: tail stopped (%s) before the condition was met: "
                            "%" PRId64 " message(s) printed, %zu id(s) with a terminal outcome",
                    why, st.printed, st.terminal.size);
            if (o.count >= 0)
                fprintf(stderr, ", --count %" PRId64, o.count);
            if (o.until_terminal >= 0)
                fprintf(stderr, ", --until-terminal %" PRId64, o.until_terminal);
            if (o.count < 0 && o.until_terminal < 0)
                fprintf(stderr, ", %d of %d partition(s) read to their end", st.parts_done,
                        st.n_parts);
            fputc('\n', stderr);
        }
    } else {
        rc = EXIT_OK_;
    }
done:
    if (list)
        rd_kafka_topic_partition_list_destroy(list);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    strset_free(&st.filter);
    strset_free(&st.terminal);
    free(st.parts);
out:
    free(o.topics_buf);
    return rc;
}

/* -------------------------------------------------------------------- dlq */

/* `intentctl dlq list|replay`: reads the whole DLQ topic as it is when the
 * command starts (every partition assigned from its oldest message to its
 * end as of the start, like `tail -e`; no group is joined, nothing is
 * committed) and lists the messages or re-publishes chosen ones, byte for
 * byte with their original key, to the topic they came from. */

typedef struct dlq_rec {
    int32_t partition;          /* on the DLQ */
    int64_t offset;
    int64_t timestamp;          /* -1: none */
    char *reason, *topic, *detail, *opart, *ooff; /* headers; NULL if absent */
    void *key, *value;
    size_t key_len, value_len;
    int has_key;
    /* replay */
    const char *to;             /* where it goes */
    int delivered;              /* 0 pending, 1 ok, -1 failed */
    rd_kafka_resp_err_t err;
    int32_t sent_partition;
    int64_t sent_offset;
} dlq_rec_t;

static char *header_dup(rd_kafka_headers_t *h, const char *name) {
    const void *val = NULL;
    size_t size = 0;
    if (!h || rd_kafka_header_get_last(h, name, &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        !val)
        return NULL;
    return strndup(val, size);
}

static void *mem_dup(const void *p, size_t n) {
    void *d = malloc(n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

static void dlq_rec_free(dlq_rec_t *r) {
    free(r->reason);
    free(r->topic);
    free(r->detail);
    free(r->opart);
    free(r->ooff);
    free(r->key);
    free(r->value);
}

/* 0, or -1 out of memory. */
static int dlq_rec_from(dlq_rec_t *r, const rd_kafka_message_t *m) {
    memset(r, 0, sizeof *r);
    r->partition = m->partition;
    r->offset = m->offset;
    rd_kafka_timestamp_type_t tstype;
    r->timestamp = rd_kafka_message_timestamp(m, &tstype);
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    r->reason = header_dup(h, "x-dlq-reason");
    r->topic = header_dup(h, "x-dlq-topic");
    r->detail = header_dup(h, "x-dlq-detail");
    r->opart = header_dup(h, "x-dlq-partition");
    r->ooff = header_dup(h, "x-dlq-offset");
    r->has_key = m->key != NULL;
    r->key_len = m->key ? m->key_len : 0;
    r->key = mem_dup(m->key, r->key_len);
    r->value_len = m->payload ? m->len : 0;
    r->value = mem_dup(m->payload, r->value_len);
    return r->key && r->value ? 0 : -1;
}

/* Called per DLQ message in range; returns 1 to stop reading (all that was
 * wanted is found), 0 to go on, -1 on a fatal error. */
typedef int (*dlq_visit_fn)(void *ctx, const rd_kafka_message_t *m);

/* Reads the DLQ from its oldest message to its end as of now.  Returns
 * EXIT_OK_ (read to the end, or the visitor stopped it), EXIT_REFUSED (the
 * timeout came first), EXIT_USAGE or EXIT_KAFKA. */
static int dlq_read(const common_t *c, int64_t timeout_ms, dlq_visit_fn visit, void *ctx) {
    tail_opts_t to;
    memset(&to, 0, sizeof to);
    to.from_beginning = 1;
    to.topics[0] = c->topic_dlq;
    to.n_topics = 1;
    tail_state_t st;
    memset(&st, 0, sizeof st);
    st.c = c;
    st.o = &to;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *list = NULL;
    int rc = EXIT_USAGE;
    char group[64], uuid[37];
    uuid_v4(uuid);
    snprintf(group, sizeof group, "intentctl-dlq-%s", uuid);
    const char *const settings[] = {"group.id", group, "enable.auto.commit", "false",
                                    "enable.auto.offset.store", "false",
                                    "enable.partition.eof", "true", NULL};
    rd_kafka_conf_t *conf = make_conf(c, settings);
    if (!conf)
        goto done;
    char err[512];
    rc = EXIT_KAFKA;
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "intentctl: %s\n", err);
        goto done;
    }
    rd_kafka_poll_set_consumer(rk);
    if (check_connection(rk, c) != 0 || tail_partitions(rk, &st) != 0)
        goto done;
    if (st.parts_done == st.n_parts) {
        rc = EXIT_OK_;
        goto done;
    }
    list = rd_kafka_topic_partition_list_new(st.n_parts);
    for (int i = 0; i < st.n_parts; i++)
        if (!st.parts[i].done)
            rd_kafka_topic_partition_list_add(list, st.parts[i].topic, st.parts[i].partition)
                ->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, list);
    if (aerr) {
        fprintf(stderr, "intentctl: assign: %s\n", rd_kafka_err2str(aerr));
        goto done;
    }
    int64_t start = timefmt_mono_ms();
    while (st.parts_done < st.n_parts) {
        int64_t left = timeout_ms - (timefmt_mono_ms() - start);
        if (left <= 0) {
            fprintf(stderr, "intentctl: timeout after %" PRId64 " ms: %d of %d partition(s) "
                            "of %s read to their end\n",
                    timeout_ms, st.parts_done, st.n_parts, c->topic_dlq);
            rc = EXIT_REFUSED;
            goto done;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, (int)(left < 500 ? left : 500));
        if (!m)
            continue;
        part_state_t *p = NULL;
        for (int i = 0; i < st.n_parts; i++)
            if (st.parts[i].partition == m->partition)
                p = &st.parts[i];
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p && !p->done && m->offset >= p->end) {
                p->done = 1;
                st.parts_done++;
            }
        } else if (m->err) {
            fprintf(stderr, "intentctl: %s\n", rd_kafka_message_errstr(m));
            char ferr[256];
            if (rd_kafka_fatal_error(rk, ferr, sizeof ferr)) {
                rd_kafka_message_destroy(m);
                goto done;
            }
        } else if (p && !p->done && m->offset < p->end) {
            int v = visit(ctx, m);
            if (m->offset + 1 >= p->end) {
                p->done = 1;
                st.parts_done++;
            }
            if (v != 0) {
                rd_kafka_message_destroy(m);
                rc = v > 0 ? EXIT_OK_ : EXIT_REFUSED;
                goto done;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rc = EXIT_OK_;
done:
    if (list)
        rd_kafka_topic_partition_list_destroy(list);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    free(st.parts);
    return rc;
}

/* Bytes as printable ASCII: \\, \n, \r, \t, \' (if quote) and \xNN for the
 * rest; at most max input bytes, then "...". */
static void escape_bytes(const void *p, size_t n, size_t max, int quote, char *out,
                         size_t outlen) {
    const unsigned char *s = p;
    size_t o = 0;
    size_t i = 0;
    for (; i < n && i < max && o + 8 < outlen; i++) {
        unsigned char b = s[i];
        if (b == '\\' || (quote && b == '\'')) {
            out[o++] = '\\';
            out[o++] = (char)b;
        } else if (b == '\n') {
            memcpy(out + o, "\\n", 2);
            o += 2;
        } else if (b == '\r') {
            memcpy(out + o, "\\r", 2);
            o += 2;
        } else if (b == '\t') {
            memcpy(out + o, "\\t", 2);
            o += 2;
        } else if (b >= 0x20 && b < 0x7F) {
            out[o++] = (char)b;
        } else {
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", b);
        }
    }
    if (i < n && o + 4 <= outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static char *base64(const void *p, size_t n) {
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *s = p;
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* Sets name (valid UTF-8) or name_b64 (anything else); null if absent. */
static void json_set_bytes(json_t *obj, const char *name, const void *p, size_t n, int present) {
    if (!present) {
        json_object_set_new(obj, name, json_null());
        return;
    }
    json_t *s = json_stringn(p, n);
    if (s) {
        json_object_set_new(obj, name, s);
        return;
    }
    char b64name[64];
    snprintf(b64name, sizeof b64name, "%s_b64", name);
    char *b = base64(p, n);
    json_object_set_new(obj, b64name, b ? json_string(b) : json_null());
    free(b);
}

/* A numeric header as an integer, or its text, or null. */
static json_t *json_num_header(const char *s) {
    int64_t v;
    if (!s)
        return json_null();
    if (parse_i64(s, &v) == 0)
        return json_integer(v);
    return json_bytes(s, strlen(s));
}

static json_t *dlq_rec_json(const common_t *c, const dlq_rec_t *r) {
    json_t *j = json_object();
    json_object_set_new(j, "dlq_topic", json_string(c->topic_dlq));
    json_object_set_new(j, "dlq_partition", json_integer(r->partition));
    json_object_set_new(j, "dlq_offset", json_integer(r->offset));
    json_object_set_new(j, "timestamp", r->timestamp >= 0 ? json_integer(r->timestamp) : json_null());
    json_object_set_new(j, "reason", r->reason ? json_bytes(r->reason, strlen(r->reason)) : json_null());
    json_object_set_new(j, "topic", r->topic ? json_bytes(r->topic, strlen(r->topic)) : json_null());
    json_object_set_new(j, "partition", json_num_header(r->opart));
    json_object_set_new(j, "offset", json_num_header(r->ooff));
    json_set_bytes(j, "key", r->key, r->key_len, r->has_key);
    json_object_set_new(j, "detail", r->detail ? json_bytes(r->detail, strlen(r->detail)) : json_null());
    json_set_bytes(j, "value", r->value, r->value_len, 1);
    return j;
}

static void dlq_rec_print(const dlq_rec_t *r) {
    char key[300], val[400], detail[700];
    if (r->has_key)
        escape_bytes(r->key, r->key_len, 64, 0, key, sizeof key);
    else
        snprintf(key, sizeof key, "-");
    escape_bytes(r->value, r->value_len, 80, 1, val, sizeof val);
    if (r->detail)
        escape_bytes(r->detail, strlen(r->detail), 160, 0, detail, sizeof detail);
    else
        snprintf(detail, sizeof detail, "-");
    char where[40], origin[300];
    snprintf(where, sizeof where, "%d/%" PRId64, (int)r->partition, r->offset);
    snprintf(origin, sizeof origin, "%s[%s]@%s", r->topic ? r->topic : "?",
             r->opart ? r->opart : "?", r->ooff ? r->ooff : "?");
    printf("%-10s  %-18s  %-32s  %-20s  '%s'  %s\n", where, r->reason ? r->reason : "-",
           origin, key, val, detail);
}

#define MAX_DLQ_OFFSETS 256

typedef struct dlq_opts {
    int json, all, dry_run;
    const char *reason, *to;
    int64_t timeout_ms;
    int32_t off_part[MAX_DLQ_OFFSETS];
    int64_t off_off[MAX_DLQ_OFFSETS];
    int off_found[MAX_DLQ_OFFSETS];
    int n_offsets, n_found;
} dlq_opts_t;

typedef struct dlq_ctx {
    const common_t *c;
    dlq_opts_t *o;
    int64_t listed;
    dlq_rec_t *recs;            /* replay: the chosen messages */
    size_t n_recs, cap_recs;
} dlq_ctx_t;

static void dlq_help(FILE *out) {
    fprintf(out,
"usage: intentctl [global options] dlq list [options]\n"
"       intentctl [global options] dlq replay (--all | --offset P:O ... | --reason R)\n"
"                                             [options]\n"
"\n"
"The dead-letter topic (TOPIC_DLQ, default orders.dlq) holds the messages the\n"
"worker could not read as an intent, with their original key and bytes and\n"
"the headers x-dlq-reason, x-dlq-topic, x-dlq-partition, x-dlq-offset and\n"
"x-dlq-detail.  Both commands read the whole topic as it is when they start\n"
"(every partition from its oldest message to its end as of the start; no\n"
"group is joined, nothing is committed).\n"
"\n"
"dlq list: one line per message: DLQ partition/offset, reason, original\n"
"topic[partition]@offset, key, the first 80 bytes of the value (printable,\n"
"escaped as \\xNN) and the detail.\n"
"  --json                one JSON object per message: dlq_topic, dlq_partition,\n"
"                        dlq_offset, timestamp, reason, topic, partition,\n"
"                        offset, key, detail, and the whole value as \"value\"\n"
"                        when it is valid UTF-8, else base64 in \"value_b64\"\n"
"                        (likewise \"key_b64\")\n"
"  --reason R            only messages with x-dlq-reason R\n"
"  --from-beginning      accepted; reading from the oldest message is the default\n"
"  --timeout MS          give up reading after MS (default 30000)\n"
"\n"
"dlq replay: re-publishes the chosen messages' original bytes, with their\n"
"original key, to their original topic (x-dlq-topic), adding the header\n"
"x-dlq-replayed-from: <dlq topic>/<partition>/<offset>.  Idempotent producer;\n"
"waits for every delivery.  Use it after a fix, or once a bot has re-sent a\n"
"corrected message (a message the worker still cannot read comes back to the\n"
"DLQ, with x-dlq-offset the replayed copy's offset).\n"
"  --all                 every message on the DLQ\n"
"  --offset P:O          the message at partition P, offset O; repeatable\n"
"  --reason R            every message with x-dlq-reason R\n"
"  --to TOPIC            publish to TOPIC instead of x-dlq-topic\n"
"  --dry-run             print what would be sent; send nothing\n"
"  --json                one JSON object per message: status (sent, failed,\n"
"                        dry_run, not_found), from, dlq_partition, dlq_offset,\n"
"                        topic, and partition and offset where it was written\n"
"  --timeout MS          give up reading the DLQ after MS (default 30000)\n"
"\n"
"Prints 'replayed <dlq>/<P>/<O> -> <topic> [<partition>] @<offset>' per message\n"
"sent ('would replay ...' with --dry-run).\n"
"\n"
"Exit: 0 ok; 1 the DLQ was not read to its end before the timeout, or (replay)\n"
"a chosen message could not be sent, an --offset is not on the DLQ, or nothing\n"
"matched; 2 usage; 3 Kafka error.\n");
}

static int dlq_list_visit(void *ctx_, const rd_kafka_message_t *m) {
    dlq_ctx_t *ctx = ctx_;
    dlq_rec_t r;
    if (dlq_rec_from(&r, m) != 0) {
        dlq_rec_free(&r);
        fprintf(stderr, "intentctl: out of memory\n");
        return -1;
    }
    if (!ctx->o->reason || (r.reason && strcmp(r.reason, ctx->o->reason) == 0)) {
        if (ctx->o->json) {
            json_t *j = dlq_rec_json(ctx->c, &r);
            json_dumpf(j, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(j);
        } else {
            dlq_rec_print(&r);
        }
        ctx->listed++;
    }
    dlq_rec_free(&r);
    return 0;
}

static int dlq_replay_visit(void *ctx_, const rd_kafka_message_t *m) {
    dlq_ctx_t *ctx = ctx_;
    dlq_opts_t *o = ctx->o;
    int chosen = o->all;
    for (int i = 0; i < o->n_offsets; i++)
        if (o->off_part[i] == m->partition && o->off_off[i] == m->offset && !o->off_found[i]) {
            o->off_found[i] = 1;
            o->n_found++;
            chosen = 1;
        }
    dlq_rec_t r;
    if (!chosen && o->reason) {
        rd_kafka_headers_t *h = NULL;
        char *reason = rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR
                           ? header_dup(h, "x-dlq-reason")
                           : NULL;
        chosen = reason && strcmp(reason, o->reason) == 0;
        free(reason);
    }
    if (!chosen)
        return 0;
    if (ctx->n_recs == ctx->cap_recs) {
        size_t ncap = ctx->cap_recs ? ctx->cap_recs * 2 : 16;
        dlq_rec_t *n = realloc(ctx->recs, ncap * sizeof *n);
        if (!n) {
            fprintf(stderr, "intentctl: out of memory\n");
            return -1;
        }
        ctx->recs = n;
        ctx->cap_recs = ncap;
    }
    if (dlq_rec_from(&r, m) != 0) {
        dlq_rec_free(&r);
        fprintf(stderr, "intentctl: out of memory\n");
        return -1;
    }
    ctx->recs[ctx->n_recs++] = r;
    /* every --offset found: no need to read the rest */
    return o->n_offsets && o->n_found == o->n_offsets ? 1 : 0;
}

static void replay_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    dlq_rec_t *r = m->_private;
    if (!r)
        return;
    r->err = m->err;
    r->delivered = m->err ? -1 : 1;
    r->sent_partition = m->partition;
    r->sent_offset = m->offset;
}

static void replay_report(const common_t *c, const dlq_opts_t *o, const dlq_rec_t *r,
                          const char *status) {
    char from[300];
    snprintf(from, sizeof from, "%s/%d/%" PRId64, c->topic_dlq, (int)r->partition, r->offset);
    int sent = r->delivered == 1;
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s, s:i, s:I, s:o, s:o}", "status", status, "from", from,
                              "dlq_partition", (int)r->partition, "dlq_offset",
                              (json_int_t)r->offset, "reason",
                              r->reason ? json_bytes(r->reason, strlen(r->reason)) : json_null(),
                              "topic", r->to ? json_bytes(r->to, strlen(r->to)) : json_null());
        if (sent) {
            json_object_set_new(j, "partition", json_integer(r->sent_partition));
            json_object_set_new(j, "offset", json_integer(r->sent_offset));
        }
        if (r->delivered == -1)
            json_object_set_new(j, "error", json_string(r->err ? rd_kafka_err2str(r->err)
                                                               : "no x-dlq-topic header; give --to"));
        json_set_bytes(j, "key", r->key, r->key_len, r->has_key);
        json_object_set_new(j, "bytes", json_integer((json_int_t)r->value_len));
        json_dumpf(j, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(j);
        return;
    }
    if (sent)
        printf("replayed %s -> %s [%d] @%" PRId64 "\n", from, r->to, (int)r->sent_partition,
               r->sent_offset);
    else if (r->delivered == 0)
        printf("would replay %s -> %s (%s, %zu bytes)\n", from, r->to,
               r->reason ? r->reason : "-", r->value_len);
    else
        fprintf(stderr, "intentctl: replay of %s to %s failed: %s\n", from,
                r->to ? r->to : "?",
                r->err ? rd_kafka_err2str(r->err) : "no x-dlq-topic header; give --to");
}

static int dlq_replay(const common_t *c, dlq_ctx_t *ctx) {
    dlq_opts_t *o = ctx->o;
    int failed = 0;
    for (int i = 0; i < o->n_offsets; i++)
        if (!o->off_found[i]) {
            failed++;
            if (o->json) {
                char from[300];
                snprintf(from, sizeof from, "%s/%d/%" PRId64, c->topic_dlq, (int)o->off_part[i],
                         o->off_off[i]);
                json_t *j = json_pack("{s:s, s:s, s:i, s:I}", "status", "not_found", "from",
                                      from, "dlq_partition", (int)o->off_part[i],
                                      "dlq_offset", (json_int_t)o->off_off[i]);
                json_dumpf(j, stdout, JSON_COMPACT);
                putchar('\n');
                json_decref(j);
            } else {
                fprintf(stderr, "intentctl: no message at %s/%d/%" PRId64 "\n", c->topic_dlq,
                        (int)o->off_part[i], o->off_off[i]);
            }
        }
    if (ctx->n_recs == 0) {
        if (!o->n_offsets)
            fprintf(stderr, "intentctl: no DLQ message matched\n");
        return EXIT_REFUSED;
    }
    for (size_t i = 0; i < ctx->n_recs; i++) {
        dlq_rec_t *r = &ctx->recs[i];
        r->to = o->to ? o->to : r->topic;
        if (!r->to || !*r->to)
            r->delivered = -1;
    }
    if (o->dry_run) {
        for (size_t i = 0; i < ctx->n_recs; i++) {
            replay_report(c, o, &ctx->recs[i], ctx->recs[i].delivered ? "failed" : "dry_run");
            failed += ctx->recs[i].delivered != 0;
        }
        return failed ? EXIT_REFUSED : EXIT_OK_;
    }

    int64_t msg_timeout_ms = 30000;
    static const char *const settings[] = {"enable.idempotence", "true",
                                           "message.timeout.ms", "30000", NULL};
    rd_kafka_conf_t *conf = make_conf(c, settings);
    if (!conf)
        return EXIT_USAGE;
    char val[64];
    size_t vlen = sizeof val;
    if (rd_kafka_conf_get(conf, "message.timeout.ms", val, &vlen) == RD_KAFKA_CONF_OK)
        parse_i64(val, &msg_timeout_ms);
    rd_kafka_conf_set_dr_msg_cb(conf, replay_dr_cb);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "intentctl: %s\n", err);
        return EXIT_KAFKA;
    }
    if (check_connection(rk, c) != 0) {
        rd_kafka_destroy(rk);
        return EXIT_KAFKA;
    }
    for (size_t i = 0; i < ctx->n_recs; i++) {
        dlq_rec_t *r = &ctx->recs[i];
        if (r->delivered)
            continue;
        char from[300];
        snprintf(from, sizeof from, "%s/%d/%" PRId64, c->topic_dlq, (int)r->partition, r->offset);
        for (;;) {
            rd_kafka_headers_t *h = rd_kafka_headers_new(1);
            rd_kafka_header_add(h, "x-dlq-replayed-from", -1, from, -1);
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(r->to),
                RD_KAFKA_V_KEY((r->has_key ? r->key : NULL), r->key_len),
                RD_KAFKA_V_VALUE(r->value, r->value_len), RD_KAFKA_V_HEADERS(h),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            rd_kafka_headers_destroy(h); /* still ours when producev fails */
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 100);
                continue;
            }
            r->err = e;
            r->delivered = -1;
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    int64_t deadline = timefmt_mono_ms() + msg_timeout_ms + 10000;
    while (rd_kafka_outq_len(rk) > 0 && timefmt_mono_ms() < deadline)
        rd_kafka_flush(rk, 500);
    if (rd_kafka_outq_len(rk) > 0) {
        fprintf(stderr, "intentctl: %d message(s) still undelivered; giving up\n",
                rd_kafka_outq_len(rk));
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(rk, 1000);
    }
    rd_kafka_destroy(rk);
    for (size_t i = 0; i < ctx->n_recs; i++) {
        dlq_rec_t *r = &ctx->recs[i];
        if (r->delivered == 0) { /* purged: no report came */
            r->delivered = -1;
            r->err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        }
        replay_report(c, o, r, r->delivered == 1 ? "sent" : "failed");
        failed += r->delivered != 1;
    }
    return failed ? EXIT_REFUSED : EXIT_OK_;
}

static int cmd_dlq(common_t *c, int argc, char **argv) {
    enum { O_JSON = 4000, O_REASON, O_FROM_BEGINNING, O_TIMEOUT, O_ALL, O_OFFSET, O_TO, O_DRY };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, O_JSON},
        {"reason", required_argument, NULL, O_REASON},
        {"from-beginning", no_argument, NULL, O_FROM_BEGINNING},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"all", no_argument, NULL, O_ALL},
        {"offset", required_argument, NULL, O_OFFSET},
        {"to", required_argument, NULL, O_TO},
        {"dry-run", no_argument, NULL, O_DRY},
        {"help", no_argument, NULL, 'h'},
        COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    if (argc < 2)
        return usage_error("dlq", "dlq wants a subcommand: list or replay%s", "");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        dlq_help(stdout);
        return EXIT_OK_;
    }
    int replay;
    static char list_name[] = "intentctl dlq list", replay_name[] = "intentctl dlq replay";
    if (strcmp(argv[1], "list") == 0) {
        replay = 0;
        argv[1] = list_name;
    } else if (strcmp(argv[1], "replay") == 0) {
        replay = 1;
        argv[1] = replay_name;
    } else {
        return usage_error("dlq", "no such dlq command '%s' (list, replay)", argv[1]);
    }
    argc--;
    argv++;

    dlq_opts_t o;
    memset(&o, 0, sizeof o);
    o.timeout_ms = 30000;
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "+hb:X:", longopts, NULL)) != -1) {
        int r = common_opt(c, opt, optarg, "dlq");
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        if (!replay && (opt == O_ALL || opt == O_OFFSET || opt == O_TO || opt == O_DRY))
            return usage_error("dlq", "%s is an option of 'dlq replay', not 'dlq list'",
                               argv[optind - 1]);
        if (replay && opt == O_FROM_BEGINNING)
            return usage_error("dlq", "--from-beginning is an option of 'dlq list'%s", "");
        switch (opt) {
        case 'h': dlq_help(stdout); return EXIT_OK_;
        case O_JSON: o.json = 1; break;
        case O_REASON:
            if (!*optarg)
                return usage_error("dlq", "--reason is empty%s", "");
            o.reason = optarg;
            break;
        case O_FROM_BEGINNING: break;
        case O_TIMEOUT:
            if (parse_i64(optarg, &o.timeout_ms) != 0 || o.timeout_ms <= 0)
                return usage_error("dlq", "--timeout wants milliseconds > 0, got '%s'", optarg);
            break;
        case O_ALL: o.all = 1; break;
        case O_OFFSET: {
            const char *colon = strchr(optarg, ':');
            int64_t p, off;
            char part[24];
            if (!colon || (size_t)(colon - optarg) >= sizeof part)
                return usage_error("dlq", "--offset wants PARTITION:OFFSET, got '%s'", optarg);
            memcpy(part, optarg, (size_t)(colon - optarg));
            part[colon - optarg] = '\0';
            if (parse_i64(part, &p) != 0 || p > INT32_MAX || parse_i64(colon + 1, &off) != 0)
                return usage_error("dlq", "--offset wants PARTITION:OFFSET, got '%s'", optarg);
            if (o.n_offsets == MAX_DLQ_OFFSETS)
                return usage_error("dlq", "more than 256 --offset options%s", "");
            int dup = 0;
            for (int i = 0; i < o.n_offsets; i++)
                dup |= o.off_part[i] == (int32_t)p && o.off_off[i] == off;
            if (!dup) {
                o.off_part[o.n_offsets] = (int32_t)p;
                o.off_off[o.n_offsets++] = off;
            }
            break;
        }
        case O_TO:
            if (!*optarg)
                return usage_error("dlq", "--to is empty%s", "");
            o.to = optarg;
            break;
        case O_DRY: o.dry_run = 1; break;
        default: return usage_error("dlq", NULL, NULL);
        }
    }
    if (optind < argc)
        return usage_error("dlq", "unexpected argument '%s'", argv[optind]);
    if (replay) {
        int kinds = o.all + (o.n_offsets > 0) + (o.reason != NULL);
        if (kinds != 1)
            return usage_error("dlq", "dlq replay wants exactly one of --all, --offset P:O, "
                                      "--reason R%s", "");
        if (o.to && strcmp(o.to, c->topic_dlq) == 0)
            return usage_error("dlq", "--to %s: that is the DLQ itself", o.to);
    }
    if (!c->brokers || !*c->brokers)
        return usage_error("dlq", "no brokers: give --brokers or set KAFKA_BROKERS%s", "");

    dlq_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.c = c;
    ctx.o = &o;
    int rc = dlq_read(c, o.timeout_ms, replay ? dlq_replay_visit : dlq_list_visit, &ctx);
    if (replay && rc == EXIT_OK_)
        rc = dlq_replay(c, &ctx);
    for (size_t i = 0; i < ctx.n_recs; i++)
        dlq_rec_free(&ctx.recs[i]);
    free(ctx.recs);
    fflush(stdout);
    return rc;
}

/* -------------------------------------------------- operator: kill switch */

/* The kill switch (halt, reduce, resume, trading) writes and reads the
 * ledger's trading_states directly through libpq (DATABASE_URL); the quota
 * commands read and set Redis keys (REDIS_URL).  Neither URL is ever
 * printed: libpq's and redisconn's messages name host and port only. */

/* A bot or user id as the contract allows: 1..64 of A-Z a-z 0-9 . _ - (so
 * it can never forge another Redis key or hash tag). */
static int valid_subject_id(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

/* One line of libpq text (its messages end in newlines). */
static void pq_print_err(const char *what, const char *msg) {
    fprintf(stderr, "intentctl: %s: ", what);
    for (const char *p = msg && *msg ? msg : "failed"; *p; p++)
        fputc(*p == '\n' || *p == '\t' ? ' ' : *p, stderr);
    fputc('\n', stderr);
}

/* The ledger connection, or NULL after saying why; *rc tells which exit. */
static PGconn *db_connect(const char *cmd, int *rc) {
    /* The operator's role, where the worker's own may only do what the
     * worker needs (see README, least privilege).  Read as the worker reads
     * its settings: NAME or NAME_FILE, the password apart or in the URL. */
    static const char *const admin[] = {"ADMIN_DATABASE_URL", "ADMIN_DATABASE_PASSWORD",
                                        "DATABASE_SSLMODE", NULL};
    static const char *const worker[] = {"DATABASE_URL", "DATABASE_PASSWORD",
                                         "DATABASE_SSLMODE", NULL};
    int use_admin = envfile_is_set("ADMIN_DATABASE_URL");
    if (!use_admin && !envfile_is_set("DATABASE_URL")) {
        usage_error(cmd, "neither ADMIN_DATABASE_URL nor DATABASE_URL is set (the ledger's "
                         "postgresql:// URL)%s", "");
        *rc = EXIT_USAGE;
        return NULL;
    }
    config_t *cfg = calloc(1, sizeof *cfg);
    char err[512];
    if (!cfg || config_load_only(cfg, use_admin ? admin : worker, err, sizeof err) < 0) {
        fprintf(stderr, "intentctl: %s\n", cfg ? err : "out of memory");
        free(cfg);
        *rc = EXIT_USAGE;
        return NULL;
    }
    /* Settings before dbname are defaults the URL may override. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"10", "intentctl",
                                use_admin ? cfg->admin_database_url : cfg->database_url, NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    OPENSSL_cleanse(cfg, sizeof *cfg);
    free(cfg);
    if (!db || PQstatus(db) != CONNECTION_OK) {
        pq_print_err("cannot reach the ledger (DATABASE_URL)", db ? PQerrorMessage(db) : NULL);
        PQfinish(db);
        *rc = EXIT_REFUSED;
        return NULL;
    }
    return db;
}

/* Runs one parameterised statement; NULL after printing why. */
static PGresult *db_exec(PGconn *db, const char *sql, int n, const char *const *params,
                         ExecStatusType want, const char *what) {
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == want)
        return r;
    pq_print_err(what, PQresultErrorMessage(r));
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && strcmp(state, "42P01") == 0) /* undefined_table */
        fprintf(stderr, "intentctl: the ledger lacks the kill switch tables: run "
                        "'order-worker migrate'\n");
    PQclear(r);
    return NULL;
}

static int db_cmd(PGconn *db, const char *sql, int n, const char *const *params,
                  const char *what) {
    PGresult *r = db_exec(db, sql, n, params, PGRES_COMMAND_OK, what);
    PQclear(r);
    return r ? 0 : -1;
}

/* Who is changing the state: "$USER@hostname", or "intentctl". */
static void operator_name(char *out, size_t len) {
    const char *user = getenv("USER");
    char host[256];
    if (!user || !*user) {
        snprintf(out, len, "intentctl");
        return;
    }
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    if (*host)
        snprintf(out, len, "%s@%s", user, host);
    else
        snprintf(out, len, "%s", user);
}

static void state_help(FILE *out) {
    fprintf(out,
"usage: intentctl halt|reduce|resume (--global | --user ID | --bot ID) [--reason TEXT]\n"
"\n"
"The kill switch.  Sets the trading state of everyone (--global), of one user\n"
"or of one bot in the ledger (table trading_states, with a row in\n"
"trading_state_changes saying who, why and when, in one transaction):\n"
"  halt     every intent that falls under it is rejected trading_halted\n"
"  reduce   only orders that shrink an existing position pass (a sell of at\n"
"           most the long quantity, a buy of at most the short quantity)\n"
"  resume   back to active\n"
"The strictest state that applies to an intent wins (a resumed bot of a\n"
"halted user stays halted).  Every replica re-reads the states every\n"
"TRADING_REFRESH_MS (500 ms by default): a change is obeyed within a second.\n"
"\n"
"  --global              all trading\n"
"  --user ID             one user (its user intents and its bots' intents)\n"
"  --bot ID              one bot\n"
"  --reason TEXT         why (kept in the ledger and logged by the workers)\n"
"  --json                print the new state as one JSON object\n"
"  -h, --help            this text\n"
"\n"
"Needs DATABASE_URL.  Prints the new state, e.g. 'bot b1: halted (was active)'.\n"
"Exit: 0 set; 1 the ledger refused or cannot be reached; 2 usage.\n");
}

static int cmd_state(int argc, char **argv, const char *cmd, const char *to_state) {
    enum { O_GLOBAL = 4000, O_USER, O_BOT, O_REASON, O_JSON };
    static const struct option longopts[] = {
        {"global", no_argument, NULL, O_GLOBAL},
        {"user", required_argument, NULL, O_USER},
        {"bot", required_argument, NULL, O_BOT},
        {"reason", required_argument, NULL, O_REASON},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *scope = NULL, *id = "", *reason = NULL;
    int json = 0, scopes = 0, opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': state_help(stdout); return EXIT_OK_;
        case O_GLOBAL: scope = "global"; id = ""; scopes++; break;
        case O_USER: scope = "user"; id = optarg; scopes++; break;
        case O_BOT: scope = "bot"; id = optarg; scopes++; break;
        case O_REASON: reason = optarg; break;
        case O_JSON: json = 1; break;
        default: return usage_error(cmd, NULL, NULL);
        }
    }
    if (optind < argc)
        return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (scopes != 1)
        return usage_error(cmd, "say whose trading: exactly one of --global, --user ID, --bot ID%s",
                           "");
    if (*id && !valid_subject_id(id))
        return usage_error(cmd, "'%s' is not an id (1 to 64 characters of A-Z a-z 0-9 . _ -)", id);
    if (reason && strlen(reason) > 1000)
        return usage_error(cmd, "--reason is longer than 1000 characters%s", "");

    int rc = EXIT_REFUSED;
    PGconn *db = db_connect(cmd, &rc);
    if (!db)
        return rc;
    char by[320];
    operator_name(by, sizeof by);
    char previous[16] = "active";
    char at[64] = "";
    const char *p_key[] = {scope, id};
    const char *p_set[] = {scope, id, to_state, reason, by};
    PGresult *r = NULL;
    if (db_cmd(db, "BEGIN", 0, NULL, "begin") < 0)
        goto done;
    /* Writers one at a time (readers are not blocked), so the history's
     * from_state is exact even when two operators act at once. */
    if (db_cmd(db, "LOCK TABLE trading_states IN SHARE ROW EXCLUSIVE MODE", 0, NULL,
               "lock trading_states") < 0)
        goto rollback;
    r = db_exec(db, "SELECT state FROM trading_states WHERE scope = $1 AND id = $2", 2, p_key,
                PGRES_TUPLES_OK, "read trading_states");
    if (!r)
        goto rollback;
    int had_row = PQntuples(r) > 0;
    if (had_row)
        snprintf(previous, sizeof previous, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = db_exec(db,
                "INSERT INTO trading_states (scope, id, state, reason, updated_by)"
                " VALUES ($1, $2, $3, $4, $5)"
                " ON CONFLICT (scope, id) DO UPDATE SET state = EXCLUDED.state,"
                " reason = EXCLUDED.reason, updated_by = EXCLUDED.updated_by, updated_at = now()"
                " RETURNING to_char(updated_at AT TIME ZONE 'UTC',"
                " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
                5, p_set, PGRES_TUPLES_OK, "write trading_states");
    if (!r)
        goto rollback;
    snprintf(at, sizeof at, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    r = NULL;
    const char *p_hist[] = {scope, id, had_row ? previous : NULL, to_state, reason, by};
    if (db_cmd(db,
               "INSERT INTO trading_state_changes (scope, id, from_state, to_state, reason,"
               " changed_by) VALUES ($1, $2, $3, $4, $5, $6)",
               6, p_hist, "write trading_state_changes") < 0 ||
        db_cmd(db, "COMMIT", 0, NULL, "commit") < 0)
        goto rollback;

    if (json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "scope", scope, "id", id,
                              "state", to_state, "previous", previous, "reason",
                              reason ? json_bytes(reason, strlen(reason)) : json_null(),
                              "updated_by", by, "updated_at", at);
        json_dumpf(j, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(j);
    } else {
        if (*id)
            printf("%s %s: %s (was %s)", scope, id, to_state, previous);
        else
            printf("global: %s (was %s)", to_state, previous);
        if (reason)
            printf("; reason: %s", reason);
        printf("; by %s at %s\n", by, at);
    }
    rc = EXIT_OK_;
    goto done;
rollback:
    PQclear(PQexec(db, "ROLLBACK"));
done:
    PQfinish(db);
    return rc;
}

/* ------------------------------------------------------------ operator: bots */

/* Who may sign intents (tables bots, bot_keys, bot_users; worker/auth.h).
 * A key is made here from getrandom() and shown once: on stdout, or only in
 * the file of --key-file (created 0600).  The ledger keeps it for the
 * workers; nothing else ever prints it. */

static void bot_help(FILE *out) {
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

static int random_bytes(unsigned char *b, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("intentctl: getrandom");
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

static void to_hex(const unsigned char *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Shows the new key once: into key_file (0600, not overwritten), alone on
 * stdout for key_file "-" (`... --key-file - > bot.key`, as from a
 * container), or in a sentence on stdout.  0, or -1 after saying why. */
static int bot_emit_key(const char *bot, const char *key_no, const char *hex,
                        const char *key_file) {
    if (key_file && !strcmp(key_file, "-")) {
        printf("%s\n", hex);
        fprintf(stderr, "intentctl: bot %s: key %s printed on stdout; it is shown this once\n",
                bot, key_no);
        return 0;
    }
    if (!key_file) {
        printf("bot %s: key %s: %s\n", bot, key_no, hex);
        fprintf(stderr, "intentctl: the key is shown this once; give it to the bot "
                        "(INTENT_SIGNING_KEY_FILE) and keep it secret\n");
        return 0;
    }
    int fd = open(key_file, O_WRONLY | O_CREAT | O_EXCL, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f || fprintf(f, "%s\n", hex) < 0 || fclose(f) != 0) {
        fprintf(stderr, "intentctl: cannot write the key to %s: %s\n", key_file, strerror(errno));
        if (fd >= 0 && !f)
            close(fd);
        return -1;
    }
    printf("bot %s: key %s written to %s\n", bot, key_no, key_file);
    return 0;
}

/* One change in one transaction: sql_1..sql_n with the same parameters,
 * then the audit row.  The last statement's first value (if it returns
 * rows) goes to out. */
static int bot_change(PGconn *db, const char *const *sqls, int n_sql, const char *const *params,
                      int n_params, const char *bot, const char *action, const char *detail,
                      char *out, size_t outlen) {
    char by[320];
    operator_name(by, sizeof by);
    PGresult *r;
    if (db_cmd(db, "BEGIN", 0, NULL, "begin") < 0)
        return -1;
    for (int i = 0; i < n_sql; i++) {
        /* Every parameter is text, so a statement may leave some unused. */
        static const Oid text[] = {25, 25, 25, 25, 25, 25};
        r = PQexecParams(db, sqls[i], n_params, text, params, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (state && !strcmp(state, "23505"))
                fprintf(stderr, "intentctl: bot %s exists already (rotate makes a new key)\n", bot);
            else if (state && !strcmp(state, "23503"))
                fprintf(stderr, "intentctl: no bot %s (add it first)\n", bot);
            else
                pq_print_err(action, PQresultErrorMessage(r));
            PQclear(r);
            PQclear(PQexec(db, "ROLLBACK"));
            return -1;
        }
        if (st == PGRES_TUPLES_OK && out) {
            if (PQntuples(r) == 0) {
                PQclear(r);
                PQclear(PQexec(db, "ROLLBACK"));
                return 1;  /* nothing to change */
            }
            snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
        }
        PQclear(r);
    }
    const char *p_audit[] = {bot, action, detail, by};
    if (db_cmd(db, "INSERT INTO bot_changes (bot_id, action, detail, changed_by)"
                   " VALUES ($1, $2, $3, $4)", 4, p_audit, "write bot_changes") < 0 ||
        db_cmd(db, "COMMIT", 0, NULL, "commit") < 0) {
        PQclear(PQexec(db, "ROLLBACK"));
        return -1;
    }
    return 0;
}

static int bot_list(PGconn *db, int json) {
    PGresult *r = db_exec(db,
        "SELECT b.bot_id,"
        " COALESCE((SELECT string_agg(k.key_no || ' ' || CASE"
        "   WHEN k.revoked_at IS NOT NULL THEN 'revoked'"
        "   WHEN k.valid_until IS NULL THEN 'active'"
        "   WHEN k.valid_until > now() THEN 'grace-until-' ||"
        "     to_char(k.valid_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        "   ELSE 'expired' END, ',' ORDER BY k.key_no) FROM bot_keys k"
        "   WHERE k.bot_id = b.bot_id), ''),"
        " COALESCE((SELECT string_agg(u.user_id, ',' ORDER BY u.user_id) FROM bot_users u"
        "   WHERE u.bot_id = b.bot_id), '')"
        " FROM bots b ORDER BY b.bot_id", 0, NULL, PGRES_TUPLES_OK, "read bots");
    if (!r)
        return EXIT_REFUSED;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *bot = PQgetvalue(r, i, 0), *keys = PQgetvalue(r, i, 1),
                   *users = PQgetvalue(r, i, 2);
        if (json) {
            json_t *j = json_pack("{s:s, s:s, s:s}", "bot_id", bot, "keys", keys, "users", users);
            json_dumpf(j, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(j);
        } else {
            printf("%-24s keys: %-40s users: %s\n", bot, *keys ? keys : "-", *users ? users : "-");
        }
    }
    PQclear(r);
    return EXIT_OK_;
}

static int cmd_bot(int argc, char **argv) {
    enum { O_USER = 5000, O_KEY_FILE, O_GRACE, O_KEY, O_JSON };
    static const struct option longopts[] = {
        {"user", required_argument, NULL, O_USER},
        {"key-file", required_argument, NULL, O_KEY_FILE},
        {"grace-ms", required_argument, NULL, O_GRACE},
        {"key", required_argument, NULL, O_KEY},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *users[64], *key_file = NULL, *grace = "86400000", *key_no = NULL;
    int n_users = 0, json = 0, opt;
    int64_t num;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': bot_help(stdout); return EXIT_OK_;
        case O_USER:
            if (n_users == 64)
                return usage_error("bot", "at most 64 --user at once%s", "");
            users[n_users++] = optarg;
            break;
        case O_KEY_FILE: key_file = optarg; break;
        case O_GRACE:
            if (parse_i64(optarg, &num) != 0 || num > 366LL * 86400000)
                return usage_error("bot", "--grace-ms wants milliseconds (at most a year), got '%s'",
                                   optarg);
            grace = optarg;
            break;
        case O_KEY:
            if (parse_i64(optarg, &num) != 0 || num < 1 || num > 1000000)
                return usage_error("bot", "--key wants a key number, got '%s'", optarg);
            key_no = optarg;
            break;
        case O_JSON: json = 1; break;
        default: return usage_error("bot", NULL, NULL);
        }
    }
    const char *sub = optind < argc ? argv[optind++] : NULL;
    if (!sub)
        return usage_error("bot", "say what: add, rotate, revoke, bind, unbind or list%s", "");
    int is_add = !strcmp(sub, "add"), is_rotate = !strcmp(sub, "rotate"),
        is_revoke = !strcmp(sub, "revoke"), is_bind = !strcmp(sub, "bind"),
        is_unbind = !strcmp(sub, "unbind"), is_list = !strcmp(sub, "list");
    if (!(is_add || is_rotate || is_revoke || is_bind || is_unbind || is_list))
        return usage_error("bot", "no such bot command '%s' (add, rotate, revoke, bind, unbind, list)",
                           sub);
    const char *bot = NULL;
    if (!is_list) {
        bot = optind < argc ? argv[optind++] : NULL;
        if (!bot || !valid_subject_id(bot))
            return usage_error("bot", "'%s' is not a bot id (1 to 64 characters of A-Z a-z 0-9 . _ -)",
                               bot ? bot : "");
    }
    if (is_bind || is_unbind)
        while (optind < argc && n_users < 64)
            users[n_users++] = argv[optind++];
    if (optind < argc)
        return usage_error("bot", "unexpected argument '%s'", argv[optind]);
    if ((is_bind || is_unbind) && n_users == 0)
        return usage_error("bot", "%s wants at least one USER", sub);
    for (int i = 0; i < n_users; i++)
        if (strcmp(users[i], "*") != 0 && !valid_subject_id(users[i]))
            return usage_error("bot", "'%s' is not a user id (or '*')", users[i]);
    if (key_file && !(is_add || is_rotate))
        return usage_error("bot", "--key-file is for add and rotate%s", "");
    if (key_file && access(key_file, F_OK) == 0)
        return usage_error("bot", "--key-file %s exists; the new key is never written over a file",
                           key_file);

    int rc = EXIT_REFUSED;
    PGconn *db = db_connect("bot", &rc);
    if (!db)
        return rc;
    if (is_list) {
        rc = bot_list(db, json);
        PQfinish(db);
        return rc;
    }
    unsigned char key[AUTH_KEY_BYTES];
    char hex[2 * AUTH_KEY_BYTES + 1] = "", detail[1200] = "", got[32] = "";
    int r = -1;
    if (is_add || is_rotate) {
        if (random_bytes(key, sizeof key) < 0)
            goto done;
        to_hex(key, sizeof key, hex);
        OPENSSL_cleanse(key, sizeof key);
    }
    if (is_add) {
        static const char *const sqls[] = {
            "INSERT INTO bots (bot_id, created_by) VALUES ($1, $3)",
            "INSERT INTO bot_users (bot_id, user_id)"
            " SELECT $1, unnest(string_to_array($4, ',')) ON CONFLICT DO NOTHING",
            "INSERT INTO bot_keys (bot_id, key_no, secret) VALUES ($1, 1, decode($2, 'hex'))"
            " RETURNING key_no"};
        char by[320], users_csv[1200] = "";
        operator_name(by, sizeof by);
        for (int i = 0; i < n_users; i++)
            snprintf(users_csv + strlen(users_csv), sizeof users_csv - strlen(users_csv), "%s%s",
                     i ? "," : "", users[i]);
        snprintf(detail, sizeof detail, "key 1; users %s", n_users ? users_csv : "none");
        const char *p[] = {bot, hex, by, users_csv};
        r = bot_change(db, sqls, 3, p, 4, bot, "add", detail, got, sizeof got);
        if (r == 0)
            r = bot_emit_key(bot, got, hex, key_file);
        if (r == 0 && n_users) /* stdout holds only the key with --key-file - */
            fprintf(key_file && !strcmp(key_file, "-") ? stderr : stdout,
                    "bot %s: may trade for %s\n", bot, users_csv);
    } else if (is_rotate) {
        static const char *const sqls[] = {
            "SELECT 1 FROM bots WHERE bot_id = $1 FOR UPDATE",
            "UPDATE bot_keys SET valid_until = LEAST(COALESCE(valid_until, 'infinity'),"
            " now() + $3::bigint * interval '1 millisecond')"
            " WHERE bot_id = $1 AND revoked_at IS NULL",
            "INSERT INTO bot_keys (bot_id, key_no, secret) SELECT $1,"
            " COALESCE(max(key_no), 0) + 1, decode($2, 'hex') FROM bot_keys WHERE bot_id = $1"
            " RETURNING key_no"};
        const char *p[] = {bot, hex, grace};
        snprintf(detail, sizeof detail, "new key; grace of the old ones %s ms", grace);
        r = bot_change(db, sqls, 3, p, 3, bot, "rotate", detail, got, sizeof got);
        if (r == 1)
            fprintf(stderr, "intentctl: no bot %s (add it first)\n", bot);
        if (r == 0)
            r = bot_emit_key(bot, got, hex, key_file);
        if (r == 0)
            fprintf(key_file && !strcmp(key_file, "-") ? stderr : stdout,
                    "bot %s: its earlier keys stay valid for %s ms\n", bot, grace);
    } else if (is_revoke) {
        static const char *const sqls[] = {
            "UPDATE bot_keys SET revoked_at = now() WHERE bot_id = $1 AND revoked_at IS NULL"
            " AND ($2::int IS NULL OR key_no = $2::int) RETURNING key_no"};
        const char *p[] = {bot, key_no};
        snprintf(detail, sizeof detail, "%s%s", key_no ? "key " : "every key",
                 key_no ? key_no : "");
        r = bot_change(db, sqls, 1, p, 2, bot, "revoke", detail, got, sizeof got);
        if (r == 1)
            fprintf(stderr, "intentctl: bot %s has no such key that is not revoked already\n", bot);
        if (r == 0)
            printf("bot %s: %s revoked\n", bot, detail);
    } else {
        for (int i = 0; i < n_users; i++)
            snprintf(detail + strlen(detail), sizeof detail - strlen(detail), "%s%s",
                     i ? "," : "", users[i]);
        static const char *const bind_sql[] = {
            "INSERT INTO bot_users (bot_id, user_id)"
            " SELECT $1, unnest(string_to_array($2, ',')) ON CONFLICT DO NOTHING"};
        static const char *const unbind_sql[] = {
            "DELETE FROM bot_users WHERE bot_id = $1 AND user_id = ANY(string_to_array($2, ','))"};
        const char *p[] = {bot, detail};
        r = bot_change(db, is_bind ? bind_sql : unbind_sql, 1, p, 2, bot, sub, detail, NULL, 0);
        if (r == 0)
            printf("bot %s: %s %s\n", bot, is_bind ? "may now trade for" : "may no longer trade for",
                   detail);
    }
    if (r == 0)
        rc = EXIT_OK_;
done:
    OPENSSL_cleanse(hex, sizeof hex);
    PQfinish(db);
    return rc;
}

static void trading_help(FILE *out) {
    fprintf(out,
"usage: intentctl trading [--all] [--history N] [--json]\n"
"\n"
"Lists the trading states in force (halted and reducing; no row means\n"
"active), strictest scope first, from the ledger (DATABASE_URL).\n"
"  --all                 also the rows set back to active\n"
"  --history N           instead, the last N changes (who, why, when), newest\n"
"                        first\n"
"  --json                one JSON object per row\n"
"  -h, --help            this text\n"
"Exit: 0 listed; 1 the ledger cannot be read; 2 usage.\n");
}

static int cmd_trading(int argc, char **argv) {
    enum { O_ALL = 4100, O_HISTORY, O_JSON };
    static const struct option longopts[] = {
        {"all", no_argument, NULL, O_ALL},
        {"history", required_argument, NULL, O_HISTORY},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int all = 0, json = 0, opt;
    int64_t history = -1;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': trading_help(stdout); return EXIT_OK_;
        case O_ALL: all = 1; break;
        case O_JSON: json = 1; break;
        case O_HISTORY:
            if (parse_i64(optarg, &history) != 0 || history < 1 || history > 100000)
                return usage_error("trading", "--history wants a count 1..100000, got '%s'",
                                   optarg);
            break;
        default: return usage_error("trading", NULL, NULL);
        }
    }
    if (optind < argc)
        return usage_error("trading", "unexpected argument '%s'", argv[optind]);
    int rc = EXIT_REFUSED;
    PGconn *db = db_connect("trading", &rc);
    if (!db)
        return rc;
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    char limit[24];
    snprintf(limit, sizeof limit, "%" PRId64, history);
    const char *p_hist[] = {limit};
    const char *p_all[] = {all ? "1" : "0"};
    PGresult *r =
        history > 0
            ? db_exec(db,
                      "SELECT scope, id, to_state, reason, changed_by, " TS("changed_at")
                      ", coalesce(from_state, 'active') FROM trading_state_changes"
                      " ORDER BY change_id DESC LIMIT $1::bigint",
                      1, p_hist, PGRES_TUPLES_OK, "read trading_state_changes")
            : db_exec(db,
                      "SELECT scope, id, state, reason, updated_by, " TS("updated_at")
                      " FROM trading_states WHERE state <> 'active' OR $1::int = 1"
                      " ORDER BY CASE scope WHEN 'global' THEN 0 WHEN 'user' THEN 1 ELSE 2 END,"
                      " id",
                      1, p_all, PGRES_TUPLES_OK, "read trading_states");
#undef TS
    if (!r)
        goto done;
    int n = PQntuples(r);
    if (!json && n == 0 && history < 0)
        printf("trading is active everywhere (no halted or reducing state)\n");
    else if (!json)
        printf("%-6s  %-24s  %-18s  %-24s  %-20s  %s\n", "SCOPE", "ID",
               history > 0 ? "CHANGE" : "STATE", history > 0 ? "AT" : "SINCE", "BY", "REASON");
    for (int i = 0; i < n; i++) {
        const char *reason = PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3);
        const char *by = PQgetisnull(r, i, 4) ? "" : PQgetvalue(r, i, 4);
        if (json) {
            json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}", "scope", PQgetvalue(r, i, 0),
                                  "id", PQgetvalue(r, i, 1), "state", PQgetvalue(r, i, 2),
                                  "reason", reason ? json_bytes(reason, strlen(reason)) : json_null(),
                                  "updated_by", json_bytes(by, strlen(by)),
                                  history > 0 ? "changed_at" : "updated_at", PQgetvalue(r, i, 5));
            if (history > 0)
                json_object_set_new(j, "previous", json_string(PQgetvalue(r, i, 6)));
            json_dumpf(j, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(j);
            continue;
        }
        char change[40];
        if (history > 0)
            snprintf(change, sizeof change, "%s->%s", PQgetvalue(r, i, 6), PQgetvalue(r, i, 2));
        else
            snprintf(change, sizeof change, "%s", PQgetvalue(r, i, 2));
        printf("%-6s  %-24s  %-18s  %-24s  %-20s  %s\n", PQgetvalue(r, i, 0),
               *PQgetvalue(r, i, 1) ? PQgetvalue(r, i, 1) : "-", change, PQgetvalue(r, i, 5),
               *by ? by : "-", reason ? reason : "-");
    }
    PQclear(r);
    rc = EXIT_OK_;
done:
    PQfinish(db);
    return rc;
}

/* ------------------------------------------------------- operator: quota */

/* Keys, as the worker's quota script (worker/quota.c) and budget
 * (worker/budget.c) use them. */
#define QUOTA_KEY_FMT "ow:quota:{%s:%s}:%s"
#define BUDGET_CALLS "ow:budget:calls"
#define BUDGET_BLOCKED "ow:budget:blocked_until"
/* The quota script's exactness bound: limit * period below 2^50. */
#define QUOTA_MAX_TICKS (1LL << 50)

static void quota_help(FILE *out) {
    fprintf(out,
"usage: intentctl quota bot ID | user ID | alpaca [--json]\n"
"       intentctl quota set bot|user ID LIMIT\n"
"       intentctl quota unset bot|user ID\n"
"\n"
"Shows a trade quota as the worker sees it, read-only, from Redis (REDIS_URL):\n"
"  used, limit, remaining   trades in the current period\n"
"  reset_ms                 ms until the quota is whole again\n"
"  retry_after_ms           ms until the next trade would be allowed (0: now)\n"
"bot and user quotas are GCRA states (ow:quota:{bot:ID}:tat); their limit is\n"
"the subject's override if set, else BOT_TRADES_PER_MIN / USER_TRADES_PER_MIN\n"
"(default 10) per RATE_PERIOD_MS (default 60000).  alpaca is the replicas'\n"
"shared Alpaca budget (ow:budget:calls, ALPACA_CALLS_PER_MIN, default 200):\n"
"calls in the last RATE_PERIOD_MS, reset_ms until the oldest of them leaves the\n"
"window, and blocked_until (ms since the epoch) while Alpaca's headers or a\n"
"429 hold every call back.\n"
"\n"
"  set      gives one bot or user its own limit per RATE_PERIOD_MS\n"
"           (ow:quota:{bot:ID}:limit); the worker uses it from the next trade\n"
"  unset    removes it: the default applies again\n"
"  --json   one JSON object\n"
"  -h, --help   this text\n"
"Exit: 0 ok; 1 Redis cannot be reached or refused; 2 usage.\n");
}

/* An environment setting as a number in [lo, hi]; -1 after a usage error. */
static int env_i64(const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out) {
    const char *v = getenv(name);
    *out = def;
    if (!v || !*v)
        return 0;
    if (parse_i64(v, out) != 0 || *out < lo || *out > hi) {
        fprintf(stderr, "intentctl: %s must be a whole number from %" PRId64 " to %" PRId64
                        ", got '%s'\n", name, lo, hi, v);
        return -1;
    }
    return 0;
}

/* Runs a Redis command; NULL after printing why (host:port, never the
 * password). */
#define REDIS_CMD(rc_, conn_, ...)                                                     \
    do {                                                                               \
        char e_[512];                                                                  \
        rc_ = redisconn_command(conn_, e_, sizeof e_, __VA_ARGS__);                    \
        if (!rc_)                                                                      \
            fprintf(stderr, "intentctl: %s\n", e_);                                    \
    } while (0)

/* Redis's clock in ms (the quota script's and the budget's clock). */
static int redis_now_ms(redisconn_t *rc, int64_t *now) {
    redisReply *r;
    REDIS_CMD(r, rc, "TIME");
    if (!r)
        return -1;
    int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING;
    if (ok)
        *now = strtoll(r->element[0]->str, NULL, 10) * 1000 +
               strtoll(r->element[1]->str, NULL, 10) / 1000;
    else
        fprintf(stderr, "intentctl: Redis TIME: unexpected reply\n");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* A whole number held in a reply (string or integer); 0 if there is none. */
static int reply_i64(const redisReply *r, int64_t *out) {
    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 1;
    }
    if (r->type != REDIS_REPLY_STRING)
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(r->str, &end, 10);
    if (errno || end == r->str || *end)
        return 0;
    *out = v;
    return 1;
}

/* The subject's override of its limit, if one is set (>= 1; anything else
 * is ignored, as the script ignores it).  1 set, 0 not, -1 error. */
static int read_override(redisconn_t *rc, const char *subject, const char *id, int64_t *limit) {
    char key[160];
    snprintf(key, sizeof key, QUOTA_KEY_FMT, subject, id, "limit");
    redisReply *r;
    REDIS_CMD(r, rc, "GET %s", key);
    if (!r)
        return -1;
    int64_t v = 0;
    int set = reply_i64(r, &v) && v >= 1;
    freeReplyObject(r);
    if (set)
        *limit = v;
    return set;
}

static int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

/* intentctl quota bot|user ID: the figures the quota script would compute. */
static int quota_show_subject(redisconn_t *rc, const char *subject, const char *id,
                              int64_t def_limit, int64_t period, int json) {
    int64_t limit = def_limit, now = 0;
    int ov = read_override(rc, subject, id, &limit);
    if (ov < 0)
        return EXIT_REFUSED;
    if (limit > QUOTA_MAX_TICKS / period) {
        fprintf(stderr, "intentctl: %s %s: limit %" PRId64 " per %" PRId64
                        " ms is beyond what the quota script computes exactly\n",
                subject, id, limit, period);
        return EXIT_REFUSED;
    }
    char key[160];
    snprintf(key, sizeof key, QUOTA_KEY_FMT, subject, id, "tat");
    redisReply *r;
    REDIS_CMD(r, rc, "HMGET %s tat frac limit", key);
    if (!r)
        return EXIT_REFUSED;
    if (redis_now_ms(rc, &now) < 0) {
        freeReplyObject(r);
        return EXIT_REFUSED;
    }
    /* As the script: the state counts in ticks of 1/limit ms; a trade costs
     * `period` ticks; the whole period is period*limit ticks. */
    int64_t cap = period * limit, used_ticks = 0, tat = 0, frac = 0, slimit = limit;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && reply_i64(r->element[0], &tat)) {
        if (!reply_i64(r->element[1], &frac))
            frac = 0;
        if (!reply_i64(r->element[2], &slimit) || slimit < 1)
            slimit = limit;
        if (slimit != limit) /* the limit changed: rescale, against the subject */
            frac = ceil_div(frac * limit, slimit);
        used_ticks = (tat - now) * limit + frac;
        if (used_ticks < 0)
            used_ticks = 0;
    }
    freeReplyObject(r);
    int64_t remaining = used_ticks >= cap ? 0 : (cap - used_ticks) / period;
    int64_t used = limit - remaining;
    int64_t reset = ceil_div(used_ticks, limit);
    int64_t retry = remaining > 0 ? 0 : ceil_div(used_ticks + period - cap, limit);
    const char *from = ov ? "override" : "default";
    if (json) {
        json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "subject", subject,
                              "id", id, "used", (json_int_t)used, "limit", (json_int_t)limit,
                              "remaining", (json_int_t)remaining, "reset_ms", (json_int_t)reset,
                              "retry_after_ms", (json_int_t)retry, "period_ms",
                              (json_int_t)period, "limit_from", from);
        json_dumpf(j, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(j);
    } else {
        printf("%s %s: used %" PRId64 ", limit %" PRId64 " (%s), remaining %" PRId64
               ", reset_ms %" PRId64 ", retry_after_ms %" PRId64 ", period_ms %" PRId64 "\n",
               subject, id, used, limit, from, remaining, reset, retry, period);
    }
    return EXIT_OK_;
}

/* intentctl quota alpaca: the shared budget of Alpaca calls. */
static int quota_show_alpaca(redisconn_t *rc, int64_t limit, int64_t period, int json) {
    int64_t now = 0;
    if (redis_now_ms(rc, &now) < 0)
        return EXIT_REFUSED;
    char from[32];
    snprintf(from, sizeof from, "(%" PRId64, now - period);
    redisReply *r, *oldest = NULL, *blocked = NULL;
    REDIS_CMD(r, rc, "ZCOUNT %s %s +inf", BUDGET_CALLS, from);
    if (!r)
        return EXIT_REFUSED;
    int64_t used = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    int rc_ = EXIT_REFUSED;
    REDIS_CMD(oldest, rc, "ZRANGEBYSCORE %s %s +inf WITHSCORES LIMIT 0 1", BUDGET_CALLS, from);
    if (!oldest)
        goto done;
    REDIS_CMD(blocked, rc, "GET %s", BUDGET_BLOCKED);
    if (!blocked)
        goto done;
    int64_t reset = 0;
    if (oldest->type == REDIS_REPLY_ARRAY && oldest->elements == 2 &&
        oldest->element[1]->type == REDIS_REPLY_STRING) {
        int64_t first = (int64_t)strtod(oldest->element[1]->str, NULL);
        reset = first + period - now;
        if (reset < 0)
            reset = 0;
    }
    int64_t remaining = limit > used ? limit - used : 0;
    int64_t until = 0;
    int has_block = reply_i64(blocked, &until);
    int64_t blocked_ms = has_block && until > now ? until - now : 0;
    if (json) {
        json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:I}", "subject", "alpaca",
                              "used", (json_int_t)used, "limit", (json_int_t)limit, "remaining",
                              (json_int_t)remaining, "reset_ms", (json_int_t)reset, "period_ms",
                              (json_int_t)period, "blocked_until",
                              has_block ? json_integer(until) : json_null(), "blocked_ms",
                              (json_int_t)blocked_ms);
        json_dumpf(j, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(j);
    } else {
        printf("alpaca: used %" PRId64 ", limit %" PRId64 ", remaining %" PRId64
               ", reset_ms %" PRId64 ", period_ms %" PRId64,
               used, limit, remaining, reset, period);
        if (has_block)
            printf(", blocked_until %" PRId64 " (%s)", until,
                   blocked_ms > 0 ? "blocked now" : "past");
        if (blocked_ms > 0)
            printf(", blocked_ms %" PRId64, blocked_ms);
        putchar('\n');
    }
    rc_ = EXIT_OK_;
done:
    freeReplyObject(oldest);
    freeReplyObject(blocked);
    return rc_;
}

/* intentctl quota set|unset bot|user ID [LIMIT]. */
static int quota_override(redisconn_t *rc, int set, const char *subject, const char *id,
                          int64_t limit, int64_t def_limit, int64_t period) {
    int64_t old = def_limit;
    int had = read_override(rc, subject, id, &old);
    if (had < 0)
        return EXIT_REFUSED;
    char key[160];
    snprintf(key, sizeof key, QUOTA_KEY_FMT, subject, id, "limit");
    redisReply *r;
    if (set)
        REDIS_CMD(r, rc, "SET %s %lld", key, (long long)limit);
    else
        REDIS_CMD(r, rc, "DEL %s", key);
    if (!r)
        return EXIT_REFUSED;
    freeReplyObject(r);
    if (set)
        printf("%s %s: limit %" PRId64 " per %" PRId64 " ms (was %" PRId64 ", %s)\n", subject, id,
               limit, period, old, had ? "override" : "default");
    else if (had)
        printf("%s %s: override %" PRId64 " removed; the default %" PRId64 " per %" PRId64
               " ms applies\n", subject, id, old, def_limit, period);
    else
        printf("%s %s: no override was set; the default %" PRId64 " per %" PRId64
               " ms applies\n", subject, id, def_limit, period);
    return EXIT_OK_;
}

static int cmd_quota(int argc, char **argv) {
    enum { O_JSON = 4200 };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int json = 0, opt;
    optind = 0;
    /* "+": an id may begin with '-'; options come before the operands. */
    while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': quota_help(stdout); return EXIT_OK_;
        case O_JSON: json = 1; break;
        default: return usage_error("quota", NULL, NULL);
        }
    }
    char **args = argv + optind;
    int n = argc - optind;
    /* --json may also follow the operands (the usual way to type it). */
    if (n > 0 && strcmp(args[n - 1], "--json") == 0) {
        json = 1;
        n--;
    }
    if (n < 1)
        return usage_error("quota", "say which quota: bot ID, user ID, alpaca, set or unset%s", "");
    const char *what = args[0];
    int set = !strcmp(what, "set"), unset = !strcmp(what, "unset");
    const char *subject = NULL, *id = NULL;
    int64_t limit = 0;
    if (set || unset) {
        if (n != (set ? 4 : 3))
            return usage_error("quota", set ? "usage: quota set bot|user ID LIMIT%s"
                                            : "usage: quota unset bot|user ID%s", "");
        subject = args[1];
        id = args[2];
        if (set && (parse_i64(args[3], &limit) != 0 || limit < 1 || limit > 1000000))
            return usage_error("quota", "LIMIT must be a whole number 1..1000000, got '%s'",
                               args[3]);
        if (json)
            return usage_error("quota", "--json is for showing a quota%s", "");
    } else if (!strcmp(what, "alpaca")) {
        if (n != 1)
            return usage_error("quota", "unexpected argument '%s'", args[1]);
    } else {
        if (n < 2)
            return usage_error("quota", "quota %s wants an ID", what);
        if (n > 2)
            return usage_error("quota", "unexpected argument '%s'", args[2]);
        subject = what;
        id = args[1];
    }
    if (subject && strcmp(subject, "bot") && strcmp(subject, "user"))
        return usage_error("quota", "no such quota '%s' (bot, user, alpaca)", subject);
    if (id && !valid_subject_id(id))
        return usage_error("quota", "'%s' is not an id (1 to 64 characters of A-Z a-z 0-9 . _ -)",
                           id);

    int64_t period, def_limit = 0;
    if (env_i64("RATE_PERIOD_MS", 60000, 100, 86400000, &period) < 0)
        return EXIT_USAGE;
    if (subject && env_i64(!strcmp(subject, "bot") ? "BOT_TRADES_PER_MIN" : "USER_TRADES_PER_MIN",
                           10, 1, 1000000, &def_limit) < 0)
        return EXIT_USAGE;
    if (!subject && env_i64("ALPACA_CALLS_PER_MIN", 200, 1, 1000000, &def_limit) < 0)
        return EXIT_USAGE;
    if (set && limit > QUOTA_MAX_TICKS / period)
        return usage_error("quota", "LIMIT %s per RATE_PERIOD_MS is too large to count exactly",
                           args[3]);

    static const char *const redis_settings[] = {"REDIS_URL", "REDIS_PASSWORD", NULL};
    if (!envfile_is_set("REDIS_URL"))
        return usage_error("quota", "REDIS_URL is not set (redis://[:password@]host:port/db)%s",
                           "");
    char err[512];
    config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg || config_load_only(cfg, redis_settings, err, sizeof err) < 0) {
        fprintf(stderr, "intentctl: %s\n", cfg ? err : "out of memory");
        free(cfg);
        return EXIT_USAGE;
    }
    redisconn_t *rc = redisconn_new(cfg->redis_url, "intentctl", 5000, err, sizeof err);
    OPENSSL_cleanse(cfg, sizeof *cfg);
    free(cfg);
    if (!rc) {
        fprintf(stderr, "intentctl: REDIS_URL: %s\n", err);
        return EXIT_USAGE;
    }
    int rcode;
    if (set || unset)
        rcode = quota_override(rc, set, subject, id, limit, def_limit, period);
    else if (subject)
        rcode = quota_show_subject(rc, subject, id, def_limit, period, json);
    else
        rcode = quota_show_alpaca(rc, def_limit, period, json);
    redisconn_free(rc);
    return rcode;
}

/* ------------------------------------------------------------------- main */

static void main_help(FILE *out) {
    fprintf(out,
"usage: intentctl [global options] COMMAND [options]\n"
"\n"
"Sends order intents to order-worker and watches what becomes of them.\n"
"\n"
"Commands:\n"
"  send     check and publish intents (from flags, --stdin JSON lines, or --raw)\n"
"  tail     print result events from orders.fills, orders.rejections, orders.dlq\n"
"  dlq      the dead-letter topic: dlq list [--json] [--reason R];\n"
"           dlq replay (--all | --offset P:O ... | --reason R) [--to T] [--dry-run]\n"
"\n"
"Operator commands (the kill switch needs DATABASE_URL, quotas REDIS_URL):\n"
"  halt     halt trading: --global, --user ID or --bot ID [--reason TEXT]\n"
"  reduce   only orders that shrink a position (same options)\n"
"  resume   active again (same options)\n"
"  trading  list the halted and reducing states (--history N: the changes)\n"
"  quota    show a quota: quota bot ID | user ID | alpaca [--json];\n"
"           override one: quota set bot|user ID LIMIT, quota unset bot|user ID\n"
"  bot      who may sign intents: bot add|rotate|revoke|bind|unbind|list\n"
"  help [COMMAND]\n"
"\n"
"Global options (also accepted after the command):\n"
"  -b, --brokers LIST       bootstrap servers (default: $KAFKA_BROKERS)\n"
"  -X name=value            a librdkafka property, repeatable\n"
"  --connect-timeout MS     how long to wait for Kafka at start (default 10000)\n"
"  -h, --help               this text; 'intentctl COMMAND --help' for a command\n"
"\n"
"Topics come from the environment, defaults per the contract:\n"
"  TOPIC_INTENTS_BOT (orders.intents.bot), TOPIC_INTENTS_USER (orders.intents.user),\n"
"  TOPIC_FILLS (orders.fills), TOPIC_REJECTIONS (orders.rejections), TOPIC_DLQ (orders.dlq).\n"
"INTENT_MAX_AGE_MS (default 60000) is used, like the worker, to warn about stale intents.\n"
"\n"
"Examples:\n"
"  intentctl send --bot b1 --user u1 --symbol AAPL --side buy --qty 1\n"
"  intentctl send --user u1 --symbol MSFT --side sell --type limit --qty 2 --limit 410.5\n"
"  intentctl send --stdin < intents.jsonl\n"
"  printf 'not json\\n' | intentctl send --raw --key b1\n"
"  intentctl tail --from-beginning --json --until-terminal 3 --timeout 30000\n"
"  intentctl dlq list --reason not_json; intentctl dlq replay --offset 0:12 --dry-run\n"
"  intentctl halt --bot b1 --reason 'runaway strategy'; intentctl resume --bot b1\n"
"  intentctl quota bot b1 --json\n"
"\n"
"Exit: 0 ok; 1 refused, failed or condition not met; 2 usage; 3 Kafka error.\n");
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    common_t c;
    common_init(&c);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int opt;
    while ((opt = getopt_long(argc, argv, "+hb:X:", longopts, NULL)) != -1) {
        int r = common_opt(&c, opt, optarg, NULL);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        if (opt == 'h') {
            main_help(stdout);
            return EXIT_OK_;
        }
        return usage_error(NULL, NULL, NULL);
    }
    if (optind >= argc)
        return usage_error(NULL, "no command given (send, tail, dlq, halt, reduce, resume, trading, quota, bot)%s", "");
    const char *cmd = argv[optind];
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    static char send_name[] = "intentctl send", tail_name[] = "intentctl tail";
    if (strcmp(cmd, "send") == 0)
        sub_argv[0] = send_name; /* getopt's messages name the command */
    else if (strcmp(cmd, "tail") == 0)
        sub_argv[0] = tail_name;
    if (sub_argv[0] == send_name)
        return cmd_send(&c, sub_argc, sub_argv);
    if (sub_argv[0] == tail_name)
        return cmd_tail(&c, sub_argc, sub_argv);
    if (strcmp(cmd, "dlq") == 0) {
        static char dlq_name[] = "intentctl dlq";
        sub_argv[0] = dlq_name;
        return cmd_dlq(&c, sub_argc, sub_argv);
    }
    static const char *const states[][2] = {
        {"halt", "halted"}, {"reduce", "reducing"}, {"resume", "active"}};
    static char state_names[3][24] = {"intentctl halt", "intentctl reduce", "intentctl resume"};
    static char trading_name[] = "intentctl trading", quota_name[] = "intentctl quota";
    for (int i = 0; i < 3; i++)
        if (strcmp(cmd, states[i][0]) == 0) {
            sub_argv[0] = state_names[i];
            return cmd_state(sub_argc, sub_argv, states[i][0], states[i][1]);
        }
    if (strcmp(cmd, "trading") == 0) {
        sub_argv[0] = trading_name;
        return cmd_trading(sub_argc, sub_argv);
    }
    if (strcmp(cmd, "quota") == 0) {
        sub_argv[0] = quota_name;
        return cmd_quota(sub_argc, sub_argv);
    }
    if (strcmp(cmd, "bot") == 0) {
        static char bot_name[] = "intentctl bot";
        sub_argv[0] = bot_name;
        return cmd_bot(sub_argc, sub_argv);
    }
    if (strcmp(cmd, "help") == 0) {
        if (sub_argc < 2)
            main_help(stdout);
        else if (strcmp(sub_argv[1], "send") == 0)
            send_help(stdout);
        else if (strcmp(sub_argv[1], "tail") == 0)
            tail_help(stdout);
        else if (strcmp(sub_argv[1], "dlq") == 0)
            dlq_help(stdout);
        else if (!strcmp(sub_argv[1], "halt") || !strcmp(sub_argv[1], "reduce") ||
                 !strcmp(sub_argv[1], "resume"))
            state_help(stdout);
        else if (strcmp(sub_argv[1], "trading") == 0)
            trading_help(stdout);
        else if (strcmp(sub_argv[1], "quota") == 0)
            quota_help(stdout);
        else if (strcmp(sub_argv[1], "bot") == 0)
            bot_help(stdout);
        else
            return usage_error(NULL, "no such command '%s'", sub_argv[1]);
        return EXIT_OK_;
    }
    return usage_error(NULL, "no such command '%s'", cmd);
}
