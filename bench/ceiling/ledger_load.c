/* ledger_load.c -- `ow-ceiling ledger`: one connection's batches (see
 * ceiling.h).
 *
 * Owns: the ledger's side of a batch of new valid intents, call for call
 * what a lane of the worker does when every intent of its batch is filled at
 * once (worker/pipeline.c: run_fast, commit_collected and
 * pipeline_handle_many's unlocks; worker/pipeline_order.c: settle_order):
 *
 *   ledger_begin_many(LEDGER_BEGIN_VALID | LEDGER_BEGIN_LOCK)   "record"
 *   ledger_transition_many validated -> quota_granted -> submitting
 *                                                               "submitting"
 *   per intent: the broker's filled order, its accepted event and what
 *   fills_plan() makes of it (the fill)
 *   ledger_commit_many with a publisher that sends nothing     "commit"
 *     (so the events' published marks are deferred exactly as after Kafka's
 *     acknowledgement)
 *   ledger_unlock_intent of each, deferred                     "release"
 *
 * on a connection with ledger_defer_on, as a lane's, whose deferred list is
 * written when it fills up: a saturated lane is never idle, so never flushes
 * otherwise.  Only the list left at the end is flushed by hand.  The quota,
 * the budget and the POST are left out: the ledger alone is measured.  No
 * SQL is written here but for the setup (the schema, the server's pid): the
 * statements are the ledger's, whatever they become.  Anything but the
 * happy path (an intent busy, seen before, not moved, not filled) is a
 * failure of the run. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ceiling.h"
#include "fills.h"
#include "pqmsg.h"
#include "procstat.h"
#include "synth.h"
#include "timefmt.h"

enum { CALL_RECORD, CALL_SUBMITTING, CALL_COMMIT, CALL_RELEASE };

/* One batch's storage (too large for a thread's stack). */
typedef struct ledger_batch {
    synth_intent_t in[CEILING_BATCH_MAX];
    ledger_begin_t b[CEILING_BATCH_MAX];
    const char *ids[CEILING_BATCH_MAX];
    int moved[CEILING_BATCH_MAX];
    alpaca_order_t orders[CEILING_BATCH_MAX];
    event_t evs[CEILING_BATCH_MAX][1 + FILLS_MAX_EVENTS];
    ledger_outcome_t out[CEILING_BATCH_MAX];
    int n_intents, n_orders, n_outcomes;  /* what to free */
} ledger_batch_t;

/* ---- before the run ------------------------------------------------------ */

/* The URL of url with the connection's search_path set to schema (a name
 * already checked), as a URI query parameter or a conninfo keyword. */
static int schema_url(const char *url, const char *schema, char *out, size_t outlen) {
    int uri = !strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11);
    int n = uri ? snprintf(out, outlen, "%s%coptions=-csearch_path%%3D%s", url,
                           strchr(url, '?') ? '&' : '?', schema)
                : snprintf(out, outlen, "%s options='-csearch_path=%s'", url, schema);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

/* Creates the schema (a name already checked) if it is missing.  0, or -1
 * with err. */
