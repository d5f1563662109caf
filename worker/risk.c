/* risk.c -- pre-trade risk checks (risk.h): symbol allow list, open orders
 * per bot, per-order notional and a price collar.
 *
 * This file owns the decision "may this valid intent go to the broker as far
 * as our own risk limits are concerned", and nothing else: the caller fetches
 * the quote and the bot's open-order count (asking risk_needs_quote() and
 * risk_needs_open_orders() first, so nothing is fetched for a check that is
 * off) and turns a refusal into a rejection event.  Keeping the rules here,
 * as pure functions of (config, intent, quote, count), makes them testable
 * without Redis or Alpaca and safe to call from every lane at once: no
 * globals, no allocation, no floating point.
 *
 * Checks run cheapest first (the reference's "field checklist"): symbol
 * allow list, open orders, notional (Nautilus max_notional_per_order), price
 * collar (Binance PERCENT_PRICE).  The first refusal wins.
 *
 * Money is exact: values are __int128 billionths ("nanos", decimal.h).  A
 * product of two nanos values is in 1e-18 and is divided back with an
 * explicit remainder so comparisons against limits are exact, never rounded.
 * Inputs are bounded before any multiplication (see the limits below); an
 * order beyond them is refused as absurd rather than risk an overflow.  A
 * check that needs a quote and has none refuses (fail closed). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "risk.h"

#define NANOS 1000000000LL

/* Bounds that keep every product below INT128_MAX (about 1.7e38):
 *   qty x price          at most PRODUCT_MAX, 1e38 in 1e-18 dollars ($1e20
 *                        notional), checked by division before multiplying;
 *   |price - ref| x 1e11 prices (order and quote) at most PRICE_MAX_NANOS,
 *                        1e21 nanos ($1e12 a share), so below 1e32.
 * Real orders are many orders of magnitude inside both. */
#define E19 ((decimal_nanos_t)10000000000000000000ULL)
#define PRODUCT_MAX (E19 * E19)               /* 1e38 */
#define PRICE_MAX_NANOS (E19 * 100)           /* 1e21 */

/* ---------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------ */

/* Copies src into dst (size n), truncating with "..." if it does not fit. */
static void copy_text(char *dst, size_t n, const char *src) {
    size_t len = strlen(src);
    if (len < n) {
        memcpy(dst, src, len + 1);
        return;
    }
    memcpy(dst, src, n - 4);
    memcpy(dst + n - 4, "...", 4);
}

/* Canonical text of a nanos value. */
static void nanos_text(decimal_nanos_t v, char *buf, size_t n) {
    decimal_t d;
    decimal_from_nanos(v, &d);
    copy_text(buf, n, d.text);
}

/* Text of a value already rounded to cents, always with two decimals
 * ("18912.00"), for messages. */
static void money_text(decimal_nanos_t cents_nanos, char *buf, size_t n) {
    decimal_nanos_t whole = cents_nanos / NANOS;
    int cents = (int)((cents_nanos % NANOS) / 10000000);
    if (cents < 0) cents = -cents;
    char w[64];
    nanos_text(whole * NANOS, w, sizeof(w));
    snprintf(buf, n, "%s.%02d", w, cents);
}

/* Parses a config or quote decimal to nanos.  -1 if unreadable or too big. */
static int to_nanos(const char *text, decimal_nanos_t *out) {
    return decimal_text_to_nanos(text, out);
}

/* a / b rounded half away from zero; a >= 0, b > 0. */
static decimal_nanos_t div_round(decimal_nanos_t a, decimal_nanos_t b) {
    decimal_nanos_t q = a / b, r = a % b;
    if (2 * r >= b) q++;
    return q;
}

static int is_market_qty(const intent_t *in) {
    return !strcmp(in->type, "market") && in->has_qty;
}

static int is_buy(const intent_t *in) { return !strcmp(in->side, "buy"); }

/* Fills a refusal. */
static void refuse(risk_verdict_t *v, const char *check, const char *limit,
                   const char *value) {
    v->ok = 0;
    copy_text(v->check, sizeof(v->check), check);
    copy_text(v->limit, sizeof(v->limit), limit);
    copy_text(v->value, sizeof(v->value), value);
}

/* The quote side an intent is measured against: ask for a buy, bid for a
 * sell.  0 and sets *ref if it is a usable (positive, bounded) price; -1 if
 * there is no quote (NULL, empty, "0", unreadable, negative, absurd). */
static int reference_price(const intent_t *in, const char *bid, const char *ask,
                           decimal_nanos_t *ref) {
    const char *q = is_buy(in) ? ask : bid;
    if (!q || !*q) return -1;
    if (to_nanos(q, ref) < 0 || *ref <= 0 || *ref > PRICE_MAX_NANOS) return -1;
    return 0;
}

/* ---------------------------------------------------------------------------
 * The checks; each returns 1 if it refused (and filled *v)
 * ------------------------------------------------------------------------ */

/* Whether sym is one of the comma-separated symbols in list; spaces around
 * entries and letter case are ignored, empty entries match nothing. */
