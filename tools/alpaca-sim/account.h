/* account.h -- the simulated account's identity, flags and cash.
 *
 * POST /_sim/account changes the flags (every field optional): status,
 * trading_blocked, account_blocked, trade_suspended_by_user,
 * shorting_enabled, cash.  The trade gate refuses new orders, as Alpaca
 * does, with 403 (APIERR_FORBIDDEN, apierr.h):
 *   trading_blocked or account_blocked   "account is not authorized to trade"
 *   trade_suspended_by_user             "new orders are rejected by user request"
 *   status other than ACTIVE or ACCOUNT_UPDATED
 *                                       "account is not authorized to trade"
 * Not thread-safe: the order book's lock guards it. */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include <jansson.h>
#include <stdint.h>

#include "fx.h"
#include "rng.h"

#define ACCOUNT_START_CASH_DOLLARS 100000

typedef struct account {
    char id[RNG_UUID_LEN];
    char number[16];
    int64_t created_us;
    char status[32];
    int trading_blocked;
    int account_blocked;
    int trade_suspended_by_user;
    int shorting_enabled;
    fx_money_t cash;       /* 1e-13 dollars */
} account_t;

/* What POST /_sim/account asked for; has_* tells which fields were given. */
typedef struct account_update {
    int has_status, has_trading_blocked, has_account_blocked, has_suspended, has_shorting,
        has_cash;
    char status[32];
    int trading_blocked, account_blocked, trade_suspended_by_user, shorting_enabled;
    fx_money_t cash;
} account_update_t;

/* The starting account: ACTIVE, unblocked, shorting enabled, $100000. */
void account_start(account_t *a, rng_t *rng);
/* Parses a POST /_sim/account body.  Returns 0, or -1 with a message in err. */
int account_parse_update(const json_t *body, account_update_t *u, char *err, size_t errlen);
void account_apply(account_t *a, const account_update_t *u);
/* NULL if the account may trade, else the 403 message. */
const char *account_gate(const account_t *a);
/* The Account object of the trading API, with the figures the book
 * computes from positions and open orders (1e-13 dollars). */
json_t *account_to_json(const account_t *a, fx_money_t long_mv, fx_money_t short_mv,
                        fx_money_t buying_power);

#endif
