/* trading.c -- the kill switch (see trading.h for what it means).
 *
 * This file owns the replica's view of the trading states: one PostgreSQL
 * connection of its own (never a lane's ledger connection: a lane may hold
 * it for a whole intent), one refresher thread that re-reads the restricting
 * rows every TRADING_REFRESH_MS, and the immutable snapshot the lanes look
 * states up in.
 *
 * Why a snapshot swapped under a mutex: trading_state_for is called by every
 * lane for every intent, so it must never wait for the database.  The
 * refresher builds a complete new snapshot off to the side (a global state
 * plus a sorted array of user and bot states, so a lookup is two binary
 * searches and allocates nothing), then swaps the pointer under the mutex
 * and frees the old one.  Lanes only touch a snapshot while holding the
 * mutex, so none can still be reading the one being freed; and the refresher
 * is the only writer, so it may compare the old snapshot with the new one
 * (to log each change it observes) without the lock.
 *
 * Failing safe: when the rows cannot be read (PostgreSQL down, a timeout),
 * the last snapshot stays in force, which keeps a halt a halt; the failure is
 * logged once, the connection is dropped and made again at the next
 * refresh.  Only an unreadable ledger at start is fatal (trading_start).  A
 * state the code does not know (the schema forbids it) counts as halted.
 *
 * Every query waits at most TRADING_QUERY_TIMEOUT_MS (a socket poll on the
 * asynchronous libpq API), so a stalled server neither freezes the refresher
 * for long nor holds up trading_stop. */
#include "trading.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "timefmt.h"

#define TRADING_QUERY_TIMEOUT_MS 5000
#define TRADING_CONNECT_TIMEOUT_S "5"
/* Changes logged one by one per refresh; beyond that, a count. */
#define TRADING_LOG_CHANGES_MAX 50
/* Reasons are operator text: shown in logs, but not without bound. */
#define TRADING_REASON_LOG_MAX 200

static const char SELECT_STATES[] =
    "SELECT scope, id, state, reason FROM trading_states WHERE state <> 'active'";

/* One user or bot state; id and reason point into the snapshot's arena. */
typedef struct entry {
    char scope;            /* 'b' bot, 'u' user */
    trading_state_t state;
    const char *id;
    const char *reason;    /* may be NULL */
} entry_t;

/* Immutable once published. */
typedef struct snapshot {
    trading_state_t global;
    const char *global_reason;
    entry_t *entries;      /* sorted by (scope, id) */
    size_t n;
    char *arena;           /* every id and reason */
} snapshot_t;

struct trading {
    pthread_mutex_t mu;    /* guards snap (the pointer and its reading) */
    snapshot_t *snap;

    /* The refresher's own (and trading_start's, before the thread runs). */
    PGconn *conn;
    char *database_url;
    int64_t refresh_ms;
    int read_failing;

    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv; /* CLOCK_MONOTONIC */
    int stopping;
    pthread_t thread;
};

const char *trading_state_name(trading_state_t s) {
    switch (s) {
    case TRADING_ACTIVE: return "active";
    case TRADING_REDUCING: return "reducing";
    case TRADING_HALTED: return "halted";
    }
    return "halted";
}

static trading_state_t parse_state(const char *s) {
    if (!strcmp(s, "active")) return TRADING_ACTIVE;
    if (!strcmp(s, "reducing")) return TRADING_REDUCING;
    return TRADING_HALTED;  /* "halted", or unknown: the safe reading */
}

static void snapshot_free(snapshot_t *s) {
    if (!s) return;
    free(s->entries);
    free(s->arena);
    free(s);
}

static int entry_cmp(const void *a, const void *b) {
    const entry_t *x = a, *y = b;
    if (x->scope != y->scope) return x->scope < y->scope ? -1 : 1;
    return strcmp(x->id, y->id);
}

static const entry_t *snapshot_find(const snapshot_t *s, char scope, const char *id) {
    if (!id || !*id || s->n == 0) return NULL;
    entry_t key = {.scope = scope, .id = id};
    return bsearch(&key, s->entries, s->n, sizeof(*s->entries), entry_cmp);
}

