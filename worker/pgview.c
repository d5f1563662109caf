/* pgview.c -- a periodically re-read snapshot of ledger rows (see pgview.h).
 *
 * This file owns the machinery the kill switch and the signers' keys share:
 * one PostgreSQL connection per view (never a lane's ledger connection: a
 * lane may hold it for a whole intent), one refresher thread, and the swap.
 *
 * Why a snapshot swapped under a mutex: readers look things up for every
 * intent, so they must never wait for the database.  The refresher builds a
 * complete new snapshot off to the side, then swaps the pointer under the
 * mutex and frees the old one.  Readers only touch a snapshot while holding
 * the mutex (pgview_acquire .. pgview_release), so none can still be
 * reading the one being freed; and the refresher is the only writer, so it
 * may compare the old snapshot with the new one without the lock.
 *
 * Failing safe: when the rows cannot be read (PostgreSQL down, a timeout),
 * the last snapshot stays in force; the failure is logged once, the
 * connection is dropped and made again at the next refresh.  Every query
 * waits at most PGVIEW_QUERY_TIMEOUT_MS (a socket poll on the asynchronous
 * libpq API), so a stalled server neither freezes the refresher for long
 * nor holds up pgview_stop. */
#include "pgview.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pqmsg.h"

#include "log.h"
#include "timefmt.h"

#define PGVIEW_QUERY_TIMEOUT_MS 5000
#define PGVIEW_CONNECT_TIMEOUT_S "5"

struct pgview {
    const pgview_ops_t *ops;
    void *ctx;
    char app_name[64];

    pthread_mutex_t mu;    /* guards snap (the pointer and its reading) */
    void *snap;

    /* The refresher's own (and pgview_start's, before the thread runs). */
    PGconn *conn;
    char *database_url;
    int64_t refresh_ms;
    int read_failing;

    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv; /* CLOCK_MONOTONIC */
    int stopping;
    int started;            /* the thread runs */
    pthread_t thread;
};

static void set_pq_err(pgview_t *v, char *err, size_t errlen, const char *what,
                       const char *msg) {
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s: %s", v->ops->name, what);
    pqmsg_line(err, errlen, prefix, msg);
}

static void drop_conn(pgview_t *v) {
    PQfinish(v->conn);
    v->conn = NULL;
}

static int is_stopping(pgview_t *v) {
    pthread_mutex_lock(&v->stop_mu);
    int s = v->stopping;
    pthread_mutex_unlock(&v->stop_mu);
    return s;
}

static int ensure_conn(pgview_t *v, char *err, size_t errlen) {
    if (v->conn && PQstatus(v->conn) == CONNECTION_OK) return 0;
    drop_conn(v);
    /* Settings before dbname are defaults the URL may override. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {PGVIEW_CONNECT_TIMEOUT_S, v->app_name, v->database_url, NULL};
    v->conn = PQconnectdbParams(keys, vals, 1);
    if (!v->conn) {
        snprintf(err, errlen, "%s: connect: out of memory", v->ops->name);
        return -1;
    }
    if (PQstatus(v->conn) != CONNECTION_OK) {
        /* PQerrorMessage names host and port, never the password. */
        set_pq_err(v, err, errlen, "connect", PQerrorMessage(v->conn));
        drop_conn(v);
        return -1;
    }
    PQsetNoticeProcessor(v->conn, pqmsg_ignore_notice, NULL);
    return 0;
}

PGresult *pgview_query(pgview_t *v, const char *sql, char *err, size_t errlen) {
    if (ensure_conn(v, err, errlen) < 0) return NULL;
    if (!PQsendQueryParams(v->conn, sql, 0, NULL, NULL, NULL, NULL, 0)) {
        set_pq_err(v, err, errlen, "read", PQerrorMessage(v->conn));
        drop_conn(v);
        return NULL;
    }
    int64_t deadline = timefmt_mono_ms() + PGVIEW_QUERY_TIMEOUT_MS;
    for (;;) {
        if (!PQconsumeInput(v->conn)) {
            set_pq_err(v, err, errlen, "read", PQerrorMessage(v->conn));
            drop_conn(v);
            return NULL;
        }
        if (!PQisBusy(v->conn)) break;
        int64_t left = deadline - timefmt_mono_ms();
        if (left <= 0 || is_stopping(v)) {
            if (left <= 0)
                snprintf(err, errlen, "%s: read: no answer within %d ms", v->ops->name,
                         PGVIEW_QUERY_TIMEOUT_MS);
            else
                snprintf(err, errlen, "%s: read: stopping", v->ops->name);
            drop_conn(v);
            return NULL;
        }
        struct pollfd p = {.fd = PQsocket(v->conn), .events = POLLIN};
        if (p.fd < 0) {
            snprintf(err, errlen, "%s: read: connection lost", v->ops->name);
            drop_conn(v);
            return NULL;
        }
        (void)poll(&p, 1, left < 100 ? (int)left : 100);
    }
    PGresult *res = NULL, *r;
    while ((r = PQgetResult(v->conn)) != NULL) {
        if (!res)
            res = r;
        else
            PQclear(r);
    }
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        set_pq_err(v, err, errlen, "read",
                   res ? PQresultErrorMessage(res) : PQerrorMessage(v->conn));
        PQclear(res);
        drop_conn(v);
        return NULL;
    }
    return res;
}

