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
 * The leader works in one of two modes, said by a log line (follow_mode)
 * and the gauge order_worker_follow_mode:
 *
 * stream: the leader holds Alpaca's trade_updates stream (tradestream.h).
 *   Each event that moves an order (partial_fill, fill, canceled, expired,
 *   rejected, replaced) carries the order as it stands; it goes through the
 *   same batch as a polled snapshot, so its event ids are the ones polling
 *   would give.  An event whose intent is busy (the pipeline has not yet
 *   recorded the broker's first answer, or holds the intent's lock) is
 *   parked and tried again a few ms later, and the order's later events wait
 *   behind it, so an order's events are published in the order they
 *   happened.  Alpaca replays nothing, so REST reconciles what the stream
 *   may have missed: at each new listening session (a reconnection), when
 *   this replica takes the lease, every FOLLOW_RECONCILE_MS, and when an
 *   event stayed parked too long.  A snapshot older than what the ledger
 *   holds is ignored, so a late event never undoes a reconciliation.
 *
 * poll: ALPACA_STREAM is off, or the stream is not listening.  One cycle:
 *   read the open orders from the ledger; if there are any (and no placement
 *   is in progress anywhere: placements have priority, and a poll is put off
 *   once by one interval for them), list Alpaca's open orders (1 call); for
 *   orders no longer open, list recently closed ones (1 call), and fetch one
 *   by one only what neither list shows (bounded per cycle).  Then record and
 *   publish what changed.  While nothing changes the interval doubles up to
 *   FOLLOW_MAX_INTERVAL_MS; a change, or a newly accepted order, brings it
 *   back to FOLLOW_INTERVAL_MS.  A reconciliation is one such cycle. */
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
#include "tradestream.h"

#define LEASE_NAME "order-follower"
#define MAX_FOLLOWED 5000        /* orders read from the ledger per cycle */
#define MAX_SINGLE_LOOKUPS 20    /* GET /v2/orders/{id} per cycle at most */
#define LIST_LIMIT 500           /* Alpaca's page limit */
#define PARK_RETRY_MS 3          /* a parked stream event is tried again after */
#define PARK_MAX_MS 30000        /* ... and given up (and reconciled) after */
#define SCAN_MAX 1024            /* parked events looked at per turn */
#define DRAIN_MAX 256            /* stream events taken per turn */
#define STREAM_GRACE_MS 2000     /* a stream not listening this long: poll */

typedef enum { MODE_STANDBY, MODE_POLL, MODE_STREAM } follow_mode_t;
static const char *const mode_names[] = {"standby", "poll", "stream"};

/* A stream event waiting to be recorded, in arrival order. */
typedef struct pending {
    tradestream_event_t ev;
    int64_t due_ms;              /* monotonic: not tried before */
    int64_t since_ms;            /* monotonic: first tried */
    int done;
    struct pending *next;
} pending_t;

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
    struct batch *batch;         /* follow_batch's storage */
    /* the stream, held by the leader only */
    tradestream_t *stream;       /* set and cleared by the thread under lock */
    int64_t stream_retry_ms;     /* monotonic: when to try starting it again */
    int64_t stream_down_ms;      /* monotonic: since when it has not listened; 0 */
    follow_mode_t mode;
    uint64_t epoch_seen;         /* the stream's epoch at the last reconciliation */
    int64_t next_reconcile_ms;   /* monotonic; 0: now */
    const char *reconcile_why;   /* what the next reconciliation is for */
    pending_t *head, *tail;      /* stream events waiting to be recorded */
    size_t n_pending;
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

/* ---- a batch of orders ---------------------------------------------------- */

/* What became of one order's snapshot in a batch. */
typedef enum {
    SNAP_DONE,  /* recorded and published, or nothing to do (unchanged, stale,
                   finished, not one of ours) */
    SNAP_WAIT   /* not now: its intent is busy (the pipeline or a redelivery
                   holds it), not yet recorded as accepted, or a failure;
                   the caller tries again later */
} snap_result_t;

