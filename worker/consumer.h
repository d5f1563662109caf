/* consumer.h -- the worker's Kafka consumer handle, made and subscribed.
 *
 * The settings its correctness rests on are set here and nowhere else:
 * offsets are stored by the worker only (never automatically: a message is
 * committed once it has a durable outcome, see offsets.h) and committed by
 * librdkafka every second and on unassign; the cooperative-sticky protocol;
 * a new group starts at the earliest offset.  The configuration adds
 * security settings and KAFKA_CONSUMER_<PROPERTY> (config.h). */
#ifndef CONSUMER_H
#define CONSUMER_H

#include <librdkafka/rdkafka.h>
#include "config.h"

/* What the consumer calls back, on the thread that polls it, with opaque. */
typedef struct consumer_callbacks {
    void (*rebalance)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque);
    int (*stats)(rd_kafka_t *rk, char *json, size_t len, void *opaque);
    void *opaque;
} consumer_callbacks_t;

/* A consumer of the group, polled through rd_kafka_consumer_poll, with the
 * session timeout in force in *session_timeout_ms.  NULL (logged) on a bad
 * setting or when librdkafka refuses. */
rd_kafka_t *consumer_new(const config_t *cfg, const consumer_callbacks_t *cb,
                         int *session_timeout_ms);

/* Subscribes to both intent topics.  0, or -1 (logged). */
int consumer_subscribe(rd_kafka_t *rk, const config_t *cfg);

#endif
