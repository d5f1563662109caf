/* tail.c -- `intentctl tail`: read the result topics (orders.fills,
 * orders.rejections, orders.dlq) by plain partition assignment, never
 * joining a consumer group (partitions.h), and print events as a table or
 * as JSON lines, with the stop conditions scripts need: a count, N ids with
 * a terminal outcome (or every id of --intents), the end as of the start,
 * an idle time, a total time.
 *
 * The only static of intentctl is here: the flag the SIGINT/SIGTERM
 * handler sets, so that an interrupted tail still reports what it saw. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "intentctl.h"
#include "partitions.h"
#include "timefmt.h"

#define MAX_TOPICS 16

static volatile sig_atomic_t tail_stop;

static void on_signal(int sig) {
    (void)sig;
    tail_stop = 1;
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

/* Doubles the table (64 slots at first).  0, or -1 out of memory. */
static int strset_grow(strset_t *set) {
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
    return 0;
}

/* 1 if added, 0 if present, -1 out of memory. */
static int strset_add(strset_t *set, const char *s) {
    if (strset_has(set, s))
        return 0;
    if ((set->size + 1) * 2 > set->cap && strset_grow(set) < 0)
        return -1;
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

/* ------------------------------------------------------------- options */

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

typedef struct tail_state {
    const common_t *c;
    const tail_opts_t *o;
    strset_t filter;     /* --intents */
    int filtering;
    strset_t terminal;   /* ids with a terminal outcome */
    int64_t printed;
    parts_t parts;
} tail_state_t;

void tail_help(FILE *out) {
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

/* --topics A,B: 0, or -1 after a usage error. */
static int parse_topics(tail_opts_t *o, const char *arg) {
    free(o->topics_buf);
    o->topics_buf = strdup(arg);
    o->n_topics = 0;
    if (!o->topics_buf) {
        fprintf(stderr, "intentctl: out of memory\n");
        return -1;
    }
    char *save = NULL;
    for (char *t = strtok_r(o->topics_buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->n_topics == MAX_TOPICS) {
            usage_error("tail", "more than 16 topics in --topics");
            return -1;
        }
        o->topics[o->n_topics++] = t;
    }
    if (!o->n_topics) {
        usage_error("tail", "--topics is empty");
        return -1;
    }
    return 0;
}

enum { O_TOPICS = 3000, O_FROM_BEGINNING, O_JSON, O_INTENTS, O_COUNT, O_UNTIL, O_IDLE,
       O_TIMEOUT };

/* One option's value: 0, or -1 after a usage error. */
static int tail_option(tail_opts_t *o, int opt, const char *arg) {
    switch (opt) {
    case 'e': o->exit_at_end = 1; return 0;
    case O_FROM_BEGINNING: o->from_beginning = 1; return 0;
    case O_JSON: o->json = 1; return 0;
    case O_INTENTS: o->intents_file = arg; return 0;
    case O_TOPICS: return parse_topics(o, arg);
    case O_COUNT:
        if (parse_i64(arg, &o->count) == 0 && o->count >= 1)
            return 0;
        usage_error("tail", "--count wants a number >= 1, got '%s'", arg);
        return -1;
    case O_UNTIL:
        if (strcmp(arg, "all") == 0) {
            o->until_all = 1;
            o->until_terminal = 0;
            return 0;
        }
        if (parse_i64(arg, &o->until_terminal) == 0 && o->until_terminal >= 1)
            return 0;
        usage_error("tail", "--until-terminal wants a number >= 1 or 'all', got '%s'", arg);
        return -1;
    case O_IDLE:
        if (parse_i64(arg, &o->idle_timeout_ms) == 0)
            return 0;
        usage_error("tail", "--idle-timeout wants milliseconds, got '%s'", arg);
        return -1;
    case O_TIMEOUT:
        if (parse_i64(arg, &o->timeout_ms) == 0)
            return 0;
        usage_error("tail", "--timeout wants milliseconds, got '%s'", arg);
        return -1;
    default:
        usage_hint("tail");
        return -1;
    }
}

/* The options into o.  -1 to go on, else the exit code. */
static int tail_parse(common_t *c, int argc, char **argv, tail_opts_t *o) {
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
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "+hb:X:e", longopts, NULL)) != -1) {
        int r = common_opt(c, opt, optarg, "tail");
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        if (opt == 'h') {
            tail_help(stdout);
            return EXIT_OK_;
        }
        if (tail_option(o, opt, optarg) < 0)
            return EXIT_USAGE;
    }
    if (optind < argc)
        return usage_error("tail", "unexpected argument '%s'", argv[optind]);
    if (o->until_all && !o->intents_file)
        return usage_error("tail", "--until-terminal all needs --intents FILE");
    if (!c->brokers || !*c->brokers)
        return usage_error("tail", "no brokers: give --brokers or set KAFKA_BROKERS");
    if (!o->n_topics) {
        o->topics[0] = c->topic_fills;
        o->topics[1] = c->topic_rej;
        o->topics[2] = c->topic_dlq;
        o->n_topics = 3;
    }
    return -1;
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

