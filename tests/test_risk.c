/* test_risk.c -- tests for worker/risk.c (risk.h).
 *
 * Intents are decoded from JSON with intent_decode() (a single quote stands
 * for a double quote, for readability) and every config field is set
 * directly.  Covers each check on and off, exact boundaries (notional at the
 * limit, collar at the percentage), buy/sell reference prices, notional
 * orders, both prices of a stop_limit, the symbol list's spaces and case,
 * missing and zero quotes (fail closed), the open-orders boundary, user
 * intents, absurd values, check order, and what needs a quote.
 * Runs on tests/unit.h (`test_risk --list` names the tests); a failed
 * verdict check prints the verdict expected and the one that came. */
#include <stdlib.h>
#include <string.h>

#include "risk.h"
#include "unit.h"

#define ID "'intent_id':'0b9f5c8e-1d2a-4c3b-9e8f-7a6b5c4d3e2f','user_id':'user_1'"
#define BOT ID ",'bot_id':'bot-1','created_at':'2026-11-23T13:21:25Z'"
#define USER ID ",'created_at':'2026-11-23T13:21:25Z'"

/* Decodes a single-quoted JSON intent; a test intent that is not valid
 * fails the test running (the intent is still filled as far as it could
 * be, and must be freed). */
static void decode(const char *sq, intent_source_t src, intent_t *in) {
    char json[2048];
    intent_verdict_t v;
    size_t n = strlen(sq);
    if (n >= sizeof(json)) abort();
    for (size_t i = 0; i <= n; i++) json[i] = sq[i] == '\'' ? '"' : sq[i];
    intent_decode(json, n, src, 60000, in, &v);
    if (v.status != INTENT_VALID)
        EXPECT_MSG(0, "test intent invalid: %s (%s %s)", json,
                   v.n_errors ? v.errors[0].field : v.dlq_reason,
                   v.n_errors ? v.errors[0].message : v.detail);
}

/* Every check off. */
static void cfg_off(config_t *c) {
    memset(c, 0, sizeof(*c));
    strcpy(c->risk_max_notional, "0");
    strcpy(c->risk_price_collar_pct, "0");
    c->risk_max_open_orders = 0;
    c->risk_symbols[0] = '\0';
}

/* Runs risk_check on an intent given as JSON. */
static risk_verdict_t run(const config_t *c, const char *json, intent_source_t src,
                          const char *bid, const char *ask, long open) {
    intent_t in;
    risk_verdict_t v;
    decode(json, src, &in);
    risk_check(c, &in, bid, ask, open, &v);
    intent_free(&in);
    return v;
}

/* One check each, at the caller's line: v refused by `check` showing limit
 * and value (and some message), or v passed every check. */
static void expect_refused(const risk_verdict_t *v, const char *check, const char *limit,
                           const char *value, const char *file, int line) {
    unit_check(!v->ok && !strcmp(v->check, check) && !strcmp(v->limit, limit) &&
                   !strcmp(v->value, value) && v->message[0],
               file, line,
               "verdict (expected refused by %s, limit \"%s\", value \"%s\"; got ok=%d check=%s"
               " limit=\"%s\" value=\"%s\" message=\"%s\")",
               check, limit, value, v->ok, v->check, v->limit, v->value, v->message);
}

static void expect_passes(const risk_verdict_t *v, const char *file, int line) {
    unit_check(v->ok && !v->check[0], file, line,
               "verdict (expected to pass; got ok=%d check=%s message=\"%s\")", v->ok, v->check,
               v->message);
}

#define EXPECT_REFUSED(v, check, limit, value) \
    expect_refused((v), (check), (limit), (value), __FILE__, __LINE__)
#define EXPECT_PASSES(v) expect_passes((v), __FILE__, __LINE__)

/* v.message contains text (a string literal), with the message in the
 * failure. */
#define EXPECT_MESSAGE_HAS(v, text)                                                 \
    EXPECT_MSG(strstr((v).message, (text)) != NULL,                                 \
               "message contains \"" text "\" (got \"%s\")", (v).message)