/* The per-batch storage, kept in the follower (a batch's events and
 * intents are too large for a thread's stack to hold comfortably). */
typedef struct batch {
    ledger_follow_t lf[LEDGER_FOLLOW_MAX];
    intent_t in[LEDGER_FOLLOW_MAX];
    event_t evs[LEDGER_FOLLOW_MAX][FILLS_MAX_EVENTS];
    ledger_outcome_t out[LEDGER_FOLLOW_MAX];
    int of[LEDGER_FOLLOW_MAX];  /* out[q] is the snapshot of[q] */
} batch_t;

static int qty_cmp(const char *a, const char *b) {
    decimal_nanos_t x, y;
    if (decimal_text_to_nanos(a[0] ? a : "0", &x) < 0) x = 0;
    if (decimal_text_to_nanos(b[0] ? b : "0", &y) < 0) y = 0;
    return x < y ? -1 : x > y;
}

/* What the move from the ledger's entry e to the snapshot now calls for:
 * SNAP_DONE with nothing to write, SNAP_WAIT, or -1: an outcome to write. */
static int judge(const ledger_follow_t *e, const alpaca_order_t *now) {
    if (!e->intent_id[0] || e->terminal) return SNAP_DONE;  /* not ours, or over */
    if (!e->held || !e->read) return SNAP_WAIT;             /* busy */
    if (ledger_state_is_terminal(e->prog.state)) return SNAP_DONE;
    /* Not yet "submitted": the pipeline has not recorded the broker's first
     * answer (the broker may report a fill before that commit lands). */
    if (strcmp(e->prog.state, "submitted") != 0) return SNAP_WAIT;
    if (e->order_id[0] && strcmp(e->order_id, now->id) != 0) return SNAP_DONE;
    /* Older than what the ledger holds (a stream event behind a
     * reconciliation), or the same: nothing to do. */
    int c = qty_cmp(now->filled_qty, e->prog.filled_qty);
    if (c < 0 || (c == 0 && !strcmp(now->status, e->order_status))) return SNAP_DONE;
    return -1;
}

/* Records and publishes what the snapshots of n distinct orders call for:
 * their intents found and locked, read, judged, and every move written in
 * one durable statement whose events are published with one wait.
 * res[i] says what became of snaps[i].  Returns how many orders moved, or -1
 * when the ledger failed (every result SNAP_WAIT). */
