/* producer.h -- the load generator's producer of order intents
 * (bench/loadgen).
 *
 * Publishes valid market intents (qty 1, round-robin over --bots bots and
 * --users users) at a fixed rate, as fast as a closed-loop window allows, or
 * --count of them as fast as possible, recording each one's created_at in
 * the run_t. */
#ifndef LOADGEN_PRODUCER_H
#define LOADGEN_PRODUCER_H

#include "run.h"

/* Creates the producer and learns the intent topics (so that the run's
 * clock starts after the connection work).  Returns 0, or -1 (said). */
int producer_start(run_t *r);

/* The produce loop of every mode but --consume-only, then a bounded wait
 * (120 s) for the broker's acknowledgements.  Returns 0, or -1 on a fatal
 * produce error or a signal while the local queue is full. */
int producer_run(run_t *r);

/* In --produce-only: how many of the messages written the broker no longer
 * holds (the development broker drops a partition's oldest data beyond its
 * size cap); 0 when it holds them all. */
long long producer_lost(run_t *r);

/* Flushes (5 s at most) and destroys the producer, if any. */
void producer_stop(run_t *r);

#endif
