/* publish.h -- everything the worker writes to Kafka: result events on
 * orders.fills and orders.rejections, and original messages on orders.dlq.
 *
 * Events are built here (one shape, contract section 4) and produced with
 * the idempotent producer.  publish_send_many() waits for the broker's
 * acknowledgement, because the ledger marks an event published, and the
 * consumer offset moves on, only after that. */
#ifndef PUBLISH_H
#define PUBLISH_H

#include <stddef.h>
#include "alpaca.h"
#include "config.h"
#include "intent.h"
#include "origin.h"

typedef struct publisher publisher_t;

/* A built event: its id, destination and JSON payload (malloc'd). */
typedef struct event {
    char event_id[96];
    const char *topic;        /* cfg->topic_fills or cfg->topic_rejections */
    char type[24];            /* fills: accepted, fill, ...; rejections: "rejected" */
    int terminal;             /* 1 if this event ends the intent */
    char *payload;
} event_t;

publisher_t *publish_new(const config_t *cfg, char *err, size_t errlen);

/* A publisher that sends nothing: every message is acknowledged at once
 * (and counted as published).  For measuring the ledger alone
 * (bench/ceiling: the worker's publishing path without Kafka); never the
 * worker's.  NULL without memory. */
publisher_t *publish_new_discard(const config_t *cfg);

/* Flushes what is outstanding (up to timeout) and frees the producer. */
void publish_free(publisher_t *p);

/* One message for publish_send_many. */
typedef struct publish_msg {
    const char *topic;
    const char *key;
    size_t key_len;
    const char *payload;
    size_t len;
    const char *type;   /* the event's type for the metrics; NULL: read it
                           from the payload */
} publish_msg_t;

/* Produces the n messages, all in flight at once, and waits until Kafka
 * acknowledged each.  Returns 0 when every one was, -1 with err (the first
 * failure) otherwise; messages of one key keep their order. */
int publish_send_many(publisher_t *p, const publish_msg_t *m, int n,
                      char *err, size_t errlen);

/* Produces the original bytes to the DLQ with the x-dlq-* headers and
 * waits for the acknowledgement. */
int publish_dead_letter(publisher_t *p, const origin_t *from,
                        const char *reason, const char *detail,
                        const void *bytes, size_t len,
                        char *err, size_t errlen);

/* Builds an orders.fills event of the given type ("accepted", "fill", ...)
 * numbered n for the intent, from the broker's order.  last_qty/last_price
 * are set for fill events (NULL otherwise). */
void publish_build_fill(const config_t *cfg, const intent_t *in,
                        const alpaca_order_t *o, const char *type, int n,
                        const char *last_qty, const char *last_price,
                        event_t *out);

/* The orders.fills event "canceled" (number 1) of the intent, with the
 * cancel that ended it: cancel_id the cancel request's intent_id ("" or
 * NULL for none: an operator's), cancel_reason "requested" or "operator"
 * ("" or NULL when the worker did not ask for the cancel).  o NULL: the
 * intent was canceled before it was sent (no order_id, nothing filled). */
void publish_build_canceled(const config_t *cfg, const intent_t *in, const alpaca_order_t *o,
                            const char *cancel_id, const char *cancel_reason, event_t *out);

/* Builds the orders.rejections event.  errors (validation), retry_after_ms
 * (>= 0 to include) and broker (NULL to omit) as fits the reason. */
void publish_build_rejection(const config_t *cfg, const intent_t *in,
                             const char *reason, const char *message,
                             const intent_verdict_t *errors,
                             long long retry_after_ms,
                             const alpaca_error_t *broker, event_t *out);

void publish_event_clear(event_t *ev);

#endif
