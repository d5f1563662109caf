/* consumer.c -- the worker's Kafka consumer (see consumer.h).
 *
 * What the worker sets first, then what the configuration adds and
 * overrides (config_kafka_apply refuses to override what correctness
 * needs).  The session timeout in force, configured or not, is read back:
 * it bounds how long a worker stopped before its first assignment waits
 * for it (intake.c). */
#include "consumer.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"

/* The consumer's group session: a replica that stops answering is replaced
 * after this long. */
#define KAFKA_SESSION_TIMEOUT_MS 10000

static int conf_set(rd_kafka_conf_t *c, const char *key, const char *val) {
    char e[256];
    if (rd_kafka_conf_set(c, key, val, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        log_msg(LOG_ERROR, "config_invalid", NULL, "kafka setting %s: %s", key, e);
        return -1;
    }
    return 0;
}

/* What the worker sets, then what the configuration adds and overrides:
 * security settings and KAFKA_CONSUMER_<PROPERTY> (the local stack's
 * fetch.wait.max.ms, ...).  -1, logged, on a bad setting. */
static int consumer_conf(const config_t *cfg, rd_kafka_conf_t *c) {
    char session_ms[24], client_id[160], stats_ms[24], err[512] = "";
    snprintf(session_ms, sizeof(session_ms), "%d", KAFKA_SESSION_TIMEOUT_MS);
    snprintf(client_id, sizeof(client_id), "order-worker-%s", cfg->replica_id);
    snprintf(stats_ms, sizeof(stats_ms), "%lld", (long long)cfg->kafka_stats_ms);
    if (conf_set(c, "bootstrap.servers", cfg->kafka_brokers) < 0 ||
        conf_set(c, "group.id", cfg->kafka_group_id) < 0 ||
        conf_set(c, "client.id", client_id) < 0 ||
        conf_set(c, "enable.auto.offset.store", "false") < 0 ||
        conf_set(c, "enable.auto.commit", "true") < 0 ||
        conf_set(c, "auto.commit.interval.ms", "1000") < 0 ||
        conf_set(c, "auto.offset.reset", "earliest") < 0 ||
        conf_set(c, "partition.assignment.strategy", "cooperative-sticky") < 0 ||
        conf_set(c, "session.timeout.ms", session_ms) < 0 ||
        conf_set(c, "max.poll.interval.ms", "300000") < 0 ||
        conf_set(c, "heartbeat.interval.ms", "1000") < 0)
        return -1;
    if (conf_set(c, "statistics.interval.ms", stats_ms) < 0 ||
        config_kafka_apply(cfg, CONFIG_KAFKA_CONSUMER, c, err, sizeof(err)) < 0) {
        if (err[0]) log_msg(LOG_ERROR, "config_invalid", NULL, "%s", err);
        return -1;
    }
    return 0;
}

rd_kafka_t *consumer_new(const config_t *cfg, const consumer_callbacks_t *cb,
                         int *session_timeout_ms) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (consumer_conf(cfg, c) < 0) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    /* The session timeout in force bounds the wait for a first assignment. */
    char session_ms[24];
    size_t len = sizeof(session_ms);
    *session_timeout_ms = KAFKA_SESSION_TIMEOUT_MS;
    if (rd_kafka_conf_get(c, "session.timeout.ms", session_ms, &len) == RD_KAFKA_CONF_OK)
        *session_timeout_ms = atoi(session_ms);
    rd_kafka_conf_set_stats_cb(c, cb->stats);
    rd_kafka_conf_set_rebalance_cb(c, cb->rebalance);
    rd_kafka_conf_set_log_cb(c, log_kafka);
    rd_kafka_conf_set_opaque(c, cb->opaque);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk) {
        log_msg(LOG_ERROR, "kafka_failed", NULL, "consumer: %s", e);
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

int consumer_subscribe(rd_kafka_t *rk, const config_t *cfg) {
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(topics, cfg->topic_bot, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics, cfg->topic_user, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (!e) return 0;
    log_msg(LOG_ERROR, "kafka_failed", NULL, "subscribe: %s", rd_kafka_err2str(e));
    return -1;
}
