/* circuits.h -- one circuit breaker per class of Alpaca operation, shared
 * by the replicas of the fleet through Redis.
 *
 * Every call to Alpaca asks circuits_allow() first and reports its outcome
 * with circuits_record(): 2xx counts as success; 5xx, 408, timeouts and
 * connection errors as failure; business refusals (other 4xx) and 429 are
 * ignored (429 is the rate limiter's business, not the broker's health).
 *
 * Sharing: when a breaker opens here, the replica writes the time it will
 * probe to Redis; the others read those keys every 500 ms and open theirs
 * until then.  When the time comes, only one replica in the fleet gets the
 * probe lock (SET NX) and probes; the others stay open.  A successful probe
 * closes the breaker and deletes the key, and the others close within a
 * second.  Without Redis every replica just keeps its own breakers. */
#ifndef CIRCUITS_H
#define CIRCUITS_H

#include <stdint.h>
#include "breaker.h"
#include "config.h"

typedef enum {
    OP_QUOTE = 0,     /* latest quote (data API) */
    OP_BARS,          /* bars (data API) */
    OP_ACCOUNT,       /* GET /v2/account */
    OP_PLACE,         /* POST /v2/orders */
    OP_LOOKUP,        /* GET one order, by id or client order id */
    OP_LIST,          /* GET /v2/orders */
    OP_CANCEL,        /* DELETE /v2/orders/{id} */
    OP_POSITIONS,     /* GET /v2/positions */
    OP_CLOCK,         /* GET /v2/clock */
    OP_COUNT
} circuit_op_t;

typedef struct circuits circuits_t;

/* Builds the breakers from cfg's BREAKER_* settings and, with a non-empty
 * redis_url, starts the thread that shares their state. */
circuits_t *circuits_new(const config_t *cfg, char *err, size_t errlen);
void circuits_free(circuits_t *c);

/* 1 if a call of class op may start now. */
int circuits_allow(circuits_t *c, circuit_op_t op);

/* 0 while op's breaker is open and no probe is due yet; 1 otherwise.  Takes
 * no permit (a question, not a call).  c may be NULL (then 1). */
int circuits_allow_peek(circuits_t *c, circuit_op_t op);

/* The outcome of a call circuits_allow() let through. */
void circuits_record(circuits_t *c, circuit_op_t op, breaker_outcome_t outcome,
                     int64_t duration_ms);

breaker_state_t circuits_state(circuits_t *c, circuit_op_t op);

/* How many breakers have seen at least one call, and how many of those are
 * open now (for /readyz: not ready when every one in use is open). */
void circuits_open_count(circuits_t *c, int *open, int *used);
const char *circuits_op_name(circuit_op_t op);

#endif