/* ------------------------------------------------------------ a message */

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

/* Shortens s in place to at most n display bytes (adds "..."). */
static void clip(char *s, size_t n) {
    if (strlen(s) > n && n > 3) {
        size_t k = n - 3;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--; /* do not cut a UTF-8 sequence */
        memcpy(s + k, "...", 4);
    }
}

/* The columns of one table row. */
typedef struct row {
    char when[64], key[80], event[64], qty[64], filled[96], msg[512];
    const char *id, *symbol, *side;
} row_t;

#define ROW_FORMAT "%-12s  %-17s  %-18s  %-36s  %-16s  %-6s  %-4s  %10s  %-18s  %s\n"

/* A DLQ message: its reason, where it came from, its first bytes. */
static void row_dlq(row_t *w, const rd_kafka_message_t *m, const json_t *hdrs) {
    const char *reason = json_string_value(json_object_get(hdrs, "x-dlq-reason"));
    snprintf(w->event, sizeof w->event, "dlq:%s", reason ? reason : "?");
    char val[128];
    size_t vl = m->len < 100 ? m->len : 100;
    size_t o = 0;
    for (size_t i = 0; i < vl && o + 5 < sizeof val; i++) {
        unsigned char b = ((const unsigned char *)m->payload)[i];
        if (b >= 0x20 && b < 0x7F)
            val[o++] = (char)b;
        else
            o += (size_t)snprintf(val + o, sizeof val - o, "\\x%02x", b);
    }
    val[o] = '\0';
    clip(val, 60);
    if (*jstr(hdrs, "x-dlq-topic"))
        snprintf(w->msg, sizeof w->msg, "from %s [%s] @%s: '%s'", jstr(hdrs, "x-dlq-topic"),
                 jstr(hdrs, "x-dlq-partition"), jstr(hdrs, "x-dlq-offset"), val);
    else
        snprintf(w->msg, sizeof w->msg, "'%s'", val);
}

/* A rejection: its reason, message, retry time, broken fields, broker. */
static void row_rejection(row_t *w, const json_t *ev) {
    snprintf(w->event, sizeof w->event, "%s", jstr(ev, "reason"));
    size_t o = (size_t)snprintf(w->msg, sizeof w->msg, "%s", jstr(ev, "message"));
    json_t *ra = json_object_get(ev, "retry_after_ms");
    if (json_is_integer(ra) && o < sizeof w->msg)
        o += (size_t)snprintf(w->msg + o, sizeof w->msg - o,
                              " (retry after %" JSON_INTEGER_FORMAT " ms)", json_integer_value(ra));
    json_t *errs = json_object_get(ev, "errors");
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e) {
        if (o >= sizeof w->msg)
            break;
        o += (size_t)snprintf(w->msg + o, sizeof w->msg - o, "%s%s: %s", i ? "; " : " [",
                              jstr(e, "field"), jstr(e, "message"));
        if (i + 1 == json_array_size(errs) && o < sizeof w->msg)
            o += (size_t)snprintf(w->msg + o, sizeof w->msg - o, "]");
    }
    json_t *br = json_object_get(ev, "broker");
    if (json_is_object(br) && o < sizeof w->msg) {
        char code[48];
        jdec(br, "code", code, sizeof code);
        snprintf(w->msg + o, sizeof w->msg - o, " (broker %s %s: %s)",
                 json_is_integer(json_object_get(br, "status")) ? "status" : "", code,
                 jstr(br, "message"));
    }
}

