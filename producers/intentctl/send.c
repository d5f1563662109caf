/* send.c -- `intentctl send`: build intents from flags or read them as JSON
 * lines, check every one with the worker's own validator (intent_decode)
 * before it leaves, sign it (auth_sign, as a bot does), publish with the
 * idempotent producer and report each delivery.
 *
 * An invalid intent is reported field by field and not sent; --raw sends
 * stdin's lines unchecked (to exercise the DLQ and validation paths).  Bot
 * intents go to the bot topic keyed by bot_id, user intents to the user
 * topic keyed by user_id, as the contract wants. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "common.h"
#include "intent.h"
#include "intentctl.h"
#include "timefmt.h"

typedef struct send_opts {
    const char *bot, *user, *symbol, *side, *type, *qty, *notional, *limit, *stop;
    const char *tif, *created_at, *intent_id, *meta, *topic, *key;
    const char *cancel;          /* --cancel: a cancel request of this intent_id */
    int extended_hours, has_expires_in, from_stdin, raw, json, dry_run;
    int64_t expires_in_ms, repeat;
    int intent_flags; /* how many intent-building flags were given */
    const char *signature;  /* --signature: this header value, as given */
    const char *key_file;   /* --sign-key-file */
    int no_sign;            /* --no-sign */
    int signing;            /* sign with key (--sign-key-file or the environment) */
    unsigned char sign_key[AUTH_KEY_BYTES];
} send_opts_t;

typedef struct send_state {
    const common_t *c;
    const send_opts_t *o;
    rd_kafka_t *rk;
    int64_t msg_timeout_ms;
    long refused, failed, sent;
} send_state_t;

typedef struct msg_info {
    char intent_id[48];
    long line;
} msg_info_t;

void send_help(FILE *out) {
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
"A cancel request from flags (contract section 3b): --cancel TARGET with --bot\n"
"and --user (or --user alone on the user topic) as the target's, and optionally\n"
"--expires-in, --created-at, --intent-id, --meta; no order flags:\n"
"  --cancel UUID         cancel the order intent UUID (action cancel,\n"
"                        target_intent_id UUID)\n"
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

/* ------------------------------------------------------------ delivery */

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
        if (st->o->json)
            json_print_line(json_pack("{s:s, s:s, s:s, s:s}", "status", "failed", "intent_id",
                                      id, "topic", topic, "error", rd_kafka_err2str(m->err)));
    } else {
        st->sent++;
        if (st->o->json)
            json_print_line(json_pack("{s:s, s:s, s:s, s:i, s:I, s:o}", "status", "sent",
                                      "intent_id", id, "topic", topic, "partition",
                                      (int)m->partition, "offset", (json_int_t)m->offset,
                                      "key", m->key ? json_bytes(m->key, m->key_len)
                                                    : json_null()));
        else
            printf("sent %s -> %s [%" PRId32 "]\n", id, topic, m->partition);
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
        json_t *j = json_pack("{s:s, s:o, s:I, s:s, s:o}", "status", "refused", "intent_id",
                              *id ? json_string(id) : json_null(), "line", (json_int_t)line,
                              "reason", what ? what : "invalid", "errors", errs);
        if (v->status == INTENT_UNREADABLE)
            json_object_set_new(j, "message", json_string(v->detail));
        json_print_line(j);
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

/* ------------------------------------------------------- one intent */

/* The topic an intent's bytes are meant for: --topic if it names the bot
 * or user topic, else bot when the intent has a bot_id (or is no object). */
static intent_source_t intent_source(const send_state_t *st, const char *bytes, size_t len) {
    const send_opts_t *o = st->o;
    if (o->topic && strcmp(o->topic, st->c->topic_user) == 0)
        return INTENT_SOURCE_USER;
    if (o->topic && strcmp(o->topic, st->c->topic_bot) == 0)
        return INTENT_SOURCE_BOT;
    json_t *j = json_loadb(bytes, len, 0, NULL);
    json_t *b = json_object_get(j, "bot_id");
    intent_source_t source = (b && !json_is_null(b)) || !json_is_object(j) ? INTENT_SOURCE_BOT
                                                                           : INTENT_SOURCE_USER;
    json_decref(j);
    return source;
}

/* --raw: sends the bytes as they are. */
static void send_raw(send_state_t *st, const char *bytes, size_t len, long line) {
    char id[48] = "-";
    json_t *j = json_loadb(bytes, len, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "intent_id"));
    if (s)
        snprintf(id, sizeof id, "%s", s);
    json_decref(j);
    const char *topic = st->o->topic ? st->o->topic : st->c->topic_bot;
    if (st->o->dry_run) {
        fwrite(bytes, 1, len, stdout);
        putchar('\n');
        return;
    }
    produce(st, topic, st->o->key, bytes, len, id, line);
}

