/* config.c -- the worker's settings (see config.h).
 *
 * One table lists every setting: its environment name, default, kind and
 * meaning.  Loading, checking and `--help` all walk that table, so a setting
 * cannot exist in one and be missing from the other.  Secret settings are
 * marked so that neither help nor errors ever print their values. */
#include "config.h"
#include "decimal.h"
#include "envfile.h"
#include "tradestream.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <librdkafka/rdkafka.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef enum {
    K_STR, K_SECRET, K_INT, K_MS, K_RATE, K_URL,
    K_CHOICE    /* one of choices; stored as its index + min */
} kind_t;

typedef struct setting {
    const char *name;
    const char *def;       /* NULL: required */
    kind_t kind;
    size_t offset;
    size_t size;           /* for strings */
    long long min, max;    /* for numbers */
    const char *help;
    const char *const *choices; /* K_CHOICE: the values, NULL-terminated */
} setting_t;

static const char *const QUOTA_MODES[] = {"local", "closed", NULL};
static const char *const LOG_LEVELS[] = {"debug", "info", "warn", "error", NULL};
static const char *const LOG_FORMATS[] = {"auto", "json", "text", NULL};
static const char *const SIGNING_MODES[] = {"optional", "required", NULL};
static const char *const ON_OFF[] = {"off", "on", NULL};

#define STR(f) offsetof(config_t, f), sizeof(((config_t *)0)->f)
#define NUM(f) offsetof(config_t, f), 0