#define MKT_BUY(q) "{" BOT ",'symbol':'AAPL','side':'buy','type':'market','qty':'" q "'}"
#define MKT_SELL(q) "{" BOT ",'symbol':'AAPL','side':'sell','type':'market','qty':'" q "'}"
#define LIMIT(side, q, p) "{" BOT ",'symbol':'AAPL','side':'" side "','type':'limit','qty':'" \
    q "','limit_price':'" p "'}"
#define STOPLIM(side, lp, sp) "{" BOT ",'symbol':'AAPL','side':'" side "','type':'stop_limit'," \
    "'qty':'1','limit_price':'" lp "','stop_price':'" sp "'}"

static void test_all_off(void) {
    config_t c;
    cfg_off(&c);
    risk_verdict_t v = run(&c, MKT_BUY("1000000"), INTENT_SOURCE_BOT, NULL, NULL, 999999);
    EXPECT_PASSES(&v);
    v = run(&c, LIMIT("buy", "1", "999999"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
    /* "0.0" and "" are off too. */
    strcpy(c.risk_max_notional, "0.0");
    c.risk_price_collar_pct[0] = '\0';
    v = run(&c, LIMIT("buy", "1", "999999"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
}

static void test_symbols(void) {
    config_t c;
    cfg_off(&c);
    strcpy(c.risk_symbols, " msft , AAPL,brk.b ,, ");
    risk_verdict_t v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
    v = run(&c, "{" BOT ",'symbol':'MSFT','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
    v = run(&c, "{" BOT ",'symbol':'BRK.B','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
    v = run(&c, "{" BOT ",'symbol':'TSLA','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_REFUSED(&v, "symbol_allow_list", " msft , AAPL,brk.b ,, ", "TSLA");
    EXPECT_MESSAGE_HAS(v, "RISK_SYMBOLS");
    /* A prefix or suffix of a listed symbol is not listed. */
    v = run(&c, "{" BOT ",'symbol':'AAP','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_INT(v.ok, 0);
    EXPECT_STR(v.check, "symbol_allow_list");
    v = run(&c, "{" BOT ",'symbol':'MSFTX','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_INT(v.ok, 0);
    EXPECT_STR(v.check, "symbol_allow_list");
    /* A single symbol. */
    strcpy(c.risk_symbols, "AAPL");
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
    /* A list longer than verdict.limit is truncated, not overflowed. */
    memset(c.risk_symbols, 'X', 300);
    c.risk_symbols[300] = '\0';
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_INT(v.ok, 0);
    EXPECT_INT(strlen(v.limit), sizeof(v.limit) - 1);
    EXPECT_STR(v.limit + sizeof(v.limit) - 4, "...");
}

static void test_open_orders(void) {
    config_t c;
    cfg_off(&c);
    intent_t bot, user;
    decode(MKT_BUY("1"), INTENT_SOURCE_BOT, &bot);
    decode("{" USER ",'symbol':'AAPL','side':'buy','type':'market','qty':'1'}",
           INTENT_SOURCE_USER, &user);
    EXPECT_INT(risk_needs_open_orders(&c, &bot), 0);
    c.risk_max_open_orders = 5;
    EXPECT_INT(risk_needs_open_orders(&c, &bot), 1);
    EXPECT_INT(risk_needs_open_orders(&c, &user), 0);
    intent_free(&bot);
    intent_free(&user);

    risk_verdict_t v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 4);
    EXPECT_PASSES(&v);
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 5);
    EXPECT_REFUSED(&v, "max_open_orders", "5", "5");
    EXPECT_MESSAGE_HAS(v, "RISK_MAX_OPEN_ORDERS_PER_BOT");
    EXPECT_MESSAGE_HAS(v, "bot-1");
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 17);
    EXPECT_REFUSED(&v, "max_open_orders", "5", "17");
    /* User intents skip it, whatever the count. */
    v = run(&c, "{" USER ",'symbol':'AAPL','side':'buy','type':'market','qty':'1'}",
            INTENT_SOURCE_USER, NULL, NULL, 100);
    EXPECT_PASSES(&v);
    /* Off: any count passes. */
    c.risk_max_open_orders = 0;
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 100000);
    EXPECT_PASSES(&v);
}

/* ---- max notional --------------------------------------------------------- */

/* Every check off but RISK_MAX_NOTIONAL at limit. */
static void cfg_notional(config_t *c, const char *limit) {
    cfg_off(c);
    strcpy(c->risk_max_notional, limit);
}

/* Market orders: qty x the ask for a buy, x the bid for a sell. */
static void test_notional_market(void) {
    config_t c;
    cfg_notional(&c, "10000");
    /* 100 x 189.12 = 18912 (the spec's example). */
    risk_verdict_t v = run(&c, MKT_BUY("100"), INTENT_SOURCE_BOT, "1", "189.12", 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "18912");
    EXPECT_STR(v.message, "notional $18912.00 exceeds RISK_MAX_NOTIONAL $10000");
    /* Market sell uses the bid, not the ask. */
    v = run(&c, MKT_SELL("100"), INTENT_SOURCE_BOT, "99", "189.12", 0);
    EXPECT_PASSES(&v);
    v = run(&c, MKT_SELL("100"), INTENT_SOURCE_BOT, "100.01", "1", 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "10001");
    /* Buy uses the ask, not the bid. */
    v = run(&c, MKT_BUY("100"), INTENT_SOURCE_BOT, "189", "99", 0);
    EXPECT_PASSES(&v);
}

/* Exactly at the limit passes; anything over refuses, the value shown
 * rounded half away from zero to cents. */
static void test_notional_boundary(void) {
    config_t c;
    cfg_notional(&c, "10000");
    risk_verdict_t v = run(&c, MKT_BUY("100"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_PASSES(&v);
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, "1", "10000.01", 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "10000.01");
    EXPECT_STR(v.message, "notional $10000.01 exceeds RISK_MAX_NOTIONAL $10000");
    /* Less than a cent over still refuses (exact), shown rounded to cents. */
    v = run(&c, MKT_BUY("0.000001"), INTENT_SOURCE_BOT, "1", "10000000000.001", 0);
    /* 0.000001 x 10000000000.001 = 10000.000000001 */
    EXPECT_REFUSED(&v, "max_notional", "10000", "10000");
    EXPECT_STR(v.message, "notional $10000.00 exceeds RISK_MAX_NOTIONAL $10000");
    /* Fractional qty x price, rounded half away to cents in the value. */
    v = run(&c, MKT_BUY("3.333333333"), INTENT_SOURCE_BOT, "1", "3000.005", 0);
    /* 3.333333333 x 3000.005 = 10000.016666665665 -> 10000.02 */
    EXPECT_REFUSED(&v, "max_notional", "10000", "10000.02");
    v = run(&c, MKT_BUY("3"), INTENT_SOURCE_BOT, "1", "3333.334999", 0);
    /* 10000.004997 -> 10000 (rounds down), still refused */
    EXPECT_REFUSED(&v, "max_notional", "10000", "10000");
    v = run(&c, MKT_BUY("0.5"), INTENT_SOURCE_BOT, "1", "20000.01", 0);
    /* 10000.005 -> 10000.01 (half away from zero) */
    EXPECT_REFUSED(&v, "max_notional", "10000", "10000.01");
    /* Decimal limit. */
    cfg_notional(&c, "99.5");
    v = run(&c, MKT_BUY("2"), INTENT_SOURCE_BOT, "1", "49.75", 0);
    EXPECT_PASSES(&v);
    v = run(&c, MKT_BUY("2"), INTENT_SOURCE_BOT, "1", "49.76", 0);
    EXPECT_REFUSED(&v, "max_notional", "99.5", "99.52");
    EXPECT_STR(v.message, "notional $99.52 exceeds RISK_MAX_NOTIONAL $99.5");
}

/* Orders with a price need no quote: limit and stop_limit are qty x limit
 * price, stop is qty x stop price, a notional order is its notional. */
static void test_notional_priced(void) {
    config_t c;
    cfg_notional(&c, "10000");
    risk_verdict_t v = run(&c, LIMIT("buy", "100", "100"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
    v = run(&c, LIMIT("sell", "100", "100.01"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "10001");
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'buy','type':'stop_limit','qty':'10',"
            "'limit_price':'1000.01','stop_price':'1'}", INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "10000.1");
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'buy','type':'stop_limit','qty':'10',"
            "'limit_price':'1000','stop_price':'5000'}", INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'sell','type':'stop','qty':'10',"
            "'stop_price':'1000'}", INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'sell','type':'stop','qty':'10',"
            "'stop_price':'1000.001'}", INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "10000.01");

    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'buy','type':'market','notional':'10000'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'buy','type':'market','notional':'10000.01'}",
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "10000.01");
    EXPECT_STR(v.message, "notional $10000.01 exceeds RISK_MAX_NOTIONAL $10000");
}

/* Missing or zero quote fails closed, naming the check. */
static void test_notional_no_quote(void) {
    config_t c;
    cfg_notional(&c, "10000");
    risk_verdict_t v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "");
    EXPECT_STR(v.message, "no quote for AAPL to check RISK_MAX_NOTIONAL against");
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, "100", "0", 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "");
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, "100", "", 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "");
    v = run(&c, MKT_SELL("1"), INTENT_SOURCE_BOT, "0", "100", 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "");
    v = run(&c, MKT_SELL("1"), INTENT_SOURCE_BOT, "junk", "100", 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "");
    /* Only the needed side matters. */
    v = run(&c, MKT_SELL("1"), INTENT_SOURCE_BOT, "100", "0", 0);
    EXPECT_PASSES(&v);
}

/* Absurd values are refused, not overflowed. */
static void test_notional_absurd(void) {
    config_t c;
    cfg_notional(&c, "10000");
    risk_verdict_t v = run(&c, MKT_BUY("99999999999999999999"), INTENT_SOURCE_BOT, "1",
                           "99999999999999999999", 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "");
    v = run(&c, LIMIT("buy", "999999999999999999999", "999999999999999999999"),
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "");
    v = run(&c, LIMIT("buy", "1000000000000000000000000000000000", "1"),
            INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_REFUSED(&v, "max_notional", "10000", "");
    /* Large but representable: 1e9 shares at $1e9 = $1e18, exact. */
    cfg_notional(&c, "1000000000000000000");
    v = run(&c, LIMIT("buy", "1000000000", "1000000000"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
    v = run(&c, LIMIT("buy", "1000000000", "1000000000.01"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_REFUSED(&v, "max_notional", "1000000000000000000", "1000000000010000000");
    /* A limit too large to read fails closed. */
    cfg_notional(&c, "9999999999999999999999999999999999999999");
    v = run(&c, LIMIT("buy", "1", "1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_INT(v.ok, 0);
    EXPECT_STR(v.check, "max_notional");
}

/* ---- price collar --------------------------------------------------------- */

/* Every check off but RISK_PRICE_COLLAR_PCT at pct. */
static void cfg_collar(config_t *c, const char *pct) {
    cfg_off(c);
    strcpy(c->risk_price_collar_pct, pct);
}

/* Buy: against the ask; sell: against the bid.  Exactly 5% passes either
 * way. */
static void test_collar_sides(void) {
    config_t c;
    cfg_collar(&c, "5");
    risk_verdict_t v = run(&c, LIMIT("buy", "1", "105"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_PASSES(&v);
    v = run(&c, LIMIT("buy", "1", "95"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_PASSES(&v);
    v = run(&c, LIMIT("buy", "1", "105.01"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "5.01");
    EXPECT_MESSAGE_HAS(v, "RISK_PRICE_COLLAR_PCT");
    EXPECT_MESSAGE_HAS(v, "ask 100");
    v = run(&c, LIMIT("buy", "1", "94.99"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "5.01");
    /* Just over: 105.000000001 is 5.000000001% -> refused, shown as 5. */
    v = run(&c, LIMIT("buy", "1", "105.000000001"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "5");
    /* Sell: against the bid, not the ask. */
    v = run(&c, LIMIT("sell", "1", "105"), INTENT_SOURCE_BOT, "100", "200", 0);
    EXPECT_PASSES(&v);
    v = run(&c, LIMIT("sell", "1", "200"), INTENT_SOURCE_BOT, "100", "200", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "100");
    EXPECT_MESSAGE_HAS(v, "bid 100");
}

/* The percentage is judged exactly and shown rounded to 2 decimals. */
static void test_collar_percentage(void) {
    config_t c;
    cfg_collar(&c, "5");
    /* 200 vs 187 = 6.951871...% */
    risk_verdict_t v = run(&c, LIMIT("buy", "1", "200"), INTENT_SOURCE_BOT, "1", "187", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "6.95");
    /* Exact at a non-integer percentage: ask 3, pct 1/3 * 100 needs no
     * rounding to be judged: 3.01 is 0.333...% from 3. */
    cfg_collar(&c, "0.34");
    v = run(&c, LIMIT("buy", "1", "3.01"), INTENT_SOURCE_BOT, "1", "3", 0);
    EXPECT_PASSES(&v);
    cfg_collar(&c, "0.33");
    v = run(&c, LIMIT("buy", "1", "3.01"), INTENT_SOURCE_BOT, "1", "3", 0);
    EXPECT_REFUSED(&v, "price_collar", "0.33", "0.33");
    cfg_collar(&c, "2.5");
    v = run(&c, LIMIT("buy", "1", "102.5"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_PASSES(&v);
    v = run(&c, LIMIT("buy", "1", "102.51"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_REFUSED(&v, "price_collar", "2.5", "2.51");
}

/* Stop orders: the stop price; stop_limit: both prices; market orders have
 * no price to collar (no quote needed, passes). */
static void test_collar_prices(void) {
    config_t c;
    cfg_collar(&c, "5");
    risk_verdict_t v = run(&c, "{" BOT ",'symbol':'AAPL','side':'sell','type':'stop','qty':'1',"
                           "'stop_price':'90'}", INTENT_SOURCE_BOT, "100", "1", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "10");
    EXPECT_MESSAGE_HAS(v, "stop price 90");
    v = run(&c, "{" BOT ",'symbol':'AAPL','side':'sell','type':'stop','qty':'1',"
            "'stop_price':'95'}", INTENT_SOURCE_BOT, "100", "1", 0);
    EXPECT_PASSES(&v);
    v = run(&c, STOPLIM("buy", "101", "102"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_PASSES(&v);
    v = run(&c, STOPLIM("buy", "110", "102"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "10");
    EXPECT_MESSAGE_HAS(v, "limit price 110");
    v = run(&c, STOPLIM("buy", "101", "120"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "20");
    EXPECT_MESSAGE_HAS(v, "stop price 120");
    v = run(&c, MKT_BUY("1"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_PASSES(&v);
}

/* No quote / zero quote: fail closed (only the side needed matters). */
static void test_collar_no_quote(void) {
    config_t c;
    cfg_collar(&c, "5");
    risk_verdict_t v = run(&c, LIMIT("buy", "1", "100"), INTENT_SOURCE_BOT, NULL, NULL, 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "");
    EXPECT_STR(v.message, "no quote for AAPL to check RISK_PRICE_COLLAR_PCT against");
    v = run(&c, LIMIT("buy", "1", "100"), INTENT_SOURCE_BOT, "100", "0", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "");
    v = run(&c, LIMIT("sell", "1", "100"), INTENT_SOURCE_BOT, "0", "100", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "");
    v = run(&c, LIMIT("sell", "1", "100"), INTENT_SOURCE_BOT, "100", NULL, 0);
    EXPECT_PASSES(&v);
}

/* Absurd prices: refused, no overflow. */
static void test_collar_absurd(void) {
    config_t c;
    cfg_collar(&c, "5");
    risk_verdict_t v = run(&c, LIMIT("buy", "1", "99999999999999999999999999"),
                           INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "");
    v = run(&c, LIMIT("buy", "1", "100"), INTENT_SOURCE_BOT, "1",
            "99999999999999999999999999", 0);
    EXPECT_REFUSED(&v, "price_collar", "5", "");
    /* Tiny reference, huge price within the bound: big but exact. */
    v = run(&c, LIMIT("buy", "1", "1000000000000"), INTENT_SOURCE_BOT, "1", "0.000000001", 0);
    /* (1e12 - 1e-9) / 1e-9 x 100 */
    EXPECT_REFUSED(&v, "price_collar", "5", "99999999999999999999900");
    /* A huge collar lets anything through. */
    cfg_collar(&c, "100000000000000000000000000000");
    v = run(&c, LIMIT("buy", "1", "1000000000000"), INTENT_SOURCE_BOT, "1", "0.000000001", 0);
    EXPECT_PASSES(&v);
}

/* ---- what needs a quote, and the order of the checks ---------------------- */

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
    EXPECT_INT(risk_needs_quote(&c, &mkt), 0);
    EXPECT_INT(risk_needs_quote(&c, &lim), 0);
    EXPECT_INT(risk_needs_quote(&c, &stop), 0);
    EXPECT_INT(risk_needs_quote(&c, &stoplim), 0);
    EXPECT_INT(risk_needs_quote(&c, &mkt_notional), 0);
    /* Symbols and open orders never need one. */
    strcpy(c.risk_symbols, "AAPL");
    c.risk_max_open_orders = 3;
    EXPECT_INT(risk_needs_quote(&c, &mkt), 0);
    EXPECT_INT(risk_needs_quote(&c, &lim), 0);
    /* Max notional: market qty orders only. */
    strcpy(c.risk_max_notional, "100");
    EXPECT_INT(risk_needs_quote(&c, &mkt), 1);
    EXPECT_INT(risk_needs_quote(&c, &mkt_notional), 0);
    EXPECT_INT(risk_needs_quote(&c, &lim), 0);
    EXPECT_INT(risk_needs_quote(&c, &stop), 0);
    EXPECT_INT(risk_needs_quote(&c, &stoplim), 0);
    /* Collar: anything with a limit or stop price. */
    strcpy(c.risk_max_notional, "0");
    strcpy(c.risk_price_collar_pct, "1");
    EXPECT_INT(risk_needs_quote(&c, &mkt), 0);
    EXPECT_INT(risk_needs_quote(&c, &mkt_notional), 0);
    EXPECT_INT(risk_needs_quote(&c, &lim), 1);
    EXPECT_INT(risk_needs_quote(&c, &stop), 1);
    EXPECT_INT(risk_needs_quote(&c, &stoplim), 1);
    strcpy(c.risk_price_collar_pct, "0.00");
    EXPECT_INT(risk_needs_quote(&c, &lim), 0);

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
    EXPECT_INT(v.ok, 0);
    EXPECT_STR(v.check, "symbol_allow_list");
    strcpy(c.risk_symbols, "AAPL");
    v = run(&c, bad, INTENT_SOURCE_BOT, "1", "100", 5);
    EXPECT_INT(v.ok, 0);
    EXPECT_STR(v.check, "max_open_orders");
    v = run(&c, bad, INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_INT(v.ok, 0);
    EXPECT_STR(v.check, "max_notional");
    strcpy(c.risk_max_notional, "1000000");
    v = run(&c, bad, INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_REFUSED(&v, "price_collar", "1", "100");
    v = run(&c, LIMIT("buy", "100", "100.5"), INTENT_SOURCE_BOT, "1", "100", 0);
    EXPECT_PASSES(&v);
    /* The verdict is reset on every call. */
    EXPECT_STR(v.limit, "");
    EXPECT_STR(v.value, "");
    EXPECT_STR(v.message, "");
}

static const unit_test_t TESTS[] = {
    {"all_off", test_all_off},
    {"symbols", test_symbols},
    {"open_orders", test_open_orders},
    {"notional_market", test_notional_market},
    {"notional_boundary", test_notional_boundary},
    {"notional_priced", test_notional_priced},
    {"notional_no_quote", test_notional_no_quote},
    {"notional_absurd", test_notional_absurd},
    {"collar_sides", test_collar_sides},
    {"collar_percentage", test_collar_percentage},
    {"collar_prices", test_collar_prices},
    {"collar_no_quote", test_collar_no_quote},
    {"collar_absurd", test_collar_absurd},
    {"needs_quote", test_needs_quote},
    {"order", test_order},
    {NULL, NULL},
};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
