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
 * stream: the leader holds Alpaca's trade_updates stream; each event that
 *   moves an order goes through the same batch as a polled snapshot, and
 *   REST only reconciles what the stream may have missed (fills_stream.c).
 *   A stream that stops listening gets STREAM_GRACE_MS to come back (its
 *   reconnection reconciles) before polling starts.
 *
 * poll: ALPACA_STREAM is off, or the stream is not listening.  One cycle:
 *   read the open orders from the ledger; if there are any (and no placement
 *   is in progress anywhere: placements have priority, and a poll is put off
 *   once by one interval for them), list Alpaca's open orders (1 call); for
 *   orders no longer open, list recently closed ones (1 call), and fetch one
 *   by one only what neither list shows (bounded per cycle).  Then record and
 *   publish what changed.  While nothing changes the interval doubles up to
 *   FOLLOW_MAX_INTERVAL_MS; a change, or a newly accepted order, brings it
 *   back to FOLLOW_INTERVAL_MS.  A reconciliation is one such cycle.
 *
 * In either mode the leader also sends the DELETEs of the orders an
 * operator is canceling (cancel_sender.c), every CANCEL_SENDER_CHECK_MS;
 * after one, polling is back to FOLLOW_INTERVAL_MS, to see the end soon. */
#include "fills_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cancel_sender.h"
#include "decimal.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "timefmt.h"
#include "tradestream.h"

#define LEASE_NAME "order-follower"
#define MAX_SINGLE_LOOKUPS 20    /* GET /v2/orders/{id} per cycle at most */
#define LIST_LIMIT 500           /* Alpaca's page limit */
#define STREAM_GRACE_MS 2000     /* a stream not listening this long: poll */

static const char *const mode_names[] = {"standby", "poll", "stream"};

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
    } else if (status_is(now, "canceled")) {
        publish_build_canceled(cfg, in, now, known->cancel_intent_id,
                               known->cancel_reason, &evs[n++]);
        *to = "canceled";
    } else if (status_is(now, "expired")) {
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

/* The per-batch storage, kept in the follower (a batch's events and
 * intents are too large for a thread's stack to hold comfortably). */
/* Each order's outcome, and for one that a cancel request was canceling
 * and that ends now, that request's outcome too: at most two per order. */
#define BATCH_OUTCOMES (2 * LEDGER_FOLLOW_MAX)
typedef struct batch {
    ledger_follow_t lf[LEDGER_FOLLOW_MAX];
    intent_t in[BATCH_OUTCOMES];
    event_t evs[BATCH_OUTCOMES][FILLS_MAX_EVENTS];
    ledger_outcome_t out[BATCH_OUTCOMES];
    int of[BATCH_OUTCOMES];  /* out[q] is the snapshot of[q]; -1: a cancel request's */
} batch_t;

/* The outcome of the cancel request that was canceling e's order, which
 * ends as `to`: the request is done when the order ends canceled (its
 * event, on the order, names the request), and not_cancelable when the
 * order ended otherwise (filled first, expired, refused).  0 if there is
 * none to write (no request, or it is not waiting: its own pipeline, which
 * holds the order's lock to look, settles it). */
static int cancel_outcome(follower_t *f, const ledger_follow_t *e, const char *to, intent_t *in,
                          event_t *ev, ledger_outcome_t *out) {
    if (!e->cancel_intent_id[0] || !e->cancel_raw || strcmp(e->cancel_state, "submitted") != 0 ||
        !strcmp(to, "submitted"))
        return 0;
    intent_verdict_t v;
    intent_decode(e->cancel_raw, strlen(e->cancel_raw), e->cancel_source,
                  f->cfg->intent_max_age_ms, in, &v);
    int n = 0;
    const char *reason = NULL;
    if (strcmp(to, "canceled") != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "intent %s ended %s before the broker could cancel it",
                 e->intent_id, to);
        publish_build_rejection(f->cfg, in, "not_cancelable", msg, NULL, -1, NULL, ev);
        reason = "not_cancelable";
        n = 1;
    }
    *out = (ledger_outcome_t){in->intent_id, "submitted", n ? "rejected" : "canceled", reason,
                              NULL, ev, n, e->cancel_key,
                              e->cancel_key ? strlen(e->cancel_key) : 0, 0, NULL};
    return 1;
}

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

