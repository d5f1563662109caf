/* report.h -- what an ow-loadgen run reports (bench/loadgen).
 *
 * The JSON object bench/run.sh reads (mode, config, producer, consumer,
 * throughput, latency_created_to_accepted), and a one-line summary. */
#ifndef LOADGEN_REPORT_H
#define LOADGEN_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "run.h"

/* The report of the finished run r (its reader stopped): lost is what the
 * broker dropped (--produce-only), complete whether every intent expected
 * reached an outcome.  The caller owns the result (json_decref). */
json_t *report_build(run_t *r, long long lost, int complete);

/* The percentiles (nearest rank) of one kind of latency, in ms: n, p50,
 * p90, p99 and max of the samples kept, and the largest of every sample
 * offered (max_ms_all_intents); what says what was timed.  Sorts l.  The
 * caller owns the result.  (ow-ceiling reports its calls with it too.) */
json_t *report_latency(run_lat_t *l, const char *what);

/* The one-line summary of a report on out. */
void report_summary(FILE *out, const run_t *r, json_t *rep);

/* Writes text and a newline to path via path.tmp and rename(2); 0 or -1. */
int report_write_file(const char *path, const char *text);

#endif
