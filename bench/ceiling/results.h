/* results.h -- what an ow-ceiling run reports (bench/ceiling).
 *
 * The JSON object bench/run.sh reads (mode, config, id_prefix, intents,
 * intents_per_s, calls, server, tool_cpu, errors), and a one-line summary. */
#ifndef CEILING_RESULTS_H
#define CEILING_RESULTS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "ceiling.h"

/* The measured window: from the start (every connection made) to the end
 * (every thread done), with the server's and this process's CPU at both
 * ends. */
typedef struct ceiling_window {
    int64_t t0_us, t1_us;                /* CLOCK_MONOTONIC */
    long server_pid;                     /* 0: not on this machine */
    long long server_ticks0, server_ticks1;  /* -1: unreadable */
    double self_cpu0_s, self_cpu1_s;     /* getrusage(RUSAGE_SELF) */
} ceiling_window_t;

/* The names of the mode's timed calls, in order, NULL-terminated. */
const char *const *ceiling_call_names(ceiling_mode_t mode);

/* The report of the finished run (sorts each connection's samples).  The
 * caller owns the result (json_decref). */
json_t *ceiling_report_build(const ceiling_run_t *run, ceiling_conn_t *conns, int n,
                             const ceiling_window_t *w);

/* The one-line summary of a report on out. */
void ceiling_report_summary(FILE *out, const json_t *rep);

#endif
