/* pipeline_cancel.c -- a cancel request (contract section 3b) from state
 * "validated" to the broker's cancel, and the end of an order intent that a
 * cancel stopped before it was sent (see pipeline.h for the order of the
 * steps; pipeline_order.c is the order intent's counterpart).
 *
 * A cancel request travels on its target's key, in the target's partition,
 * but in a lane of its own (intake.c), so it does not wait behind its key's
 * queued work: the target may be in the ledger, or still ahead of the
 * request in this process's lanes, or unknown.  The cancel's states are
 * the order's, with its own meaning:
 *   validated   the target is checked: not yet read while a message before
 *               the request is still in this process -> the request waits
 *               for it; unknown, not the sender's, a cancel itself, ended,
 *               or being canceled by an operator or another request ->
 *               rejected not_cancelable; otherwise the target is
 *               marked "being canceled by this request" (ledger_cancel_mark)
 *               and, if it waits for its budget token, woken
 *               (cancelwatch.h); then the request moves to submitting;
 *   submitting  a target not at the broker is stopped unsent by its own
 *               lane (the ledger never lets a marked intent into
 *               "submitting"; pipeline_cancel_unsent ends it canceled, no
 *               order_id): the request waits for that end, or for an
 *               order id; a target at the broker gets DELETE
 *               /v2/orders/{id}, repeated after a crash (Alpaca answers a
 *               repeated cancel the same way); then, under the target's
 *               lock, the request ends with the target or moves to
 *               submitted;
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
    cancelwatch_forget(p->shared->watch, j->in.target_intent_id);
    return pipeline_reject(p, j, "validated", "not_cancelable", msg, -1, NULL);
}

/* pipeline_stop_queued's test: the target is the sender's (as owns). */
static int sender_owns(const intent_t *by, const intent_t *target) {
    if (by->source != target->source) return 0;
    if (by->source == INTENT_SOURCE_BOT) return !strcmp(target->bot_id, by->bot_id);
    return !strcmp(target->user_id, by->user_id);
}

/* The target still queued in this process, found and stopped unsent at
 * once: 1 when it has ended (the request then reads it again). */
static int stop_queued(pipeline_t *p, job_t *j) {
    if (!p->shared->find_queued) return 0;
    pipeline_copy_t c;
    int found = p->shared->find_queued(p->shared->queued_ctx, j->from, j->in.target_intent_id, &c);
    if (found != 1) return 0;
    c.item.abandon = j->abandon;
    int ended = pipeline_stop_queued(p, &c.item, &j->in, sender_owns) == 1;
    pipeline_copy_free(&c);
    if (ended)
        log_msg(LOG_INFO, "cancel_overtook", j->in.intent_id,
                "target %s was still queued behind its key: stopped unsent",
                j->in.target_intent_id);
    return ended;
}

/* The request's sender, as cancelwatch.h knows owners. */
static cancelwatch_owner_t sender(const intent_t *in) {
    return (cancelwatch_owner_t){in->source == INTENT_SOURCE_USER, in->bot_id, in->user_id};
}

/* The target is on its way but not where the request can act yet (not in
 * the ledger, or not at the broker): the request tells a waiting target
 * (cancelwatch.h), then looks again after 10 ms, doubling to 200 ms. */
static step_t wait_for_target(pipeline_t *p, job_t *j) {
    cancelwatch_owner_t by = sender(&j->in);
    cancelwatch_request(p->shared->watch, j->in.target_intent_id, j->in.intent_id, &by);
    int shift = j->cancel_waits < 5 ? j->cancel_waits : 5;
    j->cancel_waits++;
    int64_t ms = 10LL << shift;
    pipeline_nap(j->abandon, ms > 200 ? 200 : ms);
    return STEP_NEXT;
}

/* Whether the sender may cancel the target: a bot its own intents, a user
 * (on the user topic) their own. */
static int owns(const intent_t *in, const ledger_target_t *t) {
    if (in->source == INTENT_SOURCE_BOT)
        return !t->user_source && !strcmp(t->bot_id, in->bot_id);
    return t->user_source && !strcmp(t->user_id, in->user_id);
}

/* The request ends with its ended target: done if the target was canceled
 * for it, not_cancelable otherwise. */
