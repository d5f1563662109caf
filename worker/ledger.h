/* ledger.h -- the PostgreSQL ledger: the durable record of every intent.
 *
 * Nothing is acted on before the ledger says so.  An intent is recorded
 * before its first step; each state change is written, with a transition
 * row, before the step it announces (flushed to disk first when that step
 * acts outside the ledger: see the top of ledger.c); events are stored
 * before they are produced and marked published after Kafka acknowledged
 * them.  One ledger_t per lane (one connection, not shared between
 * threads). */
#ifndef LEDGER_H
#define LEDGER_H

#include <stddef.h>
#include "alpaca.h"
#include "intent.h"
#include "origin.h"
#include "pgadmin.h"
#include "publish.h"
#include "settled.h"
#include "trading.h"

/* An embedded migration (generated from schemas/migrations). */
typedef struct ledger_migration {
    int version;
    const char *name;
    const char *sql;
} ledger_migration_t;
extern const ledger_migration_t ledger_migrations[];

typedef struct ledger ledger_t;

/* What the ledger knew of an intent_id when it was recorded. */
typedef enum {
    LEDGER_FRESH = 0,   /* first time: recorded in state "received" */
    LEDGER_SEEN,        /* recorded before with the same content: resume */
    LEDGER_CONFLICT     /* recorded before with other content: DLQ */
} ledger_seen_t;

#define LEDGER_STATE_MAX 24

ledger_t *ledger_connect(const char *database_url, const char *replica,
                         char *err, size_t errlen);
void ledger_close(ledger_t *l);

/* Whose work this connection's commits time in order_worker_stage_seconds
 * (the path label: "intake", the default, or "follow"); a string that
 * outlives the connection. */
void ledger_set_stage_path(ledger_t *l, const char *path);
/* The set told of every order whose intent this connection's commits make
 * terminal, once that is durable (settled.h; NULL: none). */
void ledger_set_settled(ledger_t *l, settled_t *s);

/* 0 once the connection is broken: close it and connect again (its
 * advisory locks are gone with it). */
int ledger_ok(ledger_t *l);

/* Applies the embedded migrations not yet applied, each in a transaction. */
int ledger_migrate(ledger_t *l, char *err, size_t errlen);

/* The role this connection logs in as (current_user). */
int ledger_role(ledger_t *l, char *out, size_t outlen, char *err, size_t errlen);

/* Least privilege: grants role (the worker's, not the ledger's owner)
 * exactly what the worker needs.  Run by `order-worker migrate` through
 * ADMIN_DATABASE_URL, after the migrations. */
int ledger_grant_worker(ledger_t *l, const char *role, char *err, size_t errlen);

/* 0 if every embedded migration is applied, -1 with err otherwise. */
int ledger_check_schema(ledger_t *l, char *err, size_t errlen);

/* Flags of ledger_begin_intent. */
#define LEDGER_BEGIN_VALID 1  /* record a fresh intent as "validated" at once */
#define LEDGER_BEGIN_LOCK 2   /* take the intent's lock first (see
                                 ledger_lock_intent), in the same round trip */

/* Records the intent (state "received", or "validated" with
 * LEDGER_BEGIN_VALID) or reports what is recorded: *seen and the current
 * state.  raw is the message as received.  Returns 0, 1 if LEDGER_BEGIN_LOCK
 * was given and another connection holds the intent (nothing was done), -1
 * on error. */
int ledger_begin_intent(ledger_t *l, const intent_t *in, const origin_t *from,
                        const char *raw, size_t raw_len, int flags, ledger_seen_t *seen,
                        char state[LEDGER_STATE_MAX], char *err, size_t errlen);

/* ledger_begin_intent for many intents (distinct intent_ids) in one
 * statement: each entry's busy, seen and state are filled in.  0, or -1 on
 * error (then the connection may hold some of the locks: close it). */
typedef struct ledger_begin {
    const intent_t *in;
    const origin_t *from;
    const char *raw;
    size_t raw_len;
    int busy;                     /* out: another connection holds it */
    ledger_seen_t seen;           /* out */
    char state[LEDGER_STATE_MAX]; /* out */
    int cancel_marked;            /* out: a cancel is canceling it
                                     (ledger_cancel_mark): it is never sent */
} ledger_begin_t;
int ledger_begin_many(ledger_t *l, ledger_begin_t *b, int n, int flags, char *err,
                      size_t errlen);

