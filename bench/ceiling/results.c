/* results.c -- what an ow-ceiling run reports (see results.h).
 *
 * Owns: the JSON result and the summary line.  Design:
 *  - intents_per_s: the intents that went through every call of the mode
 *    (whole batches) over the window from the start (every connection made)
 *    to the end (every thread done: the last batches finish after the
 *    deadline, and count);
 *  - each call's latency over every connection's calls (ow-loadgen's
 *    percentiles: nearest rank);
 *  - the server's CPU per intent: its utime+stime (the postmaster's with
 *    its children's, or redis-server's) over the same window, divided by
 *    the intents; null when the server is not a process of this machine;
 *  - this process's own CPU apart: on a machine it shares with the server,
 *    what it spends is not the server's to spend. */
#include "results.h"

#include <string.h>

#include "procstat.h"
#include "report.h" /* ow-loadgen's (bench/loadgen): report_latency */

static const char *const LEDGER_CALLS[] = {"record", "submitting", "commit", "release", NULL};
static const char *const QUOTA_CALLS[] = {"quota", "budget", NULL};

static const char *const LEDGER_WHAT[] = {
    "ledger_begin_many(LEDGER_BEGIN_VALID | LEDGER_BEGIN_LOCK) of the batch: one statement "
    "(the intents' locks, recorded as validated)",
    "ledger_transition_many validated -> quota_granted -> submitting of the batch: one durable "
    "statement",
    "ledger_commit_many of the batch's filled outcomes (broker order, accepted and fill "
    "events): one durable statement, then the events' published marks deferred (and the "
    "deferred list written whenever it is full)",
    "ledger_unlock_intent of each intent of the batch, deferred (the deferred list written "
    "whenever it is full)"};
static const char *const QUOTA_WHAT[] = {
    "the batch's quota decisions (quota_charge_many: one pipelined round trip)",
    "budget_take: one placement's token of the Alpaca budget"};

const char *const *ceiling_call_names(ceiling_mode_t mode) {
    return mode == CEILING_LEDGER ? LEDGER_CALLS : QUOTA_CALLS;
}

static void set_real(json_t *o, const char *k, double v) {
    json_object_set_new(o, k, json_real(v));
}

static json_t *config_json(const ceiling_options_t *o) {
    json_t *j = json_object();
    json_object_set_new(j, "connections", json_integer(o->connections));
    json_object_set_new(j, "batch", json_integer(o->batch));
    set_real(j, "duration_s", o->duration_s);
    json_object_set_new(j, "bots", json_integer(o->bots));
    json_object_set_new(j, "schema", o->schema ? json_string(o->schema) : json_null());
    return j;
}

/* Every connection's samples of each call, merged. */
static json_t *calls_json(const ceiling_run_t *run, ceiling_conn_t *conns, int n) {
    const char *const *names = ceiling_call_names(run->o.mode);
    const char *const *what = run->o.mode == CEILING_LEDGER ? LEDGER_WHAT : QUOTA_WHAT;
    json_t *j = json_object();
    for (int k = 0; names[k]; k++) {
        run_lat_t all = {0};
        for (int c = 0; c < n; c++)
            for (size_t i = 0; i < conns[c].calls[k].n; i++)
                run_lat_add(&all, conns[c].calls[k].v[i], 1);
        json_object_set_new(j, names[k], report_latency(&all, what[k]));
        run_lat_free(&all);
    }
    return j;
}

/* CPU seconds per intent as microseconds, or null. */
static json_t *per_intent_us(double cpu_s, long long intents) {
    return intents > 0 ? json_real(cpu_s * 1e6 / (double)intents) : json_null();
}

