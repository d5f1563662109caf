/* kafkastats.h -- what librdkafka's statistics say about the consumer.
 *
 * librdkafka hands the consumer a JSON document every
 * KAFKA_STATS_INTERVAL_MS (statistics.interval.ms).  This module reads it:
 * the consumer lag of each partition this replica fetches goes to the
 * metrics (order_worker_consumer_lag), and how many broker connections are
 * up, with the document's time, is kept for /readyz. */
#ifndef KAFKASTATS_H
#define KAFKASTATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct kafkastats kafkastats_t;

/* NULL without memory. */
kafkastats_t *kafkastats_new(void);
void kafkastats_free(kafkastats_t *s);

/* Reads one statistics document (len bytes of librdkafka's JSON; one that
 * does not parse is ignored).  Thread-safe with kafkastats_read. */
void kafkastats_update(kafkastats_t *s, const char *json, size_t len);

/* The last document's time (monotonic ms; 0: none yet), and the broker
 * connections it listed up and in all. */
void kafkastats_read(kafkastats_t *s, int64_t *at_mono_ms, int *up, int *known);

#endif
