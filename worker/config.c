/* config.c -- the worker's settings (see config.h).
 *
 * One table lists every setting: its environment name, default, kind and
 * meaning.  Loading, checking and `--help` all walk that table, so a setting
 * cannot exist in one and be missing from the other.  Secret settings are
 * marked so that neither help nor errors ever print their values. */
#include "config.h"
#include "decimal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum {
    K_STR, K_SECRET, K_INT, K_MS, K_RATE, K_LEVEL, K_URL, K_QUOTA_MODE, K_LOG_FORMAT
} kind_t;

typedef struct setting {
    const char *name;
    const char *def;       /* NULL: required */
    kind_t kind;
    size_t offset;
    size_t size;           /* for strings */
    long long min, max;    /* for numbers */
    const char *help;
} setting_t;

#define STR(f) offsetof(config_t, f), sizeof(((config_t *)0)->f)
#define NUM(f) offsetof(config_t, f), 0

static const setting_t SETTINGS[] = {
    {"KAFKA_BROKERS", NULL, K_STR, STR(kafka_brokers), 0, 0,
     "Kafka bootstrap servers, host:port[,host:port...]"},
    {"KAFKA_GROUP_ID", "order-worker", K_STR, STR(kafka_group_id), 0, 0,
     "consumer group shared by all replicas"},
    {"REDIS_URL", NULL, K_URL, STR(redis_url), 0, 0,
     "redis://[[user]:password@]host[:port][/db] for quotas"},
    {"DATABASE_URL", NULL, K_URL, STR(database_url), 0, 0,
     "PostgreSQL connection URI of the ledger"},
    {"ALPACA_BASE_URL", NULL, K_URL, STR(alpaca_base_url), 0, 0,
     "Alpaca trading API, e.g. https://paper-api.alpaca.markets"},
    {"ALPACA_DATA_URL", NULL, K_URL, STR(alpaca_data_url), 0, 0,
     "Alpaca market data API, e.g. https://data.alpaca.markets"},
    {"ALPACA_API_KEY_ID", NULL, K_SECRET, STR(alpaca_key_id), 0, 0,
     "Alpaca API key id (secret: never logged)"},
    {"ALPACA_API_SECRET_KEY", NULL, K_SECRET, STR(alpaca_secret_key), 0, 0,
     "Alpaca API secret key (secret: never logged)"},
    {"TOPIC_INTENTS_BOT", "orders.intents.bot", K_STR, STR(topic_bot), 0, 0,
     "topic of intents from bots"},
    {"TOPIC_INTENTS_USER", "orders.intents.user", K_STR, STR(topic_user), 0, 0,
     "topic of intents placed by users"},
    {"TOPIC_FILLS", "orders.fills", K_STR, STR(topic_fills), 0, 0,
     "topic of order lifecycle events"},
    {"TOPIC_REJECTIONS", "orders.rejections", K_STR, STR(topic_rejections), 0, 0,
     "topic of rejections"},
    {"TOPIC_DLQ", "orders.dlq", K_STR, STR(topic_dlq), 0, 0,
     "topic of messages that cannot be read as an intent"},
    {"BOT_TRADES_PER_MIN", "10", K_INT, NUM(bot_trades_per_min), 1, 1000000,
     "trades per bot per RATE_PERIOD_MS"},
    {"USER_TRADES_PER_MIN", "10", K_INT, NUM(user_trades_per_min), 1, 1000000,
     "trades per user (user topic) per RATE_PERIOD_MS"},
    {"ALPACA_CALLS_PER_MIN", "200", K_INT, NUM(alpaca_calls_per_min), 1, 1000000,
     "Alpaca trading API calls per RATE_PERIOD_MS, all replicas together"},
    {"RATE_PERIOD_MS", "60000", K_MS, NUM(rate_period_ms), 100, 86400000,
     "the \"minute\" of the three limits above"},
    {"INTENT_MAX_AGE_MS", "60000", K_MS, NUM(intent_max_age_ms), 1, 86400000,
     "expiry of an intent without expires_at, counted from created_at"},
    {"BREAKER_FAILURE_RATE", "0.5", K_RATE, NUM(breaker_failure_rate), 0, 0,
     "failure rate (0..1] that opens a circuit breaker"},
    {"BREAKER_OPEN_MS", "30000", K_MS, NUM(breaker_open_ms), 1, 3600000,
     "time a circuit breaker stays open before probing"},
    {"BREAKER_SLOW_CALL_RATE", "1", K_RATE, NUM(breaker_slow_rate), 0, 0,
     "share of slow calls (0..1] that opens a circuit breaker"},
    {"BREAKER_SLOW_CALL_MS", "5000", K_MS, NUM(breaker_slow_ms), 1, 600000,
     "a call lasting at least this long counts as slow"},
    {"BREAKER_WINDOW_CALLS", "20", K_INT, NUM(breaker_window_calls), 1, 10000,
     "a breaker's sliding window: the last N calls..."},
    {"BREAKER_WINDOW_MS", "30000", K_MS, NUM(breaker_window_ms), 1, 3600000,
     "...of which only those of the last N ms count"},
    {"BREAKER_MIN_CALLS", "5", K_INT, NUM(breaker_min_calls), 1, 10000,
     "calls in the window before a breaker can open"},
    {"BREAKER_HALF_OPEN_CALLS", "1", K_INT, NUM(breaker_half_open_calls), 1, 1000,
     "probe calls let through when a breaker half-opens (fleet-wide)"},
    {"QUOTE_FRESH_MS", "1000", K_MS, NUM(quote_fresh_ms), 0, 3600000,
     "a cached quote this young is used without calling Alpaca"},
    {"QUOTE_CACHE_TTL_MS", "300000", K_MS, NUM(quote_cache_ttl_ms), 1, 86400000,
     "how long a cached quote may be served (marked stale) when Alpaca fails"},
    {"BARS_CACHE_TTL_MS", "60000", K_MS, NUM(bars_cache_ttl_ms), 1, 86400000,
     "how long fetched bars are cached"},
    {"QUOTA_REDIS_DOWN_MODE", "local", K_QUOTA_MODE, NUM(quota_down_mode), 0, 0,
     "quota decisions while Redis is unreachable: local (in memory) or "
     "closed (refuse)"},
    {"RISK_MAX_NOTIONAL", "0", K_STR, STR(risk_max_notional), 0, 0,
     "risk: largest notional of one order in dollars (0: off)"},
    {"RISK_PRICE_COLLAR_PCT", "0", K_STR, STR(risk_price_collar_pct), 0, 0,
     "risk: how far (percent) a limit or stop price may be from the quote (0: off)"},
    {"RISK_MAX_OPEN_ORDERS_PER_BOT", "0", K_INT, NUM(risk_max_open_orders), 0, 1000000,
     "risk: most orders a bot may have open (0: off)"},
    {"RISK_SYMBOLS", "", K_STR, STR(risk_symbols), 0, 0,
     "risk: comma-separated symbols that may be traded (empty: any)"},
    {"TRADING_REFRESH_MS", "500", K_MS, NUM(trading_refresh_ms), 50, 60000,
     "kill switch: how often each replica re-reads the trading states"},
    {"ALPACA_BUDGET_MARGIN_MS", "50", K_MS, NUM(budget_margin_ms), 0, 60000,
     "the shared Alpaca budget counts calls over RATE_PERIOD_MS plus this, so "
     "network jitter cannot put one call too many in Alpaca's window"},
    {"RECONCILE_INTERVAL_MS", "60000", K_MS, NUM(reconcile_interval_ms), 100, 86400000,
     "how often one replica looks for intents stuck in a non-terminal state"},
    {"RECONCILE_AFTER_MS", "300000", K_MS, NUM(reconcile_after_ms), 100, 86400000,
     "an intent unmoved for this long is stuck and run again"},
    {"WORKER_FAILPOINT", "", K_STR, STR(failpoint), 0, 0,
     "tests only: exit abruptly at after_submitting, after_post or after_publish"},
    {"WORKER_CONCURRENCY", "8", K_INT, NUM(concurrency), 1, 256,
     "lanes: intents with different keys handled in parallel"},
    {"WORKER_BATCH_MAX", "32", K_INT, NUM(batch_max), 1, 64,
     "a lane takes up to this many queued intents of different keys at once, "
     "and records, moves and settles them in one statement each"},
    {"WORKER_MAX_IN_FLIGHT", "1000", K_INT, NUM(max_in_flight), 1, 1000000,
     "messages held at once; consumption waits beyond this"},
    {"ALPACA_TIMEOUT_MS", "10000", K_MS, NUM(alpaca_timeout_ms), 1, 600000,
     "total time allowed for one Alpaca call"},
    {"ALPACA_CONNECT_TIMEOUT_MS", "3000", K_MS, NUM(alpaca_connect_timeout_ms), 1, 600000,
     "time allowed to connect to Alpaca"},
    {"ALPACA_FEED", "iex", K_STR, STR(alpaca_feed), 0, 0,
     "market data feed for quotes: iex or sip"},
    {"PUBLISH_TIMEOUT_MS", "30000", K_MS, NUM(publish_timeout_ms), 100, 3600000,
     "time a result may wait for Kafka's acknowledgement before the intent is "
     "left for redelivery"},
    {"WORKER_DRAIN_MS", "30000", K_MS, NUM(drain_ms), 0, 240000,
     "on SIGTERM or revocation, time to finish in-flight intents before "
     "leaving them for redelivery (below max.poll.interval.ms, 300000)"},
    {"ACCOUNT_REFRESH_MS", "15000", K_MS, NUM(account_refresh_ms), 0, 3600000,
     "how old the account gate's view of the Alpaca account may be"},
    {"FOLLOW_INTERVAL_MS", "1000", K_MS, NUM(follow_interval_ms), 50, 600000,
     "order following: Alpaca poll interval while orders change"},
    {"FOLLOW_MAX_INTERVAL_MS", "10000", K_MS, NUM(follow_max_interval_ms), 50, 3600000,
     "order following: the interval doubles up to this while nothing changes"},
    {"FOLLOW_LEASE_MS", "5000", K_MS, NUM(follow_lease_ms), 500, 600000,
     "order following: one replica follows all open orders under this lease; "
     "another takes over this long after it stops renewing"},
    {"REPLICA_ID", "", K_STR, STR(replica_id), 0, 0,
     "name of this replica in logs and the ledger (default hostname-pid)"},
    {"LOG_LEVEL", "info", K_LEVEL, NUM(log_level), 0, 0,
     "debug, info, warn or error"},
    {"LOG_FORMAT", "auto", K_LOG_FORMAT, NUM(log_format), 0, 0,
     "json (one object per line), text, or auto: text when stderr is a terminal"},
    {"ADMIN_ADDR", "127.0.0.1", K_STR, STR(admin_addr), 0, 0,
     "address the admin HTTP endpoint listens on (0.0.0.0: every interface)"},
    {"ADMIN_PORT", "9464", K_INT, NUM(admin_port), 0, 65535,
     "port of GET /metrics, /healthz and /readyz (0: no endpoint); one per replica"},
    {"KAFKA_STATS_INTERVAL_MS", "5000", K_MS, NUM(kafka_stats_ms), 100, 600000,
     "how often librdkafka's statistics (consumer lag, broker states) are refreshed"},
};