/* libpq's messages span lines; a log line must not. */
static void set_pq_err(char *err, size_t errlen, const char *what, const char *msg) {
    snprintf(err, errlen, "trading: %s: %s", what, msg && *msg ? msg : "failed");
    for (char *c = err; *c; c++)
        if (*c == '\n' || *c == '\t') *c = ' ';
    size_t n = strlen(err);
    while (n > 0 && err[n - 1] == ' ') err[--n] = '\0';
}

static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static void drop_conn(trading_t *t) {
    PQfinish(t->conn);
    t->conn = NULL;
}

static int is_stopping(trading_t *t) {
    pthread_mutex_lock(&t->stop_mu);
    int s = t->stopping;
    pthread_mutex_unlock(&t->stop_mu);
    return s;
}

static int ensure_conn(trading_t *t, char *err, size_t errlen) {
    if (t->conn && PQstatus(t->conn) == CONNECTION_OK) return 0;
    drop_conn(t);
    /* Settings before dbname are defaults the URL may override. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {TRADING_CONNECT_TIMEOUT_S, "order-worker-trading",
                                t->database_url, NULL};
    t->conn = PQconnectdbParams(keys, vals, 1);
    if (!t->conn) {
        snprintf(err, errlen, "trading: connect: out of memory");
        return -1;
    }
    if (PQstatus(t->conn) != CONNECTION_OK) {
        /* PQerrorMessage names host and port, never the password. */
        set_pq_err(err, errlen, "connect", PQerrorMessage(t->conn));
        drop_conn(t);
        return -1;
    }
    PQsetNoticeProcessor(t->conn, ignore_notice, NULL);
    return 0;
}

/* Runs SELECT_STATES with a bounded wait.  Returns the result (TUPLES_OK),
 * or NULL with err (the connection is then dropped). */
static PGresult *query_states(trading_t *t, char *err, size_t errlen) {
    if (!PQsendQueryParams(t->conn, SELECT_STATES, 0, NULL, NULL, NULL, NULL, 0)) {
        set_pq_err(err, errlen, "read trading_states", PQerrorMessage(t->conn));
        drop_conn(t);
        return NULL;
    }
    int64_t deadline = timefmt_mono_ms() + TRADING_QUERY_TIMEOUT_MS;
    for (;;) {
        if (!PQconsumeInput(t->conn)) {
            set_pq_err(err, errlen, "read trading_states", PQerrorMessage(t->conn));
            drop_conn(t);
            return NULL;
        }
        if (!PQisBusy(t->conn)) break;
        int64_t left = deadline - timefmt_mono_ms();
        if (left <= 0 || is_stopping(t)) {
            if (left <= 0)
                snprintf(err, errlen, "trading: read trading_states: no answer within %d ms",
                         TRADING_QUERY_TIMEOUT_MS);
            else
                snprintf(err, errlen, "trading: read trading_states: stopping");
            drop_conn(t);
            return NULL;
        }
        struct pollfd p = {.fd = PQsocket(t->conn), .events = POLLIN};
        if (p.fd < 0) {
            snprintf(err, errlen, "trading: read trading_states: connection lost");
            drop_conn(t);
            return NULL;
        }
        (void)poll(&p, 1, left < 100 ? (int)left : 100);
    }
    PGresult *res = NULL, *r;
    while ((r = PQgetResult(t->conn)) != NULL) {
        if (!res)
            res = r;
        else
            PQclear(r);
    }
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        set_pq_err(err, errlen, "read trading_states",
                   res ? PQresultErrorMessage(res) : PQerrorMessage(t->conn));
        PQclear(res);
        drop_conn(t);
        return NULL;
    }
    return res;
}

