/* main.c -- ow-loadgen: the load generator and result reader of the
 * benchmark (`compose/dev bench`, bench/run.sh).
 *
 * Owns: the order of a run.  Why: the benchmark's figures (sustained
 * end-to-end throughput, publication -> accepted and -> fill latencies,
 * backlog drain rate) need one
 * program that both offers the load and sees its outcomes, with a clock of
 * its own and no per-message cost that could make it, rather than the
 * worker, the bottleneck.
 *
 * A run: parse the options (options.c), set up the run's state (run.c: its
 * tag, the per-intent tables), start the reader of the result topics at
 * their end offsets (reader.c) and connect the producer (producer.c), write
 * the ready file, start the clock, produce (--rate N, --rate max with a
 * closed-loop window, or --produce-only --count N), wait for the outcomes
 * (at most --drain-timeout without progress), and report (report.c: JSON to
 * --json or stdout, a summary line on stderr).  --consume-only --expect N
 * --tag T only reads, until N intents of run T have an outcome (the backlog
 * drain).  Intent ids carry the run's tag and the intent's sequence number
 * (ids.c), so matching an event needs no hash of strings: the per-intent
 * state is 8 bytes (the time it was produced) and 1 byte of flags, 9 MB for
 * a million.
 *
 * Exit status: 0; 1 on a setup, produce or write error, or intents the
 * broker dropped or did not acknowledge (--produce-only); 2 on a usage
 * error; 3 when not every intent reached an outcome. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "options.h"
#include "producer.h"
#include "reader.h"
#include "report.h"
#include "run.h"

/* Starts the reader (unless --produce-only) and the producer (unless
 * --consume-only), then writes the ready file.  0 or -1 (said). */
static int loadgen_connect(run_t *r) {
    if (r->o.fills_out && !(r->fills_out = fopen(r->o.fills_out, "w"))) {
        fprintf(stderr, "ow-loadgen: cannot write %s\n", r->o.fills_out);
        return -1;
    }
    if (!r->o.produce_only && reader_start(r) < 0) return -1;
    /* Connect and learn the intent topics before the clock starts. */
    if (!r->o.consume_only && producer_start(r) < 0) return -1;
    if (r->o.ready_file && report_write_file(r->o.ready_file, r->tag_hex) != 0) {
        fprintf(stderr, "ow-loadgen: cannot write %s\n", r->o.ready_file);
        return -1;
    }
    return 0;
}

/* Produces (unless --consume-only); *want becomes how many outcomes to wait
 * for and *lost what the broker dropped.  Returns the exit status so far. */
static int loadgen_produce(run_t *r, long long *want, long long *lost) {
    int rc = 0;
    *lost = 0;
    if (r->o.consume_only) {
        *want = r->o.expect;
        r->produce_end_mono_us = clock_mono_us();
        return 0;
    }
    if (producer_run(r) < 0) rc = 1;
    *want = atomic_load(&r->sent);
    if (r->o.produce_only) {
        *lost = producer_lost(r);
        if (atomic_load(&r->delivered) != *want || *lost > 0) {
            fprintf(stderr, "ow-loadgen: %lld of %lld delivered, %lld dropped by the broker\n",
                    (long long)atomic_load(&r->delivered), *want, *lost);
            rc = 1;
        }
    }
    return rc;
}

/* The report to --json (or stdout) and the summary; the exit status rc, or
 * 1 if the report cannot be written. */
static int loadgen_report(run_t *r, long long lost, int complete, int rc) {
    json_t *rep = report_build(r, lost, complete);
    char *text = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    if (!text) {
        fprintf(stderr, "ow-loadgen: cannot render the report\n");
        rc = 1;
    } else if (r->o.json_out) {
        if (report_write_file(r->o.json_out, text) != 0) {
            fprintf(stderr, "ow-loadgen: cannot write %s\n", r->o.json_out);
            rc = 1;
        }
    } else {
        puts(text);
    }
    report_summary(stderr, r, rep);
    free(text);
    json_decref(rep);
    return rc;
}

int main(int argc, char **argv) {
    static run_t run; /* large (per-partition offsets): not on the stack */
    run_t *r = &run;
    int parsed = options_parse(argc, argv, &r->o);
    if (parsed != 0) return parsed > 0 ? 0 : 2;
    run_catch_signals();
    if (run_init(r) < 0) return 1;
    fprintf(stderr, "ow-loadgen: run tag %s\n", r->tag_hex);
    int rc = 0;
    if (loadgen_connect(r) < 0) {
        rc = 1;
    } else {
        run_start_clock(r); /* the run's clock starts now (after the connection work) */
        long long want, lost;
        rc = loadgen_produce(r, &want, &lost);
        int complete = 1;
        if (!r->o.produce_only) {
            complete = reader_wait(r, want);
            reader_stop(r);
            if (!complete) {
                fprintf(stderr, "ow-loadgen: %lld of %lld intents reached an outcome\n",
                        (long long)atomic_load(&r->terminal), want);
                rc = rc ? rc : 3;
            }
        }
        rc = loadgen_report(r, lost, complete, rc);
    }
    reader_stop(r);
    producer_stop(r);
    run_free(r);
    return rc;
}
