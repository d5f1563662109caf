/* dlq.c -- `intentctl dlq list|replay`: reads the whole dead-letter topic as
 * it is when the command starts (every partition assigned from its oldest
 * message to its end as of the start, like `tail -e`; no group is joined,
 * nothing is committed, partitions.h) and lists the messages, or hands them
 * to the replay (dlq_replay.c), which re-publishes chosen ones byte for
 * byte, with their original key, to the topic they came from.
 *
 * This file owns the command's options, the reading, and the list's two
 * forms (a table with escaped bytes, or JSON lines with the whole value). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dlq.h"
#include "intentctl.h"
#include "partitions.h"
#include "timefmt.h"

void dlq_help(FILE *out) {
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

/* -------------------------------------------------------------- a message */

char *dlq_header_dup(rd_kafka_headers_t *h, const char *name) {
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

void dlq_rec_free(dlq_rec_t *r) {
    free(r->reason);
    free(r->topic);
    free(r->detail);
    free(r->opart);
    free(r->ooff);
    free(r->key);
    free(r->value);
}

int dlq_rec_from(dlq_rec_t *r, const rd_kafka_message_t *m) {
    memset(r, 0, sizeof *r);
    r->partition = m->partition;
    r->offset = m->offset;
    rd_kafka_timestamp_type_t tstype;
    r->timestamp = rd_kafka_message_timestamp(m, &tstype);
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR)
        h = NULL;
    r->reason = dlq_header_dup(h, "x-dlq-reason");
    r->topic = dlq_header_dup(h, "x-dlq-topic");
    r->detail = dlq_header_dup(h, "x-dlq-detail");
    r->opart = dlq_header_dup(h, "x-dlq-partition");
    r->ooff = dlq_header_dup(h, "x-dlq-offset");
    r->has_key = m->key != NULL;
    r->key_len = m->key ? m->key_len : 0;
    r->key = mem_dup(m->key, r->key_len);
    r->value_len = m->payload ? m->len : 0;
    r->value = mem_dup(m->payload, r->value_len);
    return r->key && r->value ? 0 : -1;
}

/* ------------------------------------------------------------ the reading */

/* Called per DLQ message in range; returns 1 to stop reading (all that was
 * wanted is found), 0 to go on, -1 on a fatal error. */
typedef int (*dlq_visit_fn)(void *ctx, const rd_kafka_message_t *m);

/* The messages of the assigned partitions up to their ends as of the
 * start, each to visit.  EXIT_OK_ (read to the end, or the visitor stopped
 * it), EXIT_REFUSED (the timeout came first, or the visitor failed) or
 * EXIT_KAFKA. */
static int dlq_read_loop(rd_kafka_t *rk, const common_t *c, parts_t *ps, int64_t timeout_ms,
                         dlq_visit_fn visit, void *ctx) {
    int64_t start = timefmt_mono_ms();
    while (ps->n_done < ps->n) {
        int64_t left = timeout_ms - (timefmt_mono_ms() - start);
        if (left <= 0) {
            fprintf(stderr, "intentctl: timeout after %" PRId64 " ms: %d of %d partition(s) "
                            "of %s read to their end\n",
                    timeout_ms, ps->n_done, ps->n, c->topic_dlq);
            return EXIT_REFUSED;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, (int)(left < 500 ? left : 500));
        if (!m)
            continue;
        part_state_t *p = parts_find(ps, m);
        int rc = -1;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p && !p->done && m->offset >= p->end)
                parts_mark_done(ps, p);
        } else if (m->err) {
            fprintf(stderr, "intentctl: %s\n", rd_kafka_message_errstr(m));
            char ferr[256];
            if (rd_kafka_fatal_error(rk, ferr, sizeof ferr))
                rc = EXIT_KAFKA;
        } else if (p && !p->done && m->offset < p->end) {
            int v = visit(ctx, m);
            if (m->offset + 1 >= p->end)
                parts_mark_done(ps, p);
            if (v != 0)
                rc = v > 0 ? EXIT_OK_ : EXIT_REFUSED;
        }
        rd_kafka_message_destroy(m);
        if (rc >= 0)
            return rc;
    }
    return EXIT_OK_;
}

