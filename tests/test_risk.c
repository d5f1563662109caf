/* test_risk.c -- tests for worker/risk.c (risk.h).
 *
 * Intents are decoded from JSON with intent_decode() (a single quote stands
 * for a double quote, for readability) and every config field is set
 * directly.  Covers each check on and off, exact boundaries (notional at the
 * limit, collar at the percentage), buy/sell reference prices, notional
 * orders, both prices of a stop_limit, the symbol list's spaces and case,
 * missing and zero quotes (fail closed), the open-orders boundary, user
 * intents, absurd values, check order, and what needs a quote.
 * Prints every failure and a final "N passed, M failed" line; exits non-zero
 * on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "risk.h"

#define ID "'intent_id':'0b9f5c8e-1d2a-4c3b-9e8f-7a6b5c4d3e2f','user_id':'user_1'"
#define BOT ID ",'bot_id':'bot-1','created_at':'2026-11-23T13:21:25Z'"
#define USER ID ",'created_at':'2026-11-23T13:21:25Z'"

/* Decodes a single-quoted JSON intent; aborts if it is not valid. */
static void decode(const char *sq, intent_source_t src, intent_t *in) {
    char json[2048];
    intent_verdict_t v;
    size_t n = strlen(sq);
    if (n >= sizeof(json)) abort();
    for (size_t i = 0; i <= n; i++) json[i] = sq[i] == '\'' ? '"' : sq[i];
    intent_decode(json, n, src, 60000, in, &v);
    if (v.status != INTENT_VALID) {
        printf("test intent invalid: %s (%s %s)\n", json,
               v.n_errors ? v.errors[0].field : v.dlq_reason,
               v.n_errors ? v.errors[0].message : v.detail);
        exit(2);
    }
}

/* Every check off. */
static void cfg_off(config_t *c) {
    memset(c, 0, sizeof(*c));
    strcpy(c->risk_max_notional, "0");
    strcpy(c->risk_price_collar_pct, "0");
    c->risk_max_open_orders = 0;
    c->risk_symbols[0] = '\0';
}

/* Runs risk_check on a bot intent given as JSON (after BOT). */
static risk_verdict_t run(const config_t *c, const char *json, intent_source_t src,
                          const char *bid, const char *ask, long open) {
    intent_t in;
    risk_verdict_t v;
    decode(json, src, &in);
    risk_check(c, &in, bid, ask, open, &v);
    intent_free(&in);
    return v;
}

static int refused(const risk_verdict_t *v, const char *check, const char *limit,
                   const char *value) {
    int ok = !v->ok && !strcmp(v->check, check) && !strcmp(v->limit, limit) &&
             !strcmp(v->value, value) && v->message[0];
    if (!ok)
        printf("  got ok=%d check=%s limit=%s value=%s message=%s\n", v->ok, v->check,
               v->limit, v->value, v->message);
    return ok;
}

static int passes(const risk_verdict_t *v) {
    if (!v->ok) printf("  refused: %s %s\n", v->check, v->message);
    return v->ok && !v->check[0];
}

#define MKT_BUY(q) "{" BOT ",'symbol':'AAPL','side':'buy','type':'market','qty':'" q "'}"
#define MKT_SELL(q) "{" BOT ",'symbol':'AAPL','side':'sell','type':'market','qty':'" q "'}"
#define LIMIT(side, q, p) "{" BOT ",'symbol':'AAPL','side':'" side "','type':'limit','qty':'" \
    q "','limit_price':'" p "'}"

static void test_all_off(void) {
    config_t c;
    cfg_off(&c);
    risk_verdict_t v = run(&c, MKT_BUY("1000000"), INTENT_SOURCE_BOT, NULL, NULL, 999999);
    CHECK(passes(&v));
    v = run(&c, LIMIT("buy", "1", "999999"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));
    /* "0.0" and "" are off too. */
    strcpy(c.risk_max_notional, "0.0");
    c.risk_price_collar_pct[0] = '\0';
    v = run(&c, LIMIT("buy", "1", "999999"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));
}