/* An event of the fills or rejections topic. */
static void row_event(row_t *w, const json_t *ev) {
    w->id = *jstr(ev, "intent_id") ? jstr(ev, "intent_id") : "-";
    w->symbol = *jstr(ev, "symbol") ? jstr(ev, "symbol") : "-";
    w->side = *jstr(ev, "side") ? jstr(ev, "side") : "-";
    char d[48], p[48];
    jdec(ev, "qty", d, sizeof d);
    if (*d) {
        snprintf(w->qty, sizeof w->qty, "%s", d);
    } else {
        jdec(ev, "notional", d, sizeof d);
        if (*d)
            snprintf(w->qty, sizeof w->qty, "$%s", d);
    }
    if (json_object_get(ev, "reason")) {
        row_rejection(w, ev);
        return;
    }
    snprintf(w->event, sizeof w->event, "%s", *jstr(ev, "type") ? jstr(ev, "type") : "?");
    jdec(ev, "filled_qty", d, sizeof d);
    jdec(ev, "filled_avg_price", p, sizeof p);
    if (*d && strcmp(d, "0") != 0)
        snprintf(w->filled, sizeof w->filled, "%s@%s", d, *p ? p : "?");
    if (*jstr(ev, "status"))
        snprintf(w->msg, sizeof w->msg, "status %s", jstr(ev, "status"));
}

static void print_row(const tail_state_t *st, const rd_kafka_message_t *m,
                      const char *topic, const json_t *ev, const json_t *hdrs) {
    row_t w = {.when = "-", .key = "-", .event = "-", .qty = "-", .filled = "-", .msg = "",
               .id = "-", .symbol = "-", .side = "-"};
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    if (ts >= 0) {
        char full[64];
        timefmt_format_rfc3339(ts, full, sizeof full);
        if (strlen(full) >= 23)
            snprintf(w.when, sizeof w.when, "%.12s", full + 11);
    }
    if (m->key && m->key_len)
        snprintf(w.key, sizeof w.key, "%.*s", (int)(m->key_len < 79 ? m->key_len : 79),
                 (const char *)m->key);
    clip(w.key, 16);
    if (strcmp(topic, st->c->topic_dlq) == 0)
        row_dlq(&w, m, hdrs);
    else if (ev)
        row_event(&w, ev);
    else
        snprintf(w.event, sizeof w.event, "(not an event)");
    printf(ROW_FORMAT, w.when, topic, w.event, w.id, w.key, w.symbol, w.side, w.qty, w.filled,
           w.msg);
}

/* The message as one JSON line: the event (or its bytes as "_value") and
 * where it was. */
static void print_json(const rd_kafka_message_t *m, const char *topic, json_t *val, int is_dlq,
                       json_t *hdrs) {
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
    json_print_line(out);
}

/* Counts the message's id (or, without one, the DLQ message itself) as
 * having a terminal outcome if it is one. */
static void note_terminal(tail_state_t *st, const rd_kafka_message_t *m, const char *topic,
                          const json_t *val, const char *id) {
    const common_t *c = st->c;
    int terminal = strcmp(topic, c->topic_rej) == 0 || strcmp(topic, c->topic_dlq) == 0;
    if (!terminal && strcmp(topic, c->topic_fills) == 0) {
        const char *type = jstr(val, "type");
        terminal = !strcmp(type, "fill") || !strcmp(type, "canceled") || !strcmp(type, "expired");
    }
    if (!terminal)
        return;
    char unit[200];
    if (*id)
        snprintf(unit, sizeof unit, "%s", id);
    else
        snprintf(unit, sizeof unit, "dlq@%s/%d/%" PRId64, topic, (int)m->partition,
                 (int64_t)m->offset);
    strset_add(&st->terminal, unit);
}

/* Handles one message; returns 1 if it was printed. */
static int tail_message(tail_state_t *st, const rd_kafka_message_t *m) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    int is_dlq = strcmp(topic, st->c->topic_dlq) == 0;
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
    note_terminal(st, m, topic, val, id);
    json_t *hdrs = headers_json(m);
    if (st->o->json)
        print_json(m, topic, val, is_dlq, hdrs);
    else
        print_row(st, m, topic, val, hdrs);
    json_decref(hdrs);
    json_decref(val);
    st->printed++;
    return 1;
}

/* ---------------------------------------------------------------- the run */

/* Why the loop stopped, and whether the condition asked for was met. */
typedef struct tail_end {
    const char *why;
    int met;
    int fatal;   /* a fatal Kafka error */
} tail_end_t;

/* Whether a stop condition holds now; *wait is lowered to the time left
 * before a timeout would. */
