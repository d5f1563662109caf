/* pretrade.c -- the kill switch and the risk checks (see pretrade.h).
 *
 * The kill switch first: the strictest of the global, user and bot states
 * decides.  "halted" refuses everything; "reducing" lets through only an
 * order that shrinks the position of the scope that is reducing without
 * flipping it: the bot's own position for a bot, the user's (its user
 * intents and its bots') for a user, the account's for everyone, all from
 * the ledger, counting the scope's open orders of the intent's side
 * (positions.h: the decision and why two quick sells cannot together
 * oversell).  A notional order's quantity is unknown: it never passes.
 * Then the risk limits, reading a quote and the bot's open orders only when
 * a configured limit needs them: a quote that cannot be had is left out (a
 * check that needs one then refuses: risk.h), while an unreadable ledger
 * makes the intent wait. */
#include "pretrade.h"

#include <stdio.h>
#include <string.h>

#include "decimal.h"
#include "log.h"
#include "positions.h"
#include "risk.h"

/* The text of a quantity, for messages. */
static const char *qty_text(decimal_nanos_t v, decimal_t *d) {
    decimal_from_nanos(v, d);
    return d->text;
}

/* The reducing refusal's message: whose trading is reducing, and what the
 * ledger says that scope holds of the symbol. */
static void reducing_message(const char *scope, const char *whom, const intent_t *in,
                             const positions_row_t *row, char *msg, size_t msglen) {
    int global = !strcmp(scope, "global");
    char who[80], why[320];
    decimal_t q, s, b;
    if (global) snprintf(who, sizeof(who), "the account");
    else snprintf(who, sizeof(who), "%s %.64s", scope, whom);
    if (!in->has_qty)
        snprintf(why, sizeof(why), "a notional order's quantity is unknown");
    else
        snprintf(why, sizeof(why), "%s holds %s %s; open sells %s, open buys %s", who,
                 qty_text(row->qty, &q), in->symbol, qty_text(row->open_sell, &s),
                 qty_text(row->open_buy, &b));
    if (global)
        snprintf(msg, msglen, "trading is reducing for everyone: only orders "
                              "that shrink a position are taken (%s)", why);
    else
        snprintf(msg, msglen, "trading is reducing for %s: only orders that "
                              "shrink a position are taken (%s)", who, why);
}

static pretrade_result_t kill_switch(const pretrade_deps_t *d, const intent_t *in,
                                     const char **reason, char *msg, size_t msglen) {
    const char *scope = "";
    trading_state_t ts = d->trading
                             ? trading_state_for(d->trading, in->user_id, in->bot_id, &scope)
                             : TRADING_ACTIVE;
    const char *whom = !strcmp(scope, "bot") ? in->bot_id : in->user_id;
    *reason = "trading_halted";
    if (ts == TRADING_HALTED) {
        if (!strcmp(scope, "global")) snprintf(msg, msglen, "trading is halted for everyone");
        else snprintf(msg, msglen, "trading is halted for %s %s", scope, whom);
        return PRETRADE_REFUSE;
    }
    if (ts != TRADING_REDUCING) return PRETRADE_PASS;
    positions_scope_t ps = !strcmp(scope, "bot")    ? POSITIONS_BOT
                           : !strcmp(scope, "user") ? POSITIONS_USER
                                                    : POSITIONS_ACCOUNT;
    positions_row_t row;
    char err[256];
    int r = positions_reduce_check(d->ledger, ps, whom, in, &row, err, sizeof(err));
    if (r < 0) {
        log_msg(LOG_WARN, "ledger_failed", in->intent_id, "%s", err);
        return PRETRADE_RETRY;
    }
    if (r) return PRETRADE_PASS;
    reducing_message(scope, whom, in, &row, msg, msglen);
    return PRETRADE_REFUSE;
}

static pretrade_result_t risk_limits(const pretrade_deps_t *d, const intent_t *in,
                                     const char **reason, char *msg, size_t msglen) {
    char err[256];
    const char *bid = NULL, *ask = NULL;
    market_quote_t q;
    if (risk_needs_quote(d->cfg, in)) {
        if (market_quote(d->market, in->symbol, &q, err, sizeof(err)) == 0) {
            bid = q.q.bid;
            ask = q.q.ask;
        } else {
            log_msg(LOG_WARN, "quote_unavailable", in->intent_id, "%s", err);
        }
    }
    long open = 0;
    if (risk_needs_open_orders(d->cfg, in)) {
        open = ledger_count_open_orders(d->ledger, in->bot_id, err, sizeof(err));
        if (open < 0) {
            log_msg(LOG_WARN, "ledger_failed", in->intent_id, "%s", err);
            return PRETRADE_RETRY;
        }
    }
    risk_verdict_t v;
    risk_check(d->cfg, in, bid, ask, open, &v);
    if (v.ok) return PRETRADE_PASS;
    *reason = "risk_rejected";
    snprintf(msg, msglen, "%s", v.message);
    return PRETRADE_REFUSE;
}

pretrade_result_t pretrade_check(const pretrade_deps_t *d, const intent_t *in,
                                 const char **reason, char *msg, size_t msglen) {
    pretrade_result_t r = kill_switch(d, in, reason, msg, msglen);
    return r == PRETRADE_PASS ? risk_limits(d, in, reason, msg, msglen) : r;
}