static void test_symbols(void) {
    config_t c;
    cfg_off(&c);
    strcpy(c.risk_symbols, " msft , AAPL,brk.b ,, ");
    risk_verdict_t v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));
    v = run(&c, "{" BOT ",'symbol':'MSFT','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));
    v = run(&c, "{" BOT ",'symbol':'BRK.B','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));
    v = run(&c, "{" BOT ",'symbol':'TSLA','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(refused(&v, "symbol_allow_list", " msft , AAPL,brk.b ,, ", "TSLA"));
    CHECK(strstr(v.message, "RISK_SYMBOLS") != NULL);
    /* A prefix or suffix of a listed symbol is not listed. */
    v = run(&c, "{" BOT ",'symbol':'AAP','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(!v.ok && !strcmp(v.check, "symbol_allow_list"));
    v = run(&c, "{" BOT ",'symbol':'MSFTX','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(!v.ok && !strcmp(v.check, "symbol_allow_list"));
    /* A single symbol. */
    strcpy(c.risk_symbols, "AAPL");
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));
    /* A list longer than verdict.limit is truncated, not overflowed. */
    memset(c.risk_symbols, 'X', 300);
    c.risk_symbols[300] = '\0';
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(!v.ok && strlen(v.limit) == sizeof(v.limit) - 1 &&
          !strcmp(v.limit + sizeof(v.limit) - 4, "..."));
}

static void test_open_orders(void) {
    config_t c;
    cfg_off(&c);
    intent_t bot, user;
    decode(MKT_BUY("1"), INTENT_SOURCE_BOT, &bot);
    decode("{" USER ",'symbol':'AAPL','side':'buy','type':'market','qty':'1'}",
           INTENT_SOURCE_USER, &user);
    CHECK(!risk_needs_open_orders(&c, &bot));
    c.risk_max_open_orders = 5;
    CHECK(risk_needs_open_orders(&c, &bot));
    CHECK(!risk_needs_open_orders(&c, &user));
    intent_free(&bot);
    intent_free(&user);

    risk_verdict_t v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 4);
    CHECK(passes(&v));
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 5);
    CHECK(refused(&v, "max_open_orders", "5", "5"));
    CHECK(strstr(v.message, "RISK_MAX_OPEN_ORDERS_PER_BOT") && strstr(v.message, "bot-1"));
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 17);
    CHECK(refused(&v, "max_open_orders", "5", "17"));
    /* User intents skip it, whatever the count. */
    v = run(&c, "{" USER ",'symbol':'AAPL','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_USER, NULL, NULL, 100);
    CHECK(passes(&v));
    /* Off: any count passes. */
    c.risk_max_open_orders = 0;
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 100000);
    CHECK(passes(&v));
}