static int follow_batch(follower_t *f, alpaca_order_t *const *snaps, int n,
                        snap_result_t *res) {
    batch_t *b = f->batch;
    char err[256];
    const char *cids[LEDGER_FOLLOW_MAX];
    for (int i = 0; i < n; i++) {
        cids[i] = snaps[i]->client_order_id;
        res[i] = SNAP_WAIT;
    }
    int64_t t0 = timefmt_mono_us();
    if (ledger_follow_lock_many(f->ledger, cids, n, b->lf, err, sizeof(err)) < 0 ||
        ledger_follow_read_many(f->ledger, b->lf, n, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "follow_failed", NULL, "%s", err);
        ledger_follow_clear(b->lf, n);
        ledger_close(f->ledger);  /* its locks go with it */
        f->ledger = NULL;
        return -1;
    }
    metrics_stage("follow", "lock", t0, n);
    int q = 0;
    for (int i = 0; i < n; i++) {
        int j = judge(&b->lf[i], snaps[i]);
        if (j >= 0) {
            res[i] = (snap_result_t)j;
            continue;
        }
        ledger_follow_t *e = &b->lf[i];
        intent_verdict_t v;
        intent_decode(e->raw, strlen(e->raw), e->source, f->cfg->intent_max_age_ms, &b->in[q],
                      &v);
        fills_known_t k = {e->prog.filled_qty, e->prog.filled_avg_price, e->prog.partials};
        const char *to, *reason;
        int m = fills_plan(f->cfg, &b->in[q], &k, snaps[i], b->evs[q], &to, &reason);
        b->out[q] = (ledger_outcome_t){e->intent_id, "submitted", to, reason, snaps[i],
                                       b->evs[q], m, e->key, e->key ? strlen(e->key) : 0, 0};
        b->of[q++] = i;
    }
    int moved = 0;
    if (q > 0) {
        /* A Kafka failure after the commit leaves the events stored: the
         * next batch or a redelivery publishes them. */
        int rc = ledger_commit_many(f->ledger, f->pub, b->out, q, err, sizeof(err));
        if (rc < 0) log_msg(LOG_WARN, "follow_failed", NULL, "%s", err);
        for (int k = 0; k < q; k++) {
            int i = b->of[k];
            for (int x = 0; x < b->out[k].n_events; x++) publish_event_clear(&b->evs[k][x]);
            intent_free(&b->in[k]);
            if (rc < 0) continue;
            res[i] = SNAP_DONE;  /* moved, or moved by someone else meanwhile */
            if (!b->out[k].moved) continue;
            moved++;
            if (strcmp(b->out[k].to, "submitted") != 0)
                log_msg(LOG_DEBUG, "order_finished", b->out[k].intent_id,
                        "order %s %s (filled %s)", snaps[i]->id, snaps[i]->status,
                        snaps[i]->filled_qty);
        }
    }
    for (int i = 0; i < n; i++)
        if (b->lf[i].held) ledger_unlock_intent(f->ledger, b->lf[i].intent_id);
    if (ledger_flush(f->ledger, err, sizeof(err)) < 0 || !ledger_ok(f->ledger)) {
        log_msg(LOG_WARN, "follow_failed", NULL, "%s", err);
        ledger_close(f->ledger);
        f->ledger = NULL;
    }
    ledger_follow_clear(b->lf, n);
    return moved;
}

/* follow_batch over any number of distinct orders, LEDGER_FOLLOW_MAX at a
 * time.  Returns how many moved, or -1 if the ledger failed. */
