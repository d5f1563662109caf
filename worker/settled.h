/* settled.h -- the orders this replica has just seen end.
 *
 * A placement whose answer already says "filled" (or rejected, canceled,
 * expired) is recorded terminal by the lane that sent it; the stream's
 * events for that order arrive a moment later and would cost the follower
 * a lock and a ledger read each, only to find an intent that can no longer
 * move.  The lanes write the order's client_order_id here once its terminal
 * outcome is durable; the follower lets such events go without the ledger.
 *
 * A bounded set in memory, shared by the threads of one replica: a newer
 * entry may push an older one out (then the follower reads the ledger, as
 * without this set), but an id is never reported that was not added.  It
 * holds no state of record: a replica that restarts starts empty. */
#ifndef SETTLED_H
#define SETTLED_H

typedef struct settled settled_t;

/* NULL without memory. */
settled_t *settled_new(void);
void settled_free(settled_t *s);

/* Adds the client_order_id of an order whose intent is durably terminal.
 * s NULL: nothing. */
void settled_add(settled_t *s, const char *client_order_id);

/* 1 if client_order_id was added and not pushed out since, else 0. */
int settled_has(settled_t *s, const char *client_order_id);

#endif
