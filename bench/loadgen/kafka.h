/* kafka.h -- what the load generator's producer and reader both ask of
 * librdkafka (bench/loadgen). */
#ifndef LOADGEN_KAFKA_H
#define LOADGEN_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* A configuration for brokers, with the client.id ow-loadgen and the n
 * {key, value} pairs of props; NULL (said) if librdkafka refuses one. */
rd_kafka_conf_t *kafka_conf_new(const char *brokers, const char *const props[][2], size_t n);

/* The partition count of topic (asked up to 20 times while the metadata is
 * not there yet), or -1. */
int kafka_partitions(rd_kafka_t *rk, const char *topic);

#endif