#define N_SETTINGS (sizeof(SETTINGS) / sizeof(SETTINGS[0]))

static int parse_int(const char *v, long long min, long long max, long long *out) {
    if (!*v) return -1;
    errno = 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || n < min || n > max) return -1;
    *out = n;
    return 0;
}

static int load_one(const setting_t *s, const char *v, config_t *cfg, char *err,
                    size_t errlen) {
    char *base = (char *)cfg + s->offset;
    long long n;
    switch (s->kind) {
    case K_STR:
    case K_SECRET:
    case K_URL:
        if (strlen(v) >= s->size) {
            snprintf(err, errlen, "%s is too long (at most %zu characters)",
                     s->name, s->size - 1);
            return -1;
        }
        if (s->kind == K_URL && !strstr(v, "://")) {
            snprintf(err, errlen, "%s must be a URL (scheme://...), got something else",
                     s->name);
            return -1;
        }
        memcpy(base, v, strlen(v) + 1);
        return 0;
    case K_INT:
        if (parse_int(v, s->min, s->max, &n) < 0) {
            snprintf(err, errlen, "%s must be an integer from %lld to %lld, got \"%s\"",
                     s->name, s->min, s->max, v);
            return -1;
        }
        *(int *)base = (int)n;
        return 0;
    case K_MS:
        if (parse_int(v, s->min, s->max, &n) < 0) {
            snprintf(err, errlen,
                     "%s must be milliseconds, an integer from %lld to %lld, got \"%s\"",
                     s->name, s->min, s->max, v);
            return -1;
        }
        *(int64_t *)base = n;
        return 0;
    case K_RATE: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        if (!*v || errno || *end || !(d > 0.0 && d <= 1.0)) {
            snprintf(err, errlen, "%s must be a number above 0 and at most 1, got \"%s\"",
                     s->name, v);
            return -1;
        }
        *(double *)base = d;
        return 0;
    }
    case K_QUOTA_MODE:
        if (!strcmp(v, "local")) *(int *)base = 1;
        else if (!strcmp(v, "closed")) *(int *)base = 2;
        else {
            snprintf(err, errlen, "%s must be local or closed, got \"%s\"", s->name, v);
            return -1;
        }
        return 0;
    case K_LOG_FORMAT: {
        static const char *formats[] = {"auto", "json", "text"};
        for (int i = 0; i < 3; i++)
            if (!strcmp(v, formats[i])) {
                *(int *)base = i;
                return 0;
            }
        snprintf(err, errlen, "%s must be auto, json or text, got \"%s\"", s->name, v);
        return -1;
    }
    case K_LEVEL: {
        static const char *levels[] = {"debug", "info", "warn", "error"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(v, levels[i])) {
                *(int *)base = i;
                return 0;
            }
        snprintf(err, errlen, "%s must be debug, info, warn or error, got \"%s\"",
                 s->name, v);
        return -1;
    }
    }
    return -1;
}

