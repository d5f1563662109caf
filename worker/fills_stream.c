/* fills_stream.c -- the follower's stream mode (see fills.c for the modes).
 *
 * The leader holds Alpaca's trade_updates stream (tradestream.h).  Each
 * event that moves an order carries the order as it stands after it; that
 * snapshot goes through fills_batch(), as a polled one does, so its events
 * and their ids are the ones polling would give.  Events wait here in
 * arrival order: an event whose intent is busy (the pipeline holds it, or
 * has not recorded the broker's first answer yet: a fill can come before
 * the POST's answer is committed) is parked and tried again PARK_RETRY_MS
 * later, then less and less often (up to every PARK_RETRY_MAX_MS), and its
 * order's later events wait behind it, so an order's events are published
 * in the order they happened; other orders' events pass it.
 *
 * Alpaca replays nothing, so what the stream may have missed is reconciled
 * over REST (one fills_check_orders() cycle): at each new listening session
 * (the stream's epoch moved), when this replica took the lease, every
 * FOLLOW_RECONCILE_MS, and when an event stayed parked PARK_MAX_MS.  A
 * snapshot older than what the ledger holds is ignored by fills_batch(), so
 * a late event never undoes a reconciliation nor publishes an execution
 * twice. */
#include "fills_internal.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "timefmt.h"

#define PARK_RETRY_MS 3          /* a parked event is tried again after */
#define PARK_RETRY_MAX_MS 500    /* ... doubling up to this */
#define PARK_MAX_MS 30000        /* ... and given up (and reconciled) after */
#define SCAN_MAX 1024            /* waiting events looked at per turn */
#define DRAIN_MAX 256            /* stream events taken per turn */
#define SETTLE_SKEW_MS 5000      /* the ledger's clock may be this far ahead */
#define SETTLE_MAX_MS 60000      /* a gap's stragglers are watched this long */

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

/* Only the follower's thread sets f->stream, under f->lock, which
 * fills_stop() takes to interrupt it. */
