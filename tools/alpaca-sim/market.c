/* market.c -- built-in symbols, the quote table, its control-API update
 * and the Quote and Asset objects (see market.h). */
#include "market.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx.h"
#include "simtime.h"

typedef struct market_seed {
    const char *symbol;
    const char *exchange;
    int64_t bid;
    int64_t ask;
} market_seed_t;

/* Prices in 1e-4 dollars: 1891000 is $189.10. */
static const market_seed_t market_seeds[] = {
    {"AAPL", "NASDAQ", 1891000, 1891200},  {"MSFT", "NASDAQ", 4152000, 4152200},
    {"TSLA", "NASDAQ", 2455000, 2455200},  {"NVDA", "NASDAQ", 1204000, 1204100},
    {"AMZN", "NASDAQ", 1853000, 1853200},  {"GOOGL", "NASDAQ", 1701000, 1701200},
    {"META", "NASDAQ", 5056000, 5056200},  {"SPY", "ARCA", 5203000, 5203100},
    {"QQQ", "NASDAQ", 4451000, 4451100},   {"AMD", "NASDAQ", 1602500, 1602700},
    {"NFLX", "NASDAQ", 6405000, 6405200},  {"IBM", "NYSE", 1857000, 1857200},
    {"BRK.B", "NYSE", 4104000, 4104200},
};

/* A stable asset id per symbol (the same in every run), shaped as UUID v4. */
static void market_asset_id(const char *symbol, char out[RNG_UUID_LEN])
{
    if (strcmp(symbol, "AAPL") == 0) { /* Alpaca's real id for AAPL */
        snprintf(out, RNG_UUID_LEN, "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415");
        return;
    }
    uint64_t h1 = 1469598103934665603ULL, h2 = 7809847782465536322ULL;
    for (const char *p = symbol; *p; p++) {
        h1 = (h1 ^ (unsigned char)*p) * 1099511628211ULL;
        h2 = (h2 ^ (unsigned char)*p) * 1099511628211ULL + 0x9e3779b97f4a7c15ULL;
    }
    h1 = (h1 & ~0xf000ULL) | 0x4000ULL;
    h2 = (h2 & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    snprintf(out, RNG_UUID_LEN, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(h1 >> 32),
             (unsigned)((h1 >> 16) & 0xffff), (unsigned)(h1 & 0xffff),
             (unsigned)(h2 >> 48), (unsigned long long)(h2 & 0xffffffffffffULL));
}

int market_symbol_valid(const char *symbol)
{
    size_t n = strlen(symbol);
    if (n < 1 || n >= MARKET_SYMBOL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = symbol[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '/'))
            return 0;
    }
    return 1;
}

int market_init(market_t *m)
{
    m->quotes = NULL;
    m->count = 0;
    m->cap = 0;
    for (size_t i = 0; i < sizeof(market_seeds) / sizeof(market_seeds[0]); i++) {
        quote_t *q = market_set(m, market_seeds[i].symbol, market_seeds[i].bid,
                                market_seeds[i].ask);
        if (q == NULL)
            return -1;
        snprintf(q->exchange, sizeof(q->exchange), "%s", market_seeds[i].exchange);
    }
    return 0;
}

void market_free(market_t *m)
{
    free(m->quotes);
    m->quotes = NULL;
    m->count = m->cap = 0;
}

quote_t *market_find(market_t *m, const char *symbol)
{
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->quotes[i].symbol, symbol) == 0)
            return &m->quotes[i];
    return NULL;
}

quote_t *market_set(market_t *m, const char *symbol, int64_t bid, int64_t ask)
{
    quote_t *q = market_find(m, symbol);
    if (q == NULL) {
        if (m->count == m->cap) {
            size_t ncap = m->cap ? m->cap * 2 : 32;
            quote_t *nq = realloc(m->quotes, ncap * sizeof(*nq));
            if (nq == NULL)
                return NULL;
            m->quotes = nq;
            m->cap = ncap;
        }
        q = &m->quotes[m->count++];
        memset(q, 0, sizeof(*q));
        snprintf(q->symbol, sizeof(q->symbol), "%s", symbol);
        market_asset_id(symbol, q->asset_id);
        snprintf(q->exchange, sizeof(q->exchange), "NASDAQ");
        q->bid_size = 1;
        q->ask_size = 1;
        q->ref_price = (bid + ask) / 2;
    }
    q->bid = bid;
    q->ask = ask;
    return q;
}

int64_t market_mid(const quote_t *q)
{
    return (q->bid + q->ask) / 2;
}

void market_walk(quote_t *q, uint64_t seed)
{
    uint64_t h = rng_hash(seed, rng_hash_text(q->symbol), q->steps++);
    int64_t move = ((int64_t)(h % 7) - 3) * FX_CENT;
    if (q->bid + move < FX_CENT)
        move = FX_CENT - q->bid;
    q->bid += move;
    q->ask += move;
}

int market_list_has(const char *list, const char *symbol)
{
    size_t n = strlen(symbol);
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, symbol, n) == 0)
            return 1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* Reads one side of a /_sim/quotes entry: absent -> 0, else a positive
 * price with at most 4 decimals.  Returns 0 or -1. */