/* fills_batch for snapshots none of which is known settled. */
static int batch_from_ledger(follower_t *f, alpaca_order_t *const *snaps, int n,
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
        fills_known_t k = {e->prog.filled_qty, e->prog.filled_avg_price, e->prog.partials,
                           e->cancel_intent_id, e->cancel_reason};
        const char *to, *reason;
        int m = fills_plan(f->cfg, &b->in[q], &k, snaps[i], b->evs[q], &to, &reason);
        b->out[q] = (ledger_outcome_t){e->intent_id, "submitted", to, reason, snaps[i],
                                       b->evs[q], m, e->key, e->key ? strlen(e->key) : 0, 0,
                                       NULL};
        b->of[q++] = i;
        if (cancel_outcome(f, e, to, &b->in[q], b->evs[q], &b->out[q])) b->of[q++] = -1;
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
            if (rc < 0 || i < 0) continue;
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

/* Records and publishes what the snapshots of n distinct orders call for:
 * their intents found and locked, read, judged, and every move written in
 * one durable statement whose events are published with one wait.  An
 * order this replica's lanes saw end (settled.h) is done without the
 * ledger: its intent is terminal, and judge() would find just that.
 * res[i] says what became of snaps[i].  Returns how many orders moved, or -1
 * when the ledger failed (every other result SNAP_WAIT). */
int fills_batch(follower_t *f, alpaca_order_t *const *snaps, int n, snap_result_t *res) {
    alpaca_order_t *rest[LEDGER_FOLLOW_MAX];
    snap_result_t rest_res[LEDGER_FOLLOW_MAX];
    int at[LEDGER_FOLLOW_MAX], m = 0;
    for (int i = 0; i < n; i++) {
        if (settled_has(f->settled, snaps[i]->client_order_id)) {
            res[i] = SNAP_DONE;
        } else {
            at[m] = i;
            rest[m++] = snaps[i];
        }
    }
    if (m < n) metrics_add(M_FOLLOW_SETTLED, (double)(n - m), NULL, NULL);
    if (m == 0) return 0;
    int moved = batch_from_ledger(f, rest, m, rest_res);
    for (int k = 0; k < m; k++) res[at[k]] = rest_res[k];
    return moved;
}

/* follow_batch over any number of distinct orders, LEDGER_FOLLOW_MAX at a
 * time.  Returns how many moved, or -1 if the ledger failed. */
static int follow_all(follower_t *f, alpaca_order_t *const *snaps, int n, snap_result_t *res) {
    int moved = 0;
    for (int at = 0; at < n; at += LEDGER_FOLLOW_MAX) {
        if (!f->ledger) return -1;
        int k = n - at < LEDGER_FOLLOW_MAX ? n - at : LEDGER_FOLLOW_MAX;
        int m = fills_batch(f, snaps + at, k, res + at);
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
        /* With the stream, no poll comes back for an order whose intent
         * was busy: its snapshot waits with the stream's events instead. */
        for (int i = 0; f->mode == MODE_STREAM && i < k; i++)
            if (res[i] == SNAP_WAIT) fills_stream_park(f, snaps[i]);
    }
    free(snaps);
    free(res);
    for (int i = 0; i < singles; i++) alpaca_order_clear(&one[i]);
    alpaca_orders_free(open, n_open);
    alpaca_orders_free(closed, n_closed);
    return rc;
}

/* ---- the thread ------------------------------------------------------------- */

int fills_stopping(follower_t *f) {
    pthread_mutex_lock(&f->lock);
    int s = f->stop;
    pthread_mutex_unlock(&f->lock);
    return s;
}

static void pause_ms(follower_t *f, int64_t ms) {
    struct timespec ts;
    timefmt_realtime_after(ms, &ts);
    pthread_mutex_lock(&f->lock);
    if (!f->stop) pthread_cond_timedwait(&f->wake, &f->lock, &ts);
    pthread_mutex_unlock(&f->lock);
}

/* The deadline of a wait of the leader's loop for budget tokens that would
 * last want_ms: cut to half the lease after its last renewal.  The loop
 * renews the lease between its steps; a wait beyond the lease let another
 * replica take it meanwhile (two leaders at once), and under a starved
 * budget each new leader's reconciliation waited again, past the lease,
 * while the operators' cancels got a turn between such waits only. */
static int64_t token_deadline(const follower_t *f, int64_t want_ms) {
    int64_t until = timefmt_mono_ms() + want_ms;
    int64_t lease_half = f->renewed_ms + f->cfg->follow_lease_ms / 2;
    return until < lease_half ? until : lease_half;
}

/* Last in the budget's queue, waiting at most one longest interval for its
 * turn (and half the lease).  Put off while operators' cancels wait for
 * tokens: they come first, and a call of the follower's between their
 * turns would take the token one of them waits for. */
int fills_check_orders(follower_t *f, ledger_open_order_t *o, size_t n) {
    if (f->cancels_waiting) {
        log_msg(LOG_DEBUG, "follow_put_off", NULL,
                "%zu open orders: operators' cancels wait for budget tokens first", n);
        return -1;
    }
    alpaca_set_call_context(f->alpaca, BUDGET_FOLLOW,
                            token_deadline(f, f->cfg->follow_max_interval_ms), NULL);
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
    int64_t asked = timefmt_mono_ms();
    int held = ledger_take_lease(f->ledger, LEASE_NAME, f->cfg->replica_id,
                                 f->cfg->follow_lease_ms, err, sizeof(err));
    if (held > 0) f->renewed_ms = asked;
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
    if (ledger_open_orders(f->ledger, FILLS_MAX_FOLLOWED, &o, &n, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "dependency_failed", NULL, "follower: %s", err);
        return;
    }
    int changed = 0;
    if (n > 0) {
        /* Placements go first: while intents are being placed anywhere, a
         * poll is put off once by one more interval (so fills are still
         * reported under sustained load, at most twice as late). */
        long placing = ledger_count_placing(f->ledger, 0, err, sizeof(err));
        if (placing > 0 && f->interval_ms < f->cfg->follow_max_interval_ms &&
            !f->deferred) {
            f->deferred = 1;
            f->next_poll_ms = timefmt_mono_ms() + f->interval_ms;
            ledger_open_orders_free(o, n);
            return;
        }
        f->deferred = 0;
        changed = fills_check_orders(f, o, n);
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

/* The mode this replica is in now, said when it changes.  A stream that
 * stops listening (or has not listened yet) gets STREAM_GRACE_MS to come
 * back before polling starts: a reconnection reconciles instead. */
static void set_mode(follower_t *f) {
    tradestream_status_t st;
    fills_stream_status(f, &st);
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

/* Operators' cancels: the leader's DELETEs, when their time has come.  A
 * turn waits for budget tokens one second at most (and half the lease);
 * one that leaves a DELETE waiting for a token comes again as soon as the
 * stream's waiting events are recorded, the follower's own calls put off
 * meanwhile, so that the DELETE is in the budget's queue, first, nearly
 * all the time until it goes. */
static void cancel_turn(follower_t *f) {
    int64_t now = timefmt_mono_ms();
    if (!f->leader || !f->ledger) f->cancels_waiting = 0;  /* not this replica's */
    if (!f->leader || !f->ledger || now < f->next_cancel_ms) return;
    f->next_cancel_ms = now + CANCEL_SENDER_CHECK_MS;
    int sent = cancel_sender_turn(f->ledger, f->alpaca, token_deadline(f, 1000),
                                  &f->cancels_waiting);
    if (sent < 0 && !ledger_ok(f->ledger)) {
        ledger_close(f->ledger);
        f->ledger = NULL;
    } else if (sent > 0) {
        f->interval_ms = f->cfg->follow_interval_ms;
        if (f->next_poll_ms > now + f->interval_ms) f->next_poll_ms = now + f->interval_ms;
    }
}

/* ---- the loop -------------------------------------------------------------- */

static void *follower_main(void *arg) {
    follower_t *f = arg;
    pthread_setname_np(pthread_self(), "ow-follow");  /* top -H, perf */
    /* The lease and the ledger are looked at often (cheap); Alpaca only at
     * the interval or, with the stream, to reconcile. */
    int64_t step = f->cfg->follow_interval_ms < 250 ? f->cfg->follow_interval_ms : 250;
    while (!fills_stopping(f)) {
        int64_t next = timefmt_mono_ms() + step;
        lease_tick(f);
        fills_stream_hold(f);
        set_mode(f);
        cancel_turn(f);
        tradestream_status_t st;
        fills_stream_status(f, &st);
        if (f->mode == MODE_STREAM && f->ledger && st.listening) {
            fills_stream_turn(f, next);
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
    fills_stream_close(f);
    ledger_close(f->ledger);
    alpaca_free(f->alpaca);
    free(f->batch);
    pthread_mutex_destroy(&f->lock);
    pthread_cond_destroy(&f->wake);
    free(f);
}

follower_t *fills_start(const config_t *cfg, publisher_t *pub, circuits_t *circuits,
                        budget_t *budget, settled_t *settled, char *err, size_t errlen) {
    follower_t *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->cfg = cfg;
    f->pub = pub;
    f->settled = settled;
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
