/* fuzz_order.h -- the promises of a parsed Alpaca order, for the targets
 * that get one: fuzz_alpaca (REST answers) and fuzz_tradestream (the
 * trade_updates stream), which read orders with the same parser
 * (alpaca_parse_order) and must keep the same promises. */
#ifndef FUZZ_ORDER_H
#define FUZZ_ORDER_H

#include <stddef.h>
#include <string.h>

#include "alpaca_parse.h"
#include "fuzz.h"

/* Every text field NUL-terminated, filled_qty ("0" at least), a flag that
 * is 0 or 1, and the raw JSON. */
static inline void fuzz_check_order_fields(const alpaca_order_t *o) {
    FUZZ_TERMINATED(o->id);
    FUZZ_TERMINATED(o->client_order_id);
    FUZZ_TERMINATED(o->status);
    FUZZ_TERMINATED(o->symbol);
    FUZZ_TERMINATED(o->side);
    FUZZ_TERMINATED(o->type);
    FUZZ_TERMINATED(o->time_in_force);
    FUZZ_TERMINATED(o->qty);
    FUZZ_TERMINATED(o->notional);
    FUZZ_TERMINATED(o->filled_qty);
    FUZZ_TERMINATED(o->filled_avg_price);
    FUZZ_TERMINATED(o->limit_price);
    FUZZ_TERMINATED(o->stop_price);
    FUZZ_TERMINATED(o->created_at);
    FUZZ_TERMINATED(o->updated_at);
    FUZZ_TERMINATED(o->filled_at);
    FUZZ_TERMINATED(o->submitted_at);
    FUZZ_TERMINATED(o->canceled_at);
    FUZZ_TERMINATED(o->expired_at);
    FUZZ_TERMINATED(o->failed_at);
    FUZZ_TERMINATED(o->order_class);
    FUZZ_ASSERT(o->filled_qty[0] != '\0');
    FUZZ_ASSERT(o->extended_hours == 0 || o->extended_hours == 1);
    FUZZ_ASSERT(o->raw != NULL);
    (void)alpaca_status_is_terminal(o->status);
}

/* An order parsed from its own raw JSON is the same order (the ledger
 * stores raw and re-reads it). */
static inline void fuzz_check_raw_round_trip(const alpaca_order_t *o) {
    alpaca_order_t again;
    const char *bad = NULL;
    FUZZ_ASSERT(alpaca_parse_order(o->raw, strlen(o->raw), &again, &bad) == 0);
    FUZZ_ASSERT(!strcmp(again.raw, o->raw));
    /* Both were zeroed before they were filled, padding included. */
    FUZZ_ASSERT(memcmp(o, &again, offsetof(alpaca_order_t, raw)) == 0);
    alpaca_order_clear(&again);
}

#endif
