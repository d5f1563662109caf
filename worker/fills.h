/* fills.h -- following every accepted order to its end.
 *
 * Bots care about fills, not about "accepted".  Once an order is accepted
 * (intent state "submitted"), one follower, in one replica at a time, polls
 * Alpaca until the order is filled, canceled, expired or rejected, and
 * publishes partial_fill, fill, canceled, expired or broker_rejected as the
 * order moves.  It spends Alpaca's budget frugally: one call lists every
 * open order, one more lists recently closed ones when some left the open
 * list, and the poll interval doubles while nothing changes.
 *
 * fills_plan() is the one place that turns "the order moved from what the
 * ledger knew to what the broker says" into events; the pipeline uses it for
 * the broker's first answer too. */
#ifndef FILLS_H
#define FILLS_H

#include <stddef.h>
#include "alpaca.h"
#include "budget.h"
#include "circuits.h"
#include "config.h"
#include "intent.h"
#include "publish.h"
#include "settled.h"

#define FILLS_MAX_EVENTS 3

/* What the ledger last knew of an order: cumulative filled_qty and
 * filled_avg_price (decimal text, "" or "0" for none) and how many
 * partial_fill events were published; which cancel, if any, the worker
 * asked for (its canceled event names it). */
typedef struct fills_known {
    const char *filled_qty;
    const char *filled_avg_price;
    int partials;
    const char *cancel_intent_id;  /* the cancel request canceling it; NULL/"" none */
    const char *cancel_reason;     /* requested, operator; NULL/"" when not asked */
} fills_known_t;

/* Builds the events that the move from `known` to `now` calls for, in the
 * order they happened (a partial fill before a cancel), into evs; returns
 * how many.  *to is the intent's next state ("submitted" while the order
 * lives) and *reason the rejection reason, if any.  last_fill_qty and
 * last_fill_price are the difference between the two cumulative states. */
int fills_plan(const config_t *cfg, const intent_t *in, const fills_known_t *known,
               const alpaca_order_t *now, event_t evs[FILLS_MAX_EVENTS],
               const char **to, const char **reason);

typedef struct follower follower_t;

/* Starts the follower thread; it competes for the follower lease and, while
 * it holds it, follows every open order in the ledger (orders left open by a
 * previous run included).  An order in `settled` (may be NULL) is over: its
 * snapshots are let go without reading the ledger. */
follower_t *fills_start(const config_t *cfg, publisher_t *pub, circuits_t *circuits,
                        budget_t *budget, settled_t *settled, char *err, size_t errlen);

/* Stops and joins the thread, releasing nothing the ledger needs: the lease
 * simply runs out and another replica takes over. */
void fills_stop(follower_t *f);

#endif