/* Makes this connection the only one working on the intent (a session
 * advisory lock: released by ledger_unlock_intent, or by PostgreSQL when the
 * connection ends, e.g. when a replica dies).  Returns 1 when held, 0 when
 * another connection holds it, -1 on error. */
int ledger_lock_intent(ledger_t *l, const char *intent_id, char *err, size_t errlen);
void ledger_unlock_intent(ledger_t *l, const char *intent_id);

/* From now on, ledger_unlock_intent and the "published" marks of
 * ledger_commit / ledger_publish_events are deferred: kept on the connection
 * and written, for up to 64 intents at once, in one statement by
 * ledger_flush (called by the owner when idle, by the ledger when the list
 * is full, and by ledger_close).  For a lane that handles intent after
 * intent: two round trips fewer per intent. */
void ledger_defer_on(ledger_t *l);
int ledger_has_deferred(const ledger_t *l);
/* Writes what is deferred.  0, or -1 with err (the list is dropped either
 * way: a broken connection took its locks with it). */
int ledger_flush(ledger_t *l, char *err, size_t errlen);

/* Moves the intent from state `from` to `to`, or, when via is not NULL,
 * through via in the same transaction (two moves: from -> via -> to).
 * Without detail_json the moves are the happy path's, recorded as steps in
 * the intent's row; with it (a JSON object saying why: a retry, a hold, a
 * resumption, a cancel) they are intent_transitions rows carrying it.  The
 * view intent_history shows both.  Returns 0, 1 if the intent was not in
 * state `from` (someone else moved it), -1 on error. */
int ledger_transition(ledger_t *l, const char *intent_id, const char *from,
                      const char *via, const char *to, const char *detail_json,
                      char *err, size_t errlen);

/* ledger_transition for n intents (distinct intent_ids) in one statement:
 * moved[i] is 1 if ids[i] was moved, 0 if it was not in state `from`.
 * Returns 0, or -1 on error. */
int ledger_transition_many(ledger_t *l, const char *const *ids, int n, const char *from,
                           const char *via, const char *to, const char *detail_json,
                           int *moved, char *err, size_t errlen);

/* One durable transaction: upserts the broker order (if order != NULL),
 * stores the events (an event_id already stored is kept as it was), and
 * moves the intent from `from` to `to` (to may equal from: no transition),
 * setting reason when given.  Then, with pub, produces every event of the
 * intent not yet published, as ledger_publish_events(again=0) would.
 * Returns 0, 1 if the intent was not in `from` (nothing written), -1 (err
 * says whether the ledger or Kafka failed; after a Kafka failure the commit
 * stands and the events wait for the next publish). */
int ledger_commit(ledger_t *l, publisher_t *pub, const char *intent_id, const char *from,
                  const char *to, const char *reason, const char *detail_json,
                  const alpaca_order_t *order, const event_t *events,
                  int n_events, const char *key, size_t key_len,
                  char *err, size_t errlen);

/* ledger_commit for many intents (distinct intent_ids) in one durable
 * transaction and one acknowledgement wait: each outcome's `moved` is set to
 * 1 if it was written, 0 if its intent was not in `from` (ledger_commit's 0
 * and 1).  Returns 0, or -1 as ledger_commit (then any of them may or may not
 * be written: read the state again). */
typedef struct ledger_outcome {
    const char *intent_id;
    const char *from, *to, *reason;
    const alpaca_order_t *order;  /* may be NULL */
    const event_t *events;
    int n_events;
    const char *key;              /* the intent's Kafka key, may be NULL */
    size_t key_len;
    int moved;                    /* out: 1 written, 0 not in `from` */
    const char *detail;           /* NULL: the happy path's move, a step in
                                     the intent's row; else a JSON object,
                                     and the move is an intent_transitions
                                     row with it (ledger_transition_many) */
} ledger_outcome_t;
int ledger_commit_many(ledger_t *l, publisher_t *pub, ledger_outcome_t *o, int n,
                       char *err, size_t errlen);

/* Produces the intent's stored events, oldest first, exactly as stored,
 * and marks them published once Kafka acknowledged them.  With again=0 only
 * those not yet acknowledged; with again=1 all (a redelivery of a finished
 * intent: consumers see the same event_ids again). */
int ledger_publish_events(ledger_t *l, publisher_t *pub, const char *intent_id,
                          int again, char *err, size_t errlen);

/* Takes or renews the named lease for holder for ms milliseconds (by
 * PostgreSQL's clock).  Returns 1 if holder has it, 0 if another holder's
 * lease is still running, -1 on error. */