static int create_schema(PGconn *db, const char *schema, char *err, size_t errlen) {
    char sql[128];
    snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s", schema);
    PGresult *r = PQexec(db, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) pqmsg_line(err, errlen, "ledger: create the schema", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* The postmaster: the parent of this connection's backend, or 0 when the
 * backend is not a process of this machine. */
static long postmaster_of(PGconn *db) {
    PGresult *r = PQexec(db, "SELECT pg_backend_pid()");
    long backend = PQresultStatus(r) == PGRES_TUPLES_OK ? atol(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    long pm = backend > 0 && procstat_is(backend, "postgres") ? procstat_parent(backend) : 0;
    return pm > 0 ? pm : 0;
}

/* On a connection of its own: the schema (if asked) and the postmaster. */
static int setup_server(ceiling_run_t *run, long *pid, char *err, size_t errlen) {
    PGconn *db = PQconnectdb(run->o.url);
    PQsetNoticeProcessor(db, pqmsg_ignore_notice, NULL);  /* "schema exists" */
    int rc = -1;
    if (PQstatus(db) != CONNECTION_OK) {
        /* PQerrorMessage names host and port, never the password. */
        pqmsg_line(err, errlen, "ledger: connect", PQerrorMessage(db));
    } else if (!run->o.schema || create_schema(db, run->o.schema, err, errlen) == 0) {
        *pid = postmaster_of(db);
        rc = 0;
    }
    PQfinish(db);
    return rc;
}

int ledgerload_prepare(ceiling_run_t *run, long *pid, char *err, size_t errlen) {
    snprintf(run->url, sizeof(run->url), "%s", run->o.url);
    if (run->o.schema && schema_url(run->o.url, run->o.schema, run->url, sizeof(run->url)) < 0) {
        snprintf(err, errlen, "--database-url is too long");
        return -1;
    }
    if (setup_server(run, pid, err, errlen) < 0) return -1;
    ledger_t *l = ledger_connect(run->url, "ow-ceiling", err, errlen);
    if (!l) return -1;
    int rc = 0;
    if (run->o.schema) rc = ledger_migrate(l, err, errlen);
    if (rc == 0) rc = ledger_check_schema(l, err, errlen);
    ledger_close(l);
    return rc;
}

/* ---- one batch ------------------------------------------------------------ */

static void timed(ceiling_conn_t *c, int call, int64_t t0) {
    run_lat_add(&c->calls[call], timefmt_mono_us() - t0, 1);
}

static int make(ceiling_conn_t *c, ledger_batch_t *lb, int n) {
    char err[256];
    for (int i = 0; i < n; i++) {
        uint32_t seq = atomic_fetch_add(&c->run->seq, 1);
        synth_intent_t *s = &lb->in[i];
        if (synth_intent_make(s, &c->run->cfg, c->run->tag, seq, c->run->o.bots, &c->rng, err,
                              sizeof(err)) < 0) {
            ceiling_fail(c, "%s", err);
            return -1;
        }
        lb->n_intents++;
        lb->b[i] = (ledger_begin_t){.in = &s->in, .from = &s->from, .raw = s->body,
                                    .raw_len = s->len};
        lb->ids[i] = s->in.intent_id;
    }
    return 0;
}

static int record(ceiling_conn_t *c, ledger_batch_t *lb, int n) {
    char err[256];
    int64_t t0 = timefmt_mono_us();
    if (ledger_begin_many(c->ledger, lb->b, n, LEDGER_BEGIN_VALID | LEDGER_BEGIN_LOCK, err,
                          sizeof(err)) < 0) {
        ceiling_fail(c, "%s", err);
        return -1;
    }
    timed(c, CALL_RECORD, t0);
    for (int i = 0; i < n; i++) {
        const ledger_begin_t *b = &lb->b[i];
        if (b->busy || b->seen != LEDGER_FRESH || strcmp(b->state, "validated") != 0) {
            ceiling_fail(c, "intent %s: recorded busy %d, seen %d, state \"%s\" (wanted a fresh "
                         "intent, validated)", lb->ids[i], b->busy, (int)b->seen, b->state);
            return -1;
        }
    }
    return 0;
}

static int submitting(ceiling_conn_t *c, ledger_batch_t *lb, int n) {
    char err[256];
    int64_t t0 = timefmt_mono_us();
    if (ledger_transition_many(c->ledger, lb->ids, n, "validated", "quota_granted",
                               "submitting", NULL, lb->moved, err, sizeof(err)) < 0) {
        ceiling_fail(c, "%s", err);
        return -1;
    }
    timed(c, CALL_SUBMITTING, t0);
    for (int i = 0; i < n; i++)
        if (!lb->moved[i]) {
            ceiling_fail(c, "intent %s: not moved to submitting", lb->ids[i]);
            return -1;
        }
    return 0;
}

/* Intent i's outcome as pipeline_order.c's settle_order makes it from the
 * broker's first answer: accepted, then what fills_plan() finds (the fill). */
static int settle(ceiling_conn_t *c, ledger_batch_t *lb, int i) {
    char err[256];
    const config_t *cfg = &c->run->cfg;
    synth_intent_t *s = &lb->in[i];
    alpaca_order_t *o = &lb->orders[i];
    event_t *evs = lb->evs[i];
    if (synth_order_filled(&s->in, &c->rng, o, err, sizeof(err)) < 0) {
        ceiling_fail(c, "%s", err);
        return -1;
    }
    lb->n_orders++;
    const char *to, *reason;
    publish_build_fill(cfg, &s->in, o, "accepted", 1, NULL, NULL, &evs[0]);
    fills_known_t none = {"0", "", 0, NULL, NULL};
    int n = 1 + fills_plan(cfg, &s->in, &none, o, evs + 1, &to, &reason);
    lb->out[i] = (ledger_outcome_t){s->in.intent_id, "submitting", to, reason, o, evs, n,
                                    s->key, strlen(s->key), 0, NULL};
    lb->n_outcomes++;
    if (strcmp(to, "filled") != 0) {
        ceiling_fail(c, "intent %s: fills_plan made it %s, not filled", lb->ids[i], to);
        return -1;
    }
    return 0;
}

static int commit(ceiling_conn_t *c, ledger_batch_t *lb, int n) {
    char err[256];
    int64_t t0 = timefmt_mono_us();
    if (ledger_commit_many(c->ledger, c->run->pub, lb->out, n, err, sizeof(err)) < 0) {
        ceiling_fail(c, "%s", err);
        return -1;
    }
    timed(c, CALL_COMMIT, t0);
    for (int i = 0; i < n; i++)
        if (!lb->out[i].moved) {
            ceiling_fail(c, "intent %s: its outcome was not written", lb->ids[i]);
            return -1;
        }
    return 0;
}

static void release(ceiling_conn_t *c, ledger_batch_t *lb, int n) {
    int64_t t0 = timefmt_mono_us();
    for (int i = 0; i < n; i++) ledger_unlock_intent(c->ledger, lb->ids[i]);
    timed(c, CALL_RELEASE, t0);
}

/* Frees what the batch made, whatever step it reached. */
static void clear(ledger_batch_t *lb) {
    for (int i = 0; i < lb->n_outcomes; i++)
        for (int k = 0; k < lb->out[i].n_events; k++) publish_event_clear(&lb->evs[i][k]);
    for (int i = 0; i < lb->n_orders; i++) alpaca_order_clear(&lb->orders[i]);
    for (int i = 0; i < lb->n_intents; i++) synth_intent_free(&lb->in[i]);
    lb->n_intents = lb->n_orders = lb->n_outcomes = 0;
}

static int batch(ceiling_conn_t *c, ledger_batch_t *lb) {
    int n = c->run->o.batch;
    int rc = make(c, lb, n);
    if (rc == 0) rc = record(c, lb, n);
    if (rc == 0) rc = submitting(c, lb, n);
    for (int i = 0; rc == 0 && i < n; i++) rc = settle(c, lb, i);
    if (rc == 0) rc = commit(c, lb, n);
    if (rc == 0) release(c, lb, n);
    clear(lb);
    if (rc == 0) {
        c->intents += n;
        c->batches++;
    }
    return rc;
}

void *ledgerload_main(void *arg) {
    ceiling_conn_t *c = arg;
    char err[256];
    ledger_batch_t *lb = calloc(1, sizeof(*lb));
    if (!lb) {
        ceiling_fail(c, "out of memory");
    } else if (!(c->ledger = ledger_connect(c->run->url, "ow-ceiling", err, sizeof(err)))) {
        ceiling_fail(c, "%s", err);
    } else {
        ledger_defer_on(c->ledger);  /* as a lane's (pipeline.c, ensure_ledger) */
    }
    if (ceiling_start(c) == 0) {
        while (ceiling_running(c) && batch(c, lb) == 0) continue;
        /* What the deferred list still holds, as an idle lane writes it. */
        if (ledger_flush(c->ledger, err, sizeof(err)) < 0) ceiling_fail(c, "%s", err);
    }
    free(lb);
    return NULL;
}
