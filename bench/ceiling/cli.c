/* cli.c -- the command line of ow-ceiling (see cli.h).
 *
 * Owns: the defaults, parsing argv, and the checks that the flags make a
 * run of the mode asked: every mistake gets a message naming the flag.
 * The URLs never appear in a message (they hold passwords). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ceiling_options_usage(FILE *out) {
    fprintf(out,
            "usage: ow-ceiling ledger [--database-url URL] [--schema NAME] [common flags]\n"
            "       ow-ceiling quota [--redis-url URL] [common flags]\n"
            "common flags: [--connections N] [--batch B] [--duration S] [--bots K]\n"
            "              [--server-pid PID] [--json OUT]\n"
            "\n"
            "The fleet's ceiling: how many intents/s one PostgreSQL or one Redis serves when\n"
            "only the worker's own calls run against it, N connections (threads) at once,\n"
            "each one batch of B fresh synthetic intents (of K bots) after another for S\n"
            "seconds (defaults: 1, 32, 10, 1000).\n"
            "  ledger: per batch, exactly the worker's calls for new valid intents filled at\n"
            "    once (ledger.h): ledger_begin_many (validated, locked), ledger_transition_many\n"
            "    validated -> quota_granted -> submitting, ledger_commit_many (broker order,\n"
            "    accepted and fill events; published through a publisher that sends nothing,\n"
            "    marks deferred), ledger_unlock_intent (deferred).  --schema NAME runs in that\n"
            "    schema of the database (created, the ledger's migrations applied: needs a\n"
            "    role that may, e.g. ADMIN_DATABASE_URL), away from the workers' ledger.\n"
            "  quota: a batch's quota decisions in one round trip (quota_charge_many, limits\n"
            "    lifted), then each placement's token of the Alpaca budget (budget_take,\n"
            "    ALPACA_CALLS_PER_MIN lifted: tokens come in blocks).  The budget's keys are shared: never on the Redis database of\n"
            "    running workers (select another in the URL: redis://.../9).\n"
            "Reports intents/s, each call's latency (p50/p90/p99/max), the server's CPU per\n"
            "intent (utime+stime from /proc of the postmaster and its children, or of\n"
            "redis-server; the pid asked from the server, or --server-pid) and its own, as\n"
            "JSON on stdout or --json OUT, and a summary line on stderr.  The ids start with\n"
            "\"ce11\" and the run's prefix (\"id_prefix\").  DATABASE_URL and REDIS_URL are\n"
            "the URLs' defaults; TOPIC_*, INTENT_MAX_AGE_MS, RATE_PERIOD_MS and\n"
            "ALPACA_BUDGET_* are read as the worker reads them.\n"
            "Exit status: 0; 1 when a call failed or answered other than the happy path; 2\n"
            "on a usage error.\n");
}

static void defaults(ceiling_options_t *o) {
    memset(o, 0, sizeof(*o));
    o->connections = 1;
    o->batch = 32;  /* WORKER_BATCH_MAX's default */
    o->duration_s = 10;
    o->bots = 1000;
}

/* The value of the flag argv[*i] (then *i moves past it), or NULL (said). */
static const char *value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "ow-ceiling: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* The number after the flag argv[*i], within [lo, hi], into *out; -1 if
 * missing or bad (said). */
static int number(int argc, char **argv, int *i, double lo, double hi, double *out) {
    const char *flag = argv[*i], *s = value(argc, argv, i);
    if (!s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "ow-ceiling: %s wants a number from %g to %g, got '%s'\n", flag, lo,
                hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* One numeric flag into its field: 0, 1 if a is none, -1 (said). */
static int numeric_flag(int argc, char **argv, int *i, ceiling_options_t *o) {
    const char *a = argv[*i];
    double d;
    int rc = 0;
    if (!strcmp(a, "--connections")) {
        if ((rc = number(argc, argv, i, 1, 256, &d)) == 0) o->connections = (int)d;
    } else if (!strcmp(a, "--batch")) {
        if ((rc = number(argc, argv, i, 1, CEILING_BATCH_MAX, &d)) == 0) o->batch = (int)d;
    } else if (!strcmp(a, "--duration")) {
        if ((rc = number(argc, argv, i, 0.1, 86400, &d)) == 0) o->duration_s = d;
    } else if (!strcmp(a, "--bots")) {
        if ((rc = number(argc, argv, i, 1, 1000000, &d)) == 0) o->bots = (int)d;
    } else if (!strcmp(a, "--server-pid")) {
        if ((rc = number(argc, argv, i, 1, 4194304, &d)) == 0) o->server_pid = (long)d;
    } else {
        return 1;
    }
    return rc;
}

/* One string flag into its field (checked against the mode): 0, 1 if a is
 * none, -1 (said). */
static int string_flag(int argc, char **argv, int *i, ceiling_options_t *o) {
    const char *a = argv[*i], **slot = NULL;
    ceiling_mode_t only = o->mode;
    if (!strcmp(a, "--database-url") || !strcmp(a, "--redis-url")) {
        slot = &o->url;
        only = a[2] == 'd' ? CEILING_LEDGER : CEILING_QUOTA;
    } else if (!strcmp(a, "--schema")) {
        slot = &o->schema;
        only = CEILING_LEDGER;
    } else if (!strcmp(a, "--json")) {
        slot = &o->json_out;
    } else {
        return 1;
    }
    if (only != o->mode) {
        fprintf(stderr, "ow-ceiling: %s is for `ow-ceiling %s`\n", a,
                only == CEILING_LEDGER ? "ledger" : "quota");
        return -1;
    }
    return (*slot = value(argc, argv, i)) ? 0 : -1;
}

/* 1 if s is a schema name this tool accepts: [a-z_][a-z0-9_]{0,62}. */
static int schema_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 63 || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (size_t k = 0; k < n; k++)
        if (!((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= '0' && s[k] <= '9') || s[k] == '_'))
            return 0;
    return 1;
}

static int check(ceiling_options_t *o) {
    if (!o->url || !*o->url) o->url = getenv(o->mode == CEILING_LEDGER ? "DATABASE_URL"
                                                                         : "REDIS_URL");
    if (!o->url || !*o->url) {
        fprintf(stderr, "ow-ceiling: no %s and no %s\n",
                o->mode == CEILING_LEDGER ? "--database-url" : "--redis-url",
                o->mode == CEILING_LEDGER ? "DATABASE_URL" : "REDIS_URL");
        return -1;
    }
    if (o->schema && !schema_ok(o->schema)) {
        fprintf(stderr, "ow-ceiling: --schema wants 1 to 63 of a-z 0-9 _ (not a digit first), "
                        "got '%s'\n", o->schema);
        return -1;
    }
    return 0;
}

int ceiling_options_parse(int argc, char **argv, ceiling_options_t *o) {
    defaults(o);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        ceiling_options_usage(stdout);
        return 1;
    }
    if (argc < 2 || (strcmp(argv[1], "ledger") != 0 && strcmp(argv[1], "quota") != 0)) {
        fprintf(stderr, "ow-ceiling: the first argument is the mode: ledger or quota (--help)\n");
        return -1;
    }
    o->mode = !strcmp(argv[1], "ledger") ? CEILING_LEDGER : CEILING_QUOTA;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            ceiling_options_usage(stdout);
            return 1;
        }
        int rc = numeric_flag(argc, argv, &i, o);
        if (rc == 1) rc = string_flag(argc, argv, &i, o);
        if (rc == 1) {
            fprintf(stderr, "ow-ceiling: unknown option '%s' (--help)\n", argv[i]);
            rc = -1;
        }
        if (rc < 0) return -1;
    }
    return check(o);
}
