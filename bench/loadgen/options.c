/* options.c -- the command line of ow-loadgen (see options.h).
 *
 * Owns: the defaults, parsing argv (one table-like chain of flags), and the
 * checks that the flags make a run: every mistake gets a message naming the
 * flag.  Why: the modes share most flags but need different ones (a rate
 * for a load, --count for --produce-only, --expect and --tag for
 * --consume-only); one place says which. */
#include "options.h"

#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

void options_usage(FILE *out) {
    fprintf(out,
            "usage: ow-loadgen [--brokers B] (--rate N|max) (--duration S | --count N)\n"
            "                  [--warmup S] [--bots B] [--users U] [--symbols A,B,..]\n"
            "                  [--window N] [--drain-timeout S] [--json OUT] [--ready-file F]\n"
            "                  [--fills-out F]\n"
            "       ow-loadgen --produce-only --count N [...]\n"
            "       ow-loadgen --consume-only --expect N --tag T [--drain-timeout S] [...]\n"
            "       ow-loadgen --version\n"
            "\n"
            "Publishes market intents (qty 1) for B bots and U users (round-robin keys;\n"
            "user intents on the user topic without bot_id), reads orders.fills and\n"
            "orders.rejections from their end offsets, and reports throughput (fills per\n"
            "second over the steady window, after --warmup; rejections apart),\n"
            "publication -> accepted and -> fill latencies (and each event's own hop on\n"
            "the result topic) and outcomes.  --fills-out F writes each fill's order_id\n"
            "and read-back time (us since the epoch), tab-separated.\n"
            "--rate max keeps at most --window (default 4000) intents without an outcome.\n"
            "KAFKA_BROKERS is the default of --brokers; TOPIC_* override the topic names;\n"
            "KAFKA_CONSUMER_<PROPERTY> and KAFKA_PRODUCER_<PROPERTY> (and the KAFKA_SASL_*,\n"
            "KAFKA_SSL_* settings) apply to its clients as to the worker's.\n");
}