/* Reads the restricting rows into a new snapshot.  0, or -1 with err. */
static int read_snapshot(trading_t *t, snapshot_t **out, char *err, size_t errlen) {
    if (ensure_conn(t, err, errlen) < 0) return -1;
    PGresult *res = query_states(t, err, errlen);
    if (!res) return -1;
    int rows = PQntuples(res);
    size_t bytes = 1;
    for (int i = 0; i < rows; i++)
        bytes += (size_t)PQgetlength(res, i, 1) + (size_t)PQgetlength(res, i, 3) + 2;
    snapshot_t *s = calloc(1, sizeof(*s));
    char *arena = malloc(bytes);
    entry_t *e = rows > 0 ? calloc((size_t)rows, sizeof(*e)) : NULL;
    if (!s || !arena || (rows > 0 && !e)) {
        free(s);
        free(arena);
        free(e);
        PQclear(res);
        snprintf(err, errlen, "trading: out of memory");
        return -1;
    }
    s->arena = arena;
    s->entries = e;
    size_t off = 0, n = 0;
    for (int i = 0; i < rows; i++) {
        const char *scope = PQgetvalue(res, i, 0);
        trading_state_t st = parse_state(PQgetvalue(res, i, 2));
        const char *reason = NULL;
        if (!PQgetisnull(res, i, 3)) {
            size_t len = (size_t)PQgetlength(res, i, 3);
            memcpy(arena + off, PQgetvalue(res, i, 3), len + 1);
            reason = arena + off;
            off += len + 1;
        }
        if (!strcmp(scope, "global")) {
            /* One row at most (primary key); keep the strictest anyway. */
            if (st >= s->global) {
                s->global = st;
                s->global_reason = reason;
            }
            continue;
        }
        char sc = !strcmp(scope, "bot") ? 'b' : !strcmp(scope, "user") ? 'u' : 0;
        if (!sc || PQgetlength(res, i, 1) == 0) continue;  /* the schema forbids both */
        size_t len = (size_t)PQgetlength(res, i, 1);
        memcpy(arena + off, PQgetvalue(res, i, 1), len + 1);
        e[n].scope = sc;
        e[n].state = st;
        e[n].id = arena + off;
        e[n].reason = reason;
        off += len + 1;
        n++;
    }
    PQclear(res);
    s->n = n;
    if (n > 1) qsort(e, n, sizeof(*e), entry_cmp);
    *out = s;
    return 0;
}

/* ---- logging the changes a refresh observes ------------------------- */

static void log_change(const char *who, trading_state_t from, trading_state_t to,
                       const char *reason) {
    if (to == TRADING_ACTIVE) {
        log_msg(LOG_WARN, "trading_state", NULL, "trading ACTIVE again %s (was %s)", who,
                trading_state_name(from));
        return;
    }
    log_msg(LOG_WARN, "trading_state", NULL, "trading %s %s%s (reason: %.*s)",
            to == TRADING_HALTED ? "HALTED" : "REDUCING", who,
            to == TRADING_REDUCING ? ", only orders that shrink a position" : "",
            TRADING_REASON_LOG_MAX, reason && *reason ? reason : "none given");
}

static void log_entry_change(const entry_t *e, trading_state_t from, trading_state_t to,
                             const char *reason, size_t *logged) {
    if ((*logged)++ >= TRADING_LOG_CHANGES_MAX) return;
    char who[128];
    snprintf(who, sizeof(who), "for %s %.64s", e->scope == 'b' ? "bot" : "user", e->id);
    log_change(who, from, to, reason);
}

/* Logs every difference between old and new (both sorted). */
static void log_changes(const snapshot_t *old, const snapshot_t *new) {
    if (old->global != new->global)
        log_change("globally", old->global, new->global, new->global_reason);
    size_t i = 0, j = 0, logged = 0;
    while (i < old->n || j < new->n) {
        int c = i == old->n ? 1 : j == new->n ? -1 : entry_cmp(&old->entries[i], &new->entries[j]);
        if (c < 0) {  /* gone: active again */
            log_entry_change(&old->entries[i], old->entries[i].state, TRADING_ACTIVE, NULL,
                             &logged);
            i++;
        } else if (c > 0) {  /* new restriction */
            log_entry_change(&new->entries[j], TRADING_ACTIVE, new->entries[j].state,
                             new->entries[j].reason, &logged);
            j++;
        } else {
            if (old->entries[i].state != new->entries[j].state)
                log_entry_change(&new->entries[j], old->entries[i].state,
                                 new->entries[j].state, new->entries[j].reason, &logged);
            i++;
            j++;
        }
    }
    if (logged > TRADING_LOG_CHANGES_MAX)
        log_msg(LOG_WARN, "trading_state", NULL, "... and %zu more trading state changes",
                logged - TRADING_LOG_CHANGES_MAX);
}

/* ---- the refresher -------------------------------------------------- */

static void publish(trading_t *t, snapshot_t *s) {
    pthread_mutex_lock(&t->mu);
    snapshot_t *old = t->snap;
    t->snap = s;
    pthread_mutex_unlock(&t->mu);
    snapshot_free(old);
}