/* ---- the refresher -------------------------------------------------- */

static void swap_in(pgview_t *v, void *s) {
    if (v->ops->changed) v->ops->changed(v->ctx, v->snap, s);
    pthread_mutex_lock(&v->mu);
    void *old = v->snap;
    v->snap = s;
    pthread_mutex_unlock(&v->mu);
    v->ops->free(old);
}

static void refresh(pgview_t *v) {
    char err[512];
    void *s = v->ops->read(v, v->ctx, err, sizeof(err));
    if (!s) {
        if (!v->read_failing && !is_stopping(v))
            log_msg(LOG_WARN, v->ops->name, NULL,
                    "%s rows cannot be read; the last known ones stay in force: %s",
                    v->ops->name, err);
        v->read_failing = 1;
        return;
    }
    if (v->read_failing)
        log_msg(LOG_INFO, v->ops->name, NULL, "%s rows are read again", v->ops->name);
    v->read_failing = 0;
    swap_in(v, s);
}

static void *refresher(void *arg) {
    pgview_t *v = arg;
    pthread_setname_np(pthread_self(), "ow-pgview");  /* top -H, perf */
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        /* Reads start every refresh_ms, however long one takes (if it
         * takes longer, the next starts right away). */
        next.tv_sec += (time_t)(v->refresh_ms / 1000);
        next.tv_nsec += (long)(v->refresh_ms % 1000) * 1000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
            next = now;
        pthread_mutex_lock(&v->stop_mu);
        while (!v->stopping) {
            if (pthread_cond_timedwait(&v->stop_cv, &v->stop_mu, &next) != 0) break;
        }
        int stop = v->stopping;
        pthread_mutex_unlock(&v->stop_mu);
        if (stop) break;
        refresh(v);
    }
    return NULL;
}

pgview_t *pgview_start(const char *database_url, int64_t refresh_ms, const pgview_ops_t *ops,
                       void *ctx, void *initial, char *err, size_t errlen) {
    pgview_t *v = calloc(1, sizeof(*v));
    if (!v || !(v->database_url = strdup(database_url))) {
        free(v);
        ops->free(initial);
        snprintf(err, errlen, "%s: out of memory", ops->name);
        return NULL;
    }
    v->ops = ops;
    v->ctx = ctx;
    v->snap = initial;
    v->refresh_ms = refresh_ms > 0 ? refresh_ms : 500;
    snprintf(v->app_name, sizeof(v->app_name), "order-worker-%s", ops->name);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&v->mu, NULL);
    pthread_mutex_init(&v->stop_mu, NULL);
    pthread_cond_init(&v->stop_cv, &ca);
    pthread_condattr_destroy(&ca);

    void *s = ops->read(v, ctx, err, errlen);
    if (!s) {
        pgview_stop(v);
        return NULL;
    }
    swap_in(v, s);
    if (pthread_create(&v->thread, NULL, refresher, v) != 0) {
        snprintf(err, errlen, "%s: cannot start the refresher thread", ops->name);
        pgview_stop(v);
        return NULL;
    }
    v->started = 1;
    return v;
}

void pgview_stop(pgview_t *v) {
    if (!v) return;
    pthread_mutex_lock(&v->stop_mu);
    v->stopping = 1;
    pthread_cond_signal(&v->stop_cv);
    pthread_mutex_unlock(&v->stop_mu);
    if (v->started) pthread_join(v->thread, NULL);
    drop_conn(v);
    v->ops->free(v->snap);
    pthread_cond_destroy(&v->stop_cv);
    pthread_mutex_destroy(&v->stop_mu);
    pthread_mutex_destroy(&v->mu);
    free(v->database_url);
    free(v);
}

const void *pgview_acquire(pgview_t *v) {
    pthread_mutex_lock(&v->mu);
    return v->snap;
}

void pgview_release(pgview_t *v) { pthread_mutex_unlock(&v->mu); }