int ledger_take_lease(ledger_t *l, const char *name, const char *holder,
                      int64_t ms, char *err, size_t errlen);

/* An accepted order still being followed (intent state "submitted"), with
 * what the ledger last knew of it. */
typedef struct ledger_open_order {
    char intent_id[40];
    char order_id[64];
    char status[32];
    char filled_qty[48];
    char filled_avg_price[48];
    char submitted_at[48];     /* the broker's, RFC 3339; may be empty */
    intent_source_t source;
    char *raw;                 /* the intent as received */
    char *key;                 /* the intent's Kafka key, may be NULL */
} ledger_open_order_t;

/* Up to limit open orders, oldest first.  Free with ledger_open_orders_free. */
int ledger_open_orders(ledger_t *l, int limit, ledger_open_order_t **out,
                       size_t *n, char *err, size_t errlen);
void ledger_open_orders_free(ledger_open_order_t *o, size_t n);

/* An intent that has not moved for a while, with what is needed to run it
 * again: its origin and the message as received. */
typedef struct ledger_stuck {
    char intent_id[40];
    char state[LEDGER_STATE_MAX];
    intent_source_t source;
    char topic[128];
    int32_t partition;
    int64_t offset;
    char *key;      /* may be NULL */
    char *raw;
} ledger_stuck_t;

/* Up to limit intents in a non-terminal state other than "submitted" whose
 * last change is older than older_than_ms.  Free with ledger_stuck_free. */
int ledger_stuck_intents(ledger_t *l, int64_t older_than_ms, int limit, ledger_stuck_t **out,
                         size_t *n, char *err, size_t errlen);
void ledger_stuck_free(ledger_stuck_t *s, size_t n);

/* How many orders of the bot are open now (accepted and followed, or
 * being placed).  -1 on error. */
long ledger_count_open_orders(ledger_t *l, const char *bot_id, char *err, size_t errlen);

/* How many intents, in every replica, are about to be or being placed
 * (states quota_granted and submitting), of those that entered that state
 * before before_ms (Unix ms, by the ledger's clock; 0: all).  -1 on error. */
long ledger_count_placing(ledger_t *l, int64_t before_ms, char *err, size_t errlen);

/* What the ledger knows of the intent's order right now: state, cumulative
 * fill and the number of partial_fill events stored.  Returns 0, or -1. */
typedef struct ledger_progress {
    char state[LEDGER_STATE_MAX];
    char filled_qty[48];
    char filled_avg_price[48];
    int partials;
} ledger_progress_t;
int ledger_order_progress(ledger_t *l, const char *intent_id,
                          ledger_progress_t *out, char *err, size_t errlen);

/* The follower's batches (fills.c, ledger_follow.c): the intents of up to
 * LEDGER_FOLLOW_MAX broker orders, found by client_order_id. */
#define LEDGER_FOLLOW_MAX 64
typedef struct ledger_follow {
    char intent_id[40];       /* "" when no intent has the client_order_id */
    int terminal;             /* the intent had finished: nothing was locked */
    int held;                 /* this connection took its lock: release it with
                                 ledger_unlock_intent */
    int read;                 /* ledger_follow_read_many filled what follows */
    ledger_progress_t prog;   /* state, cumulative fill, partial_fill events */
    char order_id[64];        /* the recorded broker order; "" until recorded */
    char order_status[32];
    intent_source_t source;
    char *raw;                /* the intent as received */
    char *key;                /* its Kafka key, may be NULL */
    /* The cancel request canceling it (ledger_cancel_mark), if any: */
    char cancel_intent_id[40];  /* "" if none */
    char cancel_reason[16];     /* requested, operator */
    char cancel_state[LEDGER_STATE_MAX];  /* the request's state ("" for an operator's) */
    intent_source_t cancel_source;
    char *cancel_raw;           /* the request as received, NULL for an operator's */
    char *cancel_key;           /* its Kafka key, may be NULL */
} ledger_follow_t;

/* Finds the intent of each client_order_id (distinct ones) and tries to
 * take its lock, in one statement; out[k] answers client_order_ids[k].
 * Returns 0, or -1 with err (locks taken before a failure die with the
 * connection the caller then drops). */
int ledger_follow_lock_many(ledger_t *l, const char *const *client_order_ids, int n,
                            ledger_follow_t *out, char *err, size_t errlen);

