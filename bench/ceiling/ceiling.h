/* ceiling.h -- what the parts of ow-ceiling share (bench/ceiling).
 *
 * A run: one mode (the ledger alone, or the quotas alone), N connections
 * each on a thread of its own, each doing batch after batch until the
 * deadline.  The run (options, the worker's settings the calls read, the
 * ids' tag, the clock) is written by main before the threads start and only
 * read by them; each thread writes its own ceiling_conn_t, which main reads
 * after joining it. */
#ifndef CEILING_H
#define CEILING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "ledger.h"
#include "publish.h"
#include "run.h" /* run_lat_t, ow-loadgen's latency samples */

/* The most intents in one batch: the worker's (PIPELINE_BATCH_MAX). */
#define CEILING_BATCH_MAX 64
/* The calls a mode times, at most. */
#define CEILING_CALLS_MAX 4

typedef enum { CEILING_LEDGER, CEILING_QUOTA } ceiling_mode_t;

typedef struct ceiling_options {
    ceiling_mode_t mode;
    const char *url;          /* --database-url or --redis-url */
    const char *schema;       /* ledger: --schema, NULL for the URL's own */
    int connections;
    int batch;
    double duration_s;
    int bots;                 /* distinct subjects (bot_id) */
    long server_pid;          /* --server-pid; 0: ask the server */
    const char *json_out;     /* NULL: stdout */
} ceiling_options_t;

/* One connection's thread: what it did and how long its calls took. */
typedef struct ceiling_conn {
    struct ceiling_run *run;
    int index;
    ledger_t *ledger;         /* ledger mode: closed by main after the run */
    uint64_t rng;
    long long intents;        /* through every call of the mode, in whole batches */
    long long batches;
    char error[320];          /* the first failure ("" none): the thread stopped */
    run_lat_t calls[CEILING_CALLS_MAX];  /* per call, in the mode's order */
} ceiling_conn_t;

typedef struct ceiling_run {
    ceiling_options_t o;
    config_t cfg;             /* the worker's settings the calls read */
    char url[1200];           /* the URL the connections use (the schema's) */
    publisher_t *pub;         /* ledger mode: the discarding publisher */
    uint32_t tag;             /* the ids' first 8 hex digits: CEILING_TAG_BASE | random */
    char prefix[9];
    atomic_uint seq;          /* the next intent's sequence number */
    /* The start: each thread, connected (or not), arrives and waits until
     * main opens the gate; main opens it once every thread has arrived,
     * after setting the deadline. */
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int arrived, open;
    int64_t deadline_mono_us;
} ceiling_run_t;

/* Every id of a run starts with "ce11" (then 4 random hex digits): nothing
 * else makes such ids, so a run's rows are found by its prefix. */
#define CEILING_TAG_BASE 0xce110000u

/* Each connection's thread (ledger_load.c, quota_load.c): connects, waits
 * at the start (ceiling_start), then runs batches until the deadline.  arg
 * is its ceiling_conn_t. */
void *ledgerload_main(void *arg);
void *quotaload_main(void *arg);

/* Ledger mode, before the threads: with --schema, creates the schema if
 * missing and applies the ledger's migrations there (run->url then names
 * it); the postmaster's pid into *pid (0 when the server is not on this
 * machine).  0, or -1 with err. */
int ledgerload_prepare(ceiling_run_t *run, long *pid, char *err, size_t errlen);

/* Quota mode, before the threads: redis-server's pid into *pid (0 when not
 * on this machine).  0, or -1 with err. */
int quotaload_prepare(ceiling_run_t *run, long *pid, char *err, size_t errlen);

/* Records a failure of conn (the first one is kept). */
void ceiling_fail(ceiling_conn_t *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Arrives at the start (after connecting, or failing to) and waits for
 * main to open it; 0 to go on, or -1 if this thread has failed. */
int ceiling_start(ceiling_conn_t *conn);

/* 1 while the run's deadline has not passed. */
int ceiling_running(const ceiling_conn_t *conn);

#endif
