/* config.h -- the worker's settings, read once at start from the environment.
 *
 * Every setting has a name, a default and a check; config_load() stops at
 * the first missing or malformed one with a message naming it.  The table in
 * config.c is the single source of `order-worker --help` and of README's
 * configuration reference. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdint.h>
#include <stdio.h>

/* librdkafka properties given by name (config_kafka_apply). */
#define CONFIG_KAFKA_CLIENT_PROPS_MAX 32
typedef enum { CONFIG_KAFKA_CONSUMER = 0, CONFIG_KAFKA_PRODUCER = 1 } config_kafka_client_t;
typedef struct config_kafka_prop {
    char name[96];   /* librdkafka's name, e.g. fetch.wait.max.ms */
    char value[512];
} config_kafka_prop_t;

typedef struct config {
    /* connections */
    char kafka_brokers[512];
    char kafka_group_id[128];
    char redis_url[512];         /* with REDIS_PASSWORD in it, once loaded */
    char redis_password[256];    /* wiped once merged into redis_url */
    char database_url[512];      /* with DATABASE_PASSWORD in it, once loaded */
    char database_password[256]; /* wiped once merged into database_url */
    char admin_database_url[512]; /* the ledger's owner: migrations only */
    char admin_database_password[256];
    char alpaca_base_url[256];
    char alpaca_data_url[256];
    char alpaca_key_id[256];
    char alpaca_secret_key[256];
    /* topics */
    char topic_bot[128];
    char topic_user[128];
    char topic_fills[128];
    char topic_rejections[128];
    char topic_dlq[128];
    /* limits (contract section 5) */
    int bot_trades_per_min;
    int user_trades_per_min;
    int alpaca_calls_per_min;
    int64_t rate_period_ms;
    int64_t intent_max_age_ms;
    double breaker_failure_rate;
    int64_t breaker_open_ms;
    double breaker_slow_rate;
    int64_t breaker_slow_ms;
    int breaker_window_calls;
    int64_t breaker_window_ms;
    int breaker_min_calls;
    int breaker_half_open_calls;
    int64_t quote_fresh_ms;      /* a cached quote this young is used as is */
    int64_t quote_cache_ttl_ms;  /* how long a quote may be served stale */
    int64_t bars_cache_ttl_ms;
    int quota_down_mode;         /* quota_down_mode_t: 1 local, 2 closed */
    /* pre-trade risk (risk.h); 0 / empty: the check is off */
    char risk_max_notional[48];  /* dollars, decimal text; "0" off */
    char risk_price_collar_pct[48]; /* percent, decimal text; "0" off */
    int risk_max_open_orders;
    char risk_symbols[1024];     /* comma-separated allow list; "" off */
    int64_t trading_refresh_ms;  /* kill switch: how often states are re-read */
    int64_t position_check_ms;   /* how often one replica compares the ledger's
                                    positions with Alpaca's */
    int64_t budget_margin_ms;    /* Alpaca budget: safety margin on the period */
    int budget_reserve_pct;      /* Alpaca budget: share kept from bots for users
                                    and cancels */
    int budget_lease_tokens;     /* Alpaca budget: tokens leased at once (0, 1: none) */
    int64_t reconcile_interval_ms; /* how often the reconciler looks */
    int64_t reconcile_after_ms;  /* an intent this long unmoved is stuck */
    char failpoint[32];          /* tests only: crash at this point */
    /* the worker itself */
    int concurrency;             /* bot lanes: intents with different keys in parallel */
    int user_lanes;              /* lanes for user intents */
    int cancel_lanes;            /* lanes for cancel requests */
    int batch_max;               /* intents a lane takes at once (distinct keys) */
    int max_in_flight;           /* messages held at once before polling pauses */
    int alpaca_parallel_posts;   /* orders a lane's batch sends at once */
    int64_t alpaca_timeout_ms;
    int64_t alpaca_connect_timeout_ms;
    char alpaca_feed[16];
    int64_t publish_timeout_ms;
    int64_t drain_ms;
    int64_t account_refresh_ms;  /* how old the account gate's view may be */
    int64_t follow_interval_ms;  /* order following: poll interval when busy */
    int64_t follow_max_interval_ms; /* ... growing to this when nothing changes */
    int64_t follow_reconcile_ms; /* with the stream: REST reconciliation interval */
    int64_t follow_lease_ms;     /* the follower's lease; another replica takes
                                    over this long after it stopped renewing */
    /* the trade_updates stream (tradestream.h) */
    int alpaca_stream;           /* ALPACA_STREAM: 1 on, 0 off (poll only) */
    char alpaca_stream_url[256]; /* ws:// or wss://; derived from ALPACA_BASE_URL */
    int64_t alpaca_stream_ping_ms;
    int64_t alpaca_stream_backoff_ms;
    int64_t alpaca_stream_backoff_max_ms;            /* SIGTERM: time to finish in-flight intents */
    char replica_id[128];
    int log_level;               /* 0 debug, 1 info, 2 warn, 3 error */
    int log_format;              /* 0 auto (text on a terminal), 1 json, 2 text */
    /* operations (admin.h) */
    char admin_addr[64];         /* address of /metrics, /healthz, /readyz */
    int admin_port;              /* 0: no admin endpoint */
    int64_t kafka_stats_ms;      /* librdkafka statistics: lag, broker states */
    /* who may trade (auth.h) */
    int signing_required;        /* INTENT_SIGNING: 1 required, 0 optional */
    int64_t signing_refresh_ms;  /* how often keys and bindings are re-read */
    char user_topic_signer[68];  /* the signer of the user topic's intents */
    /* transport security, passed to librdkafka / libpq as given */
    char kafka_security_protocol[32];
    char kafka_sasl_mechanism[32];
    char kafka_sasl_username[256];
    char kafka_sasl_password[256];
    char kafka_ssl_ca_location[512];
    char kafka_ssl_certificate_location[512];
    char kafka_ssl_key_location[512];
    char kafka_ssl_key_password[256];
    char database_sslmode[16];
    /* KAFKA_CONSUMER_<PROPERTY> and KAFKA_PRODUCER_<PROPERTY> */
    config_kafka_prop_t kafka_client_props[2][CONFIG_KAFKA_CLIENT_PROPS_MAX];
    int n_kafka_client_props[2];
} config_t;

