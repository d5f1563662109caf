/* positions_check.c -- the ledger's positions against Alpaca's (see
 * positions_check.h).
 *
 * Who compares: the holder of the 'position-check' lease in the ledger
 * (ledger_take_lease, as the follower's), taken for POSITION_CHECK_MS at a
 * time by the name of this process (the replica's id and its pid and start
 * time, so a restarted replica is a new holder).  A replica compares only
 * right after taking or renewing the lease, and the holder tries again only
 * once the interval has passed; the others try every quarter of it (at
 * most 15 s).  So comparisons are at least an interval apart across the
 * fleet and restarts, a replica that dies is replaced within an interval
 * and a quarter, and each costs one GET /v2/positions.
 *
 * One comparison: the ledger's account positions (a), Alpaca's (one call,
 * its budget token waited for at the follower's priority, last), the
 * ledger's again (b).  A symbol agrees when Alpaca's quantity is one the
 * worker's orders may have come to at either read, orders in flight counted
 * (positions_differ): an order placed and filled between the reads is no
 * difference.  Each symbol of the three reads, and each one reported
 * before, gets its gauge set (the difference, 0 when they agree); a
 * difference that appears or changes is logged as a warning
 * (position_mismatch), one that goes as information (position_match).
 * A replica that does not hold the lease drops its series, so that only the
 * one that compared last reports. */
#include "positions_check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alpaca.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "positions.h"
#include "timefmt.h"

#define LEASE_NAME "position-check"
#define TRY_MAX_MS 15000   /* a replica without the lease tries this often at most */
#define TRY_MIN_MS 250

/* A symbol whose difference this replica reported last time. */
typedef struct reported {
    char symbol[24];
    decimal_nanos_t diff;
} reported_t;

struct positions_check {
    const config_t *cfg;
    alpaca_t *alpaca;
    ledger_t *ledger;            /* this thread's own; NULL after a failure */
    char holder[200];            /* the lease's holder name: this process */
    reported_t *reported;        /* the symbols with a series */
    size_t n_reported, cap_reported;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;                    /* guarded by lock */
    atomic_int abandon;          /* set on stop: a budget wait gives up */
};

/* ---- reporting ------------------------------------------------------------ */

static reported_t *find_reported(positions_check_t *c, const char *symbol) {
    for (size_t i = 0; i < c->n_reported; i++)
        if (!strcmp(c->reported[i].symbol, symbol)) return &c->reported[i];
    return NULL;
}

/* The symbol's entry, added (difference 0) if new; NULL without memory. */
static reported_t *entry_of(positions_check_t *c, const char *symbol) {
    reported_t *r = find_reported(c, symbol);
    if (r) return r;
    if (c->n_reported == c->cap_reported) {
        size_t cap = c->cap_reported ? 2 * c->cap_reported : 16;
        reported_t *n = realloc(c->reported, cap * sizeof(*n));
        if (!n) return NULL;
        c->reported = n;
        c->cap_reported = cap;
    }
    r = &c->reported[c->n_reported++];
    memset(r, 0, sizeof(*r));
    snprintf(r->symbol, sizeof(r->symbol), "%s", symbol);
    return r;
}

/* Forgets every series: another replica compares now. */
static void forget(positions_check_t *c) {
    if (c->n_reported) metrics_clear(M_POSITION_MISMATCH);
    c->n_reported = 0;
}

static const char *text_of(decimal_nanos_t v, decimal_t *d) {
    decimal_from_nanos(v, d);
    return d->text;
}

/* Sets the symbol's gauge; logs a difference that appears, changes or
 * goes. */
static void report(positions_check_t *c, const char *symbol, decimal_nanos_t broker,
                   decimal_nanos_t ledger, decimal_nanos_t diff) {
    reported_t *r = entry_of(c, symbol);
    metrics_set(M_POSITION_MISMATCH, (double)diff / 1e9, symbol, NULL);
    if (!r || r->diff == diff) return;
    decimal_t b, l, d;
    if (diff)
        log_msg(LOG_WARN, "position_mismatch", NULL,
                "%s: Alpaca's account holds %s, the worker's orders in the ledger come to %s "
                "(difference %s, orders in flight counted); a position the worker did not "
                "create (an order placed by hand, shares held before it traded) is a "
                "legitimate difference",
                symbol, text_of(broker, &b), text_of(ledger, &l), text_of(diff, &d));
    else
        log_msg(LOG_INFO, "position_match", NULL,
                "%s: Alpaca's account and the ledger agree again (%s)", symbol,
                text_of(broker, &b));
    r->diff = diff;
}

/* ---- one comparison ---------------------------------------------------------- */

/* A symbol's name, copied: the lists it comes from may move. */
typedef char symbol_t[24];

/* Adds s to the list of n symbols if it is not there yet. */
static void add_symbol(symbol_t *list, size_t *n, const char *s) {
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(list[i], s)) return;
    snprintf(list[(*n)++], sizeof(symbol_t), "%s", s);
}

/* Alpaca's quantity of symbol in ps (0: no position).  -1 if unreadable. */
static int broker_qty(const alpaca_position_t *ps, size_t n, const char *symbol,
                      decimal_nanos_t *q) {
    *q = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ps[i].symbol, symbol)) return decimal_text_to_nanos(ps[i].qty, q);
    return 0;
}