void fills_stream_hold(follower_t *f) {
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

/* The gap's stragglers.  A reconciliation after a gap (a new session, a
 * new leader, a lost event) cannot see an order whose placement was
 * answered in the gap but recorded as accepted only after the listing: its
 * events went by unheard, and it was not yet open in the ledger.  So the
 * placements in progress at that reconciliation (counted by the ledger's
 * clock, with SETTLE_SKEW_MS to spare for a clock ahead of ours) are
 * watched: the open orders are listed again every FOLLOW_INTERVAL_MS while
 * any of them is left, and once more when none is, for SETTLE_MAX_MS at
 * most (usually a few seconds; a gap is rare). */
static void settle_start(follower_t *f, int64_t now) {
    char err[256];
    f->settle_before_ms = timefmt_now_ms() + SETTLE_SKEW_MS;
    f->settle_end_ms = now + SETTLE_MAX_MS;
    long left = ledger_count_placing(f->ledger, f->settle_before_ms, err, sizeof(err));
    f->next_settle_ms = now + f->cfg->follow_interval_ms;
    /* None placing: nothing can straggle (unknown: the next count says). */
    if (left == 0) f->settle_before_ms = 0;
}

/* 1 when the stragglers call for another listing now. */
static int settle_due(follower_t *f, int64_t now) {
    if (!f->settle_before_ms || now < f->next_settle_ms) return 0;
    char err[256];
    long left = ledger_count_placing(f->ledger, f->settle_before_ms, err, sizeof(err));
    f->next_settle_ms = now + f->cfg->follow_interval_ms;
    if (left < 0) {
        log_msg(LOG_WARN, "dependency_failed", NULL, "follower: %s", err);
        return 0;
    }
    /* Listed again at each count while any is left, and once more when
     * the last has moved on (a count that stays equal may hide one that
     * moved on behind one that came in). */
    if (left == 0 || now >= f->settle_end_ms) f->settle_before_ms = 0;
    return 1;
}

/* Reconciles over REST when due: a new listening session (epoch), the
 * lease, the interval, a lost event, or the stragglers of a gap. */
static void stream_reconcile(follower_t *f) {
    if (!f->ledger) return;
    tradestream_status_t st;
    tradestream_status(f->stream, &st);
    int64_t now = timefmt_mono_ms();
    const char *why = NULL;
    if (st.epoch != f->epoch_seen) why = "listening";
    else if (now >= f->next_reconcile_ms) why = f->reconcile_why ? f->reconcile_why : "interval";
    else if (settle_due(f, now)) why = "settle";
    if (!why) return;
    /* Counted before the listing: a straggler that moves on after the
     * count is in this listing or a later one. */
    if (strcmp(why, "interval") != 0 && strcmp(why, "settle") != 0) settle_start(f, now);
    /* Read after the epoch is seen: an event missed before it is in the
     * listing, one after it comes on the stream. */
    char err[256];
    ledger_open_order_t *o = NULL;
    size_t n = 0;
    int rc = 0;
    if (ledger_open_orders(f->ledger, FILLS_MAX_FOLLOWED, &o, &n, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "dependency_failed", NULL, "follower: %s", err);
        rc = -1;
    } else if (n > 0) {
        rc = fills_check_orders(f, o, n);
    }
    ledger_open_orders_free(o, n);
    log_msg(LOG_DEBUG, "follow_reconciled", NULL, "%zu open orders checked (%s)%s", n, why,
            rc < 0 ? ": failed, tried again later" : "");
    metrics_add(M_FOLLOW_RECONCILES, 1, why, NULL);
    if (rc < 0) {
        f->reconcile_why = why;
        f->next_reconcile_ms = now + f->cfg->follow_interval_ms;
        return;
    }
    /* A settling listing keeps the interval's schedule. */
    if (strcmp(why, "settle") != 0) f->next_reconcile_ms = now + f->cfg->follow_reconcile_ms;
    f->epoch_seen = st.epoch;
    f->reconcile_why = NULL;
}

/* Appends p to the events waiting, in arrival order. */
static void pending_push(follower_t *f, pending_t *p) {
    if (f->tail) f->tail->next = p;
    else f->head = p;
    f->tail = p;
    f->n_pending++;
}

/* Queues one event; the time it spent from Alpaca's timestamp to its
 * arrival is the stage stream_in (meaningful where both clocks agree). */
static void stream_take(follower_t *f, tradestream_event_t *ev) {
    if (!tradestream_event_moves(ev->event) || !ev->order.client_order_id[0]) {
        tradestream_event_clear(ev);
        return;
    }
    if (settled_has(f->settled, ev->order.client_order_id)) {
        /* Its intent is over (fills_batch would let it go just the same). */
        metrics_add(M_FOLLOW_SETTLED, 1, NULL, NULL);
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
    pending_push(f, p);
}

void fills_stream_park(follower_t *f, const alpaca_order_t *o) {
    pending_t *p = calloc(1, sizeof(*p));
    char *raw = o->raw ? strdup(o->raw) : NULL;
    if (!p || (o->raw && !raw)) {
        free(p);
        free(raw);
        log_msg(LOG_WARN, "follow_failed", NULL, "out of memory: order %s reconciled later",
                o->id);
        f->next_reconcile_ms = 0;
        f->reconcile_why = "lost";
        return;
    }
    snprintf(p->ev.event, sizeof(p->ev.event), "reconciled");
    p->ev.order = *o;
    p->ev.order.raw = raw;
    p->ev.received_mono_us = timefmt_mono_us();
    p->since_ms = timefmt_mono_ms();  /* tried once already: no event_wait */
    p->due_ms = p->since_ms + PARK_RETRY_MS;
    pending_push(f, p);
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
    if (!f->ledger || fills_batch(f, snaps, n, res) < 0)
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
            /* Soon at first (the usual wait is the pipeline's commit of
             * the broker's first answer), then less and less often. */
            int shift = p->tries < 8 ? p->tries : 8;
            int64_t delay = (int64_t)PARK_RETRY_MS << shift;
            p->due_ms = now + (delay < PARK_RETRY_MAX_MS ? delay : PARK_RETRY_MAX_MS);
            p->tries++;
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

void fills_stream_turn(follower_t *f, int64_t until_ms) {
    stream_reconcile(f);
    /* The first pass runs even when until_ms has passed (the loop's other
     * steps took its time: an operator's cancel waiting for a token, turn
     * after turn): the events that came are taken and recorded, unwaited. */
    for (int pass = 0;; pass++) {
        int64_t now = timefmt_mono_ms();
        if ((pass > 0 && now >= until_ms) || fills_stopping(f) || !f->ledger) return;
        int64_t wake = until_ms;
        int64_t due = pending_due(f);
        if (due < wake) wake = due;
        if (f->next_reconcile_ms < wake) wake = f->next_reconcile_ms;
        if (f->settle_before_ms && f->next_settle_ms < wake) wake = f->next_settle_ms;
        tradestream_event_t ev;
        int got = tradestream_next(f->stream, &ev, wake > now ? wake - now : 0);
        if (got < 0) return;
        for (int taken = 0; got == 1; taken++) {
            stream_take(f, &ev);
            if (taken + 1 >= DRAIN_MAX || tradestream_next(f->stream, &ev, 0) != 1) break;
        }
        while (stream_work(f) > 0 && timefmt_mono_ms() < until_ms) {
        }
        tradestream_status_t st;
        tradestream_status(f->stream, &st);
        if (!st.listening) return;
        stream_reconcile(f);
    }
}

void fills_stream_status(follower_t *f, tradestream_status_t *st) {
    memset(st, 0, sizeof(*st));
    if (f->stream) tradestream_status(f->stream, st);
}

void fills_stream_close(follower_t *f) {
    tradestream_stop(f->stream);
    f->stream = NULL;
    pending_free_all(f);
}
