/* quota.c -- `intentctl quota`: a bot's or user's trade quota as the worker
 * sees it (quota_show), the replicas' shared Alpaca budget (budget_show),
 * and a subject's override of its limit (quota_override_get|set).
 *
 * The Redis keys and the arithmetic of the quota script belong to
 * worker/quota.c and worker/budget.c; this file reads the limits the
 * workers are configured with from the same environment, connects to
 * REDIS_URL, and prints. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "budget.h"
#include "common.h"
#include "config.h"
#include "envfile.h"
#include "intentctl.h"
#include "operator.h"
#include "quota.h"
#include "redisconn.h"

void quota_help(FILE *out) {
    fprintf(out,
"usage: intentctl quota bot ID | user ID | alpaca [--json]\n"
"       intentctl quota set bot|user ID LIMIT\n"
"       intentctl quota unset bot|user ID\n"
"\n"
"Shows a trade quota as the worker sees it, read-only, from Redis (REDIS_URL):\n"
"  used, limit, remaining   of the limit, what is held now, and the rest: a bot's\n"
"                           or user's trade holds one for RATE_PERIOD_MS / limit\n"
"                           (GCRA: 6 s at 10 a minute), a call to Alpaca for the\n"
"                           whole period\n"
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

/* What to do: show subject id (or the budget, subject NULL), or set or
 * unset its override. */
typedef struct quota_req {
    int json, set, unset;
    const char *subject, *id;
    const char *limit_text;   /* set: LIMIT as given */
    int64_t limit;            /* set: LIMIT */
    int64_t period_ms, default_limit;
} quota_req_t;

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

/* The operands (after the options) into q.  -1 to go on, else the exit
 * code. */
static int quota_operands(char **args, int n, quota_req_t *q) {
    if (n < 1)
        return usage_error("quota", "say which quota: bot ID, user ID, alpaca, set or unset");
    const char *what = args[0];
    q->set = !strcmp(what, "set");
    q->unset = !strcmp(what, "unset");
    if (q->set || q->unset) {
        if (n != (q->set ? 4 : 3))
            return usage_error("quota", "%s", q->set ? "usage: quota set bot|user ID LIMIT"
                                                     : "usage: quota unset bot|user ID");
        q->subject = args[1];
        q->id = args[2];
        q->limit_text = q->set ? args[3] : NULL;
        if (q->set && (parse_i64(args[3], &q->limit) != 0 || q->limit < 1 || q->limit > 1000000))
            return usage_error("quota", "LIMIT must be a whole number 1..1000000, got '%s'",
                               args[3]);
        if (q->json)
            return usage_error("quota", "--json is for showing a quota");
    } else if (!strcmp(what, "alpaca")) {
        if (n != 1)
            return usage_error("quota", "unexpected argument '%s'", args[1]);
    } else {
        if (n < 2)
            return usage_error("quota", "quota %s wants an ID", what);
        if (n > 2)
            return usage_error("quota", "unexpected argument '%s'", args[2]);
        q->subject = what;
        q->id = args[1];
    }
    if (q->subject && strcmp(q->subject, "bot") && strcmp(q->subject, "user"))
        return usage_error("quota", "no such quota '%s' (bot, user, alpaca)", q->subject);
    if (q->id && !valid_subject_id(q->id))
        return usage_error("quota", "'%s' is not an id (1 to 64 characters of A-Z a-z 0-9 . _ -)",
                           q->id);
    return -1;
}

/* Options and operands into q.  -1 to go on, else the exit code. */
static int quota_parse(int argc, char **argv, quota_req_t *q) {
    enum { O_JSON = 4200 };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;
    optind = 0;
    /* "+": an id may begin with '-'; options come before the operands. */
    while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': quota_help(stdout); return EXIT_OK_;
        case O_JSON: q->json = 1; break;
        default: return usage_hint("quota");
        }
    }
    char **args = argv + optind;
    int n = argc - optind;
    /* --json may also follow the operands (the usual way to type it). */
    if (n > 0 && strcmp(args[n - 1], "--json") == 0) {
        q->json = 1;
        n--;
    }
    return quota_operands(args, n, q);
}

/* The workers' limits from the environment (as they read them).  -1 to go
 * on, else the exit code. */
static int quota_limits(quota_req_t *q) {
    if (env_i64("RATE_PERIOD_MS", 60000, 100, 86400000, &q->period_ms) < 0)
        return EXIT_USAGE;
    const char *name = !q->subject                    ? "ALPACA_CALLS_PER_MIN"
                       : !strcmp(q->subject, "bot") ? "BOT_TRADES_PER_MIN"
                                                    : "USER_TRADES_PER_MIN";
    if (env_i64(name, q->subject ? 10 : 200, 1, 1000000, &q->default_limit) < 0)
        return EXIT_USAGE;
    if (q->set && !quota_limit_exact(q->limit, q->period_ms))
        return usage_error("quota", "LIMIT %s per RATE_PERIOD_MS is too large to count exactly",
                           q->limit_text);
    return -1;
}

/* REDIS_URL (and REDIS_PASSWORD), read as the worker reads them; NULL
 * after a usage error.  The URL is never printed. */
