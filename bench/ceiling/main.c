/* main.c -- ow-ceiling: the fleet's ceiling, measured (`compose/dev bench
 * --only ceiling`, bench/run.sh).
 *
 * Owns: the order of a run.  Why: replicas on machines of their own share
 * one PostgreSQL and one Redis, so the fleet can go no faster than those
 * two serve the worker's calls; running those calls alone, from the
 * worker's own modules (the ledger's and the quota's statements as they
 * are, whatever they become), says how fast that is, and at what CPU cost
 * to the server.
 *
 * A run: parse the options (cli.c); read the worker's settings the calls
 * read (config_load_only, as the worker reads them), the limits lifted;
 * prepare the server (ledger_load.c: the schema, the migrations check;
 * quota_load.c: the limits' check) and find its pid; start N threads, each
 * connecting (ledger_load.c or quota_load.c); once every one has arrived
 * at the start, read the server's and this process's CPU, open the start
 * with the deadline; join them, read the CPU again; report (results.c:
 * JSON to --json or stdout, a summary on stderr).
 *
 * Exit status: 0; 1 when setting up failed or a connection failed or left
 * the happy path; 2 on a usage error. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ceiling.h"
#include "cli.h"
#include "ids.h"
#include "metrics.h"
#include "procstat.h"
#include "report.h" /* ow-loadgen's (bench/loadgen): report_write_file */
#include "results.h"
#include "timefmt.h"