static int symbol_listed(const char *list, const char *sym) {
    size_t symlen = strlen(sym);
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if ((size_t)(b - a) == symlen && symlen > 0 && !strncasecmp(a, sym, symlen))
            return 1;
        p = *end ? end + 1 : end;
    }
    return 0;
}

static int check_symbols(const config_t *cfg, const intent_t *in, risk_verdict_t *v) {
    if (!cfg->risk_symbols[0] || symbol_listed(cfg->risk_symbols, in->symbol)) return 0;
    refuse(v, "symbol_allow_list", cfg->risk_symbols, in->symbol);
    char list[160];
    copy_text(list, sizeof(list), cfg->risk_symbols);
    snprintf(v->message, sizeof(v->message), "symbol %s is not in RISK_SYMBOLS (%s)",
             in->symbol, list);
    return 1;
}

static int check_open_orders(const config_t *cfg, const intent_t *in, long open_orders,
                             risk_verdict_t *v) {
    if (!risk_needs_open_orders(cfg, in) || open_orders < cfg->risk_max_open_orders)
        return 0;
    char limit[24], value[24];
    snprintf(limit, sizeof(limit), "%d", cfg->risk_max_open_orders);
    snprintf(value, sizeof(value), "%ld", open_orders);
    refuse(v, "max_open_orders", limit, value);
    char bot[40];
    copy_text(bot, sizeof(bot), in->bot_id);
    snprintf(v->message, sizeof(v->message),
             "bot %s has %ld open orders; RISK_MAX_OPEN_ORDERS_PER_BOT %d allows no more",
             bot, open_orders, cfg->risk_max_open_orders);
    return 1;
}

static void no_quote(risk_verdict_t *v, const intent_t *in, const char *check,
                     const char *limit, const char *setting) {
    refuse(v, check, limit, "");
    snprintf(v->message, sizeof(v->message), "no quote for %s to check %s against",
             in->symbol, setting);
}

/* The order's notional as floor (nanos) + remainder (1e-18) and its value
 * rounded to cents (nanos).  0, or -1 with *v filled when it cannot be had. */
static int notional_of(const intent_t *in, const char *bid, const char *ask,
                       const char *lt, decimal_nanos_t *floor_n, decimal_nanos_t *rem,
                       decimal_nanos_t *cents_n, risk_verdict_t *v) {
    decimal_nanos_t qty, price = -1;
    const decimal_t *p = NULL;

    if (in->has_notional) {
        if (decimal_to_nanos(&in->notional, floor_n) < 0) {
            refuse(v, "max_notional", lt, "");
            snprintf(v->message, sizeof(v->message),
                     "notional %s is beyond any limit (RISK_MAX_NOTIONAL $%s)",
                     in->notional.text, lt);
            return -1;
        }
        *rem = 0;
        *cents_n = decimal_nanos_round(*floor_n, 2);
        return 0;
    }
    if (!strcmp(in->type, "market")) {
        if (reference_price(in, bid, ask, &price) < 0) {
            no_quote(v, in, "max_notional", lt, "RISK_MAX_NOTIONAL");
            return -1;
        }
    } else {
        if (!strcmp(in->type, "limit") || !strcmp(in->type, "stop_limit"))
            p = in->has_limit_price ? &in->limit_price : NULL;
        else if (!strcmp(in->type, "stop"))
            p = in->has_stop_price ? &in->stop_price : NULL;
        if (!p || decimal_to_nanos(p, &price) < 0) price = -1;
    }
    if (!in->has_qty || decimal_to_nanos(&in->qty, &qty) < 0) qty = -1;
    if (qty <= 0 || price <= 0) {
        refuse(v, "max_notional", lt, "");
        snprintf(v->message, sizeof(v->message),
                 "cannot work out the notional of this %s order to check "
                 "RISK_MAX_NOTIONAL against", in->type);
        return -1;
    }
    if (qty > PRODUCT_MAX / price) {
        refuse(v, "max_notional", lt, "");
        snprintf(v->message, sizeof(v->message),
                 "notional of qty %s at that price is beyond any limit "
                 "(RISK_MAX_NOTIONAL $%s)", in->qty.text, lt);
        return -1;
    }
    decimal_nanos_t prod = qty * price;   /* 1e-18 dollars, exact */
    *floor_n = prod / NANOS;
    *rem = prod % NANOS;
    /* Rounded once, from the exact product, to cents (1e16 in 1e-18). */
    *cents_n = div_round(prod, (decimal_nanos_t)NANOS * 10000000) * 10000000;
    return 0;
}

