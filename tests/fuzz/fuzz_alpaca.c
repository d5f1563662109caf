/* fuzz_alpaca.c -- libFuzzer target for the Alpaca answer parsers
 * (worker/alpaca_parse.c, alpaca_parse_*).
 *
 * Owns the hostile-input checks of everything the worker reads back from
 * the broker: an order, an order list, the account, positions, the clock, a
 * latest quote, a page of bars, an error body and the rate-limit headers.
 * Why: the broker (or whatever answers on its URL: a proxy, a captive
 * portal, a broken deployment) is outside the worker's control, and these
 * answers decide fills and money, so the parsers must never crash and must
 * keep their promises, asserted here (abort):
 *
 *   - a failure names what is wrong and leaves nothing behind (empty
 *     struct, NULL list, no allocation to free);
 *   - every text field is NUL-terminated within its buffer; an order always
 *     has filled_qty ("0" at least) and its raw JSON, and parsing that raw
 *     JSON again gives the same order (the ledger stores raw and re-reads
 *     it); a list of n orders frees cleanly;
 *   - a quote has ask and bid ("0" at least); a price that arrived as a
 *     JSON number is canonical decimal text (never a double's "1e-05");
 *   - bars pages append: the same page twice gives twice the bars, and the
 *     next_page_token is NULL or non-empty;
 *   - an error always has a message and the status it was given;
 *   - after a status line every rate-limit value is -1 again.
 *
 * Input: a letter choosing the parser, then the answer's bytes:
 *   o order, l order list, a account, p positions, c clock, q quote,
 *   b bars page, e error ("e" + 3-digit status + body), h header lines;
 * any other first byte runs the whole input through every parser.  The
 * seed corpus (tests/fuzz/corpus/fuzz_alpaca/) holds Alpaca's documented
 * answers in this form.  No state between runs. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alpaca_parse.h"
#include "decimal.h"
#include "fuzz.h"
#include "fuzz_order.h"

static void fuzz_order(const char *body, size_t len) {
    alpaca_order_t o;
    const char *bad = NULL;
    if (alpaca_parse_order(body, len, &o, &bad) != 0) {
        FUZZ_ASSERT(bad != NULL);
        FUZZ_ASSERT(fuzz_all_zero(&o, sizeof(o)));
        return;
    }
    fuzz_check_order_fields(&o);
    fuzz_check_raw_round_trip(&o);
    alpaca_order_clear(&o);
    FUZZ_ASSERT(o.raw == NULL);
}

static void fuzz_orders(const char *body, size_t len) {
    alpaca_order_t *list = (alpaca_order_t *)1;
    size_t n = 99;
    const char *bad = NULL;
    if (alpaca_parse_orders(body, len, &list, &n, &bad) != 0) {
        FUZZ_ASSERT(bad != NULL && list == NULL && n == 0);
        return;
    }
    FUZZ_ASSERT((n == 0) == (list == NULL));
    for (size_t i = 0; i < n; i++) fuzz_check_order_fields(&list[i]);
    alpaca_orders_free(list, n);
}

static void fuzz_account(const char *body, size_t len) {
    alpaca_account_t acc;
    const char *bad = NULL;
    char reason[80];
    if (alpaca_parse_account(body, len, &acc, &bad) != 0) {
        FUZZ_ASSERT(bad != NULL && fuzz_all_zero(&acc, sizeof(acc)));
        return;
    }
    FUZZ_TERMINATED(acc.id);
    FUZZ_TERMINATED(acc.status);
    FUZZ_TERMINATED(acc.buying_power);
    FUZZ_TERMINATED(acc.multiplier);
    int can = alpaca_account_can_trade(&acc, reason, sizeof(reason));
    FUZZ_TERMINATED(reason);
    FUZZ_ASSERT(can == (reason[0] == '\0'));
    FUZZ_ASSERT(!can || (!strcmp(acc.status, "ACTIVE") && !acc.account_blocked &&
                         !acc.trading_blocked && !acc.trade_suspended_by_user));
    /* A short reason buffer is cut, never overrun. */
    char tiny[4];
    (void)alpaca_account_can_trade(&acc, tiny, sizeof(tiny));
    FUZZ_TERMINATED(tiny);
}

static void fuzz_positions(const char *body, size_t len) {
    alpaca_position_t *ps = (alpaca_position_t *)1;
    size_t n = 99;
    const char *bad = NULL;
    if (alpaca_parse_positions(body, len, &ps, &n, &bad) != 0) {
        FUZZ_ASSERT(bad != NULL && ps == NULL && n == 0);
        return;
    }
    FUZZ_ASSERT((n == 0) == (ps == NULL));
    for (size_t i = 0; i < n; i++) {
        FUZZ_TERMINATED(ps[i].symbol);
        FUZZ_TERMINATED(ps[i].qty);
        FUZZ_TERMINATED(ps[i].unrealized_pl);
    }
    free(ps);
}

static void fuzz_clock(const char *body, size_t len) {
    alpaca_clock_t c;
    const char *bad = NULL;
    if (alpaca_parse_clock(body, len, &c, &bad) != 0) {
        FUZZ_ASSERT(bad != NULL && fuzz_all_zero(&c, sizeof(c)));
        return;
    }
    FUZZ_ASSERT(c.is_open == 0 || c.is_open == 1);
    FUZZ_TERMINATED(c.timestamp);
    FUZZ_TERMINATED(c.next_open);
    FUZZ_TERMINATED(c.next_close);
}