static const setting_t SETTINGS[] = {
    {"KAFKA_BROKERS", NULL, K_STR, STR(kafka_brokers), 0, 0,
     "Kafka bootstrap servers, host:port[,host:port...]", NULL},
    {"KAFKA_GROUP_ID", "order-worker", K_STR, STR(kafka_group_id), 0, 0,
     "consumer group shared by all replicas", NULL},
    {"REDIS_URL", NULL, K_URL, STR(redis_url), 0, 0,
     "redis://[[user]:password@]host[:port][/db] for quotas", NULL},
    {"REDIS_PASSWORD", "", K_SECRET, STR(redis_password), 0, 0,
     "password (AUTH) for REDIS_URL, which then carries none; best given as "
     "REDIS_PASSWORD_FILE (secret: never logged)", NULL},
    {"DATABASE_URL", NULL, K_URL, STR(database_url), 0, 0,
     "PostgreSQL connection URI of the ledger", NULL},
    {"DATABASE_PASSWORD", "", K_SECRET, STR(database_password), 0, 0,
     "password of DATABASE_URL's role, when the URL carries none; best given as "
     "DATABASE_PASSWORD_FILE (secret: never logged)", NULL},
    {"ADMIN_DATABASE_URL", "", K_URL, STR(admin_database_url), 0, 0,
     "PostgreSQL URI of the ledger's owner, used only by `order-worker migrate` "
     "(which then grants DATABASE_URL's role what the worker needs); empty: "
     "DATABASE_URL does everything", NULL},
    {"ADMIN_DATABASE_PASSWORD", "", K_SECRET, STR(admin_database_password), 0, 0,
     "password of ADMIN_DATABASE_URL's role, when the URL carries none "
     "(secret: never logged)", NULL},
    {"ALPACA_BASE_URL", NULL, K_URL, STR(alpaca_base_url), 0, 0,
     "Alpaca trading API, e.g. https://paper-api.alpaca.markets", NULL},
    {"ALPACA_DATA_URL", NULL, K_URL, STR(alpaca_data_url), 0, 0,
     "Alpaca market data API, e.g. https://data.alpaca.markets", NULL},
    {"ALPACA_API_KEY_ID", NULL, K_SECRET, STR(alpaca_key_id), 0, 0,
     "Alpaca API key id (secret: never logged)", NULL},
    {"ALPACA_API_SECRET_KEY", NULL, K_SECRET, STR(alpaca_secret_key), 0, 0,
     "Alpaca API secret key (secret: never logged)", NULL},
    {"TOPIC_INTENTS_BOT", "orders.intents.bot", K_STR, STR(topic_bot), 0, 0,
     "topic of intents from bots", NULL},
    {"TOPIC_INTENTS_USER", "orders.intents.user", K_STR, STR(topic_user), 0, 0,
     "topic of intents placed by users", NULL},
    {"TOPIC_FILLS", "orders.fills", K_STR, STR(topic_fills), 0, 0,
     "topic of order lifecycle events", NULL},
    {"TOPIC_REJECTIONS", "orders.rejections", K_STR, STR(topic_rejections), 0, 0,
     "topic of rejections", NULL},
    {"TOPIC_DLQ", "orders.dlq", K_STR, STR(topic_dlq), 0, 0,
     "topic of messages that cannot be read as an intent", NULL},
    {"BOT_TRADES_PER_MIN", "10", K_INT, NUM(bot_trades_per_min), 1, 1000000,
     "trades per bot per RATE_PERIOD_MS", NULL},
    {"USER_TRADES_PER_MIN", "10", K_INT, NUM(user_trades_per_min), 1, 1000000,
     "trades per user (user topic) per RATE_PERIOD_MS", NULL},
    {"ALPACA_CALLS_PER_MIN", "200", K_INT, NUM(alpaca_calls_per_min), 1, 1000000,
     "Alpaca trading API calls per RATE_PERIOD_MS, all replicas together", NULL},
    {"RATE_PERIOD_MS", "60000", K_MS, NUM(rate_period_ms), 100, 86400000,
     "the \"minute\" of the three limits above", NULL},
    {"INTENT_MAX_AGE_MS", "60000", K_MS, NUM(intent_max_age_ms), 1, 86400000,
     "expiry of an intent without expires_at, counted from created_at", NULL},
    {"BREAKER_FAILURE_RATE", "0.5", K_RATE, NUM(breaker_failure_rate), 0, 0,
     "failure rate (0..1] that opens a circuit breaker", NULL},
    {"BREAKER_OPEN_MS", "30000", K_MS, NUM(breaker_open_ms), 1, 3600000,
     "time a circuit breaker stays open before probing", NULL},
    {"BREAKER_SLOW_CALL_RATE", "1", K_RATE, NUM(breaker_slow_rate), 0, 0,
     "share of slow calls (0..1] that opens a circuit breaker", NULL},
    {"BREAKER_SLOW_CALL_MS", "5000", K_MS, NUM(breaker_slow_ms), 1, 600000,
     "a call lasting at least this long counts as slow", NULL},
    {"BREAKER_WINDOW_CALLS", "20", K_INT, NUM(breaker_window_calls), 1, 10000,
     "a breaker's sliding window: the last N calls...", NULL},
    {"BREAKER_WINDOW_MS", "30000", K_MS, NUM(breaker_window_ms), 1, 3600000,
     "...of which only those of the last N ms count", NULL},
    {"BREAKER_MIN_CALLS", "5", K_INT, NUM(breaker_min_calls), 1, 10000,
     "calls in the window before a breaker can open", NULL},
    {"BREAKER_HALF_OPEN_CALLS", "1", K_INT, NUM(breaker_half_open_calls), 1, 1000,
     "probe calls let through when a breaker half-opens (fleet-wide)", NULL},
    {"QUOTE_FRESH_MS", "1000", K_MS, NUM(quote_fresh_ms), 0, 3600000,
     "a cached quote this young is used without calling Alpaca", NULL},
    {"QUOTE_CACHE_TTL_MS", "300000", K_MS, NUM(quote_cache_ttl_ms), 1, 86400000,
     "how long a cached quote may be served (marked stale) when Alpaca fails", NULL},
    {"BARS_CACHE_TTL_MS", "60000", K_MS, NUM(bars_cache_ttl_ms), 1, 86400000,
     "how long fetched bars are cached", NULL},
    {"QUOTA_REDIS_DOWN_MODE", "local", K_CHOICE, NUM(quota_down_mode), 1, 0,
     "quota decisions while Redis is unreachable: local (in memory) or "
     "closed (refuse)", QUOTA_MODES},
    {"RISK_MAX_NOTIONAL", "0", K_STR, STR(risk_max_notional), 0, 0,
     "risk: largest notional of one order in dollars (0: off)", NULL},
    {"RISK_PRICE_COLLAR_PCT", "0", K_STR, STR(risk_price_collar_pct), 0, 0,
     "risk: how far (percent) a limit or stop price may be from the quote (0: off)", NULL},
    {"RISK_MAX_OPEN_ORDERS_PER_BOT", "0", K_INT, NUM(risk_max_open_orders), 0, 1000000,
     "risk: most orders a bot may have open (0: off)", NULL},
    {"RISK_SYMBOLS", "", K_STR, STR(risk_symbols), 0, 0,
     "risk: comma-separated symbols that may be traded (empty: any)", NULL},
    {"TRADING_REFRESH_MS", "500", K_MS, NUM(trading_refresh_ms), 50, 60000,
     "kill switch: how often each replica re-reads the trading states", NULL},
    {"POSITION_CHECK_MS", "300000", K_MS, NUM(position_check_ms), 1000, 86400000,
     "how often one replica compares the account's positions in the ledger with "
     "Alpaca's (one GET /v2/positions each time)", NULL},
    {"ALPACA_BUDGET_MARGIN_MS", "50", K_MS, NUM(budget_margin_ms), 0, 60000,
     "the shared Alpaca budget counts calls over RATE_PERIOD_MS plus this, so "
     "network jitter cannot put one call too many in Alpaca's window", NULL},
    {"ALPACA_BUDGET_RESERVE_PCT", "10", K_INT, NUM(budget_reserve_pct), 0, 50,
     "share of the Alpaca budget that bot placements and order following may not "
     "use: kept for user placements (three quarters of it) and cancels (all of it), so a bot "
     "flood never leaves them waiting for the window to free", NULL},
    {"ALPACA_BUDGET_LEASE_TOKENS", "8", K_INT, NUM(budget_lease_tokens), 0, 64,
     "tokens of the Alpaca budget one request takes at once while the fleet's window "
     "is far from full and nobody waits, spent by this replica within a second "
     "(0 or 1: one token per call)", NULL},
    {"RECONCILE_INTERVAL_MS", "60000", K_MS, NUM(reconcile_interval_ms), 100, 86400000,
     "how often one replica looks for intents stuck in a non-terminal state", NULL},
    {"RECONCILE_AFTER_MS", "300000", K_MS, NUM(reconcile_after_ms), 100, 86400000,
     "an intent unmoved for this long is stuck and run again", NULL},
    {"WORKER_FAILPOINT", "", K_STR, STR(failpoint), 0, 0,
     "tests only: exit abruptly at after_quota (a batch's quotas charged, not yet recorded), "
     "after_submitting, after_post, after_publish or after_cancel (a cancel request's "
     "DELETE answered, not yet recorded)", NULL},
    {"WORKER_CONCURRENCY", "8", K_INT, NUM(concurrency), 1, 256,
     "lanes for bot intents: intents with different keys handled in parallel", NULL},
    {"WORKER_USER_LANES", "2", K_INT, NUM(user_lanes), 1, 64,
     "lanes of their own for user intents, so that bots waiting for the Alpaca "
     "budget never hold a user's intent back", NULL},
    {"WORKER_CANCEL_LANES", "2", K_INT, NUM(cancel_lanes), 1, 16,
     "lanes of their own for cancel requests, which overtake their key's queued "
     "order intents", NULL},
    {"WORKER_BATCH_MAX", "32", K_INT, NUM(batch_max), 1, 64,
     "a lane takes up to this many queued intents of different keys at once, "
     "and records, moves and settles them in one statement each", NULL},
    {"WORKER_MAX_IN_FLIGHT", "10000", K_INT, NUM(max_in_flight), 1, 1000000,
     "messages of one intent topic held at once; that topic's consumption waits "
     "beyond this", NULL},
    {"ALPACA_TIMEOUT_MS", "10000", K_MS, NUM(alpaca_timeout_ms), 1, 600000,
     "total time allowed for one Alpaca call", NULL},
    {"ALPACA_CONNECT_TIMEOUT_MS", "3000", K_MS, NUM(alpaca_connect_timeout_ms), 1, 600000,
     "time allowed to connect to Alpaca", NULL},
    {"ALPACA_PARALLEL_POSTS", "8", K_INT, NUM(alpaca_parallel_posts), 1, 64,
     "a lane's batch sends up to this many orders to Alpaca at once (kept-alive "
     "connections, multiplexed over HTTP/2 where the server speaks it)", NULL},
    {"ALPACA_FEED", "iex", K_STR, STR(alpaca_feed), 0, 0,
     "market data feed for quotes: iex or sip", NULL},
    {"PUBLISH_TIMEOUT_MS", "30000", K_MS, NUM(publish_timeout_ms), 100, 3600000,
     "time a result may wait for Kafka's acknowledgement before the intent is "
     "left for redelivery", NULL},
    {"WORKER_DRAIN_MS", "30000", K_MS, NUM(drain_ms), 0, 240000,
     "on SIGTERM or revocation, time to finish in-flight intents before "
     "leaving them for redelivery (below max.poll.interval.ms, 300000)", NULL},
    {"ACCOUNT_REFRESH_MS", "15000", K_MS, NUM(account_refresh_ms), 0, 3600000,
     "how old the account gate's view of the Alpaca account may be", NULL},
    {"FOLLOW_INTERVAL_MS", "1000", K_MS, NUM(follow_interval_ms), 50, 600000,
     "order following: Alpaca poll interval while orders change", NULL},
    {"FOLLOW_MAX_INTERVAL_MS", "10000", K_MS, NUM(follow_max_interval_ms), 50, 3600000,
     "order following: the interval doubles up to this while nothing changes", NULL},
    {"FOLLOW_LEASE_MS", "5000", K_MS, NUM(follow_lease_ms), 500, 600000,
     "order following: one replica follows all open orders under this lease; "
     "another takes over this long after it stops renewing", NULL},
    {"FOLLOW_RECONCILE_MS", "300000", K_MS, NUM(follow_reconcile_ms), 1000, 86400000,
     "order following while the trade_updates stream listens: every open order is "
     "also checked over REST this often (besides after each reconnection and lease "
     "change), for an event the stream may have lost", NULL},
    {"ALPACA_STREAM", "on", K_CHOICE, NUM(alpaca_stream), 0, 0,
     "on: order updates also arrive over Alpaca's trade_updates websocket stream; "
     "off: the follower polls only", ON_OFF},
    {"ALPACA_STREAM_URL", "", K_URL, STR(alpaca_stream_url), 0, 0,
     "ws:// or wss:// URL of the trade_updates stream (default: ALPACA_BASE_URL's "
     "host with path /stream, http as ws, https as wss)", NULL},
    {"ALPACA_STREAM_PING_MS", "10000", K_MS, NUM(alpaca_stream_ping_ms), 100, 600000,
     "the stream is pinged this often; a connection silent for this long after a "
     "ping is taken as dead and replaced", NULL},
    {"ALPACA_STREAM_BACKOFF_MS", "500", K_MS, NUM(alpaca_stream_backoff_ms), 10, 600000,
     "the stream's first reconnection delay, doubling per failed attempt (full "
     "jitter: a random delay up to it)", NULL},
    {"ALPACA_STREAM_BACKOFF_MAX_MS", "30000", K_MS, NUM(alpaca_stream_backoff_max_ms), 10,
     3600000, "the largest reconnection delay of the stream (at least "
     "ALPACA_STREAM_BACKOFF_MS)", NULL},
    {"REPLICA_ID", "", K_STR, STR(replica_id), 0, 0,
     "name of this replica in logs and the ledger (default hostname-pid)", NULL},
    {"LOG_LEVEL", "info", K_CHOICE, NUM(log_level), 0, 0,
     "debug, info, warn or error", LOG_LEVELS},
    {"LOG_FORMAT", "auto", K_CHOICE, NUM(log_format), 0, 0,
     "json (one object per line), text, or auto: text when stderr is a terminal",
     LOG_FORMATS},
    {"ADMIN_ADDR", "127.0.0.1", K_STR, STR(admin_addr), 0, 0,
     "address the admin HTTP endpoint listens on (0.0.0.0: every interface)", NULL},
    {"ADMIN_PORT", "9464", K_INT, NUM(admin_port), 0, 65535,
     "port of GET /metrics, /healthz and /readyz (0: no endpoint); one per replica", NULL},
    {"KAFKA_STATS_INTERVAL_MS", "5000", K_MS, NUM(kafka_stats_ms), 100, 600000,
     "how often librdkafka's statistics (consumer lag, broker states) are refreshed", NULL},
    {"INTENT_SIGNING", "required", K_CHOICE, NUM(signing_required), 0, 0,
     "required: every intent must carry a valid signature (header x-signature); "
     "optional: unsigned intents pass unchecked, signed ones are checked", SIGNING_MODES},
    {"SIGNING_REFRESH_MS", "1000", K_MS, NUM(signing_refresh_ms), 50, 60000,
     "how often each replica re-reads the bots' keys and bindings", NULL},
    {"USER_TOPIC_SIGNER", "backend", K_STR, STR(user_topic_signer), 0, 0,
     "the bot name whose keys sign the user topic's intents (the backend)", NULL},
    {"KAFKA_SECURITY_PROTOCOL", "", K_STR, STR(kafka_security_protocol), 0, 0,
     "librdkafka security.protocol: plaintext, ssl, sasl_plaintext or sasl_ssl", NULL},
    {"KAFKA_SASL_MECHANISM", "", K_STR, STR(kafka_sasl_mechanism), 0, 0,
     "librdkafka sasl.mechanism, e.g. SCRAM-SHA-512 or PLAIN", NULL},
    {"KAFKA_SASL_USERNAME", "", K_STR, STR(kafka_sasl_username), 0, 0,
     "librdkafka sasl.username", NULL},
    {"KAFKA_SASL_PASSWORD", "", K_SECRET, STR(kafka_sasl_password), 0, 0,
     "librdkafka sasl.password (secret: never logged)", NULL},
    {"KAFKA_SSL_CA_LOCATION", "", K_STR, STR(kafka_ssl_ca_location), 0, 0,
     "librdkafka ssl.ca.location: CA certificate file to verify the brokers", NULL},
    {"KAFKA_SSL_CERTIFICATE_LOCATION", "", K_STR, STR(kafka_ssl_certificate_location), 0, 0,
     "librdkafka ssl.certificate.location: client certificate (mutual TLS)", NULL},
    {"KAFKA_SSL_KEY_LOCATION", "", K_STR, STR(kafka_ssl_key_location), 0, 0,
     "librdkafka ssl.key.location: client private key (mutual TLS)", NULL},
    {"KAFKA_SSL_KEY_PASSWORD", "", K_SECRET, STR(kafka_ssl_key_password), 0, 0,
     "librdkafka ssl.key.password (secret: never logged)", NULL},
    {"DATABASE_SSLMODE", "", K_STR, STR(database_sslmode), 0, 0,
     "libpq sslmode for the ledger (disable, prefer, require, verify-ca, verify-full); "
     "empty: as DATABASE_URL says", NULL},
};