/* Reads the DLQ from its oldest message to its end as of now.  Returns
 * EXIT_OK_ (read to the end, or the visitor stopped it), EXIT_REFUSED (the
 * timeout came first), EXIT_USAGE or EXIT_KAFKA. */
static int dlq_read(const common_t *c, int64_t timeout_ms, dlq_visit_fn visit, void *ctx) {
    int rc;
    rd_kafka_t *rk = reader_new(c, "dlq", 1, &rc);
    if (!rk)
        return rc;
    parts_t ps;
    memset(&ps, 0, sizeof ps);
    const char *topics[] = {c->topic_dlq};
    rc = EXIT_KAFKA;
    if (parts_load(rk, c, topics, 1, 1, &ps) == 0) {
        if (ps.n_done == ps.n)
            rc = EXIT_OK_;
        else if (parts_assign(rk, &ps, 1, 1) == 0)
            rc = dlq_read_loop(rk, c, &ps, timeout_ms, visit, ctx);
    }
    reader_close(rk);
    parts_free(&ps);
    return rc;
}

/* ------------------------------------------------------------ the list */

/* Bytes as printable ASCII: \\, \n, \r, \t, \' (if quote) and \xNN for the
 * rest; at most max input bytes, then "...". */
static void escape_bytes(const void *p, size_t n, size_t max, int quote, char *out,
                         size_t outlen) {
    static const char *const named[256] = {['\\'] = "\\\\", ['\n'] = "\\n", ['\r'] = "\\r",
                                           ['\t'] = "\\t"};
    const unsigned char *s = p;
    size_t o = 0;
    size_t i = 0;
    for (; i < n && i < max && o + 8 < outlen; i++) {
        unsigned char b = s[i];
        if (named[b]) {
            memcpy(out + o, named[b], 2);
            o += 2;
        } else if (quote && b == '\'') {
            memcpy(out + o, "\\'", 2);
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

void json_set_bytes(json_t *obj, const char *name, const void *p, size_t n, int present) {
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

/* A header's text as a JSON string, or null if absent. */
static json_t *json_header(const char *s) { return s ? json_bytes(s, strlen(s)) : json_null(); }

static json_t *dlq_rec_json(const common_t *c, const dlq_rec_t *r) {
    json_t *j = json_object();
    json_object_set_new(j, "dlq_topic", json_string(c->topic_dlq));
    json_object_set_new(j, "dlq_partition", json_integer(r->partition));
    json_object_set_new(j, "dlq_offset", json_integer(r->offset));
    json_object_set_new(j, "timestamp",
                        r->timestamp >= 0 ? json_integer(r->timestamp) : json_null());
    json_object_set_new(j, "reason", json_header(r->reason));
    json_object_set_new(j, "topic", json_header(r->topic));
    json_object_set_new(j, "partition", json_num_header(r->opart));
    json_object_set_new(j, "offset", json_num_header(r->ooff));
    json_set_bytes(j, "key", r->key, r->key_len, r->has_key);
    json_object_set_new(j, "detail", json_header(r->detail));
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

static int dlq_list_visit(void *ctx_, const rd_kafka_message_t *m) {
    dlq_ctx_t *ctx = ctx_;
    dlq_rec_t r;
    if (dlq_rec_from(&r, m) != 0) {
        dlq_rec_free(&r);
        fprintf(stderr, "intentctl: out of memory\n");
        return -1;
    }
    if (!ctx->o->reason || (r.reason && strcmp(r.reason, ctx->o->reason) == 0)) {
        if (ctx->o->json)
            json_print_line(dlq_rec_json(ctx->c, &r));
        else
            dlq_rec_print(&r);
        ctx->listed++;
    }
    dlq_rec_free(&r);
    return 0;
}

/* ------------------------------------------------------------ options */

enum { O_JSON = 4000, O_REASON, O_FROM_BEGINNING, O_TIMEOUT, O_ALL, O_OFFSET, O_TO, O_DRY };

/* --offset P:O, added unless given already: 0, or -1 after a usage
 * error. */
static int parse_offset(dlq_opts_t *o, const char *arg) {
    const char *colon = strchr(arg, ':');
    int64_t p, off;
    char part[24];
    if (!colon || (size_t)(colon - arg) >= sizeof part) {
        usage_error("dlq", "--offset wants PARTITION:OFFSET, got '%s'", arg);
        return -1;
    }
    memcpy(part, arg, (size_t)(colon - arg));
    part[colon - arg] = '\0';
    if (parse_i64(part, &p) != 0 || p > INT32_MAX || parse_i64(colon + 1, &off) != 0) {
        usage_error("dlq", "--offset wants PARTITION:OFFSET, got '%s'", arg);
        return -1;
    }
    if (o->n_offsets == MAX_DLQ_OFFSETS) {
        usage_error("dlq", "more than 256 --offset options");
        return -1;
    }
    for (int i = 0; i < o->n_offsets; i++)
        if (o->off_part[i] == (int32_t)p && o->off_off[i] == off)
            return 0;
    o->off_part[o->n_offsets] = (int32_t)p;
    o->off_off[o->n_offsets++] = off;
    return 0;
}

/* One option's value: 0, or -1 after a usage error. */
static int dlq_option(dlq_opts_t *o, int opt, const char *arg) {
    switch (opt) {
    case O_JSON: o->json = 1; return 0;
    case O_REASON:
        if (!*arg) {
            usage_error("dlq", "--reason is empty");
            return -1;
        }
        o->reason = arg;
        return 0;
    case O_FROM_BEGINNING: return 0;
    case O_TIMEOUT:
        if (parse_i64(arg, &o->timeout_ms) == 0 && o->timeout_ms > 0)
            return 0;
        usage_error("dlq", "--timeout wants milliseconds > 0, got '%s'", arg);
        return -1;
    case O_ALL: o->all = 1; return 0;
    case O_OFFSET: return parse_offset(o, arg);
    case O_TO:
        if (!*arg) {
            usage_error("dlq", "--to is empty");
            return -1;
        }
        o->to = arg;
        return 0;
    case O_DRY: o->dry_run = 1; return 0;
    default:
        usage_hint("dlq");
        return -1;
    }
}

/* The options of list or replay into o.  -1 to go on, else the exit
 * code. */
static int dlq_parse(common_t *c, int argc, char **argv, int replay, dlq_opts_t *o) {
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
            return usage_error("dlq", "--from-beginning is an option of 'dlq list'");
        if (opt == 'h') {
            dlq_help(stdout);
            return EXIT_OK_;
        }
        if (dlq_option(o, opt, optarg) < 0)
            return EXIT_USAGE;
    }
    if (optind < argc)
        return usage_error("dlq", "unexpected argument '%s'", argv[optind]);
    if (replay) {
        int kinds = o->all + (o->n_offsets > 0) + (o->reason != NULL);
        if (kinds != 1)
            return usage_error("dlq", "dlq replay wants exactly one of --all, --offset P:O, "
                                      "--reason R");
        if (o->to && strcmp(o->to, c->topic_dlq) == 0)
            return usage_error("dlq", "--to %s: that is the DLQ itself", o->to);
    }
    if (!c->brokers || !*c->brokers)
        return usage_error("dlq", "no brokers: give --brokers or set KAFKA_BROKERS");
    return -1;
}

int cmd_dlq(common_t *c, int argc, char **argv) {
    if (argc < 2)
        return usage_error("dlq", "dlq wants a subcommand: list or replay");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        dlq_help(stdout);
        return EXIT_OK_;
    }
    int replay = strcmp(argv[1], "replay") == 0;
    if (!replay && strcmp(argv[1], "list") != 0)
        return usage_error("dlq", "no such dlq command '%s' (list, replay)", argv[1]);
    char prog[32]; /* getopt's messages name the subcommand */
    snprintf(prog, sizeof prog, "intentctl dlq %s", argv[1]);
    argv[1] = prog;
    dlq_opts_t o;
    memset(&o, 0, sizeof o);
    o.timeout_ms = 30000;
    int rc = dlq_parse(c, argc - 1, argv + 1, replay, &o);
    if (rc >= 0)
        return rc;
    dlq_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.c = c;
    ctx.o = &o;
    rc = dlq_read(c, o.timeout_ms, replay ? dlq_replay_visit : dlq_list_visit, &ctx);
    if (replay && rc == EXIT_OK_)
        rc = dlq_replay(c, &ctx);
    for (size_t i = 0; i < ctx.n_recs; i++)
        dlq_rec_free(&ctx.recs[i]);
    free(ctx.recs);
    fflush(stdout);
    return rc;
}