static redisconn_t *redis_connect(void) {
    static const char *const redis_settings[] = {"REDIS_URL", "REDIS_PASSWORD", NULL};
    if (!envfile_is_set("REDIS_URL")) {
        usage_error("quota", "REDIS_URL is not set (redis://[:password@]host:port/db)");
        return NULL;
    }
    char err[512];
    config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg || config_load_only(cfg, redis_settings, err, sizeof err) < 0) {
        fprintf(stderr, "intentctl: %s\n", cfg ? err : "out of memory");
        free(cfg);
        return NULL;
    }
    redisconn_t *rc = redisconn_new(cfg->redis_url, "intentctl", 5000, err, sizeof err);
    OPENSSL_cleanse(cfg, sizeof *cfg);
    free(cfg);
    if (!rc)
        fprintf(stderr, "intentctl: REDIS_URL: %s\n", err);
    return rc;
}

/* intentctl quota bot|user ID. */
static int show_subject(redisconn_t *rc, const quota_req_t *q) {
    quota_status_t s;
    char err[512];
    if (quota_show(rc, q->subject, q->id, q->default_limit, q->period_ms, &s, err,
                   sizeof err) < 0) {
        fprintf(stderr, "intentctl: %s\n", err);
        return EXIT_REFUSED;
    }
    const char *from = s.overridden ? "override" : "default";
    if (q->json)
        json_print_line(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "subject",
                                  q->subject, "id", q->id, "used", (json_int_t)s.used, "limit",
                                  (json_int_t)s.limit, "remaining", (json_int_t)s.remaining,
                                  "reset_ms", (json_int_t)s.reset_ms, "retry_after_ms",
                                  (json_int_t)s.retry_after_ms, "period_ms",
                                  (json_int_t)s.period_ms, "limit_from", from));
    else
        printf("%s %s: used %" PRId64 ", limit %" PRId64 " (%s), remaining %" PRId64
               ", reset_ms %" PRId64 ", retry_after_ms %" PRId64 ", period_ms %" PRId64 "\n",
               q->subject, q->id, s.used, s.limit, from, s.remaining, s.reset_ms,
               s.retry_after_ms, s.period_ms);
    return EXIT_OK_;
}

/* intentctl quota alpaca. */
static int show_alpaca(redisconn_t *rc, const quota_req_t *q) {
    budget_status_t s;
    char err[512];
    if (budget_show(rc, q->default_limit, q->period_ms, &s, err, sizeof err) < 0) {
        fprintf(stderr, "intentctl: %s\n", err);
        return EXIT_REFUSED;
    }
    if (q->json) {
        json_print_line(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:I}", "subject",
                                  "alpaca", "used", (json_int_t)s.used, "limit",
                                  (json_int_t)s.limit, "remaining", (json_int_t)s.remaining,
                                  "reset_ms", (json_int_t)s.reset_ms, "period_ms",
                                  (json_int_t)s.period_ms, "blocked_until",
                                  s.blocked ? json_integer(s.blocked_until) : json_null(),
                                  "blocked_ms", (json_int_t)s.blocked_ms));
        return EXIT_OK_;
    }
    printf("alpaca: used %" PRId64 ", limit %" PRId64 ", remaining %" PRId64 ", reset_ms %" PRId64
           ", period_ms %" PRId64,
           s.used, s.limit, s.remaining, s.reset_ms, s.period_ms);
    if (s.blocked)
        printf(", blocked_until %" PRId64 " (%s)", s.blocked_until,
               s.blocked_ms > 0 ? "blocked now" : "past");
    if (s.blocked_ms > 0)
        printf(", blocked_ms %" PRId64, s.blocked_ms);
    putchar('\n');
    return EXIT_OK_;
}

/* intentctl quota set|unset bot|user ID [LIMIT]. */
static int set_override(redisconn_t *rc, const quota_req_t *q) {
    int64_t old = q->default_limit;
    char err[512];
    int had = quota_override_get(rc, q->subject, q->id, &old, err, sizeof err);
    if (had < 0 || quota_override_set(rc, q->subject, q->id, q->set ? q->limit : 0, err,
                                      sizeof err) < 0) {
        fprintf(stderr, "intentctl: %s\n", err);
        return EXIT_REFUSED;
    }
    if (q->set)
        printf("%s %s: limit %" PRId64 " per %" PRId64 " ms (was %" PRId64 ", %s)\n", q->subject,
               q->id, q->limit, q->period_ms, old, had ? "override" : "default");
    else if (had)
        printf("%s %s: override %" PRId64 " removed; the default %" PRId64 " per %" PRId64
               " ms applies\n", q->subject, q->id, old, q->default_limit, q->period_ms);
    else
        printf("%s %s: no override was set; the default %" PRId64 " per %" PRId64
               " ms applies\n", q->subject, q->id, q->default_limit, q->period_ms);
    return EXIT_OK_;
}

int cmd_quota(common_t *c, int argc, char **argv) {
    (void)c;
    quota_req_t q;
    memset(&q, 0, sizeof q);
    int rcode = quota_parse(argc, argv, &q);
    if (rcode < 0)
        rcode = quota_limits(&q);
    if (rcode >= 0)
        return rcode;
    redisconn_t *rc = redis_connect();
    if (!rc)
        return EXIT_USAGE;
    if (q.set || q.unset)
        rcode = set_override(rc, &q);
    else if (q.subject)
        rcode = show_subject(rc, &q);
    else
        rcode = show_alpaca(rc, &q);
    redisconn_free(rc);
    return rcode;
}