#define N_SETTINGS (sizeof(SETTINGS) / sizeof(SETTINGS[0]))

static int is_signer_name(const char *v) {
    size_t n = strlen(v);
    if (n < 1 || n > 64) return 0;
    return strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

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
        if (s->kind == K_URL && *v && !strstr(v, "://")) {
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
    case K_CHOICE: {
        char list[160] = "";
        for (int i = 0; s->choices[i]; i++) {
            if (!strcmp(v, s->choices[i])) {
                *(int *)base = i + (int)s->min;
                return 0;
            }
            size_t n = strlen(list);
            snprintf(list + n, sizeof(list) - n, "%s%s", i == 0 ? "" : !s->choices[i + 1] ? " or " : ", ",
                     s->choices[i]);
        }
        snprintf(err, errlen, "%s must be %s, got \"%s\"", s->name, list, v);
        return -1;
    }
    }
    return -1;
}

/* The value of s from NAME or NAME_FILE (envfile.h); NULL if neither. */
static int setting_value(const setting_t *s, char *filebuf, const char **out, char *err,
                         size_t errlen) {
    return envfile_get(s->name, filebuf, out, err, errlen) < 0 ? -1 : 0;
}

static int one_of(const char *v, const char *const *allowed) {
    for (; *allowed; allowed++)
        if (!strcasecmp(v, *allowed)) return 1;
    return 0;
}

