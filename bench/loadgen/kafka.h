/* kafka.h -- what the load generator's producer and reader both ask of
 * librdkafka (bench/loadgen). */
#ifndef LOADGEN_KAFKA_H
#define LOADGEN_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "config.h"

/* A configuration for brokers, with the client.id ow-loadgen and the n
 * {key, value} pairs of props, then what the environment adds as it does to
 * the worker's client of that kind (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*,
 * KAFKA_SSL_*, KAFKA_CONSUMER_<PROPERTY> or KAFKA_PRODUCER_<PROPERTY>:
 * config_kafka_apply_env); NULL (said) if librdkafka refuses one. */
rd_kafka_conf_t *kafka_conf_new(const char *brokers, config_kafka_client_t client,
                                const char *const props[][2], size_t n);

/* The partition count of topic (asked up to 20 times while the metadata is
 * not there yet), or -1. */
int kafka_partitions(rd_kafka_t *rk, const char *topic);

#endif