static int check_notional(const config_t *cfg, const intent_t *in, const char *bid,
                          const char *ask, risk_verdict_t *v) {
    decimal_nanos_t limit, floor_n, rem, cents_n;
    const char *lt = cfg->risk_max_notional;

    if (to_nanos(lt, &limit) < 0) {
        /* config.c admits any decimal; one beyond $1e21 cannot be compared.
         * Fail closed: a limit nobody can read limits everything. */
        refuse(v, "max_notional", lt, "");
        snprintf(v->message, sizeof(v->message),
                 "RISK_MAX_NOTIONAL is too large to compare against");
        return 1;
    }
    if (limit == 0) return 0;
    if (notional_of(in, bid, ask, lt, &floor_n, &rem, &cents_n, v) < 0) return 1;
    /* Exact: at the limit passes, a billionth of a cent over refuses. */
    if (floor_n < limit || (floor_n == limit && rem == 0)) return 0;

    char val[64], money[80];
    nanos_text(cents_n, val, sizeof(val));
    money_text(cents_n, money, sizeof(money));
    refuse(v, "max_notional", lt, val);
    snprintf(v->message, sizeof(v->message), "notional $%s exceeds RISK_MAX_NOTIONAL $%s",
             money, lt);
    return 1;
}

/* One price against the collar; name is "limit" or "stop". */
static int collar_one(const intent_t *in, const char *name, const decimal_t *price,
                      decimal_nanos_t ref, decimal_nanos_t pct, const char *pt,
                      risk_verdict_t *v) {
    decimal_nanos_t p;
    const char *side = is_buy(in) ? "ask" : "bid";
    char reftext[64];
    nanos_text(ref, reftext, sizeof(reftext));

    if (decimal_to_nanos(price, &p) < 0 || p > PRICE_MAX_NANOS) {
        refuse(v, "price_collar", pt, "");
        snprintf(v->message, sizeof(v->message),
                 "%s price %s is absurdly far from the %s %s (RISK_PRICE_COLLAR_PCT %s%%)",
                 name, price->text, side, reftext, pt);
        return 1;
    }
    decimal_nanos_t diff = p > ref ? p - ref : ref - p;
    /* deviation in nanos of a percent = diff * 100 * 1e9 / ref; diff < 1e21
     * so the product stays below 1e32.  Exact: floor and remainder. */
    decimal_nanos_t num = diff * 100 * NANOS;
    decimal_nanos_t q = num / ref, r = num % ref;
    if (q < pct || (q == pct && r == 0)) return 0;

    char val[64];
    /* Rounded once to hundredths of a percent. */
    decimal_nanos_t hundredths = div_round(diff * 10000, ref);
    nanos_text(hundredths * 10000000, val, sizeof(val));
    refuse(v, "price_collar", pt, val);
    snprintf(v->message, sizeof(v->message),
             "%s price %s is %s%% from the %s %s, beyond RISK_PRICE_COLLAR_PCT %s%%",
             name, price->text, val, side, reftext, pt);
    return 1;
}

static int check_collar(const config_t *cfg, const intent_t *in, const char *bid,
                        const char *ask, risk_verdict_t *v) {
    decimal_nanos_t pct, ref;
    const char *pt = cfg->risk_price_collar_pct;

    if (!(in->has_limit_price || in->has_stop_price)) return 0;
    if (to_nanos(pt, &pct) < 0) {
        /* As for RISK_MAX_NOTIONAL: unreadable (too large) fails closed. */
        refuse(v, "price_collar", pt, "");
        snprintf(v->message, sizeof(v->message),
                 "RISK_PRICE_COLLAR_PCT is too large to compare against");
        return 1;
    }
    if (pct == 0) return 0;
    if (reference_price(in, bid, ask, &ref) < 0) {
        no_quote(v, in, "price_collar", pt, "RISK_PRICE_COLLAR_PCT");
        return 1;
    }
    if (in->has_limit_price && collar_one(in, "limit", &in->limit_price, ref, pct, pt, v))
        return 1;
    if (in->has_stop_price && collar_one(in, "stop", &in->stop_price, ref, pct, pt, v))
        return 1;
    return 0;
}

/* ---------------------------------------------------------------------------
 * API
 * ------------------------------------------------------------------------ */

static int setting_on(const char *text) {
    decimal_nanos_t n;
    /* Unreadable (too large) counts as on: the check decides what it means. */
    return text[0] && (to_nanos(text, &n) < 0 || n != 0);
}

int risk_needs_quote(const config_t *cfg, const intent_t *in) {
    if (setting_on(cfg->risk_max_notional) && is_market_qty(in)) return 1;
    if (setting_on(cfg->risk_price_collar_pct) &&
        (in->has_limit_price || in->has_stop_price))
        return 1;
    return 0;
}

int risk_needs_open_orders(const config_t *cfg, const intent_t *in) {
    return cfg->risk_max_open_orders > 0 && in->source == INTENT_SOURCE_BOT;
}

void risk_check(const config_t *cfg, const intent_t *in, const char *bid, const char *ask,
                long open_orders, risk_verdict_t *v) {
    memset(v, 0, sizeof(*v));
    v->ok = 1;
    if (check_symbols(cfg, in, v)) return;
    if (check_open_orders(cfg, in, open_orders, v)) return;
    if (check_notional(cfg, in, bid, ask, v)) return;
    if (check_collar(cfg, in, bid, ask, v)) return;
}