/* DATABASE_SSLMODE goes into the URL, so every connection (lanes, views,
 * migrations) uses it. */
static int add_sslmode(char *url, size_t size, const char *name, const char *mode, char *err,
                       size_t errlen) {
    if (!*url) return 0;
    if (strstr(url, "sslmode=")) {
        snprintf(err, errlen, "DATABASE_SSLMODE is set and %s has an sslmode too: "
                 "set one of them", name);
        return -1;
    }
    size_t n = strlen(url);
    int w = snprintf(url + n, size - n, "%ssslmode=%s", strchr(url, '?') ? "&" : "?", mode);
    if (w < 0 || (size_t)w >= size - n) {
        snprintf(err, errlen, "%s is too long to add DATABASE_SSLMODE to", name);
        return -1;
    }
    return 0;
}

/* X_PASSWORD goes into X_URL's userinfo, percent-encoded, so that every
 * connection made from the URL (libpq, hiredis through redisurl.c) logs in
 * with it while the URL itself, in the environment, holds no secret.  A URL
 * with a password of its own and X_PASSWORD as well is refused: one of the
 * two would be silently ignored. */
static int add_password(char *url, size_t size, const char *url_name, const char *pw,
                        const char *pw_name, char *err, size_t errlen) {
    if (!*pw) return 0;
    if (!*url) {
        snprintf(err, errlen, "%s is set but %s is not", pw_name, url_name);
        return -1;
    }
    char *authority = strstr(url, "://");
    if (!authority) {
        snprintf(err, errlen, "%s must be a URL (scheme://...) to take %s", url_name, pw_name);
        return -1;
    }
    authority += 3;
    size_t alen = strcspn(authority, "/?#");
    char *at = NULL;
    for (char *p = authority; p < authority + alen; p++)
        if (*p == '@') at = p;
    if (at && memchr(authority, ':', (size_t)(at - authority))) {
        snprintf(err, errlen, "%s has a password and %s is set too: set one of them", url_name,
                 pw_name);
        return -1;
    }
    /* Unreserved characters stay as they are; every other byte is %XX. */
    static const char hex[] = "0123456789ABCDEF";
    char enc[3 * sizeof(((config_t *)0)->database_password) + 2];
    size_t n = 0;
    enc[n++] = ':';
    for (const unsigned char *c = (const unsigned char *)pw; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
            *c == '-' || *c == '.' || *c == '_' || *c == '~') {
            enc[n++] = (char)*c;
        } else {
            enc[n++] = '%';
            enc[n++] = hex[*c >> 4];
            enc[n++] = hex[*c & 15];
        }
    }
    if (!at) enc[n++] = '@';
    /* Insert enc before the '@' (after the user), or at the authority's start. */
    char *where = at ? at : authority;
    size_t len = strlen(url);
    if (len + n >= size) {
        explicit_bzero(enc, sizeof(enc));
        snprintf(err, errlen, "%s is too long to add %s to", url_name, pw_name);
        return -1;
    }
    memmove(where + n, where, len - (size_t)(where - url) + 1);
    memcpy(where, enc, n);
    explicit_bzero(enc, sizeof(enc));
    return 0;
}

