/* fills_internal.h -- what the follower's two files share (fills.c: the
 * lease, the modes, polling and the batch every snapshot goes through;
 * fills_stream.c: the stream mode); not part of its interface, which is
 * fills.h.  The follower's state, owned by its one thread (but `stop` and
 * `stream`, which fills_stop() reads under `lock`). */
#ifndef FILLS_INTERNAL_H
#define FILLS_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "fills.h"
#include "ledger.h"
#include "tradestream.h"

#define FILLS_MAX_FOLLOWED 5000  /* open orders read from the ledger per cycle */

typedef enum { MODE_STANDBY, MODE_POLL, MODE_STREAM } follow_mode_t;

/* A stream event waiting to be recorded, in arrival order. */
typedef struct pending {
    tradestream_event_t ev;
    int64_t due_ms;              /* monotonic: not tried before */
    int64_t since_ms;            /* monotonic: first tried; 0: never */
    int tries;                   /* retries so far */
    int done;
    struct pending *next;
} pending_t;

struct follower {
    const config_t *cfg;
    publisher_t *pub;
    settled_t *settled;          /* orders a lane saw end (settled.h); NULL: none */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;                    /* guarded by lock */
    ledger_t *ledger;            /* this thread's own connection; NULL after a failure */
    alpaca_t *alpaca;
    int leader;                  /* holds the follower's lease */
    int64_t renewed_ms;          /* monotonic: just before the lease was last taken or renewed */
    follow_mode_t mode;
    /* polling */
    int64_t interval_ms;
    int64_t next_poll_ms;        /* monotonic */
    size_t last_count;           /* open orders seen last cycle */
    int deferred;                /* this poll was put off for placements */
    struct batch *batch;         /* fills_batch's storage */
    int64_t next_cancel_ms;      /* monotonic: the next look for operators' cancels */
    int cancels_waiting;         /* the last look left a DELETE waiting for a token */
    /* the stream, held by the leader only */
    tradestream_t *stream;       /* set and cleared by the thread under lock */
    int64_t stream_retry_ms;     /* monotonic: when to try starting it again */
    int64_t stream_down_ms;      /* monotonic: since when it has not listened; 0 */
    uint64_t epoch_seen;         /* the stream's epoch at the last reconciliation */
    int64_t next_reconcile_ms;   /* monotonic; 0: now */
    const char *reconcile_why;   /* what the next reconciliation is for, if not the interval */
    int64_t settle_before_ms;    /* Unix ms: a gap's stragglers are placements older; 0: none */
    int64_t settle_end_ms;       /* monotonic: watched until then at most */
    int64_t next_settle_ms;      /* monotonic: their next count */
    pending_t *head, *tail;      /* stream events waiting to be recorded */
    size_t n_pending;
};

/* What became of one order's snapshot in a batch. */
typedef enum {
    SNAP_DONE,  /* recorded and published, or nothing to do (unchanged, stale,
                   finished, not one of ours) */
    SNAP_WAIT   /* not now: its intent is busy (the pipeline or a redelivery
                   holds it), not yet recorded as accepted, or a failure;
                   the caller tries again later */
} snap_result_t;

/* ---- fills.c -------------------------------------------------------------- */

/* Records and publishes what the snapshots of n (<= LEDGER_FOLLOW_MAX)
 * distinct orders call for, res[i] saying what became of snaps[i].  Returns
 * how many orders moved, or -1 when the ledger failed (f->ledger closed and
 * NULL; every result SNAP_WAIT). */
int fills_batch(follower_t *f, alpaca_order_t *const *snaps, int n, snap_result_t *res);

/* One REST cycle over the ledger's open orders o (n > 0): 1 if any order
 * changed, 0 if none, -1 if Alpaca or the ledger could not be read, or the
 * cycle is put off (operators' cancels wait for tokens: they go first). */
int fills_check_orders(follower_t *f, ledger_open_order_t *o, size_t n);

int fills_stopping(follower_t *f);

/* ---- fills_stream.c --------------------------------------------------------- */

/* Starts the stream when this replica leads (and ALPACA_STREAM is on), stops
 * it when it no longer does. */
void fills_stream_hold(follower_t *f);

/* The stream's status (zeroed when there is none). */
void fills_stream_status(follower_t *f, tradestream_status_t *st);

/* Stream mode until until_ms (monotonic): reconciles when due, waits for
 * events and records them.  Returns early when the stream stops listening,
 * the ledger fails or the follower stops. */
void fills_stream_turn(follower_t *f, int64_t until_ms);

/* Queues a copy of the snapshot o (from a reconciliation, whose intent was
 * busy) with the stream's events, to be recorded as soon as it can be. */
void fills_stream_park(follower_t *f, const alpaca_order_t *o);

/* Stops the stream (if any) and frees the events still waiting. */
void fills_stream_close(follower_t *f);

#endif