/* Every symbol of the three reads and of the last report: its difference. */
static void compare_all(positions_check_t *c, const positions_t *a, const alpaca_position_t *ps,
                        size_t n_ps, const positions_t *b) {
    size_t cap = a->n + n_ps + b->n + c->n_reported, n = 0;
    symbol_t *syms = cap ? calloc(cap, sizeof(*syms)) : NULL;
    if (cap && !syms) {
        log_msg(LOG_WARN, "position_check_failed", NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < n_ps; i++) add_symbol(syms, &n, ps[i].symbol);
    for (size_t i = 0; i < b->n; i++) add_symbol(syms, &n, b->rows[i].symbol);
    for (size_t i = 0; i < a->n; i++) add_symbol(syms, &n, a->rows[i].symbol);
    for (size_t i = 0; i < c->n_reported; i++) add_symbol(syms, &n, c->reported[i].symbol);
    for (size_t i = 0; i < n; i++) {
        decimal_nanos_t broker, diff;
        if (broker_qty(ps, n_ps, syms[i], &broker) < 0) {
            log_msg(LOG_WARN, "position_check_failed", NULL,
                    "Alpaca's position in %s has a quantity that cannot be read", syms[i]);
            continue;
        }
        const positions_row_t *ra = positions_find(a, syms[i]), *rb = positions_find(b, syms[i]);
        positions_differ(ra, rb, broker, &diff);
        report(c, syms[i], broker, rb ? rb->qty : 0, diff);
    }
    free(syms);
}

/* Reads the ledger, Alpaca, the ledger, and compares.  0, or -1 (logged). */
static int compare(positions_check_t *c) {
    char err[256];
    positions_t a = {0}, b = {0};
    alpaca_position_t *ps = NULL;
    size_t n_ps = 0;
    alpaca_error_t e;
    int rc = -1;
    alpaca_set_call_context(c->alpaca, BUDGET_FOLLOW,
                            timefmt_mono_ms() + c->cfg->position_check_ms / 2, &c->abandon);
    if (positions_read(c->ledger, POSITIONS_ACCOUNT, "", &a, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "position_check_failed", NULL, "%s", err);
    } else if (alpaca_get_positions(c->alpaca, &ps, &n_ps, &e) != ALPACA_OK) {
        log_msg(LOG_WARN, "position_check_failed", NULL, "Alpaca's positions: %s", e.message);
    } else if (positions_read(c->ledger, POSITIONS_ACCOUNT, "", &b, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "position_check_failed", NULL, "%s", err);
    } else {
        compare_all(c, &a, ps, n_ps, &b);
        rc = 0;
    }
    metrics_add(M_POSITION_CHECKS, 1, rc == 0 ? "ok" : "failed", NULL);
    free(ps);
    positions_free(&a);
    positions_free(&b);
    return rc;
}

/* ---- the thread ---------------------------------------------------------------- */

/* Takes or renews the lease: 1 held, 0 another holds it, -1 the ledger
 * failed (logged; the connection is made again next time). */
static int take_lease(positions_check_t *c) {
    char err[256];
    if (!c->ledger) c->ledger = ledger_connect(c->cfg->database_url, c->cfg->replica_id, err,
                                               sizeof(err));
    int held = c->ledger ? ledger_take_lease(c->ledger, LEASE_NAME, c->holder,
                                             c->cfg->position_check_ms, err, sizeof(err))
                         : -1;
    if (held < 0) {
        log_msg(LOG_WARN, "position_check_failed", NULL, "%s", err);
        ledger_close(c->ledger);
        c->ledger = NULL;
    }
    return held;
}

/* One turn: the time (monotonic ms) of the next. */
static int64_t turn(positions_check_t *c, int64_t retry_ms) {
    int held = take_lease(c);
    if (held == 1) {
        if (compare(c) < 0 && c->ledger && !ledger_ok(c->ledger)) {
            ledger_close(c->ledger);
            c->ledger = NULL;
        }
        return timefmt_mono_ms() + c->cfg->position_check_ms;
    }
    if (held == 0) forget(c);
    return timefmt_mono_ms() + retry_ms;
}

static void *check_main(void *arg) {
    positions_check_t *c = arg;
    pthread_setname_np(pthread_self(), "ow-positions");  /* top -H, perf */
    int64_t retry = c->cfg->position_check_ms / 4;
    if (retry > TRY_MAX_MS) retry = TRY_MAX_MS;
    if (retry < TRY_MIN_MS) retry = TRY_MIN_MS;
    int64_t next = timefmt_mono_ms();
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        int64_t left = next - timefmt_mono_ms();
        if (left > 0) {
            struct timespec ts;
            timefmt_realtime_after(left, &ts);
            pthread_cond_timedwait(&c->wake, &c->lock, &ts);
            continue;
        }
        pthread_mutex_unlock(&c->lock);
        next = turn(c, retry);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void check_free(positions_check_t *c) {
    ledger_close(c->ledger);
    alpaca_free(c->alpaca);
    free(c->reported);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    free(c);
}

positions_check_t *positions_check_start(const config_t *cfg, circuits_t *circuits,
                                         budget_t *budget, char *err, size_t errlen) {
    positions_check_t *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    atomic_init(&c->abandon, 0);
    snprintf(c->holder, sizeof(c->holder), "%.128s/%ld-%lld", cfg->replica_id, (long)getpid(),
             (long long)timefmt_now_ms());
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    c->alpaca = alpaca_new(cfg);
    if (!c->alpaca) {
        snprintf(err, errlen, "cannot create the HTTP client");
        check_free(c);
        return NULL;
    }
    alpaca_set_circuits(c->alpaca, circuits);
    alpaca_set_budget(c->alpaca, budget);
    if (pthread_create(&c->thread, NULL, check_main, c) != 0) {
        snprintf(err, errlen, "cannot start the position checker's thread");
        check_free(c);
        return NULL;
    }
    return c;
}

void positions_check_stop(positions_check_t *c) {
    if (!c) return;
    atomic_store(&c->abandon, 1);
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    forget(c);
    check_free(c);
}
