/* partitions.h -- reading topics by plain partition assignment, as `tail`
 * and `dlq` do: every partition of the topics, with where each ended when
 * the command started, on a consumer that joins no group and commits
 * nothing. */
#ifndef INTENTCTL_PARTITIONS_H
#define INTENTCTL_PARTITIONS_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "common.h"

typedef struct part_state {
    const char *topic;
    int32_t partition;
    int64_t end;   /* high watermark at start (for --exit-at-end) */
    int done;      /* read up to end (or nothing to read) */
} part_state_t;

typedef struct parts {
    part_state_t *p;
    int n, n_done;
} parts_t;

/* A consumer for reading by assignment, connected: assign() wants a
 * group.id, so a throwaway one ("intentctl-KIND-<uuid>"), neither joined
 * nor committed to; with partition EOF events if eof.  NULL with *rc
 * (EXIT_USAGE: its configuration; EXIT_KAFKA) after saying why.  Close it
 * with reader_close. */
rd_kafka_t *reader_new(const common_t *c, const char *kind, int eof, int *rc);
void reader_close(rd_kafka_t *rk);

/* Looks up each topic's partitions (retrying while a topic is still being
 * created) and their watermarks into ps.  A partition that is empty, or
 * when not from_beginning, counts as done from the start.  0, or -1 after
 * saying why (Kafka errors). */
int parts_load(rd_kafka_t *rk, const common_t *c, const char *const *topics, int n_topics,
               int from_beginning, parts_t *ps);

/* Assigns the partitions (only those not done if unread_only), from the
 * oldest message if from_beginning, else from their ends.  0, or -1 after
 * saying why. */
int parts_assign(rd_kafka_t *rk, const parts_t *ps, int from_beginning, int unread_only);

/* The partition a message came from, or NULL. */
part_state_t *parts_find(parts_t *ps, const rd_kafka_message_t *m);

/* Marks p done (once). */
void parts_mark_done(parts_t *ps, part_state_t *p);

void parts_free(parts_t *ps);

#endif
