/* common.h -- what every intentctl command shares: the exit codes, the
 * global options (brokers, -X properties, the connect timeout) and the
 * topics of the environment, usage errors, librdkafka configurations and
 * producers, and JSON output.
 *
 * The commands (intentctl.h) are each in a file of their own; this is the
 * one interface they all use. */
#ifndef INTENTCTL_COMMON_H
#define INTENTCTL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include "config.h"

/* Exit codes: 0 ok; 1 something was refused or failed (an invalid intent,
 * a tail condition not met, the ledger or Redis unreachable or refusing);
 * 2 usage error (also: DATABASE_URL / REDIS_URL not set); 3 Kafka or
 * connection error. */
enum { EXIT_OK_ = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_KAFKA = 3 };

#define MAX_PROPS 64

/* The global options and the environment's topics, passed to every
 * command that talks to Kafka. */
typedef struct common {
    const char *brokers;
    const char *topic_bot, *topic_user, *topic_fills, *topic_rej, *topic_dlq;
    int64_t connect_timeout_ms;
    int64_t max_age_ms;
    const char *props[MAX_PROPS]; /* "name=value" from -X */
    int n_props;
} common_t;

/* From the environment: KAFKA_BROKERS, the TOPIC_* names (the contract's
 * defaults), INTENT_MAX_AGE_MS. */
void common_init(common_t *c);

/* Strict non-negative integer; returns 0 or -1. */
int parse_i64(const char *s, int64_t *out);

/* Prints where to find help ("Try 'intentctl CMD --help'."; cmd NULL: the
 * main help) and returns EXIT_USAGE: after getopt has said what is wrong. */
int usage_hint(const char *cmd);

/* Prints "intentctl: <message>" and where to find help; returns
 * EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The options every level accepts (-b and -X too, in each getopt string). */
enum { OPT_BROKERS = 1000, OPT_CONNECT_TIMEOUT };
#define COMMON_LONGOPTS                                                        \
    {"brokers", required_argument, NULL, 'b'},                                 \
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT}

/* Handles one of those.  Returns 1 if handled, 0 if not ours, or -1 after
 * printing a usage error (naming cmd's help). */
int common_opt(common_t *c, int opt, const char *arg, const char *cmd);

/* A configuration with the brokers, then the command's own settings
 * (NULL-terminated name/value pairs), then what the worker's configuration
 * adds to that kind of client (the Kafka security settings, then
 * KAFKA_CONSUMER_* or KAFKA_PRODUCER_* properties: config_kafka_apply), then
 * every -X property, so -X can override anything; NULL after printing why
 * (a usage error). */
rd_kafka_conf_t *make_conf(const common_t *c, config_kafka_client_t client,
                           const char *const *settings);

/* Fails fast: -1 after saying so when no broker answers within the
 * connect timeout. */
int check_connection(rd_kafka_t *rk, const common_t *c);

typedef void (*delivery_fn)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* An idempotent producer (message.timeout.ms 30000 unless -X says
 * otherwise: *msg_timeout_ms) reporting each delivery to dr with opaque,
 * connected.  NULL with *rc (EXIT_USAGE or EXIT_KAFKA) after saying why. */
rd_kafka_t *producer_new(const common_t *c, delivery_fn dr, void *opaque,
                         int64_t *msg_timeout_ms, int *rc);

/* Waits for every delivery report, up to msg_timeout_ms + 10 s; then
 * purges what is left, saying "N <noun> still undelivered".  1 if it had
 * to, else 0.  The caller destroys rk. */
int producer_drain(rd_kafka_t *rk, int64_t msg_timeout_ms, const char *noun);

/* A JSON string from arbitrary bytes: invalid UTF-8 becomes U+FFFD. */
json_t *json_bytes(const void *p, size_t n);

/* Prints j as one compact line on stdout, and drops the reference. */
void json_print_line(json_t *j);

/* A fresh random UUID v4 (exits 1 if getrandom fails). */
void uuid_v4(char out[37]);

#endif
