/* fills.c -- following every accepted order to its end (see fills.h).
 *
 * The follower is a thread in every replica; only the holder of the
 * 'order-follower' lease in the ledger works, so each open order is followed
 * by exactly one replica at a time, and when that replica dies (SIGKILL
 * included) another takes the lease over once it runs out.  The work on one
 * order takes the same per-intent lock as the pipeline and moves the ledger
 * only from state "submitted", so a redelivery racing the follower, or a
 * slow former leader, cannot publish an event twice under two ids.
 *
 * One cycle: read the open orders from the ledger; if there are any (and no
 * placement is in progress anywhere: placements have priority, and a poll
 * is put off once by one interval for them), list
 * Alpaca's open orders (1 call); for orders no longer open, list recently
 * closed ones (1 call), and fetch one by one only what neither list shows
 * (bounded per cycle).  Then record and publish what changed.  While nothing
 * changes the interval doubles up to FOLLOW_MAX_INTERVAL_MS; a change, or a
 * newly accepted order, brings it back to FOLLOW_INTERVAL_MS. */
#include "fills.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decimal.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"

#define LEASE_NAME "order-follower"
#define MAX_FOLLOWED 5000        /* orders read from the ledger per cycle */
#define MAX_SINGLE_LOOKUPS 20    /* GET /v2/orders/{id} per cycle at most */
#define LIST_LIMIT 500           /* Alpaca's page limit */

struct follower {
    const config_t *cfg;
    publisher_t *pub;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;                    /* guarded by lock */
    ledger_t *ledger;            /* this thread's own connection */
    alpaca_t *alpaca;
    int leader;
    int64_t interval_ms;
    int64_t next_poll_ms;        /* monotonic */
    size_t last_count;           /* open orders seen last cycle */
    int deferred;                /* this poll was put off for placements */
};

/* ---- events from order progress ---------------------------------------- */

static int status_is(const alpaca_order_t *o, const char *s) { return !strcmp(o->status, s); }

int fills_plan(const config_t *cfg, const intent_t *in, const fills_known_t *known,
               const alpaca_order_t *now, event_t evs[FILLS_MAX_EVENTS],
               const char **to, const char **reason) {
    int n = 0;
    *to = "submitted";
    *reason = NULL;
    if (status_is(now, "rejected")) {
        alpaca_error_t b = {0, 0, "", 0};
        snprintf(b.message, sizeof(b.message),
                 "the broker rejected order %s after accepting it", now->id);
        publish_build_rejection(cfg, in, "broker_rejected", b.message, NULL, -1, &b, &evs[n++]);
        *to = "rejected";
        *reason = "broker_rejected";
        return n;
    }
    decimal_nanos_t q1, a1, q2, a2;
    if (decimal_text_to_nanos(known->filled_qty, &q1) < 0) q1 = 0;
    if (decimal_text_to_nanos(known->filled_avg_price, &a1) < 0) a1 = 0;
    if (decimal_text_to_nanos(now->filled_qty, &q2) < 0) q2 = q1;
    if (decimal_text_to_nanos(now->filled_avg_price, &a2) < 0) a2 = a1;
    int filled = status_is(now, "filled");
    if (q2 > q1 || (filled && q2 == q1)) {
        decimal_t dq, price;
        decimal_from_nanos(q2 - q1, &dq);
        /* US equities trade on a $0.0001 grid at the finest; the broker's
         * averages are rounded, so the derived price is rounded to that grid
         * rather than carrying the averages' rounding noise. */
        decimal_from_nanos(decimal_nanos_round(
                               q2 > q1 ? decimal_fill_price(q1, a1, q2, a2) : a2, 4),
                           &price);
        if (filled)
            publish_build_fill(cfg, in, now, "fill", 1, dq.text, price.text, &evs[n++]);
        else
            publish_build_fill(cfg, in, now, "partial_fill", known->partials + 1, dq.text,
                               price.text, &evs[n++]);
    }
    if (filled) {
        *to = "filled";
    } else if (status_is(now, "canceled") || status_is(now, "expired")) {
        publish_build_fill(cfg, in, now, now->status, 1, NULL, NULL, &evs[n++]);
        *to = now->status;
    } else if (status_is(now, "replaced")) {
        /* The worker never replaces orders; if someone did by hand, the
         * replacement is not this intent's order any more. */
        publish_build_fill(cfg, in, now, "canceled", 1, NULL, NULL, &evs[n++]);
        *to = "canceled";
    }
    return n;
}

