/* reader.h -- the load generator's reader of the result topics
 * (bench/loadgen).
 *
 * A consumer assigned every partition of orders.fills and orders.rejections
 * at their end offsets, read by a thread of its own, matching each event to
 * an intent of the run and counting outcomes into the run_t. */
#ifndef LOADGEN_READER_H
#define LOADGEN_READER_H

#include <stddef.h>
#include <stdint.h>

#include "run.h"

/* Creates the consumer, assigns the result topics at their end offsets
 * (queried now: what happens after this is read) and starts the reading
 * thread.  Returns 0, or -1 (said on stderr; reader_stop cleans up). */
int reader_start(run_t *r);

/* Waits until want intents have a terminal outcome, or --drain-timeout
 * passed without a new outcome, or a signal came.  Returns 1 if all came. */
int reader_wait(run_t *r, long long want);

/* Stops the thread and closes and destroys the consumer (if any). */
void reader_stop(run_t *r);

/* One event (a message's value) of orders.fills (is_fill) or
 * orders.rejections, counted into r; kafka_ts_ms is the message's creation
 * timestamp (-1 if it has none).  Called by the reading thread. */
void reader_handle_event(run_t *r, const char *buf, size_t len, int is_fill,
                         int64_t kafka_ts_ms);

#endif
