/* pretrade.c -- the kill switch and the risk checks (see pretrade.h).
 *
 * The kill switch first: the strictest of the global, user and bot states
 * decides.  "halted" refuses everything; "reducing" lets through only an
 * order that shrinks the account's position in its symbol without flipping
 * it, which needs the positions (a notional order's quantity is unknown: it
 * never passes).  Then the risk limits, reading a quote and the bot's open
 * orders only when a configured limit needs them: a quote that cannot be
 * had is left out (a check that needs one then refuses: risk.h), while an
 * unreadable ledger makes the intent wait, like positions that cannot be
 * read. */
#include "pretrade.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "log.h"
#include "risk.h"

/* Whether the intent shrinks the account's position in its symbol without
 * flipping it (what "reducing" lets through).  1 yes, 0 no, -1 unknown. */
static int reduces_position(const pretrade_deps_t *d, const intent_t *in) {
    if (!in->has_qty) return 0;  /* a notional order's quantity is unknown */
    alpaca_position_t *pos = NULL;
    size_t n = 0;
    alpaca_error_t e;
    if (alpaca_get_positions(d->alpaca, &pos, &n, &e) != ALPACA_OK) {
        log_msg(LOG_WARN, "positions_unreadable", in->intent_id, "%s", e.message);
        return -1;
    }
    decimal_nanos_t held = 0, want = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(pos[i].symbol, in->symbol) && decimal_text_to_nanos(pos[i].qty, &held) < 0)
            held = 0;
    free(pos);
    if (decimal_to_nanos(&in->qty, &want) < 0) return 0;
    if (!strcmp(in->side, "sell")) return held > 0 && want <= held;
    return held < 0 && want <= -held;
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
    int r = reduces_position(d, in);
    if (r < 0) return PRETRADE_RETRY;
    if (r) return PRETRADE_PASS;
    if (!strcmp(scope, "global"))
        snprintf(msg, msglen, "trading is reducing for everyone: only orders "
                              "that shrink a position are taken");
    else
        snprintf(msg, msglen, "trading is reducing for %s %s: only orders that "
                              "shrink a position are taken", scope, whom);
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