/* The librdkafka properties of the KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*
 * and KAFKA_SSL_* settings that are set: up to CONFIG_KAFKA_PROPS_MAX
 * (name, value) pairs, for every client the worker makes.  Returns the
 * count. */
#define CONFIG_KAFKA_PROPS_MAX 8
int config_kafka_properties(const config_t *cfg, const char *props[][2]);

/* Sets on conf (an rd_kafka_conf_t) what the configuration adds to a
 * client's own properties, in this order: the KAFKA_SECURITY_PROTOCOL,
 * KAFKA_SASL_* and KAFKA_SSL_* settings, then every property given by name
 * for that kind of client: KAFKA_CONSUMER_<PROPERTY> or
 * KAFKA_PRODUCER_<PROPERTY> (the librdkafka property upper-cased, dots as
 * underscores: KAFKA_CONSUMER_FETCH_WAIT_MAX_MS=10 sets fetch.wait.max.ms).
 * Call it after setting the client's own defaults, which these override.
 * The properties were checked when the configuration was loaded (an unknown
 * one, a bad value, or one the programs set themselves for correctness
 * stops the load naming the variable).  0, or -1 with err. */
struct rd_kafka_conf_s;
int config_kafka_apply(const config_t *cfg, config_kafka_client_t client,
                       struct rd_kafka_conf_s *conf, char *err, size_t errlen);

/* Only the settings named (a NULL-terminated list of environment names;
 * cfg zeroed otherwise), each from NAME or NAME_FILE, with the *_PASSWORD
 * settings merged into their URLs and DATABASE_SSLMODE applied when those
 * were named.  For intentctl, which needs a few settings of the worker's and
 * must read them exactly as the worker does.  0, or -1 with err. */
int config_load_only(config_t *cfg, const char *const *names, char *err, size_t errlen);

/* Only what `order-worker migrate` needs: DATABASE_URL, ADMIN_DATABASE_URL,
 * their passwords and DATABASE_SSLMODE (cfg zeroed otherwise).  0, or -1
 * with err. */
int config_load_ledger(config_t *cfg, char *err, size_t errlen);

/* Only the KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* settings
 * and the KAFKA_CONSUMER_* and KAFKA_PRODUCER_* properties (for intentctl,
 * whose clients then connect like the worker's). */
int config_load_kafka_security(config_t *cfg, char *err, size_t errlen);

/* What the worker's configuration adds to another program's Kafka client
 * (intentctl, ow-loadgen), read from the environment exactly as the worker
 * reads it: the security settings (config_load_kafka_security), then
 * KAFKA_CONSUMER_<PROPERTY> or KAFKA_PRODUCER_<PROPERTY> (config_kafka_apply).
 * The secrets read are wiped before it returns.  0, or -1 with err. */
int config_kafka_apply_env(config_kafka_client_t client, struct rd_kafka_conf_s *conf,
                           char *err, size_t errlen);

/* Loads every setting from the environment (getenv).  Returns 0, or -1
 * with err naming the setting and what is wrong with it. */
int config_load(config_t *cfg, char *err, size_t errlen);

/* Prints every setting with its default and meaning (for --help). */
void config_print_help(FILE *out);

#endif