static int apply_passwords(config_t *cfg, char *err, size_t errlen) {
    if (add_password(cfg->redis_url, sizeof(cfg->redis_url), "REDIS_URL", cfg->redis_password,
                     "REDIS_PASSWORD", err, errlen) < 0 ||
        add_password(cfg->database_url, sizeof(cfg->database_url), "DATABASE_URL",
                     cfg->database_password, "DATABASE_PASSWORD", err, errlen) < 0 ||
        add_password(cfg->admin_database_url, sizeof(cfg->admin_database_url),
                     "ADMIN_DATABASE_URL", cfg->admin_database_password,
                     "ADMIN_DATABASE_PASSWORD", err, errlen) < 0)
        return -1;
    explicit_bzero(cfg->redis_password, sizeof(cfg->redis_password));
    explicit_bzero(cfg->database_password, sizeof(cfg->database_password));
    explicit_bzero(cfg->admin_database_password, sizeof(cfg->admin_database_password));
    return 0;
}

static int apply_sslmode(config_t *cfg, char *err, size_t errlen) {
    static const char *const modes[] = {"disable", "allow", "prefer", "require",
                                        "verify-ca", "verify-full", NULL};
    if (!cfg->database_sslmode[0]) return 0;
    if (!one_of(cfg->database_sslmode, modes)) {
        snprintf(err, errlen, "DATABASE_SSLMODE must be disable, allow, prefer, require, "
                 "verify-ca or verify-full, got \"%s\"", cfg->database_sslmode);
        return -1;
    }
    if (add_sslmode(cfg->database_url, sizeof(cfg->database_url), "DATABASE_URL",
                    cfg->database_sslmode, err, errlen) < 0)
        return -1;
    return add_sslmode(cfg->admin_database_url, sizeof(cfg->admin_database_url),
                       "ADMIN_DATABASE_URL", cfg->database_sslmode, err, errlen);
}

/* ALPACA_STREAM_URL: given, it must be a usable ws:// or wss:// URL (even
 * with the stream off: a bad setting is never left lying); empty, it is
 * derived from ALPACA_BASE_URL, which must then allow it if the stream is
 * on.  A URL with a user in it is not repeated in the message. */