static step_t end_with(pipeline_t *p, job_t *j, const char *from, int found,
                       const ledger_target_t *t) {
    const char *target = j->in.target_intent_id;
    step_t s;
    if (found && !strcmp(t->state, "canceled") && !strcmp(t->cancel_intent_id, j->in.intent_id)) {
        s = pipeline_commit(p, j, from, "canceled", NULL, NULL, NULL, 0);
    } else {
        char msg[160];
        snprintf(msg, sizeof(msg), "intent %s ended %s before the broker could cancel it",
                 target, found ? t->state : "unknown");
        s = pipeline_reject(p, j, from, "not_cancelable", msg, -1, NULL);
    }
    if (s == STEP_DONE) cancelwatch_forget(p->shared->watch, target);
    return s;
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
    if (!found) {
        /* It may be ahead of this request in its partition, still queued
         * in its lane (this request took a lane of its own): stopped here
         * if it is found queued, else waited for. */
        if (p->shared->queued_before && p->shared->queued_before(p->shared->queued_ctx, j->from))
            return stop_queued(p, j) ? STEP_NEXT : wait_for_target(p, j);
        return not_cancelable(p, j, "no intent %s is known", in->target_intent_id);
    }
    if (!owns(in, &t))
        return not_cancelable(p, j, "intent %s is not the sender's", in->target_intent_id);
    if (t.is_cancel)
        return not_cancelable(p, j, "intent %s is a cancel request, not an order",
                              in->target_intent_id);
    /* Marked for this request already (by it before a retry, or by the
     * target's lane on its behalf: cancelwatch.h), and ended: the request
     * ends with it. */
    if (ledger_state_is_terminal(t.state) && !strcmp(t.cancel_intent_id, in->intent_id))
        return end_with(p, j, "validated", 1, &t);
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
    int marked = ledger_cancel_mark(p->ledger, in->target_intent_id, in->intent_id, "requested",
                                    err, sizeof(err));
    if (marked < 0) {
        log_msg(LOG_WARN, "ledger_failed", in->intent_id, "%s", err);
        return STEP_RETRY;
    }
    if (!marked) return STEP_NEXT;  /* it moved meanwhile: read it again */
    cancelwatch_owner_t by = sender(in);  /* wakes it if it waits for a token */
    cancelwatch_request(p->shared->watch, in->target_intent_id, in->intent_id, &by);
    return pipeline_transition(p, j, "validated", NULL, "submitting", NULL);
}

/* After the DELETE (or without one, for a target stopped unsent): an ended
 * target never changes again, so the request ends with it at once;
 * otherwise, under the target's lock (the follower ends an order under
 * it), either the target has ended meanwhile, or the request waits in
 * "submitted" and the follower ends it with the target. */
static step_t settle(pipeline_t *p, job_t *j) {
    char err[256];
    const char *target = j->in.target_intent_id;
    ledger_target_t t;
    int found = ledger_cancel_target(p->ledger, target, &t, err, sizeof(err));
    if (found >= 0 && (!found || ledger_state_is_terminal(t.state)))
        return end_with(p, j, "submitting", found, &t);
    int held = found < 0 ? -1 : ledger_lock_intent(p->ledger, target, err, sizeof(err));
    if (held < 0) {
        log_msg(LOG_WARN, "ledger_failed", j->in.intent_id, "%s", err);
        return STEP_RETRY;
    }
    if (!held) return STEP_RETRY;  /* the follower is at it: look again */
    found = ledger_cancel_target(p->ledger, target, &t, err, sizeof(err));
    step_t s;
    if (found < 0) {
        log_msg(LOG_WARN, "ledger_failed", j->in.intent_id, "%s", err);
        s = STEP_RETRY;
    } else if (found && !ledger_state_is_terminal(t.state)) {
        s = pipeline_transition(p, j, "submitting", NULL, "submitted", NULL);
    } else {
        s = end_with(p, j, "submitting", found, &t);
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
    /* Not at the broker yet: its lane stops it unsent when it comes to
     * wait for its token (or ends it otherwise); until then, look again. */
    if (found && !ledger_state_is_terminal(t.state) && !t.order_id[0])
        return wait_for_target(p, j);
    if (found && !ledger_state_is_terminal(t.state)) {
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

step_t pipeline_cancel_unsent(pipeline_t *p, job_t *j, const char *from) {
    char err[256];
    ledger_target_t t;
    if (ledger_cancel_target(p->ledger, j->in.intent_id, &t, err, sizeof(err)) < 0) {
        log_msg(LOG_WARN, "ledger_failed", j->in.intent_id, "%s", err);
        return STEP_RETRY;
    }
    event_t ev;
    publish_build_canceled(p->cfg, &j->in, NULL, t.cancel_intent_id, t.cancel_reason, &ev);
    log_msg(LOG_INFO, "canceled_unsent", j->in.intent_id, "canceled before it was sent (%s%s%s)",
            t.cancel_reason, t.cancel_intent_id[0] ? " by " : "", t.cancel_intent_id);
    pipeline_detour(j, PIPELINE_DETOUR_CANCEL);
    return pipeline_commit(p, j, from, "canceled", NULL, NULL, &ev, 1);
}