/* ---- one order ---------------------------------------------------------- */

/* Records and publishes the move of one followed order.  Returns 1 if
 * something changed, 0 if not, -1 on a failure (retried next cycle). */
static int apply(follower_t *f, const ledger_open_order_t *known, alpaca_order_t *now) {
    if (!strcmp(now->status, known->status) && !strcmp(now->filled_qty, known->filled_qty))
        return 0;
    char err[256];
    int64_t t0 = timefmt_mono_us();
    int held = ledger_lock_intent(f->ledger, known->intent_id, err, sizeof(err));
    if (held <= 0) return held;  /* busy: the pipeline has it; next cycle */
    int rc = -1;
    ledger_progress_t prog;
    intent_t in;
    intent_verdict_t v;
    memset(&in, 0, sizeof(in));
    int read = ledger_order_progress(f->ledger, known->intent_id, &prog, err, sizeof(err));
    metrics_stage("follow", "lock", t0, 1);
    if (read < 0) goto out;
    if (strcmp(prog.state, "submitted") != 0) {
        rc = 0;  /* finished meanwhile by someone else */
        goto out;
    }
    intent_decode(known->raw, strlen(known->raw), known->source, f->cfg->intent_max_age_ms,
                  &in, &v);
    fills_known_t k = {prog.filled_qty, prog.filled_avg_price, prog.partials};
    event_t evs[FILLS_MAX_EVENTS];
    const char *to, *reason;
    int n = fills_plan(f->cfg, &in, &k, now, evs, &to, &reason);
    /* A Kafka failure after the commit leaves the events stored: the next
     * cycle or a redelivery publishes them. */
    int c = ledger_commit(f->ledger, f->pub, known->intent_id, "submitted", to, reason, now,
                          evs, n, known->key, known->key ? strlen(known->key) : 0, err,
                          sizeof(err));
    for (int i = 0; i < n; i++) publish_event_clear(&evs[i]);
    if (c != 0) goto out;
    if (strcmp(to, "submitted") != 0)
        log_msg(LOG_DEBUG, "order_finished", known->intent_id, "order %s %s (filled %s)",
                now->id, now->status, now->filled_qty);
    rc = 1;
out:
    if (rc < 0) log_msg(LOG_WARN, "follow_failed", known->intent_id, "%s", err);
    intent_free(&in);
    ledger_unlock_intent(f->ledger, known->intent_id);
    return rc;
}

/* ---- one cycle -------------------------------------------------------------- */

static int by_id(const void *a, const void *b) {
    return strcmp(((const alpaca_order_t *)a)->id, ((const alpaca_order_t *)b)->id);
}

static alpaca_order_t *find(alpaca_order_t *list, size_t n, const char *id) {
    alpaca_order_t key;
    snprintf(key.id, sizeof(key.id), "%s", id);
    return n ? bsearch(&key, list, n, sizeof(*list), by_id) : NULL;
}

/* The earliest submission among orders that left the open list, less a
 * second, as the `after` bound of the closed-orders listing. */
static void closed_after(const ledger_open_order_t *o, size_t n, alpaca_order_t *open,
                         size_t n_open, char *buf, size_t len) {
    int64_t earliest = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t t;
        if (find(open, n_open, o[i].order_id)) continue;
        if (!o[i].submitted_at[0] ||
            timefmt_parse_rfc3339(o[i].submitted_at, strlen(o[i].submitted_at), &t) < 0) {
            buf[0] = '\0';  /* unknown: no bound */
            return;
        }
        if (!earliest || t < earliest) earliest = t;
    }
    if (!earliest) {
        buf[0] = '\0';
        return;
    }
    timefmt_format_rfc3339(earliest - 1000, buf, len);
}