/* Checks and sends one intent given as bytes (a stdin line or the JSON
 * built from flags). */
static void send_one(send_state_t *st, const char *bytes, size_t len, long line) {
    const send_opts_t *o = st->o;
    const common_t *c = st->c;
    if (o->raw) {
        send_raw(st, bytes, len, line);
        return;
    }
    intent_source_t source = intent_source(st, bytes, len);
    char id[48] = "-";
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
        fprintf(stderr,
                "note: %s is already past its expiry; the worker will reject it as expired\n", id);
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
    /* A cancel request takes no order field (the validator names any given). */
    const char *type = o->type ? o->type : o->cancel ? NULL : "market";
    const char *const fields[][2] = {
        {"bot_id", o->bot}, {"user_id", o->user}, {"symbol", o->symbol}, {"side", o->side},
        {"type", type}, {"qty", o->qty}, {"notional", o->notional},
        {"limit_price", o->limit}, {"stop_price", o->stop}, {"time_in_force", o->tif}};
    if (o->cancel) {
        json_object_set_new(j, "action", json_string("cancel"));
        json_object_set_new(j, "target_intent_id", json_bytes(o->cancel, strlen(o->cancel)));
    }
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i][1])
            json_object_set_new(j, fields[i][0], json_bytes(fields[i][1], strlen(fields[i][1])));
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

/* ------------------------------------------------------------ signing */

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

/* ------------------------------------------------------------ options */

enum {
    O_BOT = 2000, O_USER, O_SYMBOL, O_SIDE, O_TYPE, O_QTY, O_NOTIONAL, O_LIMIT,
    O_STOP, O_TIF, O_EXT, O_EXPIRES_IN, O_CREATED_AT, O_INTENT_ID, O_META,
    O_REPEAT, O_STDIN, O_RAW, O_KEY, O_TOPIC, O_JSON, O_DRY, O_SIGN_KEY_FILE,
    O_SIGNATURE, O_NO_SIGN, O_CANCEL
};
static const struct option SEND_OPTIONS[] = {
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
    {"cancel", required_argument, NULL, O_CANCEL},
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

/* The options into o.  -1 to go on, else the exit code (after --help or a
 * usage error). */
static int send_parse(common_t *c, int argc, char **argv, send_opts_t *o) {
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "+hb:X:", SEND_OPTIONS, NULL)) != -1) {
        int r = common_opt(c, opt, optarg, "send");
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        switch (opt) {
        case 'h': send_help(stdout); return EXIT_OK_;
        case O_BOT: o->bot = optarg; o->intent_flags++; break;
        case O_USER: o->user = optarg; o->intent_flags++; break;
        case O_SYMBOL: o->symbol = optarg; o->intent_flags++; break;
        case O_SIDE: o->side = optarg; o->intent_flags++; break;
        case O_TYPE: o->type = optarg; o->intent_flags++; break;
        case O_QTY: o->qty = optarg; o->intent_flags++; break;
        case O_NOTIONAL: o->notional = optarg; o->intent_flags++; break;
        case O_LIMIT: o->limit = optarg; o->intent_flags++; break;
        case O_STOP: o->stop = optarg; o->intent_flags++; break;
        case O_TIF: o->tif = optarg; o->intent_flags++; break;
        case O_EXT: o->extended_hours = 1; o->intent_flags++; break;
        case O_EXPIRES_IN:
            if (parse_i64(optarg, &o->expires_in_ms) != 0)
                return usage_error("send", "--expires-in wants milliseconds, got '%s'", optarg);
            o->has_expires_in = 1;
            o->intent_flags++;
            break;
        case O_CREATED_AT: o->created_at = optarg; o->intent_flags++; break;
        case O_INTENT_ID: o->intent_id = optarg; o->intent_flags++; break;
        case O_META: o->meta = optarg; o->intent_flags++; break;
        case O_CANCEL: o->cancel = optarg; o->intent_flags++; break;
        case O_REPEAT:
            if (parse_i64(optarg, &o->repeat) != 0 || o->repeat < 1)
                return usage_error("send", "--repeat wants a count >= 1, got '%s'", optarg);
            break;
        case O_STDIN: o->from_stdin = 1; break;
        case O_RAW: o->raw = 1; break;
        case O_KEY: o->key = optarg; break;
        case O_TOPIC: o->topic = optarg; break;
        case O_JSON: o->json = 1; break;
        case O_DRY: o->dry_run = 1; break;
        case O_SIGN_KEY_FILE: o->key_file = optarg; break;
        case O_SIGNATURE: o->signature = optarg; break;
        case O_NO_SIGN: o->no_sign = 1; break;
        default: return usage_hint("send");
        }
    }
    if (optind < argc)
        return usage_error("send", "unexpected argument '%s'", argv[optind]);
    return -1;
}

