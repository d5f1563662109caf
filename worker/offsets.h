/* offsets.h -- which Kafka offsets of a consumer may be stored for commit.
 *
 * One table per consumer, one tracker per partition it has seen.  Each
 * tracker keeps the offsets handed out to the lanes, in order, with a done
 * mark; the offset that may be stored is one past the longest done prefix,
 * so a message is never committed before every earlier message of its
 * partition has a durable outcome.  Not thread-safe: the caller holds its
 * own lock around every call, except the reads of an abandon flag
 * (offsets_abandon_flag), which lanes make without it. */
#ifndef OFFSETS_H
#define OFFSETS_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct offsets offsets_t;            /* the table of a consumer */
typedef struct offsets_part offsets_part_t;  /* one partition's tracker */

/* An empty table; NULL without memory. */
offsets_t *offsets_new(void);
void offsets_free(offsets_t *t);

/* The tracker of topic[partition], made (unassigned, empty) when create is
 * set and it is not known yet.  NULL when unknown and !create, or without
 * memory.  A tracker lives as long as its table. */
offsets_part_t *offsets_part(offsets_t *t, const char *topic, int32_t partition, int create);

/* The table's trackers, for walking it: 0 <= i < offsets_count(t). */
int offsets_count(const offsets_t *t);
offsets_part_t *offsets_at(offsets_t *t, int i);
const char *offsets_topic(const offsets_part_t *p);
int32_t offsets_partition(const offsets_part_t *p);

/* The partition is assigned to this consumer (again): its abandon flag is
 * cleared. */
void offsets_assign(offsets_part_t *p);
/* Whether the partition is assigned to this consumer. */
int offsets_is_assigned(const offsets_part_t *p);
/* How many of the table's partitions are assigned. */
int offsets_assigned(const offsets_t *t);

/* A message at offset is handed to a lane (offsets of a partition come in
 * ascending order).  0, or -1 without memory (nothing recorded). */
int offsets_push(offsets_part_t *p, int64_t offset);

/* The message at offset is finished: with ok, it has a durable outcome and
 * is marked done; without, it was abandoned and stays not done, so neither
 * it nor anything after it in the partition is ever stored (the next owner
 * of the partition redelivers them). */
void offsets_finish(offsets_part_t *p, int64_t offset, int ok);

/* Messages handed out and not finished yet. */
int offsets_pending(const offsets_part_t *p);

/* Whether a message before offset, handed out, is not finished yet. */
int offsets_pending_before(const offsets_part_t *p, int64_t offset);

/* The offset to store for the partition (one past its longest done prefix)
 * when it moved since the last call and the partition is assigned, else -1.
 * Each position is returned once. */
int64_t offsets_take_store(offsets_part_t *p);

/* Lanes give up the partition's work: its flag, which they read without the
 * caller's lock, is set (until offsets_assign). */
void offsets_abandon(offsets_part_t *p);
void offsets_abandon_all(offsets_t *t);
const atomic_int *offsets_abandon_flag(const offsets_part_t *p);

/* The partition is given up, once nothing of it is pending: it is
 * unassigned, and the offsets still in the tracker (not done, or done
 * after a gap) are forgotten along with any position not taken yet.  The
 * group's committed offset stays where the last store put it, and the next
 * owner starts from there. */
void offsets_revoke(offsets_part_t *p);

#endif