/* Returns 1 if any order changed, 0 if none, -1 if Alpaca could not be read. */
static int follow_cycle(follower_t *f, ledger_open_order_t *o, size_t n) {
    alpaca_order_t *open = NULL, *closed = NULL;
    size_t n_open = 0, n_closed = 0;
    alpaca_error_t e;
    if (alpaca_list_orders(f->alpaca, "open", NULL, LIST_LIMIT, &open, &n_open, &e) != ALPACA_OK) {
        log_msg(LOG_WARN, "follow_list_failed", NULL, "open orders: %s", e.message);
        return -1;
    }
    /* An empty list is NULL, which qsort must not be given even with n 0. */
    if (n_open > 1) qsort(open, n_open, sizeof(*open), by_id);
    size_t missing = 0;
    for (size_t i = 0; i < n; i++)
        if (!find(open, n_open, o[i].order_id)) missing++;
    if (missing) {
        char after[48];
        closed_after(o, n, open, n_open, after, sizeof(after));
        if (alpaca_list_orders(f->alpaca, "closed", after[0] ? after : NULL, LIST_LIMIT,
                               &closed, &n_closed, &e) == ALPACA_OK) {
            if (n_closed > 1) qsort(closed, n_closed, sizeof(*closed), by_id);
        } else {
            log_msg(LOG_WARN, "follow_list_failed", NULL, "closed orders: %s", e.message);
        }
    }
    int changed = 0, singles = 0;
    for (size_t i = 0; i < n; i++) {
        alpaca_order_t *now = find(open, n_open, o[i].order_id);
        if (!now) now = find(closed, n_closed, o[i].order_id);
        alpaca_order_t one;
        memset(&one, 0, sizeof(one));
        if (!now) {
            /* In neither list (a full page, or listing failed): ask for it
             * alone, within a bound so a backlog cannot eat the budget. */
            if (singles >= MAX_SINGLE_LOOKUPS) continue;
            singles++;
            alpaca_result_t r = alpaca_get_order(f->alpaca, o[i].order_id, &one, &e);
            if (r != ALPACA_OK) {
                if (r == ALPACA_NOT_FOUND)
                    log_msg(LOG_ERROR, "order_missing", o[i].intent_id,
                            "the broker has no order %s", o[i].order_id);
                continue;
            }
            now = &one;
        }
        if (apply(f, &o[i], now) > 0) changed = 1;
        alpaca_order_clear(&one);
    }
    alpaca_orders_free(open, n_open);
    alpaca_orders_free(closed, n_closed);
    return changed;
}

/* ---- the thread ------------------------------------------------------------- */

static int stopping(follower_t *f) {
    pthread_mutex_lock(&f->lock);
    int s = f->stop;
    pthread_mutex_unlock(&f->lock);
    return s;
}

static void pause_ms(follower_t *f, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->lock);
    if (!f->stop) pthread_cond_timedwait(&f->wake, &f->lock, &ts);
    pthread_mutex_unlock(&f->lock);
}

