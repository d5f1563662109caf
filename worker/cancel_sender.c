/* cancel_sender.c -- the DELETEs of operators' cancels (see
 * cancel_sender.h).
 *
 * Who sends: the holder of the follower's lease, from the follower's loop
 * (fills.c), rather than a lease of its own as positions_check.c has.  The
 * follower's leader already is the one replica that ends open orders, with
 * a ledger connection and an Alpaca client of its own; a DELETE is the
 * start of an end it then records, and a new leader (after a crash) finds
 * what its predecessor had not sent in the ledger and sends it.  A second
 * lease would buy a second connection and thread for a query that finds
 * nothing almost always.
 *
 * One turn: one indexed query (the partial index of migration 008 holds
 * only the marked orders at the broker not yet sent), then for each, oldest
 * mark first, DELETE /v2/orders/{id} at BUDGET_CANCEL, and cancel_sent_at
 * written once the broker answered.  Ok (204), not found (404: no such
 * order any more) and 422 (too late: it is filling or ended) all mean
 * "sent": the follower sees the order's end either way.  Anything else
 * (unreachable, no budget, breaker open) ends the turn, the others being
 * likely to fare the same, and is retried at the next turn, so
 * a crash between the DELETE and its record repeats the DELETE, which the
 * broker answers alike.  A turn stops at its deadline, so that the
 * follower's own work waits a second at most; while a DELETE waits for a
 * token, the follower asks for none of its own (fills.c: the budget's
 * order puts cancels first, and the follower's calls could otherwise take
 * the call a cancel waits for, between its turns).
 *
 * Targets marked but not at the broker (received .. submitting) are not
 * this file's: the pipeline refuses to send an order being canceled and
 * ends it canceled without an order. */
#include "cancel_sender.h"

#include "log.h"
#include "metrics.h"
#include "timefmt.h"

/* DELETEs per turn at most (the rest waits for the next turn). */
#define TURN_MAX 20

/* The metric's result label of an answer, NULL when not sent. */
static const char *sent_result(alpaca_result_t r) {
    switch (r) {
    case ALPACA_OK: return "ok";
    case ALPACA_NOT_FOUND: return "not_found";
    case ALPACA_REJECTED: return "rejected";
    default: return NULL;
    }
}

int cancel_sender_turn(ledger_t *l, alpaca_t *a, int64_t until_mono_ms, int *short_of_budget) {
    char err[256];
    ledger_unsent_cancel_t c[TURN_MAX];
    *short_of_budget = 0;
    int n = ledger_operator_cancels_unsent(l, c, TURN_MAX, err, sizeof(err));
    if (n < 0) {
        log_msg(LOG_WARN, "operator_cancel_failed", NULL, "%s", err);
        return -1;
    }
    int sent = 0;
    for (int i = 0; i < n && timefmt_mono_ms() < until_mono_ms; i++) {
        alpaca_error_t e;
        alpaca_set_call_context(a, BUDGET_CANCEL, until_mono_ms, NULL);
        alpaca_result_t r = alpaca_cancel_order(a, c[i].order_id, &e);
        const char *result = sent_result(r);
        metrics_add(M_OPERATOR_CANCELS, 1, result ? result : "failed", NULL);
        if (!result) {
            /* Unreachable, breaker open, no budget: the others would fare
             * the same; the next turn tries again. */
            *short_of_budget = r == ALPACA_NO_BUDGET;
            log_msg(LOG_WARN, "operator_cancel_failed", c[i].intent_id,
                    "DELETE of order %s: %s (tried again in %d ms)", c[i].order_id, e.message,
                    CANCEL_SENDER_CHECK_MS);
            break;
        }
        log_msg(LOG_INFO, "operator_cancel_sent", c[i].intent_id, "order %s: %s", c[i].order_id,
                r == ALPACA_OK ? "the broker is canceling it" : e.message);
        if (ledger_operator_cancel_sent(l, c[i].intent_id, err, sizeof(err)) < 0) {
            log_msg(LOG_WARN, "operator_cancel_failed", c[i].intent_id, "%s", err);
            return -1;
        }
        sent++;
    }
    return sent;
}