static int check_stream(config_t *cfg, char *err, size_t errlen) {
    const char *bad;
    tradestream_url_t u;
    if (cfg->alpaca_stream_url[0]) {
        if (tradestream_url_parse(cfg->alpaca_stream_url, &u, &bad) < 0) {
            int quote = !strchr(cfg->alpaca_stream_url, '@');
            snprintf(err, errlen, "ALPACA_STREAM_URL %s (ws://host[:port][/path] or wss://...), "
                     "got \"%s\"", bad, quote ? cfg->alpaca_stream_url : "(not shown)");
            return -1;
        }
    } else if (tradestream_url_derive(cfg->alpaca_base_url, cfg->alpaca_stream_url,
                                      sizeof(cfg->alpaca_stream_url), &bad) < 0 ||
               tradestream_url_parse(cfg->alpaca_stream_url, &u, &bad) < 0) {
        cfg->alpaca_stream_url[0] = '\0';
        if (cfg->alpaca_stream) {
            snprintf(err, errlen, "ALPACA_STREAM_URL is not set and cannot be derived from "
                     "ALPACA_BASE_URL (it %s): set it, or ALPACA_STREAM=off", bad);
            return -1;
        }
    }
    if (cfg->alpaca_stream_backoff_max_ms < cfg->alpaca_stream_backoff_ms) {
        snprintf(err, errlen, "ALPACA_STREAM_BACKOFF_MAX_MS (%lld) must be at least "
                 "ALPACA_STREAM_BACKOFF_MS (%lld)", (long long)cfg->alpaca_stream_backoff_max_ms,
                 (long long)cfg->alpaca_stream_backoff_ms);
        return -1;
    }
    return 0;
}

int config_kafka_properties(const config_t *cfg, const char *props[][2]) {
    const char *all[CONFIG_KAFKA_PROPS_MAX][2] = {
        {"security.protocol", cfg->kafka_security_protocol},
        {"sasl.mechanism", cfg->kafka_sasl_mechanism},
        {"sasl.username", cfg->kafka_sasl_username},
        {"sasl.password", cfg->kafka_sasl_password},
        {"ssl.ca.location", cfg->kafka_ssl_ca_location},
        {"ssl.certificate.location", cfg->kafka_ssl_certificate_location},
        {"ssl.key.location", cfg->kafka_ssl_key_location},
        {"ssl.key.password", cfg->kafka_ssl_key_password},
    };
    int n = 0;
    for (int i = 0; i < CONFIG_KAFKA_PROPS_MAX; i++)
        if (all[i][1][0]) {
            props[n][0] = all[i][0];
            props[n++][1] = all[i][1];
        }
    return n;
}

/* ---- librdkafka properties by name ---------------------------------------- */

extern char **environ;

static const char *const KAFKA_CLIENT_PREFIX[2] = {"KAFKA_CONSUMER_", "KAFKA_PRODUCER_"};

/* Properties the programs set themselves, because a guarantee or another
 * setting depends on them: given by name they would stop the load.  The
 * consumer's offsets are stored only after an outcome is durable
 * (enable.auto.offset.store=false, and the legacy names of the same), from
 * the earliest offset of a partition the group never committed; it reads
 * committed messages only; each replica is a member of its own; a member
 * that drains for WORKER_DRAIN_MS must not be evicted meanwhile
 * (max.poll.interval.ms stays above it).  The producer is idempotent, keeps
 * each key's events on one partition (the contract's per-key order), and
 * gives up on a message exactly when its sender stops waiting
 * (PUBLISH_TIMEOUT_MS). */
static const char *kafka_prop_owner(config_kafka_client_t client, const char *name) {
    static const char *const common[][2] = {
        {"bootstrap.servers", "KAFKA_BROKERS"},
        {"metadata.broker.list", "KAFKA_BROKERS"},
        {"client.id", "the program (it names the replica)"},
        {"security.protocol", "KAFKA_SECURITY_PROTOCOL"},
        {"sasl.mechanism", "KAFKA_SASL_MECHANISM"},
        {"sasl.mechanisms", "KAFKA_SASL_MECHANISM"},
        {"sasl.username", "KAFKA_SASL_USERNAME"},
        {"sasl.password", "KAFKA_SASL_PASSWORD"},
        {"ssl.ca.location", "KAFKA_SSL_CA_LOCATION"},
        {"ssl.certificate.location", "KAFKA_SSL_CERTIFICATE_LOCATION"},
        {"ssl.key.location", "KAFKA_SSL_KEY_LOCATION"},
        {"ssl.key.password", "KAFKA_SSL_KEY_PASSWORD"},
        {"statistics.interval.ms", "KAFKA_STATS_INTERVAL_MS"},
    };
    static const char *const consumer[][2] = {
        {"group.id", "KAFKA_GROUP_ID"},
        {"enable.auto.offset.store", "the worker (offsets are stored after the outcome)"},
        {"enable.auto.commit", "the worker (offsets are committed as they are stored)"},
        {"auto.offset.reset", "the worker (a new group starts at the earliest intent)"},
        {"partition.assignment.strategy", "the worker (cooperative-sticky)"},
        {"auto.commit.enable", "the worker (offsets are committed as they are stored)"},
        {"offset.store.method", "the worker (offsets are committed to the group)"},
        {"isolation.level", "the worker (only committed intents are read)"},
        {"group.instance.id", "the worker (each replica is a member of its own)"},
        {"max.poll.interval.ms", "the worker (it stays above WORKER_DRAIN_MS)"},
    };
    static const char *const producer[][2] = {
        {"enable.idempotence", "the worker (an event is written once per send)"},
        {"acks", "the worker (idempotence needs all)"},
        {"request.required.acks", "the worker (idempotence needs all)"},
        {"partitioner", "the worker (each key's events on one partition)"},
        {"message.timeout.ms", "PUBLISH_TIMEOUT_MS"},
        {"delivery.timeout.ms", "PUBLISH_TIMEOUT_MS"},
    };
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
        if (!strcmp(name, common[i][0])) return common[i][1];
    if (client == CONFIG_KAFKA_CONSUMER) {
        for (size_t i = 0; i < sizeof(consumer) / sizeof(consumer[0]); i++)
            if (!strcmp(name, consumer[i][0])) return consumer[i][1];
    } else {
        for (size_t i = 0; i < sizeof(producer) / sizeof(producer[0]); i++)
            if (!strcmp(name, producer[i][0])) return producer[i][1];
    }
    return NULL;
}