static json_t *server_json(const ceiling_run_t *run, const ceiling_window_t *w,
                           long long intents, double elapsed_s) {
    json_t *j = json_object();
    int known = w->server_pid > 0 && w->server_ticks0 >= 0 && w->server_ticks1 >= 0;
    double cpu = known ? (double)(w->server_ticks1 - w->server_ticks0) /
                             (double)procstat_ticks_per_s()
                       : 0;
    json_object_set_new(j, "process",
                        json_string(run->o.mode == CEILING_LEDGER ? "postgres" : "redis-server"));
    json_object_set_new(j, "pid", w->server_pid > 0 ? json_integer(w->server_pid) : json_null());
    json_object_set_new(j, "cpu_s", known ? json_real(cpu) : json_null());
    json_object_set_new(j, "cores_busy",
                        known && elapsed_s > 0 ? json_real(cpu / elapsed_s) : json_null());
    json_object_set_new(j, "us_per_intent", known ? per_intent_us(cpu, intents) : json_null());
    json_object_set_new(
        j, "what",
        json_string(run->o.mode == CEILING_LEDGER
                        ? "utime+stime of the postmaster and its children (the backends: live "
                          "ones from /proc, ended ones in its cutime+cstime) over the window"
                        : "utime+stime of redis-server (and of any child it forked) over the "
                          "window"));
    return j;
}

json_t *ceiling_report_build(const ceiling_run_t *run, ceiling_conn_t *conns, int n,
                             const ceiling_window_t *w) {
    long long intents = 0, batches = 0;
    int errors = 0;
    const char *first = NULL;
    for (int c = 0; c < n; c++) {
        intents += conns[c].intents;
        batches += conns[c].batches;
        if (conns[c].error[0]) {
            errors++;
            if (!first) first = conns[c].error;
        }
    }
    double elapsed = (double)(w->t1_us - w->t0_us) / 1e6, self = w->self_cpu1_s - w->self_cpu0_s;
    json_t *r = json_object();
    json_object_set_new(r, "tool", json_string("ow-ceiling"));
    json_object_set_new(r, "mode",
                        json_string(run->o.mode == CEILING_LEDGER ? "ledger" : "quota"));
    json_object_set_new(
        r, "what",
        json_string(run->o.mode == CEILING_LEDGER
                        ? "intents through the worker's ledger calls for a batch of new valid "
                          "intents filled at once (record, submitting, commit, release), alone"
                        : "intents through the worker's Redis calls: the quota decision and "
                          "the placement's budget token, alone"));
    json_object_set_new(r, "config", config_json(&run->o));
    json_object_set_new(r, "id_prefix", json_string(run->prefix));
    json_object_set_new(r, "intents", json_integer(intents));
    json_object_set_new(r, "batches", json_integer(batches));
    set_real(r, "elapsed_s", elapsed);
    set_real(r, "intents_per_s", elapsed > 0 ? (double)intents / elapsed : 0);
    json_object_set_new(r, "errors", json_integer(errors));
    json_object_set_new(r, "first_error", first ? json_string(first) : json_null());
    json_object_set_new(r, "calls", calls_json(run, conns, n));
    json_object_set_new(r, "server", server_json(run, w, intents, elapsed));
    json_t *t = json_object();
    set_real(t, "cpu_s", self);
    json_object_set_new(t, "us_per_intent", per_intent_us(self, intents));
    json_object_set_new(t, "what", json_string("this process's own utime+stime over the window"));
    json_object_set_new(r, "tool_cpu", t);
    return r;
}

void ceiling_report_summary(FILE *out, const json_t *rep) {
    const json_t *cfg = json_object_get(rep, "config"), *srv = json_object_get(rep, "server");
    fprintf(out, "ow-ceiling %s: %lld connection(s), batch %lld: %lld intents in %.1f s = %.0f "
            "intents/s",
            json_string_value(json_object_get(rep, "mode")),
            (long long)json_integer_value(json_object_get(cfg, "connections")),
            (long long)json_integer_value(json_object_get(cfg, "batch")),
            (long long)json_integer_value(json_object_get(rep, "intents")),
            json_real_value(json_object_get(rep, "elapsed_s")),
            json_real_value(json_object_get(rep, "intents_per_s")));
    const json_t *us = json_object_get(srv, "us_per_intent");
    if (json_is_real(us))
        fprintf(out, "; %s %.0f us CPU per intent (%.2f cores)",
                json_string_value(json_object_get(srv, "process")), json_real_value(us),
                json_real_value(json_object_get(srv, "cores_busy")));
    long long errors = json_integer_value(json_object_get(rep, "errors"));
    if (errors > 0)
        fprintf(out, "; %lld connection(s) failed: %s", errors,
                json_string_value(json_object_get(rep, "first_error")));
    fputc('\n', out);
}
