/* pipeline_cancel.c -- a cancel request (contract section 3b) from state
 * "validated" to the broker's cancel (see pipeline.h for the order of the
 * steps; pipeline_order.c is the order intent's counterpart).
 *
 * A cancel request travels on its target's key, so the target, published
 * before it, was handled before it: the target is in the ledger, or it is
 * unknown.  The cancel's states are the order's, with its own meaning:
 *   validated   the target is checked: unknown, not the sender's, a cancel
 *               itself, ended, or being canceled by an operator or another
 *               request -> rejected not_cancelable; not yet at the
 *               broker -> waits (retried from the ledger); at the broker ->
 *               the target is marked "being canceled by this request"
 *               (ledger_cancel_mark), then the cancel moves to submitting;
 *   submitting  DELETE /v2/orders/{id}, repeated after a crash (Alpaca
 *               answers a repeated cancel the same way); answered -> the
 *               cancel moves to submitted;
 *   submitted   the broker decides: when the target ends, the follower
 *               (fills.c) publishes its canceled event with this request's
 *               cancel_intent_id, or, if it filled first, the target's fill
 *               and this request's not_cancelable, and ends both together.
 * A cancel is never refused for a quota or a halt: it reduces risk. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pipeline_internal.h"
#include "timefmt.h"

static step_t not_cancelable(pipeline_t *p, job_t *j, const char *fmt, const char *a) {
    char msg[256];
    snprintf(msg, sizeof(msg), fmt, a);
    return pipeline_reject(p, j, "validated", "not_cancelable", msg, -1, NULL);
}

/* Whether the sender may cancel the target: a bot its own intents, a user
 * (on the user topic) their own. */
static int owns(const intent_t *in, const ledger_target_t *t) {
    if (in->source == INTENT_SOURCE_BOT)
        return !t->user_source && !strcmp(t->bot_id, in->bot_id);
    return t->user_source && !strcmp(t->user_id, in->user_id);
}

step_t pipeline_cancel(pipeline_t *p, job_t *j) {
    char err[256];
    const intent_t *in = &j->in;
    if (intent_is_expired(in, timefmt_now_ms()))
        return pipeline_reject(p, j, "validated", "expired",
                               "the cancel request expired before it could be acted on", -1,
                               NULL);
    ledger_target_t t;
    int found = ledger_cancel_target(p->ledger, in->target_intent_id, &t, err, sizeof(err));
    if (found < 0) {
        log_msg(LOG_WARN, "ledger_failed", in->intent_id, "%s", err);
        return STEP_RETRY;
    }
    if (!found)
        return not_cancelable(p, j, "no intent %s is known", in->target_intent_id);
    if (!owns(in, &t))
        return not_cancelable(p, j, "intent %s is not the sender's", in->target_intent_id);
    if (t.is_cancel)
        return not_cancelable(p, j, "intent %s is a cancel request, not an order",
                              in->target_intent_id);
    if (ledger_state_is_terminal(t.state)) {
        char what[80];
        snprintf(what, sizeof(what), "%s (%s)", in->target_intent_id, t.state);
        return not_cancelable(p, j, "intent %s has already ended", what);
    }
    if (!strcmp(t.cancel_reason, "operator"))
        return not_cancelable(p, j, "%s", "an operator is already canceling it");
    if (t.cancel_intent_id[0] && strcmp(t.cancel_intent_id, in->intent_id) != 0)
        return not_cancelable(p, j, "another cancel request (%s) is already canceling it",
                              t.cancel_intent_id);
    if (strcmp(t.state, "submitted") != 0 || !t.order_id[0]) {
        /* Not at the broker yet (its placement is being retried or
         * resumed): wait for it, within this request's life. */
        log_msg(LOG_DEBUG, "cancel_waiting", in->intent_id, "target %s is %s",
                in->target_intent_id, t.state);
        return STEP_RETRY;
    }
    int marked = ledger_cancel_mark(p->ledger, in->target_intent_id, in->intent_id, "requested",
                                    err, sizeof(err));
    if (marked < 0) {
        log_msg(LOG_WARN, "ledger_failed", in->intent_id, "%s", err);
        return STEP_RETRY;
    }
    if (!marked) return STEP_NEXT;  /* it moved meanwhile: read it again */
    return pipeline_transition(p, j, "validated", NULL, "submitting", NULL);
}

/* After the DELETE: under the target's lock (the follower ends an order
 * under it), either the target has ended, and this request ends with it
 * (done if the target was canceled for it, not_cancelable otherwise), or
 * the request waits in "submitted" and the follower ends it with the
 * target. */
static step_t settle(pipeline_t *p, job_t *j) {
    char err[256];
    const char *target = j->in.target_intent_id;
    int held = ledger_lock_intent(p->ledger, target, err, sizeof(err));
    if (held < 0) {
        log_msg(LOG_WARN, "ledger_failed", j->in.intent_id, "%s", err);
        return STEP_RETRY;
    }
    if (!held) return STEP_RETRY;  /* the follower is at it: look again */
    ledger_target_t t;
    int found = ledger_cancel_target(p->ledger, target, &t, err, sizeof(err));
    step_t s;
    if (found < 0) {
        log_msg(LOG_WARN, "ledger_failed", j->in.intent_id, "%s", err);
        s = STEP_RETRY;
    } else if (found && !ledger_state_is_terminal(t.state)) {
        s = pipeline_transition(p, j, "submitting", NULL, "submitted", NULL);
    } else if (found && !strcmp(t.state, "canceled") &&
               !strcmp(t.cancel_intent_id, j->in.intent_id)) {
        s = pipeline_commit(p, j, "submitting", "canceled", NULL, NULL, NULL, 0);
    } else {
        char msg[160];
        snprintf(msg, sizeof(msg), "intent %s ended %s before the broker could cancel it",
                 target, found ? t.state : "unknown");
        s = pipeline_reject(p, j, "submitting", "not_cancelable", msg, -1, NULL);
    }
    ledger_unlock_intent(p->ledger, target);
    return s;
}

step_t pipeline_cancel_send(pipeline_t *p, job_t *j) {
    char err[256];
    ledger_target_t t;
    int found = ledger_cancel_target(p->ledger, j->in.target_intent_id, &t, err, sizeof(err));
    if (found < 0) {
        log_msg(LOG_WARN, "ledger_failed", j->in.intent_id, "%s", err);
        return STEP_RETRY;
    }
    /* Ended meanwhile (or, impossibly, gone): the follower settles this
     * request with the target's end. */
    if (found && !ledger_state_is_terminal(t.state) && t.order_id[0]) {
        alpaca_error_t e;
        pipeline_context_unbounded(p, j);
        alpaca_result_t r = alpaca_cancel_order(p->alpaca, t.order_id, &e);
        if (r != ALPACA_OK && r != ALPACA_NOT_FOUND && r != ALPACA_REJECTED) {
            log_msg(LOG_WARN, "alpaca_cancel_failed", j->in.intent_id, "DELETE %s: %s",
                    t.order_id, e.message);
            return STEP_RETRY;
        }
        log_msg(LOG_INFO, "cancel_sent", j->in.intent_id, "order %s of %s: %s", t.order_id,
                j->in.target_intent_id,
                r == ALPACA_OK ? "the broker is canceling it" : e.message);
        pipeline_failpoint(p, "after_cancel", j->in.intent_id);
    }
    return settle(p, j);
}