static int market_quote_price(const json_t *v, int64_t *out)
{
    char text[FX_TEXT_MAX];
    int is_number;
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (fx_json_text(v, text, sizeof(text), &is_number) != 0 ||
        fx_parse(text, FX_PRICE_SCALE, is_number, out) != FX_OK || *out <= 0)
        return -1;
    return 0;
}

/* The checks of market_update for one entry.  Returns 0 or -1 with err set. */
static int market_check_entry(market_t *m, const char *symbol, const json_t *entry,
                              apierr_t *err)
{
    int64_t bid, ask;
    if (!market_symbol_valid(symbol)) {
        apierr_setf(err, APIERR_BAD_REQUEST, "invalid symbol: %.32s", symbol);
        return -1;
    }
    quote_t *q = market_find(m, symbol);
    if (!json_is_object(entry) || market_quote_price(json_object_get(entry, "bid"), &bid) ||
        market_quote_price(json_object_get(entry, "ask"), &ask)) {
        apierr_setf(err, APIERR_BAD_REQUEST,
                    "%s: bid and ask must be positive decimals (at most 4 places)", symbol);
        return -1;
    }
    if (q == NULL && (bid == 0 || ask == 0)) {
        apierr_setf(err, APIERR_BAD_REQUEST, "%s: a new symbol needs both bid and ask", symbol);
        return -1;
    }
    if ((bid ? bid : q->bid) > (ask ? ask : q->ask)) {
        apierr_setf(err, APIERR_BAD_REQUEST, "%s: bid above ask", symbol);
        return -1;
    }
    return 0;
}

int market_update(market_t *m, const json_t *body, apierr_t *err)
{
    const char *symbol;
    json_t *entry;
    if (!json_is_object(body)) {
        apierr_setf(err, APIERR_BAD_REQUEST, "body must be an object of symbol -> {bid, ask}");
        return -1;
    }
    json_object_foreach((json_t *)body, symbol, entry) {
        if (market_check_entry(m, symbol, entry, err) != 0)
            return -1;
    }
    int updated = 0;
    json_object_foreach((json_t *)body, symbol, entry) {
        int64_t bid, ask;
        market_quote_price(json_object_get(entry, "bid"), &bid);
        market_quote_price(json_object_get(entry, "ask"), &ask);
        quote_t *q = market_find(m, symbol);
        q = market_set(m, symbol, bid ? bid : q->bid, ask ? ask : q->ask);
        if (q == NULL) {
            apierr_set(err, APIERR_OUT_OF_MEMORY);
            return -1;
        }
        json_t *size = json_object_get(entry, "bid_size");
        if (json_is_integer(size) && json_integer_value(size) > 0)
            q->bid_size = (int)json_integer_value(size);
        size = json_object_get(entry, "ask_size");
        if (json_is_integer(size) && json_integer_value(size) > 0)
            q->ask_size = (int)json_integer_value(size);
        updated++;
    }
    return updated;
}

json_t *market_to_json(const market_t *m)
{
    json_t *j = json_object();
    for (size_t i = 0; i < m->count; i++) {
        const quote_t *q = &m->quotes[i];
        json_t *e = json_object();
        json_object_set_new(e, "bid", fx_json_string(q->bid, FX_PRICE_SCALE));
        json_object_set_new(e, "ask", fx_json_string(q->ask, FX_PRICE_SCALE));
        json_object_set_new(j, q->symbol, e);
    }
    return j;
}

json_t *market_quote_json(const quote_t *q)
{
    char t[SIMTIME_LEN];
    const char *tape = strcmp(q->exchange, "NYSE") == 0   ? "A"
                       : strcmp(q->exchange, "ARCA") == 0 ? "B"
                                                          : "C";
    json_t *j = json_object();
    json_object_set_new(j, "t", json_string(simtime_rfc3339_now_ns(t, sizeof(t))));
    json_object_set_new(j, "ax", json_string("V"));
    json_object_set_new(j, "ap", fx_json_price_number(q->ask));
    json_object_set_new(j, "as", json_integer(q->ask_size));
    json_object_set_new(j, "bx", json_string("V"));
    json_object_set_new(j, "bp", fx_json_price_number(q->bid));
    json_object_set_new(j, "bs", json_integer(q->bid_size));
    json_t *c = json_array();
    json_array_append_new(c, json_string("R"));
    json_object_set_new(j, "c", c);
    json_object_set_new(j, "z", json_string(tape));
    return j;
}

json_t *market_asset_json(const quote_t *q)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(q->asset_id));
    json_object_set_new(j, "class", json_string("us_equity"));
    json_object_set_new(j, "exchange", json_string(q->exchange));
    json_object_set_new(j, "symbol", json_string(q->symbol));
    json_object_set_new(j, "name", json_string(q->symbol));
    json_object_set_new(j, "status", json_string("active"));
    json_object_set_new(j, "tradable", json_true());
    json_object_set_new(j, "marginable", json_true());
    json_object_set_new(j, "shortable", json_true());
    json_object_set_new(j, "easy_to_borrow", json_true());
    json_object_set_new(j, "fractionable", json_true());
    json_object_set_new(j, "attributes", json_array());
    return j;
}