static int follow_all(follower_t *f, alpaca_order_t *const *snaps, int n, snap_result_t *res) {
    int moved = 0;
    for (int at = 0; at < n; at += LEDGER_FOLLOW_MAX) {
        if (!f->ledger) return -1;
        int k = n - at < LEDGER_FOLLOW_MAX ? n - at : LEDGER_FOLLOW_MAX;
        int m = follow_batch(f, snaps + at, k, res + at);
        if (m < 0) return -1;
        moved += m;
    }
    return moved;
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

/* Returns 1 if any order changed, 0 if none, -1 if Alpaca or the ledger
 * could not be read. */
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
    alpaca_order_t one[MAX_SINGLE_LOOKUPS];
    alpaca_order_t **snaps = calloc(n ? n : 1, sizeof(*snaps));
    snap_result_t *res = calloc(n ? n : 1, sizeof(*res));
    int singles = 0, k = 0, rc = 0;
    if (!snaps || !res) {
        log_msg(LOG_WARN, "follow_failed", NULL, "out of memory");
        rc = -1;
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        alpaca_order_t *now = find(open, n_open, o[i].order_id);
        if (!now) now = find(closed, n_closed, o[i].order_id);
        if (!now) {
            /* In neither list (a full page, or listing failed): ask for it
             * alone, within a bound so a backlog cannot eat the budget. */
            if (singles >= MAX_SINGLE_LOOKUPS) continue;
            alpaca_order_t *s = &one[singles];
            memset(s, 0, sizeof(*s));
            alpaca_result_t r = alpaca_get_order(f->alpaca, o[i].order_id, s, &e);
            if (r != ALPACA_OK) {
                if (r == ALPACA_NOT_FOUND)
                    log_msg(LOG_ERROR, "order_missing", o[i].intent_id,
                            "the broker has no order %s", o[i].order_id);
                continue;
            }
            now = s;
            singles++;
        }
        /* Unchanged since the ledger's last record: nothing to lock. */
        if (!strcmp(now->status, o[i].status) && !qty_cmp(now->filled_qty, o[i].filled_qty))
            continue;
        snaps[k++] = now;
    }
    if (k > 0) {
        int m = follow_all(f, snaps, k, res);
        if (m < 0) rc = -1;
        else if (m > 0) rc = 1;
    }
    free(snaps);
    free(res);
    for (int i = 0; i < singles; i++) alpaca_order_clear(&one[i]);
    alpaca_orders_free(open, n_open);
    alpaca_orders_free(closed, n_closed);
    return rc;
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

/* One REST cycle over the ledger's open orders o (n > 0), last in the
 * budget's queue and waiting at most one longest interval for its turn.
 * Returns what follow_cycle returns. */
static int check_orders(follower_t *f, ledger_open_order_t *o, size_t n) {
    alpaca_set_call_context(f->alpaca, BUDGET_FOLLOW,
                            timefmt_mono_ms() + f->cfg->follow_max_interval_ms, NULL);
    int64_t t0 = timefmt_mono_us();
    int rc = follow_cycle(f, o, n);
    metrics_stage("follow", "poll", t0, 1);
    return rc;
}

/* The ledger's connection and the lease: sets f->leader. */
static void lease_tick(follower_t *f) {
    char err[256];
    if (!f->ledger) {
        f->ledger = ledger_connect(f->cfg->database_url, f->cfg->replica_id, err, sizeof(err));
        if (!f->ledger) {
            log_msg(LOG_WARN, "dependency_failed", NULL, "follower: %s", err);
            f->leader = 0;
            return;
        }
        ledger_set_stage_path(f->ledger, "follow");
        /* Published marks and lock releases are written once per batch. */
        ledger_defer_on(f->ledger);
    }
    int held = ledger_take_lease(f->ledger, LEASE_NAME, f->cfg->replica_id,
                                 f->cfg->follow_lease_ms, err, sizeof(err));
    if (held < 0 || !ledger_ok(f->ledger)) {
        log_msg(LOG_WARN, "dependency_failed", NULL, "follower: %s", err);
        ledger_close(f->ledger);
        f->ledger = NULL;
        held = 0;
    }
    if (held != f->leader) {
        log_msg(LOG_INFO, held ? "follower_leading" : "follower_standing_by", NULL,
                held ? "this replica now follows the open orders"
                     : "another replica follows the open orders");
        /* A new leader does not know what happened before it: reconcile. */
        f->next_reconcile_ms = 0;
        f->reconcile_why = "lease";
    }
    f->leader = held;
}

/* Polling: one cycle when its time has come. */
static void poll_turn(follower_t *f) {
    char err[256];
    if (!f->ledger || timefmt_mono_ms() < f->next_poll_ms) return;
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
        changed = check_orders(f, o, n);
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

/* ---- the stream ------------------------------------------------------------- */

static void pending_free_all(follower_t *f) {
    while (f->head) {
        pending_t *p = f->head;
        f->head = p->next;
        tradestream_event_clear(&p->ev);
        free(p);
    }
    f->tail = NULL;
    f->n_pending = 0;
}

/* Starts the stream when this replica leads and it is on; stops it when it
 * no longer leads.  Only this thread sets f->stream (under f->lock, which
 * fills_stop takes to interrupt it). */
static void stream_hold(follower_t *f) {
    if (f->leader && !f->stream && f->cfg->alpaca_stream &&
        timefmt_mono_ms() >= f->stream_retry_ms) {
        char err[256];
        tradestream_t *s = tradestream_start(f->cfg, err, sizeof(err));
        if (!s) {
            log_msg(LOG_ERROR, "stream_failed", NULL, "cannot start the trade_updates stream: %s",
                    err);
            f->stream_retry_ms = timefmt_mono_ms() + f->cfg->alpaca_stream_backoff_max_ms;
            return;
        }
        pthread_mutex_lock(&f->lock);
        f->stream = s;
        pthread_mutex_unlock(&f->lock);
        f->epoch_seen = 0;  /* its first session's epoch is 1: reconciled */
    } else if (!f->leader && f->stream) {
        pthread_mutex_lock(&f->lock);
        tradestream_t *s = f->stream;
        f->stream = NULL;
        pthread_mutex_unlock(&f->lock);
        tradestream_stop(s);
        /* The next leader reconciles; what waited here is its to find. */
        pending_free_all(f);
    }
}

/* The mode this replica is in now, said when it changes.  A stream that
 * stops listening (or has not listened yet) gets STREAM_GRACE_MS to come
 * back before polling starts: a reconnection reconciles instead. */
static void set_mode(follower_t *f) {
    tradestream_status_t st = {0};
    if (f->stream) tradestream_status(f->stream, &st);
    int64_t now = timefmt_mono_ms();
    follow_mode_t m = MODE_POLL;
    if (!f->leader) {
        m = MODE_STANDBY;
    } else if (st.listening) {
        m = MODE_STREAM;
    } else if (f->stream) {
        if (!f->stream_down_ms) f->stream_down_ms = now;
        if (now - f->stream_down_ms < STREAM_GRACE_MS) m = f->mode;
    }
    if (st.listening || !f->leader) f->stream_down_ms = 0;
    if (m == f->mode) return;
    if (m == MODE_STREAM)
        log_msg(LOG_INFO, "follow_mode", NULL,
                "stream: order updates come from the trade_updates stream; REST only "
                "reconciles");
    else if (m == MODE_POLL)
        log_msg(LOG_WARN, "follow_mode", NULL, "poll: Alpaca is polled for order updates (%s)",
                !f->cfg->alpaca_stream ? "ALPACA_STREAM is off"
                : st.last_error[0]     ? st.last_error
                : f->stream            ? "the trade_updates stream is not listening"
                                       : "the trade_updates stream cannot start");
    else
        log_msg(LOG_INFO, "follow_mode", NULL, "standby: another replica follows the orders");
    for (int i = 0; i < 3; i++) metrics_set(M_FOLLOW_MODE, i == (int)m, mode_names[i], NULL);
    f->mode = m;
}

/* Reconciles over REST when due: a new listening session (epoch), the
 * lease, the interval, or a lost event. */
static void stream_reconcile(follower_t *f) {
    if (!f->ledger) return;
    tradestream_status_t st;
    tradestream_status(f->stream, &st);
    int64_t now = timefmt_mono_ms();
    if (st.epoch != f->epoch_seen) f->reconcile_why = "listening";
    else if (now < f->next_reconcile_ms) return;
    else if (!f->reconcile_why) f->reconcile_why = "interval";
    /* Read after the epoch is seen: an event missed before it is in the
     * listing, one after it comes on the stream. */
    char err[256];
    ledger_open_order_t *o = NULL;
    size_t n = 0;
    int rc = 0;
    if (ledger_open_orders(f->ledger, MAX_FOLLOWED, &o, &n, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "dependency_failed", NULL, "follower: %s", err);
        rc = -1;
    } else if (n > 0) {
        rc = check_orders(f, o, n);
    }
    ledger_open_orders_free(o, n);
    log_msg(LOG_DEBUG, "follow_reconciled", NULL, "%zu open orders checked (%s)%s", n,
            f->reconcile_why, rc < 0 ? ": failed, tried again later" : "");
    metrics_add(M_FOLLOW_RECONCILES, 1, f->reconcile_why, NULL);
    if (rc < 0) {
        f->next_reconcile_ms = now + f->cfg->follow_interval_ms;
        return;
    }
    f->epoch_seen = st.epoch;
    f->reconcile_why = NULL;
    f->next_reconcile_ms = now + f->cfg->follow_reconcile_ms;
}

/* Only these events move an order; the others (new, accepted,
 * pending_cancel, ...) say nothing the ledger records. */
static int moves_order(const char *event) {
    static const char *const moving[] = {"partial_fill", "fill",     "canceled",
                                         "expired",      "rejected", "replaced"};
    for (size_t i = 0; i < sizeof(moving) / sizeof(moving[0]); i++)
        if (!strcmp(event, moving[i])) return 1;
    return 0;
}

/* Queues one event; the time it spent from Alpaca's timestamp to its
 * arrival is the stage stream_in (meaningful where both clocks agree). */
static void stream_take(follower_t *f, tradestream_event_t *ev) {
    if (!moves_order(ev->event) || !ev->order.client_order_id[0]) {
        tradestream_event_clear(ev);
        return;
    }
    int64_t sent_ms;
    if (ev->timestamp[0] &&
        timefmt_parse_rfc3339(ev->timestamp, strlen(ev->timestamp), &sent_ms) == 0) {
        int64_t arrived_ms =
            timefmt_now_ms() - (timefmt_mono_us() - ev->received_mono_us) / 1000;
        double d = (double)(arrived_ms - sent_ms) / 1e3;
        metrics_observe(M_STAGE_SECONDS, d > 0 ? d : 0, "follow", "stream_in");
    }
    pending_t *p = calloc(1, sizeof(*p));
    if (!p) {
        /* Lost here; the reconciliation finds it. */
        log_msg(LOG_WARN, "follow_failed", NULL, "out of memory: event reconciled instead");
        tradestream_event_clear(ev);
        f->next_reconcile_ms = 0;
        f->reconcile_why = "lost";
        return;
    }
    p->ev = *ev;
    memset(ev, 0, sizeof(*ev));
    if (f->tail) f->tail->next = p;
    else f->head = p;
    f->tail = p;
    f->n_pending++;
}

static int id_in(const char *const *ids, int n, const char *id) {
    for (int i = 0; i < n; i++)
        if (!strcmp(ids[i], id)) return 1;
    return 0;
}

/* Records the parked events that may go now: each order's oldest, up to a
 * batch of distinct orders.  Returns how many were tried. */
static int stream_work(follower_t *f) {
    const char *seen[SCAN_MAX];
    pending_t *sel[LEDGER_FOLLOW_MAX];
    alpaca_order_t *snaps[LEDGER_FOLLOW_MAX];
    snap_result_t res[LEDGER_FOLLOW_MAX];
    int n = 0, n_seen = 0;
    int64_t now = timefmt_mono_ms();
    for (pending_t *p = f->head; p && n_seen < SCAN_MAX && n < LEDGER_FOLLOW_MAX; p = p->next) {
        const char *id = p->ev.order.id;
        if (id_in(seen, n_seen, id)) continue;  /* behind an older event of its order */
        seen[n_seen++] = id;
        if (p->due_ms > now) continue;
        sel[n] = p;
        snaps[n++] = &p->ev.order;
    }
    if (n == 0) return 0;
    for (int i = 0; i < n; i++)
        if (!sel[i]->since_ms) metrics_stage("follow", "event_wait", sel[i]->ev.received_mono_us, 1);
    if (!f->ledger || follow_batch(f, snaps, n, res) < 0)
        for (int i = 0; i < n; i++) res[i] = SNAP_WAIT;
    now = timefmt_mono_ms();
    for (int i = 0; i < n; i++) {
        pending_t *p = sel[i];
        if (!p->since_ms) p->since_ms = now;
        if (res[i] == SNAP_DONE) {
            p->done = 1;
        } else if (now - p->since_ms >= PARK_MAX_MS) {
            log_msg(LOG_WARN, "follow_event_lost", NULL,
                    "%s of order %s could not be recorded for %d s; reconciling instead",
                    p->ev.event, p->ev.order.id, PARK_MAX_MS / 1000);
            p->done = 1;
            f->next_reconcile_ms = 0;
            f->reconcile_why = "lost";
        } else {
            p->due_ms = now + PARK_RETRY_MS;
        }
    }
    pending_t **pp = &f->head;
    f->tail = NULL;
    while (*pp) {
        pending_t *p = *pp;
        if (p->done) {
            *pp = p->next;
            tradestream_event_clear(&p->ev);
            free(p);
            f->n_pending--;
        } else {
            f->tail = p;
            pp = &p->next;
        }
    }
    return n;
}

/* The earliest time a parked event may be tried, or INT64_MAX. */
static int64_t pending_due(const follower_t *f) {
    int64_t due = INT64_MAX;
    for (const pending_t *p = f->head; p; p = p->next)
        if (p->due_ms < due) due = p->due_ms;
    return due;
}

/* Stream mode until `until_ms` (monotonic): reconcile when due, wait for
 * events, record them. */
static void stream_turn(follower_t *f, int64_t until_ms) {
    stream_reconcile(f);
    for (;;) {
        int64_t now = timefmt_mono_ms();
        if (now >= until_ms || stopping(f) || !f->ledger) return;
        int64_t wake = until_ms;
        int64_t due = pending_due(f);
        if (due < wake) wake = due;
        if (f->next_reconcile_ms < wake) wake = f->next_reconcile_ms;
        tradestream_event_t ev;
        int got = 0;
        if (wake > now) {
            int r = tradestream_next(f->stream, &ev, wake - now);
            if (r < 0) return;
            got = r;
        }
        for (int taken = 0; got == 1; taken++) {
            stream_take(f, &ev);
            if (taken + 1 >= DRAIN_MAX || tradestream_next(f->stream, &ev, 0) != 1) break;
        }
        while (stream_work(f) > 0 && timefmt_mono_ms() < until_ms) {
        }
        tradestream_status_t st;
        tradestream_status(f->stream, &st);
        if (!st.listening) return;
        if (st.epoch != f->epoch_seen || timefmt_mono_ms() >= f->next_reconcile_ms)
            stream_reconcile(f);
    }
}

static int listening(follower_t *f) {
    tradestream_status_t st = {0};
    if (f->stream) tradestream_status(f->stream, &st);
    return st.listening;
}

/* ---- the loop -------------------------------------------------------------- */

static void *follower_main(void *arg) {
    follower_t *f = arg;
    /* The lease and the ledger are looked at often (cheap); Alpaca only at
     * the interval or, with the stream, to reconcile. */
    int64_t step = f->cfg->follow_interval_ms < 250 ? f->cfg->follow_interval_ms : 250;
    while (!stopping(f)) {
        int64_t next = timefmt_mono_ms() + step;
        lease_tick(f);
        stream_hold(f);
        set_mode(f);
        if (f->mode == MODE_STREAM && f->ledger && listening(f)) {
            stream_turn(f, next);
            continue;
        }
        if (f->mode == MODE_POLL) poll_turn(f);
        int64_t left = next - timefmt_mono_ms();
        if (left > 0) pause_ms(f, left);
    }
    return NULL;
}

/* Frees the follower and what it holds (its thread is not running). */
static void follower_free(follower_t *f) {
    tradestream_stop(f->stream);
    pending_free_all(f);
    ledger_close(f->ledger);
    alpaca_free(f->alpaca);
    free(f->batch);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->wake);
    free(f);
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
    f->mode = MODE_STANDBY;
    for (int i = 0; i < 3; i++) metrics_set(M_FOLLOW_MODE, i == MODE_STANDBY, mode_names[i], NULL);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->wake, NULL);
    f->batch = calloc(1, sizeof(*f->batch));
    f->alpaca = alpaca_new(cfg);
    if (!f->batch || !f->alpaca) {
        snprintf(err, errlen, "%s", f->batch ? "cannot create the HTTP client" : "out of memory");
        follower_free(f);
        return NULL;
    }
    alpaca_set_circuits(f->alpaca, circuits);
    alpaca_set_budget(f->alpaca, budget);
    if (pthread_create(&f->thread, NULL, follower_main, f) != 0) {
        snprintf(err, errlen, "cannot start the follower thread");
        follower_free(f);
        return NULL;
    }
    return f;
}

void fills_stop(follower_t *f) {
    if (!f) return;
    pthread_mutex_lock(&f->lock);
    f->stop = 1;
    pthread_cond_signal(&f->wake);
    if (f->stream) tradestream_interrupt(f->stream);
    pthread_mutex_unlock(&f->lock);
    pthread_join(f->thread, NULL);
    follower_free(f);
}