/* A price sent as a JSON number must come out as canonical decimal text. */
static void fuzz_check_number_text(json_t *quote, const char *key, const char *text) {
    json_t *v = json_object_get(quote, key);
    if (!json_is_number(v)) return;
    decimal_t d;
    FUZZ_ASSERT(decimal_parse(text, strlen(text), 0, &d) == DECIMAL_OK);
    FUZZ_ASSERT(!strcmp(d.text, text));
}

static void fuzz_quote(const char *body, size_t len) {
    alpaca_quote_t q;
    const char *bad = NULL;
    if (alpaca_parse_quote(body, len, "AAPL", &q, &bad) != 0) {
        FUZZ_ASSERT(bad != NULL && fuzz_all_zero(&q, sizeof(q)));
        return;
    }
    FUZZ_TERMINATED(q.symbol);
    FUZZ_TERMINATED(q.t);
    FUZZ_TERMINATED(q.ask_exchange);
    FUZZ_TERMINATED(q.bid_exchange);
    FUZZ_ASSERT(q.symbol[0] && q.ask[0] && q.bid[0]);
    json_t *j = json_loadb(body, len, 0, NULL);
    FUZZ_ASSERT(j != NULL);
    json_t *quote = json_object_get(j, "quote");
    fuzz_check_number_text(quote, "ap", q.ask);
    fuzz_check_number_text(quote, "bp", q.bid);
    json_decref(j);
}

static void fuzz_bars(const char *body, size_t len) {
    alpaca_bar_t *bars = NULL;
    size_t n = 0, cap = 0;
    char *next = NULL;
    const char *bad = NULL;
    /* Two pages with the same content, as the paging loop would read them. */
    for (int page = 0; page < 2; page++) {
        size_t before = n;
        if (alpaca_parse_bars_page(body, len, &bars, &n, &cap, &next, &bad) != 0) {
            FUZZ_ASSERT(bad != NULL && next == NULL && n <= cap);
            break;
        }
        FUZZ_ASSERT(n <= cap && (n == 0 || bars != NULL));
        FUZZ_ASSERT(page == 0 || n == 2 * before);
        FUZZ_ASSERT(next == NULL || next[0] != '\0');
        for (size_t i = before; i < n; i++) {
            FUZZ_TERMINATED(bars[i].t);
            FUZZ_TERMINATED(bars[i].c);
            FUZZ_TERMINATED(bars[i].vw);
        }
        free(next);
        next = NULL;
    }
    free(bars);
}

static void fuzz_error(const char *body, size_t len) {
    long status = 500;
    if (len >= 3 && body[0] >= '0' && body[0] <= '9' && body[1] >= '0' &&
        body[1] <= '9' && body[2] >= '0' && body[2] <= '9') {
        status = (body[0] - '0') * 100 + (body[1] - '0') * 10 + (body[2] - '0');
        body += 3;
        len -= 3;
    }
    alpaca_error_t err;
    memset(&err, 0xa5, sizeof(err));
    alpaca_parse_error(body, len, status, &err);
    FUZZ_ASSERT(err.http_status == status);
    FUZZ_TERMINATED(err.message);
    FUZZ_ASSERT(err.message[0] != '\0');
}

/* Header lines as libcurl hands them over: one at a time, each with its
 * line end. */
static void fuzz_headers(const char *block, size_t len) {
    alpaca_ratelimit_t rl = {-1, -1, -1};
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(block + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (block + i)) + 1 : len - i;
        /* A private copy of exactly n bytes: ASan sees any overread. */
        char *line = malloc(n ? n : 1);
        FUZZ_ASSERT(line != NULL);
        memcpy(line, block + i, n);
        alpaca_parse_header(line, n, &rl);
        if (n >= 5 && !memcmp(line, "HTTP/", 5))
            FUZZ_ASSERT(rl.limit == -1 && rl.remaining == -1 && rl.reset_epoch_s == -1);
        free(line);
        i += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    /* The body in an allocation of its own size, so that reading past len
     * (the body is not NUL-terminated) is caught. */
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    FUZZ_ASSERT(body != NULL);
    memcpy(body, data + 1, len);
    switch (data[0]) {
    case 'o': fuzz_order(body, len); break;
    case 'l': fuzz_orders(body, len); break;
    case 'a': fuzz_account(body, len); break;
    case 'p': fuzz_positions(body, len); break;
    case 'c': fuzz_clock(body, len); break;
    case 'q': fuzz_quote(body, len); break;
    case 'b': fuzz_bars(body, len); break;
    case 'e': fuzz_error(body, len); break;
    case 'h': fuzz_headers(body, len); break;
    default:
        fuzz_order(body, len);
        fuzz_orders(body, len);
        fuzz_account(body, len);
        fuzz_positions(body, len);
        fuzz_clock(body, len);
        fuzz_quote(body, len);
        fuzz_bars(body, len);
        fuzz_error(body, len);
        fuzz_headers(body, len);
        break;
    }
    free(body);
    return 0;
}