static void test_notional(void) {
    config_t c;
    cfg_off(&c);
    strcpy(c.risk_max_notional, "10000");
    risk_verdict_t v;

    /* Market buy: qty x ask. 100 x 189.12 = 18912 (the spec's example). */
    v = run(&c, MKT_BUY("100"), INTENT_SOURCE_BOT, "1", "189.12", 0);
    CHECK(refused(&v, "max_notional", "10000", "18912"));
    CHECK(!strcmp(v.message, "notional $18912.00 exceeds RISK_MAX_NOTIONAL $10000"));
    /* Market sell uses the bid, not the ask. */
    v = run(&c, MKT_SELL("100"), INTENT_SOURCE_BOT, "99", "189.12", 0);
    CHECK(passes(&v));
    v = run(&c, MKT_SELL("100"), INTENT_SOURCE_BOT, "100.01", "1", 0);
    CHECK(refused(&v, "max_notional", "10000", "10001"));
    /* Buy uses the ask, not the bid. */
    v = run(&c, MKT_BUY("100"), INTENT_SOURCE_BOT, "189", "99", 0);
    CHECK(passes(&v));
    /* Exactly at the limit passes; a cent over refuses. */
    v = run(&c, MKT_BUY("100"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(passes(&v));
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, "1", "10000.01", 0);
    CHECK(refused(&v, "max_notional", "10000", "10000.01"));
    CHECK(!strcmp(v.message, "notional $10000.01 exceeds RISK_MAX_NOTIONAL $10000"));
    /* Less than a cent over still refuses (exact), shown rounded to cents. */
    v = run(&c, MKT_BUY("0.000001"), INTENT_SOURCE_BOT, "1", "10000000000.001", 0);
    /* 0.000001 x 10000000000.001 = 10000.000000001 */
    CHECK(refused(&v, "max_notional", "10000", "10000"));
    CHECK(!strcmp(v.message, "notional $10000.00 exceeds RISK_MAX_NOTIONAL $10000"));
    /* Fractional qty x price, rounded half away to cents in the value. */
    v = run(&c, MKT_BUY("3.333333333"), INTENT_SOURCE_BOT, "1", "3000.005", 0);
    /* 3.333333333 x 3000.005 = 10000.016666665665 -> 10000.02 */
    CHECK(refused(&v, "max_notional", "10000", "10000.02"));
    v = run(&c, MKT_BUY("3"), INTENT_SOURCE_BOT, "1", "3333.334999", 0);
    /* 10000.004997 -> 10000 (rounds down), still refused */
    CHECK(refused(&v, "max_notional", "10000", "10000"));
    v = run(&c, MKT_BUY("0.5"), INTENT_SOURCE_BOT, "1", "20000.01", 0);
    /* 10000.005 -> 10000.01 (half away from zero) */
    CHECK(refused(&v, "max_notional", "10000", "10000.01"));
    /* Decimal limit. */
    strcpy(c.risk_max_notional, "99.5");
    v = run(&c, MKT_BUY("2"), INTENT_SOURCE_BOT, "1", "49.75", 0);
    CHECK(passes(&v));
    v = run(&c, MKT_BUY("2"), INTENT_SOURCE_BOT, "1", "49.76", 0);
    CHECK(refused(&v, "max_notional", "99.5", "99.52"));
    CHECK(!strcmp(v.message, "notional $99.52 exceeds RISK_MAX_NOTIONAL $99.5"));
    strcpy(c.risk_max_notional, "10000");

    /* Limit and stop_limit: qty x limit price, no quote needed. */
    v = run(&c, LIMIT("buy", "100", "100"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));
    v = run(&c, LIMIT("sell", "100", "100.01"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(refused(&v, "max_notional", "10000", "10001"));
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'buy','type':'stop_limit','qty':'10',"
            "'limit_price':'1000.01','stop_price':'1'}", INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(refused(&v, "max_notional", "10000", "10000.1"));
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'buy','type':'stop_limit','qty':'10',"
            "'limit_price':'1000','stop_price':'5000'}", INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));
    /* Stop: qty x stop price. */
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'sell','type':'stop','qty':'10',"
            "'stop_price':'1000'}", INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'sell','type':'stop','qty':'10',"
            "'stop_price':'1000.001'}", INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(refused(&v, "max_notional", "10000", "10000.01"));

    /* Notional orders: the notional itself, no quote needed. */
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'buy','type':'market','notional':'10000'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'buy','type':'market','notional':'10000.01'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(refused(&v, "max_notional", "10000", "10000.01"));
    CHECK(!strcmp(v.message, "notional $10000.01 exceeds RISK_MAX_NOTIONAL $10000"));

    /* Missing or zero quote fails closed, naming the check. */
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(refused(&v, "max_notional", "10000", ""));
    CHECK(!strcmp(v.message, "no quote for AAPL to check RISK_MAX_NOTIONAL against"));
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, "100", "0", 0);
    CHECK(refused(&v, "max_notional", "10000", ""));
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, "100", "", 0);
    CHECK(refused(&v, "max_notional", "10000", ""));
    v = run(&c, MKT_SELL("1"), INTENT_SOURCE_BOT, "0", "100", 0);
    CHECK(refused(&v, "max_notional", "10000", ""));
    v = run(&c, MKT_SELL("1"), INTENT_SOURCE_BOT, "junk", "100", 0);
    CHECK(refused(&v, "max_notional", "10000", ""));
    /* Only the needed side matters. */
    v = run(&c, MKT_SELL("1"), INTENT_SOURCE_BOT, "100", "0", 0);
    CHECK(passes(&v));

    /* Absurd values are refused, not overflowed. */
    v = run(&c, MKT_BUY("99999999999999999999"), INTENT_SOURCE_BOT, "1",
            "99999999999999999999", 0);
    CHECK(refused(&v, "max_notional", "10000", ""));
    v = run(&c, LIMIT("buy", "999999999999999999999", "999999999999999999999"),
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(refused(&v, "max_notional", "10000", ""));
    v = run(&c, LIMIT("buy", "1000000000000000000000000000000000", "1"),
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(refused(&v, "max_notional", "10000", ""));
    /* Large but representable: 1e9 shares at $1e9 = $1e18, exact. */
    strcpy(c.risk_max_notional, "1000000000000000000");
    v = run(&c, LIMIT("buy", "1000000000", "1000000000"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));
    v = run(&c, LIMIT("buy", "1000000000", "1000000000.01"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(refused(&v, "max_notional", "1000000000000000000", "1000000000010000000"));
    /* A limit too large to read fails closed. */
    strcpy(c.risk_max_notional, "9999999999999999999999999999999999999999");
    v = run(&c, LIMIT("buy", "1", "1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(!v.ok && !strcmp(v.check, "max_notional"));
}

#define STOPLIM(side, lp, sp) "{" BOT ",'symbol':'AAPL','side':'" side "','type':'stop_limit'," \
    "'qty':'1','limit_price':'" lp "','stop_price':'" sp "'}"

static void test_collar(void) {
    config_t c;
    cfg_off(&c);
    strcpy(c.risk_price_collar_pct, "5");
    risk_verdict_t v;

    /* Buy: against the ask.  Exactly 5% passes either way. */
    v = run(&c, LIMIT("buy", "1", "105"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(passes(&v));
    v = run(&c, LIMIT("buy", "1", "95"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(passes(&v));
    v = run(&c, LIMIT("buy", "1", "105.01"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(refused(&v, "price_collar", "5", "5.01"));
    CHECK(strstr(v.message, "RISK_PRICE_COLLAR_PCT") && strstr(v.message, "ask 100"));
    v = run(&c, LIMIT("buy", "1", "94.99"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(refused(&v, "price_collar", "5", "5.01"));
    /* Just over: 105.000000001 is 5.000000001% -> refused, shown as 5. */
    v = run(&c, LIMIT("buy", "1", "105.000000001"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(refused(&v, "price_collar", "5", "5"));
    /* Sell: against the bid, not the ask. */
    v = run(&c, LIMIT("sell", "1", "105"), INTENT_SOURCE_BOT, "100", "200", 0);
    CHECK(passes(&v));
    v = run(&c, LIMIT("sell", "1", "200"), INTENT_SOURCE_BOT, "100", "200", 0);
    CHECK(refused(&v, "price_collar", "5", "100"));
    CHECK(strstr(v.message, "bid 100") != NULL);
    /* Percentage rounded to 2 decimals: 200 vs 187 = 6.951871...% */
    v = run(&c, LIMIT("buy", "1", "200"), INTENT_SOURCE_BOT, "1", "187", 0);
    CHECK(refused(&v, "price_collar", "5", "6.95"));
    /* Exact at a non-integer percentage: ask 3, pct 1/3 * 100 needs no
     * rounding to be judged: 3.01 is 0.333...% from 3. */
    strcpy(c.risk_price_collar_pct, "0.34");
    v = run(&c, LIMIT("buy", "1", "3.01"), INTENT_SOURCE_BOT, "1", "3", 0);
    CHECK(passes(&v));
    strcpy(c.risk_price_collar_pct, "0.33");
    v = run(&c, LIMIT("buy", "1", "3.01"), INTENT_SOURCE_BOT, "1", "3", 0);
    CHECK(refused(&v, "price_collar", "0.33", "0.33"));
    strcpy(c.risk_price_collar_pct, "2.5");
    v = run(&c, LIMIT("buy", "1", "102.5"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(passes(&v));
    v = run(&c, LIMIT("buy", "1", "102.51"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(refused(&v, "price_collar", "2.5", "2.51"));
    strcpy(c.risk_price_collar_pct, "5");

    /* Stop orders: the stop price. */
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'sell','type':'stop','qty':'1',"
            "'stop_price':'90'}", INTENT_SOURCE_BOT, "100", "1", 0);
    CHECK(refused(&v, "price_collar", "5", "10"));
    CHECK(strstr(v.message, "stop price 90") != NULL);
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'sell','type':'stop','qty':'1',"
            "'stop_price':'95'}", INTENT_SOURCE_BOT, "100", "1", 0);
    CHECK(passes(&v));
    /* stop_limit: both prices checked. */
    v = run(&c, STOPLIM("buy", "101", "102"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(passes(&v));
    v = run(&c, STOPLIM("buy", "110", "102"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(refused(&v, "price_collar", "5", "10"));
    CHECK(strstr(v.message, "limit price 110") != NULL);
    v = run(&c, STOPLIM("buy", "101", "120"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(refused(&v, "price_collar", "5", "20"));
    CHECK(strstr(v.message, "stop price 120") != NULL);

    /* Market orders have no price to collar: no quote needed, passes. */
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(passes(&v));

    /* No quote / zero quote: fail closed. */
    v = run(&c, LIMIT("buy", "1", "100"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    CHECK(refused(&v, "price_collar", "5", ""));
    CHECK(!strcmp(v.message, "no quote for AAPL to check RISK_PRICE_COLLAR_PCT against"));
    v = run(&c, LIMIT("buy", "1", "100"), INTENT_SOURCE_BOT, "100", "0", 0);
    CHECK(refused(&v, "price_collar", "5", ""));
    v = run(&c, LIMIT("sell", "1", "100"), INTENT_SOURCE_BOT, "0", "100", 0);
    CHECK(refused(&v, "price_collar", "5", ""));
    v = run(&c, LIMIT("sell", "1", "100"), INTENT_SOURCE_BOT, "100", NULL, 0);
    CHECK(passes(&v));

    /* Absurd prices: refused, no overflow. */
    v = run(&c, LIMIT("buy", "1", "99999999999999999999999999"), INTENT_SOURCE_BOT, "1",
            "100", 0);
    CHECK(refused(&v, "price_collar", "5", ""));
    v = run(&c, LIMIT("buy", "1", "100"), INTENT_SOURCE_BOT, "1",
            "99999999999999999999999999", 0);
    CHECK(refused(&v, "price_collar", "5", ""));
    /* Tiny reference, huge price within the bound: big but exact. */
    v = run(&c, LIMIT("buy", "1", "1000000000000"), INTENT_SOURCE_BOT, "1", "0.000000001", 0);
    /* (1e12 - 1e-9) / 1e-9 x 100 */
    CHECK(refused(&v, "price_collar", "5", "99999999999999999999900"));
    /* A huge collar lets anything through. */
    strcpy(c.risk_price_collar_pct, "100000000000000000000000000000");
    v = run(&c, LIMIT("buy", "1", "1000000000000"), INTENT_SOURCE_BOT, "1", "0.000000001", 0);
    CHECK(passes(&v));
}

static void test_needs_quote(void) {
    config_t c;
    cfg_off(&c);
    intent_t mkt, mkt_notional, lim, stop, stoplim;
    decode(MKT_BUY("1"), INTENT_SOURCE_BOT, &mkt);
    decode("{" BOT ",'symbol':'AAPL','side':'buy','type':'market','notional':'5'}",
           INTENT_SOURCE_BOT, &mkt_notional);
    decode(LIMIT("buy", "1", "1"), INTENT_SOURCE_BOT, &lim);
    decode("{" BOT ",'symbol':'AAPL','side':'buy','type':'stop','qty':'1','stop_price':'1'}",
           INTENT_SOURCE_BOT, &stop);
    decode(STOPLIM("buy", "1", "1"), INTENT_SOURCE_BOT, &stoplim);

    /* Everything off. */
    CHECK(!risk_needs_quote(&c, &mkt) && !risk_needs_quote(&c, &lim) &&
          !risk_needs_quote(&c, &stop) && !risk_needs_quote(&c, &stoplim) &&
          !risk_needs_quote(&c, &mkt_notional));
    /* Symbols and open orders never need one. */
    strcpy(c.risk_symbols, "AAPL");
    c.risk_max_open_orders = 3;
    CHECK(!risk_needs_quote(&c, &mkt) && !risk_needs_quote(&c, &lim));
    /* Max notional: market qty orders only. */
    strcpy(c.risk_max_notional, "100");
    CHECK(risk_needs_quote(&c, &mkt));
    CHECK(!risk_needs_quote(&c, &mkt_notional));
    CHECK(!risk_needs_quote(&c, &lim) && !risk_needs_quote(&c, &stop) &&
          !risk_needs_quote(&c, &stoplim));
    /* Collar: anything with a limit or stop price. */
    strcpy(c.risk_max_notional, "0");
    strcpy(c.risk_price_collar_pct, "1");
    CHECK(!risk_needs_quote(&c, &mkt) && !risk_needs_quote(&c, &mkt_notional));
    CHECK(risk_needs_quote(&c, &lim) && risk_needs_quote(&c, &stop) &&
          risk_needs_quote(&c, &stoplim));
    strcpy(c.risk_price_collar_pct, "0.00");
    CHECK(!risk_needs_quote(&c, &lim));

    intent_free(&mkt);
    intent_free(&mkt_notional);
    intent_free(&lim);
    intent_free(&stop);
    intent_free(&stoplim);
}

/* First refusal wins, in the order symbols, open orders, notional, collar. */
static void test_order(void) {
    config_t c;
    cfg_off(&c);
    strcpy(c.risk_symbols, "MSFT");
    c.risk_max_open_orders = 1;
    strcpy(c.risk_max_notional, "1");
    strcpy(c.risk_price_collar_pct, "1");
    const char *bad = LIMIT("buy", "100", "200");   /* breaks all four */
    risk_verdict_t v = run(&c, bad, INTENT_SOURCE_BOT, "1", "100", 5);
    CHECK(!v.ok && !strcmp(v.check, "symbol_allow_list"));
    strcpy(c.risk_symbols, "AAPL");
    v = run(&c, bad, INTENT_SOURCE_BOT, "1", "100", 5);
    CHECK(!v.ok && !strcmp(v.check, "max_open_orders"));
    v = run(&c, bad, INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(!v.ok && !strcmp(v.check, "max_notional"));
    strcpy(c.risk_max_notional, "1000000");
    v = run(&c, bad, INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(refused(&v, "price_collar", "1", "100"));
    v = run(&c, LIMIT("buy", "100", "100.5"), INTENT_SOURCE_BOT, "1", "100", 0);
    CHECK(passes(&v));
    /* The verdict is reset on every call. */
    CHECK(v.limit[0] == '\0' && v.value[0] == '\0' && v.message[0] == '\0');
}

int main(void) {
    test_all_off();
    test_symbols();
    test_open_orders();
    test_notional();
    test_collar();
    test_needs_quote();
    test_order();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
