/* cancel_sender.h -- the broker's side of operators' cancels: the DELETE
 * of each order an operator marked (ledger_operator_cancel, `intentctl
 * cancel` and `intentctl halt --cancel-open`) that is at the broker.
 *
 * Run by the follower's leader (fills.c), on its ledger connection and
 * Alpaca client, about every CANCEL_SENDER_CHECK_MS.  The broker's answer
 * is not the end: the follower publishes the target's canceled event
 * (cancel_reason "operator") when the broker reports the order canceled,
 * or its fill if it filled first. */
#ifndef CANCEL_SENDER_H
#define CANCEL_SENDER_H

#include <stdint.h>
#include "alpaca.h"
#include "ledger.h"

/* How often the leader looks for marked orders to send (ms). */
#define CANCEL_SENDER_CHECK_MS 500

/* Sends the DELETE of the marked orders at the broker whose DELETE has not
 * been answered yet, oldest mark first, at the budget's cancel priority,
 * each waiting for a token until until_mono_ms at most (the rest waits for
 * the next turn), and records each answer (ok, not found, or too late to
 * cancel: all "sent") in the ledger.  *short_of_budget: 1 when a DELETE was
 * left for want of a token (the caller's own calls, behind cancels in the
 * budget's order, should not take the next one), else 0.  Returns how many
 * were sent, or -1 if the ledger failed (logged; check ledger_ok). */
int cancel_sender_turn(ledger_t *l, alpaca_t *a, int64_t until_mono_ms, int *short_of_budget);

#endif