static void tick(follower_t *f) {
    char err[256];
    if (!f->ledger) {
        f->ledger = ledger_connect(f->cfg->database_url, f->cfg->replica_id, err, sizeof(err));
        if (!f->ledger) {
            log_msg(LOG_WARN, "dependency_failed", NULL, "follower: %s", err);
            return;
        }
        ledger_set_stage_path(f->ledger, "follow");
    }
    int held = ledger_take_lease(f->ledger, LEASE_NAME, f->cfg->replica_id,
                                 f->cfg->follow_lease_ms, err, sizeof(err));
    if (held < 0 || !ledger_ok(f->ledger)) {
        log_msg(LOG_WARN, "dependency_failed", NULL, "follower: %s", err);
        ledger_close(f->ledger);
        f->ledger = NULL;
        held = 0;
    }
    if (held != f->leader)
        log_msg(LOG_INFO, held ? "follower_leading" : "follower_standing_by", NULL,
                held ? "this replica now follows the open orders"
                     : "another replica follows the open orders");
    f->leader = held;
    if (!held || timefmt_mono_ms() < f->next_poll_ms) return;

    ledger_open_order_t *o = NULL;
    size_t n = 0;
    if (ledger_open_orders(f->ledger, MAX_FOLLOWED, &o, &n, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "dependency_failed", NULL, "follower: %s", err);
        return;
    }
    int changed = 0;
    if (n > 0) {
        /* Placements go first: while intents are being placed anywhere, a
         * poll is put off once by one more interval (so fills are still
         * reported under sustained load, at most twice as late). */
        long placing = ledger_count_placing(f->ledger, err, sizeof(err));
        if (placing > 0 && f->interval_ms < f->cfg->follow_max_interval_ms &&
            !f->deferred) {
            f->deferred = 1;
            f->next_poll_ms = timefmt_mono_ms() + f->interval_ms;
            ledger_open_orders_free(o, n);
            return;
        }
        f->deferred = 0;
        /* Following comes last in the budget's queue, and waits at most one
         * longest interval for its turn. */
        alpaca_set_call_context(f->alpaca, BUDGET_FOLLOW,
                                timefmt_mono_ms() + f->cfg->follow_max_interval_ms, NULL);
        int64_t t0 = timefmt_mono_us();
        changed = follow_cycle(f, o, n);
        metrics_stage("follow", "poll", t0, 1);
    }
    /* Back to the short interval when orders change or new ones arrive;
     * longer and longer while nothing moves. */
    if (changed != 0 || n > f->last_count || n == 0) f->interval_ms = f->cfg->follow_interval_ms;
    else if (f->interval_ms < f->cfg->follow_max_interval_ms)
        f->interval_ms = f->interval_ms * 2 > f->cfg->follow_max_interval_ms
                             ? f->cfg->follow_max_interval_ms
                             : f->interval_ms * 2;
    f->last_count = n;
    f->next_poll_ms = timefmt_mono_ms() + (n == 0 ? 0 : f->interval_ms);
    ledger_open_orders_free(o, n);
}

static void *follower_main(void *arg) {
    follower_t *f = arg;
    /* The ledger is looked at often (cheap); Alpaca only at the interval. */
    int64_t step = f->cfg->follow_interval_ms < 250 ? f->cfg->follow_interval_ms : 250;
    while (!stopping(f)) {
        tick(f);
        pause_ms(f, step);
    }
    return NULL;
}

follower_t *fills_start(const config_t *cfg, publisher_t *pub, circuits_t *circuits,
                        budget_t *budget, char *err, size_t errlen) {
    follower_t *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->cfg = cfg;
    f->pub = pub;
    f->interval_ms = cfg->follow_interval_ms;
    f->alpaca = alpaca_new(cfg);
    if (!f->alpaca) {
        snprintf(err, errlen, "cannot create the HTTP client");
        free(f);
        return NULL;
    }
    alpaca_set_circuits(f->alpaca, circuits);
    alpaca_set_budget(f->alpaca, budget);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->wake, NULL);
    if (pthread_create(&f->thread, NULL, follower_main, f) != 0) {
        snprintf(err, errlen, "cannot start the follower thread");
        alpaca_free(f->alpaca);
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->wake);
        free(f);
        return NULL;
    }
    return f;
}

void fills_stop(follower_t *f) {
    if (!f) return;
    pthread_mutex_lock(&f->lock);
    f->stop = 1;
    pthread_cond_signal(&f->wake);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    ledger_close(f->ledger);
    alpaca_free(f->alpaca);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->wake);
    free(f);
}