static const char *options_env_or(const char *name, const char *def) {
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static void options_defaults(options_t *o) {
    memset(o, 0, sizeof(*o));
    o->brokers = getenv("KAFKA_BROKERS");
    o->bots = 100;
    o->window = 4000;
    o->drain_timeout_s = 120;
    o->rate = -1;
    o->topic_bot = options_env_or("TOPIC_INTENTS_BOT", "orders.intents.bot");
    o->topic_user = options_env_or("TOPIC_INTENTS_USER", "orders.intents.user");
    o->topic_fills = options_env_or("TOPIC_FILLS", "orders.fills");
    o->topic_rejections = options_env_or("TOPIC_REJECTIONS", "orders.rejections");
}

/* The value of the flag argv[*i] (then *i moves past it), or NULL (said). */
static const char *options_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "ow-loadgen: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* The number after the flag argv[*i] (>= 0) into *out; -1 if missing or bad. */
static int options_number(int argc, char **argv, int *i, double *out) {
    const char *flag = argv[*i], *s = options_value(argc, argv, i);
    if (!s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || v < 0) {
        fprintf(stderr, "ow-loadgen: %s: bad number '%s'\n", flag, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* --rate N (> 0) or --rate max (0). */
static int options_rate(int argc, char **argv, int *i, options_t *o) {
    if (*i + 1 < argc && !strcmp(argv[*i + 1], "max")) {
        ++*i;
        o->rate = 0;
        return 0;
    }
    if (options_number(argc, argv, i, &o->rate) < 0) return -1;
    if (o->rate <= 0) {
        fprintf(stderr, "ow-loadgen: --rate must be > 0 or max\n");
        return -1;
    }
    return 0;
}

/* The flags with a numeric value: where each goes, as a double. */
static int options_numeric_flag(int argc, char **argv, int *i, options_t *o) {
    const char *a = argv[*i];
    double d;
    if (options_number(argc, argv, i, &d) < 0) return -1;
    if (!strcmp(a, "--duration")) o->duration_s = d;
    else if (!strcmp(a, "--warmup")) o->warmup_s = d;
    else if (!strcmp(a, "--count")) o->count = (long long)d;
    else if (!strcmp(a, "--bots")) o->bots = (int)d;
    else if (!strcmp(a, "--users")) o->users = (int)d;
    else if (!strcmp(a, "--window")) o->window = (long long)d;
    else if (!strcmp(a, "--expect")) o->expect = (long long)d;
    else o->drain_timeout_s = d; /* --drain-timeout */
    return 0;
}

static int options_is_numeric(const char *a) {
    static const char *const numeric[] = {"--duration", "--warmup", "--count", "--bots",
                                          "--users", "--window", "--expect", "--drain-timeout"};
    for (size_t k = 0; k < sizeof(numeric) / sizeof(numeric[0]); k++)
        if (!strcmp(a, numeric[k])) return 1;
    return 0;
}

/* The flags with a string value: where each goes; NULL if a is none. */
static const char **options_string_slot(options_t *o, const char *a, const char **symbols) {
    if (!strcmp(a, "--brokers")) return &o->brokers;
    if (!strcmp(a, "--symbols")) return symbols;
    if (!strcmp(a, "--json")) return &o->json_out;
    if (!strcmp(a, "--ready-file")) return &o->ready_file;
    if (!strcmp(a, "--fills-out")) return &o->fills_out;
    if (!strcmp(a, "--tag")) return &o->tag;
    if (!strcmp(a, "--expires-at")) return &o->expires_at;
    return NULL;
}

/* What the flags must add up to for the mode asked. */
static int options_check(options_t *o) {
    if (!o->brokers || !*o->brokers) {
        fprintf(stderr, "ow-loadgen: no --brokers and no KAFKA_BROKERS\n");
        return -1;
    }
    if (o->produce_only && o->consume_only) {
        fprintf(stderr, "ow-loadgen: --produce-only and --consume-only exclude each other\n");
        return -1;
    }
    if (o->consume_only) {
        if (o->expect <= 0 || !o->tag || strlen(o->tag) != 8) {
            fprintf(stderr, "ow-loadgen: --consume-only needs --expect N and --tag (8 hex)\n");
            return -1;
        }
        if (ids_check_tag(o->tag) < 0) {
            fprintf(stderr, "ow-loadgen: --tag wants 8 hex digits\n");
            return -1;
        }
        return 0;
    }
    if (o->produce_only) {
        if (o->count <= 0) {
            fprintf(stderr, "ow-loadgen: --produce-only needs --count N\n");
            return -1;
        }
        if (o->rate < 0) o->rate = 0;
    } else if (o->rate < 0) {
        fprintf(stderr, "ow-loadgen: --rate N or --rate max is required\n");
        return -1;
    }
    if (o->count <= 0 && o->duration_s <= 0) {
        fprintf(stderr, "ow-loadgen: --duration S or --count N is required\n");
        return -1;
    }
    if (o->count > IDS_SEQ_MAX) {
        fprintf(stderr, "ow-loadgen: --count at most %u\n", IDS_SEQ_MAX);
        return -1;
    }
    if (o->bots + o->users <= 0) {
        fprintf(stderr, "ow-loadgen: --bots + --users must be > 0\n");
        return -1;
    }
    return 0;
}

/* symbols (comma-separated) into o->symbols, copied into o->symbol_buf. */
static int options_symbols(options_t *o, const char *symbols) {
    snprintf(o->symbol_buf, sizeof(o->symbol_buf), "%s", symbols);
    char *save = NULL;
    for (char *s = strtok_r(o->symbol_buf, ",", &save); s && o->nsymbols < OPTIONS_MAX_SYMBOLS;
         s = strtok_r(NULL, ",", &save))
        o->symbols[o->nsymbols++] = s;
    if (o->nsymbols == 0) {
        fprintf(stderr, "ow-loadgen: --symbols is empty\n");
        return -1;
    }
    return 0;
}

int options_parse(int argc, char **argv, options_t *o) {
    options_defaults(o);
    const char *symbols = "AAPL,MSFT,NVDA,AMZN,GOOGL,META,SPY,QQQ";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = options_string_slot(o, a, &symbols);
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            options_usage(stdout);
            return 1;
        } else if (!strcmp(a, "--version")) {
            printf("ow-loadgen librdkafka %s jansson %s\n", rd_kafka_version_str(),
                   JANSSON_VERSION);
            return 1;
        } else if (!strcmp(a, "--rate")) {
            if (options_rate(argc, argv, &i, o) < 0) return -1;
        } else if (options_is_numeric(a)) {
            if (options_numeric_flag(argc, argv, &i, o) < 0) return -1;
        } else if (slot) {
            if (!(*slot = options_value(argc, argv, &i))) return -1;
        } else if (!strcmp(a, "--produce-only")) {
            o->produce_only = 1;
        } else if (!strcmp(a, "--consume-only")) {
            o->consume_only = 1;
        } else {
            fprintf(stderr, "ow-loadgen: unknown option '%s' (--help)\n", a);
            return -1;
        }
    }
    if (options_check(o) < 0) return -1;
    return options_symbols(o, symbols);
}
