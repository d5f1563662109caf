/* account.c -- account identity, flags, cash and the trade gate
 * (see account.h). */
#include "account.h"

#include <stdio.h>
#include <string.h>

#include "simtime.h"

static fx_money_t account_start_cash(void)
{
    return fx_rescale(ACCOUNT_START_CASH_DOLLARS, 0, FX_MONEY_SCALE);
}

void account_start(account_t *a, rng_t *rng)
{
    memset(a, 0, sizeof(*a));
    rng_uuid4(rng, a->id);
    snprintf(a->number, sizeof(a->number), "PA%010llu",
             (unsigned long long)(rng_next(rng) % 10000000000ULL));
    a->created_us = simtime_now_us();
    snprintf(a->status, sizeof(a->status), "ACTIVE");
    a->shorting_enabled = 1;
    a->cash = account_start_cash();
}

/* Reads an optional boolean field.  Returns 0 or -1 (present, not boolean). */
static int account_bool(const json_t *body, const char *name, int *has, int *out)
{
    const json_t *v = json_object_get(body, name);
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return -1;
    *has = 1;
    *out = json_is_true(v);
    return 0;
}

int account_parse_update(const json_t *body, account_update_t *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    if (!json_is_object(body)) {
        snprintf(err, errlen, "body must be a JSON object");
        return -1;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        if (strcmp(key, "status") != 0 && strcmp(key, "trading_blocked") != 0 &&
            strcmp(key, "account_blocked") != 0 && strcmp(key, "trade_suspended_by_user") != 0 &&
            strcmp(key, "shorting_enabled") != 0 && strcmp(key, "cash") != 0) {
            snprintf(err, errlen, "unknown field %.40s", key);
            return -1;
        }
    }
    v = json_object_get(body, "status");
    if (v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) >= sizeof(u->status)) {
            snprintf(err, errlen, "status must be a non-empty string of at most %zu characters",
                     sizeof(u->status) - 1);
            return -1;
        }
        u->has_status = 1;
        snprintf(u->status, sizeof(u->status), "%s", json_string_value(v));
    }
    if (account_bool(body, "trading_blocked", &u->has_trading_blocked, &u->trading_blocked) ||
        account_bool(body, "account_blocked", &u->has_account_blocked, &u->account_blocked) ||
        account_bool(body, "trade_suspended_by_user", &u->has_suspended,
                     &u->trade_suspended_by_user) ||
        account_bool(body, "shorting_enabled", &u->has_shorting, &u->shorting_enabled)) {
        snprintf(err, errlen, "the flags must be booleans");
        return -1;
    }
    v = json_object_get(body, "cash");
    if (v) {
        char text[FX_TEXT_MAX];
        int is_number;
        int64_t cents;
        if (fx_json_text(v, text, sizeof(text), &is_number) != 0 ||
            fx_parse(text, 2, is_number, &cents) != FX_OK || cents < 0) {
            snprintf(err, errlen, "cash must be a non-negative decimal with at most 2 places");
            return -1;
        }
        u->has_cash = 1;
        u->cash = fx_rescale(cents, 2, FX_MONEY_SCALE);
    }
    return 0;
}

void account_apply(account_t *a, const account_update_t *u)
{
    if (u->has_status)
        snprintf(a->status, sizeof(a->status), "%s", u->status);
    if (u->has_trading_blocked)
        a->trading_blocked = u->trading_blocked;
    if (u->has_account_blocked)
        a->account_blocked = u->account_blocked;
    if (u->has_suspended)
        a->trade_suspended_by_user = u->trade_suspended_by_user;
    if (u->has_shorting)
        a->shorting_enabled = u->shorting_enabled;
    if (u->has_cash)
        a->cash = u->cash;
}

const char *account_gate(const account_t *a)
{
    if (a->trading_blocked || a->account_blocked)
        return "account is not authorized to trade";
    if (a->trade_suspended_by_user)
        return "new orders are rejected by user request";
    if (strcmp(a->status, "ACTIVE") != 0 && strcmp(a->status, "ACCOUNT_UPDATED") != 0)
        return "account is not authorized to trade";
    return NULL;
}

/* id, account_number, status, created_at and the flags. */
static void account_add_identity(const account_t *a, json_t *j)
{
    char created[SIMTIME_LEN];
    json_object_set_new(j, "id", json_string(a->id));
    json_object_set_new(j, "account_number", json_string(a->number));
    json_object_set_new(j, "status", json_string(a->status));
    json_object_set_new(j, "crypto_status", json_string("ACTIVE"));
    json_object_set_new(j, "currency", json_string("USD"));
    json_object_set_new(j, "created_at",
                        json_string(simtime_rfc3339_us(created, sizeof(created), a->created_us)));
    json_object_set_new(j, "trading_blocked", json_boolean(a->trading_blocked));
    json_object_set_new(j, "transfers_blocked", json_false());
    json_object_set_new(j, "account_blocked", json_boolean(a->account_blocked));
    json_object_set_new(j, "trade_suspended_by_user", json_boolean(a->trade_suspended_by_user));
    json_object_set_new(j, "shorting_enabled", json_boolean(a->shorting_enabled));
}

static void account_money(json_t *j, const char *name, fx_money_t v)
{
    json_object_set_new(j, name, fx_json_string(v, FX_MONEY_SCALE));
}

json_t *account_to_json(const account_t *a, fx_money_t long_mv, fx_money_t short_mv,
                        fx_money_t buying_power)
{
    fx_money_t equity = a->cash + long_mv + short_mv;
    fx_money_t gross = long_mv - short_mv;
    json_t *j = json_object();
    account_add_identity(a, j);
    account_money(j, "buying_power", buying_power);
    account_money(j, "regt_buying_power", buying_power);
    account_money(j, "non_marginable_buying_power", buying_power);
    account_money(j, "options_buying_power", buying_power);
    account_money(j, "cash", a->cash);
    json_object_set_new(j, "accrued_fees", json_string("0"));
    json_object_set_new(j, "pending_transfer_in", json_string("0"));
    json_object_set_new(j, "pending_transfer_out", json_string("0"));
    account_money(j, "portfolio_value", equity);
    account_money(j, "equity", equity);
    account_money(j, "last_equity", account_start_cash());
    account_money(j, "long_market_value", long_mv);
    account_money(j, "short_market_value", short_mv);
    account_money(j, "initial_margin", gross);
    account_money(j, "maintenance_margin", gross / 4);
    json_object_set_new(j, "last_maintenance_margin", json_string("0"));
    json_object_set_new(j, "sma", json_string("0"));
    json_object_set_new(j, "multiplier", json_string("1"));
    return j;
}