/* The options' combinations, and the signing key.  -1 to go on, else the
 * exit code. */
static int send_check(send_opts_t *o) {
    if (o->from_stdin && o->raw)
        return usage_error("send", "--stdin and --raw exclude each other");
    if ((o->from_stdin || o->raw) && o->intent_flags)
        return usage_error("send", "intent flags cannot be combined with --stdin/--raw");
    if (!o->from_stdin && !o->raw && !o->intent_flags)
        return usage_error("send", "nothing to send: give intent flags, --stdin or --raw");
    if (o->key && !o->raw)
        return usage_error("send", "--key is only for --raw (intents are keyed by bot_id/user_id)");
    if (o->repeat > 1 && (o->intent_id || o->from_stdin || o->raw))
        return usage_error("send", "--repeat makes fresh intent_ids from flags; not with "
                                   "--intent-id, --stdin or --raw");
    if (o->topic && !*o->topic)
        return usage_error("send", "--topic is empty");
    if (!o->no_sign && !o->signature) {
        int r = signing_key(o->key_file, o->sign_key);
        if (r < 0)
            return EXIT_USAGE;
        o->signing = r;
    }
    return -1;
}

/* ------------------------------------------------------------ the run */

/* --stdin and --raw: one intent per line. */
static void send_lines(send_state_t *st) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    while ((n = getline(&line, &cap, stdin)) != -1) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (!st->o->raw) {
            if (n > 0 && line[n - 1] == '\r')
                line[--n] = '\0';
            if (strspn(line, " \t\r") == (size_t)n)
                continue;
        }
        send_one(st, line, (size_t)n, lineno);
    }
    free(line);
}

/* The intent of the flags, --repeat times.  0, or -1 after a usage error. */
static int send_flags(send_state_t *st) {
    for (int64_t i = 0; i < st->o->repeat; i++) {
        char *s = build_intent(st->o);
        if (!s)
            return -1;
        send_one(st, s, strlen(s), (long)i + 1);
        free(s);
    }
    return 0;
}

/* Waits for the deliveries; the exit code of the whole run. */
static int send_finish(send_state_t *st) {
    if (st->rk) {
        if (producer_drain(st->rk, st->msg_timeout_ms, "messages"))
            st->failed++;
        rd_kafka_destroy(st->rk);
    }
    fflush(stdout);
    if (st->failed)
        return EXIT_KAFKA;
    if (st->refused) {
        if (!st->o->json)
            fprintf(stderr, "intentctl: %ld intent(s) refused, not sent\n", st->refused);
        return EXIT_REFUSED;
    }
    return EXIT_OK_;
}

static int send_run(common_t *c, send_opts_t *o) {
    send_state_t st;
    memset(&st, 0, sizeof st);
    st.c = c;
    st.o = o;
    st.msg_timeout_ms = 30000;
    if (!o->dry_run) {
        if (!c->brokers || !*c->brokers)
            return usage_error("send", "no brokers: give --brokers or set KAFKA_BROKERS");
        int rc;
        st.rk = producer_new(c, dr_msg_cb, &st, &st.msg_timeout_ms, &rc);
        if (!st.rk)
            return rc;
    }
    if (o->from_stdin || o->raw) {
        send_lines(&st);
    } else if (send_flags(&st) < 0) {
        if (st.rk) {
            rd_kafka_flush(st.rk, (int)st.msg_timeout_ms);
            rd_kafka_destroy(st.rk);
        }
        return EXIT_USAGE;
    }
    return send_finish(&st);
}

int cmd_send(common_t *c, int argc, char **argv) {
    send_opts_t o;
    memset(&o, 0, sizeof o);
    o.repeat = 1;
    int rc = send_parse(c, argc, argv, &o);
    if (rc < 0)
        rc = send_check(&o);
    if (rc < 0)
        rc = send_run(c, &o);
    OPENSSL_cleanse(o.sign_key, sizeof o.sign_key);
    return rc;
}