/* One KAFKA_<CLIENT>_<PROPERTY>=value of the environment, checked against
 * librdkafka (probe: a scratch configuration) and stored. */
static int load_kafka_prop(config_t *cfg, config_kafka_client_t client, const char *var,
                           size_t name_len, const char *value, rd_kafka_conf_t *probe,
                           char *err, size_t errlen) {
    size_t prefix = strlen(KAFKA_CLIENT_PREFIX[client]);
    char env_name[128], prop[96];
    snprintf(env_name, sizeof(env_name), "%.*s", (int)name_len, var);
    if (name_len - prefix >= sizeof(prop) || name_len == prefix) {
        snprintf(err, errlen, "%s: not a librdkafka property name", env_name);
        return -1;
    }
    for (size_t i = 0; i < name_len - prefix; i++) {
        char c = var[prefix + i];
        prop[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
    }
    prop[name_len - prefix] = '\0';
    const char *owner = kafka_prop_owner(client, prop);
    if (owner) {
        snprintf(err, errlen, "%s: %s is set by %s, not by name", env_name, prop, owner);
        return -1;
    }
    if (cfg->n_kafka_client_props[client] == CONFIG_KAFKA_CLIENT_PROPS_MAX ||
        strlen(value) >= sizeof(cfg->kafka_client_props[0][0].value)) {
        snprintf(err, errlen, "%s: too many properties, or a value over %zu characters",
                 env_name, sizeof(cfg->kafka_client_props[0][0].value) - 1);
        return -1;
    }
    char e[512];
    if (rd_kafka_conf_set(probe, prop, value, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        /* librdkafka's message may quote the value: not for a secret. */
        int secret = strstr(prop, "password") || strstr(prop, "secret");
        snprintf(err, errlen, "%s (librdkafka's %s): %s", env_name, prop,
                 secret ? "not accepted" : e);
        return -1;
    }
    config_kafka_prop_t *p = &cfg->kafka_client_props[client][cfg->n_kafka_client_props[client]++];
    snprintf(p->name, sizeof(p->name), "%s", prop);
    snprintf(p->value, sizeof(p->value), "%s", value);
    return 0;
}

/* Every KAFKA_CONSUMER_* and KAFKA_PRODUCER_* variable of the environment. */
static int load_kafka_client_props(config_t *cfg, char *err, size_t errlen) {
    rd_kafka_conf_t *probe = rd_kafka_conf_new();
    int rc = 0;
    for (char **e = environ; *e && rc == 0; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        for (int c = 0; c < 2 && rc == 0; c++) {
            size_t plen = strlen(KAFKA_CLIENT_PREFIX[c]);
            if (!strncmp(*e, KAFKA_CLIENT_PREFIX[c], plen) && eq[1])
                rc = load_kafka_prop(cfg, (config_kafka_client_t)c, *e, (size_t)(eq - *e), eq + 1,
                                     probe, err, errlen);
        }
    }
    rd_kafka_conf_destroy(probe);
    return rc;
}

int config_kafka_apply(const config_t *cfg, config_kafka_client_t client,
                       struct rd_kafka_conf_s *conf, char *err, size_t errlen) {
    const char *props[CONFIG_KAFKA_PROPS_MAX][2];
    int n = config_kafka_properties(cfg, props);
    char e[512];
    for (int i = 0; i < n; i++)
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "kafka setting %s: %s", props[i][0], e);
            return -1;
        }
    for (int i = 0; i < cfg->n_kafka_client_props[client]; i++) {
        const config_kafka_prop_t *p = &cfg->kafka_client_props[client][i];
        if (rd_kafka_conf_set(conf, p->name, p->value, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            int secret = strstr(p->name, "password") || strstr(p->name, "secret");
            snprintf(err, errlen, "%s%s: %s", KAFKA_CLIENT_PREFIX[client], p->name,
                     secret ? "not accepted" : e);
            return -1;
        }
    }
    return 0;
}

int config_kafka_apply_env(config_kafka_client_t client, struct rd_kafka_conf_s *conf,
                           char *err, size_t errlen) {
    config_t *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = config_load_kafka_security(cfg, err, errlen) < 0 ||
                     config_kafka_apply(cfg, client, conf, err, errlen) < 0
                 ? -1
                 : 0;
    OPENSSL_cleanse(cfg, sizeof(*cfg));
    free(cfg);
    return rc;
}

/* Loads the settings named in only (NULL: every one) from the environment
 * into the zeroed cfg. */
static int load_settings(config_t *cfg, const char *const *only, char *err, size_t errlen) {
    char filebuf[ENVFILE_MAX + 1];
    int rc = 0;
    for (size_t i = 0; i < N_SETTINGS && rc == 0; i++) {
        const setting_t *s = &SETTINGS[i];
        int wanted = !only;
        for (const char *const *o = only; o && *o && !wanted; o++) wanted = !strcmp(*o, s->name);
        if (!wanted) continue;
        const char *v;
        rc = setting_value(s, filebuf, &v, err, errlen);
        if (rc == 0 && !v) {
            if (!s->def) {
                snprintf(err, errlen, "%s is not set (required: %s)", s->name, s->help);
                rc = -1;
            }
            v = s->def;
        }
        if (rc == 0) rc = load_one(s, v, cfg, err, errlen);
    }
    explicit_bzero(filebuf, sizeof(filebuf));
    return rc;
}

int config_load_only(config_t *cfg, const char *const *names, char *err, size_t errlen) {
    memset(cfg, 0, sizeof(*cfg));
    if (load_settings(cfg, names, err, errlen) < 0) return -1;
    if (apply_passwords(cfg, err, errlen) < 0) return -1;
    return apply_sslmode(cfg, err, errlen);
}

int config_load_ledger(config_t *cfg, char *err, size_t errlen) {
    static const char *const ledger[] = {"DATABASE_URL", "DATABASE_PASSWORD",
                                         "ADMIN_DATABASE_URL", "ADMIN_DATABASE_PASSWORD",
                                         "DATABASE_SSLMODE", NULL};
    return config_load_only(cfg, ledger, err, errlen);
}

int config_load_kafka_security(config_t *cfg, char *err, size_t errlen) {
    static const char *const kafka[] = {
        "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CA_LOCATION", "KAFKA_SSL_CERTIFICATE_LOCATION",
        "KAFKA_SSL_KEY_LOCATION", "KAFKA_SSL_KEY_PASSWORD", NULL};
    if (config_load_only(cfg, kafka, err, errlen) < 0) return -1;
    return load_kafka_client_props(cfg, err, errlen);
}

int config_load(config_t *cfg, char *err, size_t errlen) {
    static const char *const protocols[] = {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl",
                                            NULL};
    memset(cfg, 0, sizeof(*cfg));
    if (load_settings(cfg, NULL, err, errlen) < 0) return -1;
    if (load_kafka_client_props(cfg, err, errlen) < 0) return -1;
    if (cfg->kafka_security_protocol[0] && !one_of(cfg->kafka_security_protocol, protocols)) {
        snprintf(err, errlen, "KAFKA_SECURITY_PROTOCOL must be plaintext, ssl, sasl_plaintext "
                 "or sasl_ssl, got \"%s\"", cfg->kafka_security_protocol);
        return -1;
    }
    if (cfg->kafka_sasl_mechanism[0] && strncasecmp(cfg->kafka_security_protocol, "sasl", 4)) {
        snprintf(err, errlen, "KAFKA_SASL_MECHANISM is set but KAFKA_SECURITY_PROTOCOL is not "
                 "sasl_plaintext or sasl_ssl");
        return -1;
    }
    if (!is_signer_name(cfg->user_topic_signer)) {
        snprintf(err, errlen, "USER_TOPIC_SIGNER must be 1 to 64 of A-Z a-z 0-9 . _ -, got \"%s\"",
                 cfg->user_topic_signer);
        return -1;
    }
    if (apply_passwords(cfg, err, errlen) < 0 || apply_sslmode(cfg, err, errlen) < 0) return -1;
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
    return check_stream(cfg, err, errlen);
}

void config_print_help(FILE *out) {
    fprintf(out, "Settings (environment variables):\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const setting_t *s = &SETTINGS[i];
        fprintf(out, "  %-26s %s\n  %-26s default: %s\n", s->name, s->help, "",
                s->def ? (*s->def ? s->def : "(derived)") : "(required)");
    }
    fprintf(out,
            "\nAny librdkafka property, by name, for the consumer or the producer:\n"
            "  KAFKA_CONSUMER_<PROPERTY>  e.g. KAFKA_CONSUMER_FETCH_WAIT_MAX_MS=10 is the\n"
            "                             consumer's fetch.wait.max.ms (upper case, dots\n"
            "                             as underscores)\n"
            "  KAFKA_PRODUCER_<PROPERTY>  e.g. KAFKA_PRODUCER_LINGER_MS=0\n"
            "  They override the worker's own defaults; an unknown property, a bad value,\n"
            "  or one the worker sets for correctness (group.id, enable.auto.offset.store,\n"
            "  enable.idempotence, ...) stops the worker at start naming the variable.\n"
            "Every setting can also be read from a file: NAME_FILE=/path.\n");
}