static void refresh(trading_t *t) {
    snapshot_t *s = NULL;
    char err[512];
    if (read_snapshot(t, &s, err, sizeof(err)) < 0) {
        if (!t->read_failing && !is_stopping(t))
            log_msg(LOG_WARN, "trading_state", NULL,
                    "trading states cannot be read; the last known states stay in force: %s",
                    err);
        t->read_failing = 1;
        return;
    }
    if (t->read_failing)
        log_msg(LOG_INFO, "trading_state", NULL, "trading states are read again");
    t->read_failing = 0;
    log_changes(t->snap, s);  /* the refresher is the only writer of snap */
    publish(t, s);
}

static void *refresher(void *arg) {
    trading_t *t = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        /* Reads start every refresh_ms, however long one takes (if it
         * takes longer, the next starts right away). */
        next.tv_sec += (time_t)(t->refresh_ms / 1000);
        next.tv_nsec += (long)(t->refresh_ms % 1000) * 1000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec > next.tv_nsec))
            next = now;
        pthread_mutex_lock(&t->stop_mu);
        while (!t->stopping) {
            if (pthread_cond_timedwait(&t->stop_cv, &t->stop_mu, &next) != 0) break;
        }
        int stop = t->stopping;
        pthread_mutex_unlock(&t->stop_mu);
        if (stop) break;
        refresh(t);
    }
    return NULL;
}

trading_t *trading_start(const config_t *cfg, char *err, size_t errlen) {
    trading_t *t = calloc(1, sizeof(*t));
    snapshot_t *empty = calloc(1, sizeof(*empty));
    if (!t || !empty || !(t->database_url = strdup(cfg->database_url))) {
        if (t) free(t->database_url);
        free(t);
        free(empty);
        snprintf(err, errlen, "trading: out of memory");
        return NULL;
    }
    t->refresh_ms = cfg->trading_refresh_ms > 0 ? cfg->trading_refresh_ms : 500;
    t->snap = empty;  /* nothing read yet: the diff of the first read logs what is in force */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->stop_mu, NULL);
    pthread_cond_init(&t->stop_cv, &ca);
    pthread_condattr_destroy(&ca);

    snapshot_t *s = NULL;
    int rc = read_snapshot(t, &s, err, errlen);
    if (rc == 0) {
        log_changes(t->snap, s);
        publish(t, s);
        rc = pthread_create(&t->thread, NULL, refresher, t);
        if (rc != 0) snprintf(err, errlen, "trading: cannot start the refresher thread");
    }
    if (rc != 0) {
        drop_conn(t);
        snapshot_free(t->snap);
        pthread_cond_destroy(&t->stop_cv);
        pthread_mutex_destroy(&t->stop_mu);
        pthread_mutex_destroy(&t->mu);
        free(t->database_url);
        free(t);
        return NULL;
    }
    return t;
}

void trading_stop(trading_t *t) {
    if (!t) return;
    pthread_mutex_lock(&t->stop_mu);
    t->stopping = 1;
    pthread_cond_signal(&t->stop_cv);
    pthread_mutex_unlock(&t->stop_mu);
    pthread_join(t->thread, NULL);
    drop_conn(t);
    snapshot_free(t->snap);
    pthread_cond_destroy(&t->stop_cv);
    pthread_mutex_destroy(&t->stop_mu);
    pthread_mutex_destroy(&t->mu);
    free(t->database_url);
    free(t);
}

trading_state_t trading_state_for(trading_t *t, const char *user_id, const char *bot_id,
                                  const char **scope) {
    const char *which = "";
    trading_state_t best = TRADING_ACTIVE;
    if (t) {
        pthread_mutex_lock(&t->mu);
        const snapshot_t *s = t->snap;
        /* Ties go to the broader scope: it is the one to lift first. */
        if (s->global > best) {
            best = s->global;
            which = "global";
        }
        const entry_t *e = snapshot_find(s, 'u', user_id);
        if (e && e->state > best) {
            best = e->state;
            which = "user";
        }
        e = snapshot_find(s, 'b', bot_id);
        if (e && e->state > best) {
            best = e->state;
            which = "bot";
        }
        pthread_mutex_unlock(&t->mu);
    }
    if (scope) *scope = which;
    return best;
}
