/* market.c -- built-in symbols and the quote table (see market.h). */
#include "market.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

#define MARKET_CENT 100 /* 1e-4 units */

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
    uint64_t h = match_hash(seed, match_hash_text(q->symbol), q->steps++);
    int64_t move = ((int64_t)(h % 7) - 3) * MARKET_CENT;
    if (q->bid + move < MARKET_CENT)
        move = MARKET_CENT - q->bid;
    q->bid += move;
    q->ask += move;
}