void ceiling_fail(ceiling_conn_t *conn, const char *fmt, ...) {
    if (conn->error[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(conn->error, sizeof(conn->error), fmt, ap);
    va_end(ap);
}

int ceiling_start(ceiling_conn_t *conn) {
    ceiling_run_t *run = conn->run;
    pthread_mutex_lock(&run->lock);
    run->arrived++;
    pthread_cond_broadcast(&run->cv);
    while (!run->open) pthread_cond_wait(&run->cv, &run->lock);
    pthread_mutex_unlock(&run->lock);
    return conn->error[0] ? -1 : 0;
}

int ceiling_running(const ceiling_conn_t *conn) {
    return timefmt_mono_us() < conn->run->deadline_mono_us;
}

/* The worker's settings the calls read, read as the worker reads them;
 * the Alpaca budget lifted.  0, or -1 with err. */
static int load_settings(ceiling_run_t *run, char *err, size_t errlen) {
    static const char *const names[] = {
        "TOPIC_INTENTS_BOT", "TOPIC_FILLS", "TOPIC_REJECTIONS", "INTENT_MAX_AGE_MS",
        "RATE_PERIOD_MS", "ALPACA_BUDGET_MARGIN_MS", "ALPACA_BUDGET_RESERVE_PCT", NULL};
    if (config_load_only(&run->cfg, names, err, errlen) < 0) return -1;
    snprintf(run->cfg.replica_id, sizeof(run->cfg.replica_id), "ow-ceiling");
    run->cfg.alpaca_calls_per_min = 1000000000;
    return 0;
}

/* Everything before the threads: settings, the ids' tag, the server, the
 * publisher.  0, or -1 (said). */
static int setup(ceiling_run_t *run, long *pid) {
    char err[512];
    pthread_mutex_init(&run->lock, NULL);
    pthread_cond_init(&run->cv, NULL);
    uint64_t rng = ids_rng_seed();
    run->tag = CEILING_TAG_BASE | (uint32_t)(ids_rng_next(&rng) & 0xFFFF);
    snprintf(run->prefix, sizeof(run->prefix), "%08" PRIx32, run->tag);
    int rc = load_settings(run, err, sizeof(err));
    if (rc == 0)
        rc = run->o.mode == CEILING_LEDGER ? ledgerload_prepare(run, pid, err, sizeof(err))
                                           : quotaload_prepare(run, pid, err, sizeof(err));
    if (rc == 0 && run->o.mode == CEILING_LEDGER && !(run->pub = publish_new_discard(&run->cfg))) {
        snprintf(err, sizeof(err), "out of memory");
        rc = -1;
    }
    if (rc < 0) fprintf(stderr, "ow-ceiling: %s\n", err);
    if (run->o.server_pid) *pid = run->o.server_pid;
    return rc;
}

static void window_mark(long pid, int64_t *mono_us, long long *ticks, double *self_s) {
    struct rusage ru;
    *ticks = pid > 0 ? procstat_tree_ticks(pid) : -1;
    getrusage(RUSAGE_SELF, &ru);
    *self_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    *mono_us = timefmt_mono_us();
}

/* Starts a thread per connection, opens the start once each has arrived,
 * and joins them, marking the window's ends.  0, or -1 if a thread could
 * not be started (the others still ran; the run failed). */
static int run_threads(ceiling_run_t *run, ceiling_conn_t *conns, ceiling_window_t *w) {
    int n = run->o.connections, started = 0, rc = 0;
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    void *(*body)(void *) = run->o.mode == CEILING_LEDGER ? ledgerload_main : quotaload_main;
    for (int i = 0; t && i < n; i++) {
        conns[i].run = run;
        conns[i].index = i;
        conns[i].rng = ids_rng_seed() ^ (uint64_t)(i + 1);
        if (pthread_create(&t[i], NULL, body, &conns[i]) != 0) break;
        started++;
    }
    if (started < n) {
        fprintf(stderr, "ow-ceiling: started %d of %d threads\n", started, n);
        rc = -1;
    }
    pthread_mutex_lock(&run->lock);
    while (run->arrived < started) pthread_cond_wait(&run->cv, &run->lock);
    window_mark(w->server_pid, &w->t0_us, &w->server_ticks0, &w->self_cpu0_s);
    run->deadline_mono_us = w->t0_us + (int64_t)(run->o.duration_s * 1e6);
    run->open = 1;
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->lock);
    for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
    window_mark(w->server_pid, &w->t1_us, &w->server_ticks1, &w->self_cpu1_s);
    free(t);
    return rc;
}

/* The report to --json (or stdout) and the summary: 0, or -1. */
static int report(const ceiling_run_t *run, ceiling_conn_t *conns, const ceiling_window_t *w) {
    json_t *rep = ceiling_report_build(run, conns, run->o.connections, w);
    char *text = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    int rc = 0;
    if (!text) {
        fprintf(stderr, "ow-ceiling: cannot render the report\n");
        rc = -1;
    } else if (run->o.json_out) {
        if (report_write_file(run->o.json_out, text) != 0) {
            fprintf(stderr, "ow-ceiling: cannot write %s\n", run->o.json_out);
            rc = -1;
        }
    } else {
        puts(text);
    }
    ceiling_report_summary(stderr, rep);
    if (json_integer_value(json_object_get(rep, "errors")) > 0) rc = -1;
    free(text);
    json_decref(rep);
    return rc;
}

static void teardown(ceiling_run_t *run, ceiling_conn_t *conns) {
    for (int i = 0; conns && i < run->o.connections; i++) {
        ledger_close(conns[i].ledger);
        for (int k = 0; k < CEILING_CALLS_MAX; k++) run_lat_free(&conns[i].calls[k]);
    }
    free(conns);
    publish_free(run->pub);
    pthread_mutex_destroy(&run->lock);
    pthread_cond_destroy(&run->cv);
    metrics_free();
}

int main(int argc, char **argv) {
    static ceiling_run_t run; /* large (the settings): not on the stack */
    int parsed = ceiling_options_parse(argc, argv, &run.o);
    if (parsed != 0) return parsed > 0 ? 0 : 2;
    ceiling_window_t w = {0};
    ceiling_conn_t *conns = NULL;
    int rc = setup(&run, &w.server_pid) < 0 ? 1 : 0;
    if (rc == 0 && !(conns = calloc((size_t)run.o.connections, sizeof(*conns)))) {
        fprintf(stderr, "ow-ceiling: out of memory\n");
        rc = 1;
    }
    if (rc == 0) {
        fprintf(stderr, "ow-ceiling %s: ids %s-..., %d connection(s), batch %d, %g s\n",
                run.o.mode == CEILING_LEDGER ? "ledger" : "quota", run.prefix,
                run.o.connections, run.o.batch, run.o.duration_s);
        rc = run_threads(&run, conns, &w) < 0 ? 1 : 0;
        if (report(&run, conns, &w) < 0) rc = 1;
    }
    teardown(&run, conns);
    return rc;
}