/* Reads, in one statement, what the ledger holds now of every held entry
 * of f (its state, progress, order, message and key).  0, or -1 with err. */
int ledger_follow_read_many(ledger_t *l, ledger_follow_t *f, int n, char *err,
                            size_t errlen);

/* Frees the strings of f[0..n). */
void ledger_follow_clear(ledger_follow_t *f, int n);

/* Records a message that goes to the DLQ (idempotent by origin). */
int ledger_record_dead_letter(ledger_t *l, const origin_t *from,
                              const char *reason, const char *detail,
                              const void *raw, size_t raw_len,
                              char *err, size_t errlen);
int ledger_mark_dead_letter_published(ledger_t *l, const origin_t *from,
                                      char *err, size_t errlen);

/* 1 if the state is terminal (filled, canceled, expired, rejected). */
/* ---- cancel requests (ledger_cancel.c) ---------------------------------- */

/* A cancel request's target, as the ledger knows it. */
typedef struct ledger_target {
    int user_source;            /* recorded from the user topic */
    int is_cancel;              /* itself a cancel request */
    char bot_id[68], user_id[68];
    char state[LEDGER_STATE_MAX];
    char order_id[64];          /* the broker's, "" if none yet */
    char cancel_intent_id[40];  /* the cancel request canceling it, "" if
                                   none or an operator's */
    char cancel_reason[16];     /* "" (none), requested, operator */
} ledger_target_t;

/* Reads target_id into *t: 1 found, 0 unknown, -1 with err. */
int ledger_cancel_target(ledger_t *l, const char *target_id, ledger_target_t *t, char *err,
                         size_t errlen);

/* Marks the live target as being canceled by the cancel request cancel_id
 * for reason ("requested"), unless it is already being canceled (by another
 * request, or by an operator: a request never overwrites an operator's
 * mark): 1 marked (or already by cancel_id), 0 not (someone else's mark, or
 * the target has ended), -1 with err. */
int ledger_cancel_mark(ledger_t *l, const char *target_id, const char *cancel_id,
                       const char *reason, char *err, size_t errlen);

/* ---- operators' cancels (ledger_cancel.c): `intentctl cancel` and
 * `intentctl halt --cancel-open`, on the operator's connection (pgadmin.h),
 * and the follower's leader sending their DELETEs (cancel_sender.h). */

typedef struct ledger_opcancel {
    const char *scope;   /* "global" (id ""), "user", "bot" or "intent" */
    const char *id;      /* the user, bot or intent */
    int halt;            /* also halt the scope (not "intent"), in the same
                            transaction */
    const char *reason;  /* may be NULL */
    const char *by;      /* who asked */
} ledger_opcancel_t;

typedef struct ledger_opcancel_result {
    char cancel_id[24];  /* its row in operator_cancels */
    long marked;         /* open orders marked by this cancel */
    char at[32];         /* when, UTC: "YYYY-MM-DDTHH:MM:SS.mmmZ" */
    trading_row_t halt;  /* with halt: the state as set (trading_set); free
                            it with trading_row_free; zeroed otherwise */
} ledger_opcancel_result_t;

/* In one transaction: with req->halt the scope's halt (trading_set_within),
 * the row of operator_cancels (who, why, how many), and the mark of every
 * open order intent of the scope not yet being canceled: cancel_reason
 * "operator", no cancel_intent_id, cancel_requested_at now.  The scope: a
 * bot's intents, a user's (its own and its bots'), one intent, or all.  0
 * with *out, or -1 with e (nothing written). */
int ledger_operator_cancel(PGconn *db, const ledger_opcancel_t *req,
                           ledger_opcancel_result_t *out, pgadmin_err_t *e);

/* An order an operator is canceling, at the broker, whose DELETE the broker
 * has not answered yet. */
typedef struct ledger_unsent_cancel {
    char intent_id[40];
    char order_id[64];
} ledger_unsent_cancel_t;

/* Up to max of them, oldest mark first, into out: how many, or -1 with
 * err.  One statement on a partial index that is empty when there are
 * none. */
int ledger_operator_cancels_unsent(ledger_t *l, ledger_unsent_cancel_t *out, int max,
                                   char *err, size_t errlen);

/* Records that the broker answered the DELETE of intent_id's order
 * (cancel_sent_at).  0, or -1 with err. */
int ledger_operator_cancel_sent(ledger_t *l, const char *intent_id, char *err,
                                size_t errlen);

int ledger_state_is_terminal(const char *state);

#endif
