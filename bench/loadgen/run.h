/* run.h -- the state of one ow-loadgen run, shared by its parts
 * (bench/loadgen).
 *
 * The producer (main thread) writes the per-intent created_at and the SENT
 * flag before producing; the reader (a thread of its own) sets ACCEPTED and
 * TERMINAL atomically and counts outcomes; the report reads everything after
 * the reader stopped.  Counters are atomics; what is not (per-second counts,
 * latencies, reasons, window counts) is guarded by lock. */
#ifndef LOADGEN_RUN_H
#define LOADGEN_RUN_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "options.h"

#define RUN_MAX_PARTITIONS 4096
#define RUN_MAX_REASONS 16

/* Per-intent flags. */
enum { RUN_SENT = 1, RUN_ACCEPTED = 2, RUN_TERMINAL = 4 };

/* The kinds of terminal outcome, counted apart. */
typedef enum { RUN_FILL, RUN_REJECTION, RUN_OTHER } run_outcome_t;

/* Latencies (us) of one kind: those of intents created in the steady
 * window, and the largest over every intent. */
typedef struct run_lat {
    uint32_t *v;
    size_t n, cap;
    int64_t max_us_all;
} run_lat_t;

typedef struct run_reason {
    char reason[40];
    long long n;
} run_reason_t;

typedef struct run {
    options_t o;
    uint32_t tag;
    char tag_hex[9];
    int64_t start_real_ms;       /* CLOCK_REALTIME at run start */
    int64_t start_mono_us;
    uint64_t rng;                /* the producer's (ids_make) */
    /* per intent, indexed by sequence number */
    int64_t *sent_real_us;       /* CLOCK_REALTIME just before producing it
                                    (its created_at is this, in ms) */
    _Atomic uint8_t *flags;
    long long cap;
    atomic_llong sent;           /* produce calls that succeeded */
    atomic_llong delivered, delivery_failed;
    atomic_llong accepted, terminal, filled, rejected;
    atomic_llong foreign_events, unreadable_events, duplicate_events, partial_fills;
    atomic_llong consumer_errors, offset_resets;
    atomic_int stop_reader;
    /* per-second terminal counts, by read-back second since start */
    long long *per_second;
    int nseconds;
    /* latencies of intents created in the steady window: publish -> the
     * accepted / fill event read back, and the result topic's own hop
     * (read back - the event's Kafka timestamp, the worker's produce time) */
    run_lat_t lat_accepted, lat_fill, hop_accepted, hop_fill;
    FILE *fills_out;             /* --fills-out: order_id, read-back time */
    run_reason_t reasons[RUN_MAX_REASONS];
    int nreasons;
    /* outcomes read in the steady window [warmup, warmup + duration) */
    long long terminal_in_window, fills_in_window, rejections_in_window;
    int64_t last_terminal_mono_us, first_terminal_mono_us;
    pthread_mutex_t lock;        /* guards the fields above not atomic */
    /* producer side */
    int64_t produce_end_mono_us;
    int64_t produce_begin_mono_us;
    double pacing_max_late_ms;
    double window_wait_s;
    long long queue_full_waits;
    int64_t min_offset[RUN_MAX_PARTITIONS][2]; /* first offset we wrote, per topic */
    rd_kafka_t *producer, *consumer;
    pthread_t reader_thread;
    int reader_started;
} run_t;

/* Prepares *r (zeroed, r->o set) for its options: the tag (new, or --tag),
 * the random generator, the per-intent tables, the lock.  Returns 0, or -1
 * (said on stderr; nothing left to free). */
int run_init(run_t *r);

/* Adds a latency of us to l (lock held); kept among the percentiles'
 * samples when in_window. */
void run_lat_add(run_lat_t *l, int64_t us, int in_window);

/* Frees l's samples and empties it. */
void run_lat_free(run_lat_t *l);

/* Frees what run_init allocated (the Kafka handles are their owners'). */
void run_free(run_t *r);

/* Starts the run's clocks (start_real_ms, start_mono_us) now. */
void run_start_clock(run_t *r);

/* SIGINT and SIGTERM end the run early (run_interrupted becomes 1). */
void run_catch_signals(void);

/* 1 once SIGINT or SIGTERM came. */
int run_interrupted(void);

#endif