static int tail_should_stop(const tail_state_t *st, int64_t start, int64_t last, int64_t *wait,
                            tail_end_t *end) {
    const tail_opts_t *o = st->o;
    if (o->count >= 0 && st->printed >= o->count) {
        *end = (tail_end_t){"count reached", 1, 0};
        return 1;
    }
    if (o->until_terminal >= 0 && (int64_t)st->terminal.size >= o->until_terminal) {
        *end = (tail_end_t){"terminal outcomes reached", 1, 0};
        return 1;
    }
    if (o->exit_at_end && st->parts.n_done == st->parts.n) {
        /* -e alone: reaching the end is the condition */
        *end = (tail_end_t){"end reached", o->count < 0 && o->until_terminal < 0, 0};
        return 1;
    }
    if (tail_stop)
        return 1;
    int64_t now = timefmt_mono_ms();
    if (o->timeout_ms >= 0) {
        if (now - start >= o->timeout_ms) {
            end->why = "timeout";
            return 1;
        }
        if (o->timeout_ms - (now - start) < *wait)
            *wait = o->timeout_ms - (now - start);
    }
    if (o->idle_timeout_ms >= 0) {
        if (now - last >= o->idle_timeout_ms) {
            end->why = "idle timeout";
            return 1;
        }
        if (o->idle_timeout_ms - (now - last) < *wait)
            *wait = o->idle_timeout_ms - (now - last);
    }
    return 0;
}

/* Prints messages until a stop condition holds. */
static tail_end_t tail_loop(tail_state_t *st, rd_kafka_t *rk) {
    int64_t start = timefmt_mono_ms(), last = start;
    tail_end_t end = {"interrupted", 0, 0};
    for (;;) {
        int64_t wait = 500;
        if (tail_should_stop(st, start, last, &wait, &end))
            return end;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, (int)wait);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "intentctl: %s\n", rd_kafka_message_errstr(m));
                char ferr[256];
                end.fatal = rd_kafka_fatal_error(rk, ferr, sizeof ferr) != 0;
            }
            rd_kafka_message_destroy(m);
            if (end.fatal)
                return end;
            continue;
        }
        last = timefmt_mono_ms();
        tail_message(st, m);
        part_state_t *p = parts_find(&st->parts, m);
        if (p && m->offset + 1 >= p->end)
            parts_mark_done(&st->parts, p);
        rd_kafka_message_destroy(m);
    }
}

/* The exit code for how the loop ended, saying why a condition was not
 * met. */
static int tail_verdict(const tail_state_t *st, const tail_end_t *end) {
    const tail_opts_t *o = st->o;
    if (o->count < 0 && o->until_terminal < 0 && !o->exit_at_end)
        return EXIT_OK_;
    if (end->met)
        return EXIT_OK_;
    fprintf(stderr, "intentctl: tail stopped (%s) before the condition was met: "
                    "%" PRId64 " message(s) printed, %zu id(s) with a terminal outcome",
            end->why, st->printed, st->terminal.size);
    if (o->count >= 0)
        fprintf(stderr, ", --count %" PRId64, o->count);
    if (o->until_terminal >= 0)
        fprintf(stderr, ", --until-terminal %" PRId64, o->until_terminal);
    if (o->count < 0 && o->until_terminal < 0)
        fprintf(stderr, ", %d of %d partition(s) read to their end", st->parts.n_done,
                st->parts.n);
    fputc('\n', stderr);
    return EXIT_REFUSED;
}

/* Reads and prints until a stop condition; the exit code. */
static int tail_run(common_t *c, tail_opts_t *o, tail_state_t *st) {
    if (o->intents_file && load_intents(st, o->intents_file) != 0)
        return EXIT_REFUSED;
    if (o->until_all)
        o->until_terminal = (int64_t)st->filter.size;
    int rc;
    rd_kafka_t *rk = reader_new(c, "tail", 0, &rc);
    if (!rk)
        return rc;
    rc = EXIT_KAFKA;
    if (parts_load(rk, c, o->topics, o->n_topics, o->from_beginning, &st->parts) != 0 ||
        parts_assign(rk, &st->parts, o->from_beginning, 0) != 0)
        goto done;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!o->json)
        printf(ROW_FORMAT, "TIME", "TOPIC", "EVENT", "INTENT_ID", "KEY", "SYMBOL", "SIDE", "QTY",
               "FILLED", "MESSAGE");
    tail_end_t end = tail_loop(st, rk);
    if (!end.fatal) {
        fflush(stdout);
        rc = tail_verdict(st, &end);
    }
done:
    reader_close(rk);
    return rc;
}

int cmd_tail(common_t *c, int argc, char **argv) {
    tail_opts_t o;
    memset(&o, 0, sizeof o);
    o.count = o.until_terminal = o.idle_timeout_ms = o.timeout_ms = -1;
    int rc = tail_parse(c, argc, argv, &o);
    if (rc < 0) {
        tail_state_t st;
        memset(&st, 0, sizeof st);
        st.c = c;
        st.o = &o;
        rc = tail_run(c, &o, &st);
        strset_free(&st.filter);
        strset_free(&st.terminal);
        parts_free(&st.parts);
    }
    free(o.topics_buf);
    return rc;
}