int config_load(config_t *cfg, char *err, size_t errlen) {
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const setting_t *s = &SETTINGS[i];
        const char *v = getenv(s->name);
        if (!v || !*v) {
            if (!s->def) {
                snprintf(err, errlen, "%s is not set (required: %s)", s->name, s->help);
                return -1;
            }
            v = s->def;
        }
        if (load_one(s, v, cfg, err, errlen) < 0) return -1;
    }
    const char *decimals[][2] = {{"RISK_MAX_NOTIONAL", cfg->risk_max_notional},
                                 {"RISK_PRICE_COLLAR_PCT", cfg->risk_price_collar_pct}};
    for (size_t i = 0; i < 2; i++) {
        decimal_t d;
        decimal_nanos_t v;
        if (decimal_parse(decimals[i][1], strlen(decimals[i][1]), 0, &d) != DECIMAL_OK ||
            d.negative || decimal_to_nanos(&d, &v) < 0 ||
            v > (decimal_nanos_t)1000000000000000LL * 1000000000) {
            snprintf(err, errlen,
                     "%s must be a decimal number from 0 to 1000000000000000, got \"%s\"",
                     decimals[i][0], decimals[i][1]);
            return -1;
        }
    }
    if (strcmp(cfg->alpaca_feed, "iex") && strcmp(cfg->alpaca_feed, "sip")) {
        snprintf(err, errlen, "ALPACA_FEED must be iex or sip, got \"%s\"", cfg->alpaca_feed);
        return -1;
    }
    unsigned char addr[16];
    if (inet_pton(AF_INET, cfg->admin_addr, addr) != 1 &&
        inet_pton(AF_INET6, cfg->admin_addr, addr) != 1) {
        snprintf(err, errlen, "ADMIN_ADDR must be an IPv4 or IPv6 address, got \"%s\"",
                 cfg->admin_addr);
        return -1;
    }
    if (!cfg->replica_id[0]) {
        char host[64] = "worker";
        gethostname(host, sizeof(host) - 1);
        snprintf(cfg->replica_id, sizeof(cfg->replica_id), "%s-%d", host, (int)getpid());
    }
    /* Trailing slashes would double in URLs built as base + "/v2/...". */
    size_t n = strlen(cfg->alpaca_base_url);
    while (n > 0 && cfg->alpaca_base_url[n - 1] == '/') cfg->alpaca_base_url[--n] = '\0';
    n = strlen(cfg->alpaca_data_url);
    while (n > 0 && cfg->alpaca_data_url[n - 1] == '/') cfg->alpaca_data_url[--n] = '\0';
    return 0;
}

void config_print_help(FILE *out) {
    fprintf(out, "Settings (environment variables):\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const setting_t *s = &SETTINGS[i];
        fprintf(out, "  %-26s %s\n  %-26s default: %s\n", s->name, s->help, "",
                s->def ? (*s->def ? s->def : "(derived)") : "(required)");
    }
}
