/* alpaca_parse.c -- reading Alpaca's answers (see alpaca_parse.h).
 *
 * Parsing rules, the same for every object:
 *   - unknown fields are ignored; null or absent fields become "" (flags 0);
 *   - trading API decimals arrive as JSON strings and are kept as the exact
 *     text Alpaca sent;
 *   - market data prices arrive as JSON numbers, which jansson has already
 *     turned into doubles.  They are printed with "%.15g" (a double holds
 *     15 significant decimal digits exactly, so any decimal of at most 15
 *     significant digits -- every real price -- comes back as the digits
 *     Alpaca sent, trailing zeros dropped) and the result is passed through
 *     decimal_parse(), which turns an exponent ("1e-05") into plain decimal
 *     text ("0.00001") without another trip through binary floating point;
 *   - a field too long for its buffer makes the answer unreadable rather
 *     than silently truncating a number or an id.
 *
 * The parsing of answers (alpaca_parse_*) is pure and public: the client's
 * calls (alpaca.c) hand it the body they received, and the unit tests and
 * fuzzers (tests/fuzz/fuzz_alpaca.c) call it directly. */
#include "alpaca_parse.h"

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decimal.h"
#include "jsonscan.h"

/* ---- what an answer says ------------------------------------------------------ */

void alpaca_order_clear(alpaca_order_t *o) {
    free(o->raw);
    o->raw = NULL;
}

void alpaca_orders_free(alpaca_order_t *orders, size_t n) {
    if (!orders) return;
    for (size_t i = 0; i < n; i++) alpaca_order_clear(&orders[i]);
    free(orders);
}

int alpaca_status_is_terminal(const char *s) {
    return !strcmp(s, "filled") || !strcmp(s, "canceled") ||
           !strcmp(s, "expired") || !strcmp(s, "rejected") ||
           !strcmp(s, "replaced");
}

int alpaca_account_can_trade(const alpaca_account_t *acc, char *reason,
                             size_t reason_len) {
    const char *why = NULL;
    char status[64];
    if (strcmp(acc->status, "ACTIVE") != 0) {
        snprintf(status, sizeof(status), "account status is %s",
                 acc->status[0] ? acc->status : "unknown");
        why = status;
    } else if (acc->account_blocked) {
        why = "account is blocked";
    } else if (acc->trading_blocked) {
        why = "trading is blocked";
    } else if (acc->trade_suspended_by_user) {
        why = "trading is suspended by the user";
    }
    if (reason && reason_len) snprintf(reason, reason_len, "%s", why ? why : "");
    return why == NULL;
}

/* ---- field readers --------------------------------------------------------- */

/* Writes a JSON number as exact decimal text (see the top of the file).
 * Returns 0, or -1 if it is not finite or does not fit. */
static int number_text(json_t *v, char *buf, size_t len) {
    char tmp[64];
    if (json_is_integer(v)) {
        snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
    } else {
        decimal_t d;
        snprintf(tmp, sizeof(tmp), "%.15g", json_real_value(v));
        if (decimal_parse(tmp, strlen(tmp), 1, &d) != DECIMAL_OK) return -1;
        snprintf(tmp, sizeof(tmp), "%s", d.text);
    }
    if (strlen(tmp) >= len) return -1;
    memcpy(buf, tmp, strlen(tmp) + 1);
    return 0;
}

/* Copies field key of o (a string, or a number's decimal text) into buf;
 * "" when null, absent or of another type.  Returns 0, or -1 when it does
 * not fit. */
static int text_field(json_t *o, const char *key, char *buf, size_t len) {
    json_t *v = json_object_get(o, key);
    buf[0] = '\0';
    if (json_is_string(v)) {
        if (json_string_length(v) >= len || strlen(json_string_value(v)) != json_string_length(v))
            return -1;
        memcpy(buf, json_string_value(v), json_string_length(v) + 1);
        return 0;
    }
    if (json_is_number(v)) return number_text(v, buf, len);
    return 0;
}

static int flag_field(json_t *o, const char *key) {
    return json_is_true(json_object_get(o, key));
}

/* An integer field; a real is truncated (saturated beyond long long: that
 * cast would be undefined), anything else is 0. */
static long long int_field(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) return (long long)json_integer_value(v);
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= 9223372036854775808.0) return LLONG_MAX;
        if (d <= -9223372036854775808.0) return LLONG_MIN;
        return (long long)d;
    }
    return 0;
}

/* A table of text fields, so that every object is read the same way. */
typedef struct field {
    const char *key;
    size_t offset, size;
} field_t;

#define FIELD(type, member) {#member, offsetof(type, member), sizeof(((type *)0)->member)}

/* Reads every field of the table into the struct at base.  Returns 0, or -1
 * naming the field that did not fit in bad. */
static int read_fields(json_t *o, const field_t *f, size_t n, void *base,
                       const char **bad) {
    for (size_t i = 0; i < n; i++) {
        if (text_field(o, f[i].key, (char *)base + f[i].offset, f[i].size) != 0) {
            *bad = f[i].key;
            return -1;
        }
    }
    return 0;
}

static const field_t order_fields[] = {
    FIELD(alpaca_order_t, id), FIELD(alpaca_order_t, client_order_id),
    FIELD(alpaca_order_t, status), FIELD(alpaca_order_t, symbol),
    FIELD(alpaca_order_t, side), FIELD(alpaca_order_t, type),
    FIELD(alpaca_order_t, time_in_force), FIELD(alpaca_order_t, qty),
    FIELD(alpaca_order_t, notional), FIELD(alpaca_order_t, filled_qty),
    FIELD(alpaca_order_t, filled_avg_price), FIELD(alpaca_order_t, limit_price),
    FIELD(alpaca_order_t, stop_price), FIELD(alpaca_order_t, created_at),
    FIELD(alpaca_order_t, updated_at), FIELD(alpaca_order_t, filled_at),
    FIELD(alpaca_order_t, submitted_at), FIELD(alpaca_order_t, canceled_at),
    FIELD(alpaca_order_t, expired_at), FIELD(alpaca_order_t, failed_at),
    FIELD(alpaca_order_t, order_class),
};

static const field_t account_fields[] = {
    FIELD(alpaca_account_t, id), FIELD(alpaca_account_t, account_number),
    FIELD(alpaca_account_t, status), FIELD(alpaca_account_t, currency),
    FIELD(alpaca_account_t, buying_power), FIELD(alpaca_account_t, regt_buying_power),
    FIELD(alpaca_account_t, non_marginable_buying_power), FIELD(alpaca_account_t, cash),
    FIELD(alpaca_account_t, equity), FIELD(alpaca_account_t, last_equity),
    FIELD(alpaca_account_t, portfolio_value), FIELD(alpaca_account_t, long_market_value),
    FIELD(alpaca_account_t, short_market_value), FIELD(alpaca_account_t, multiplier),
};

static const field_t position_fields[] = {
    FIELD(alpaca_position_t, symbol), FIELD(alpaca_position_t, asset_id),
    FIELD(alpaca_position_t, side), FIELD(alpaca_position_t, qty),
    FIELD(alpaca_position_t, qty_available), FIELD(alpaca_position_t, avg_entry_price),
    FIELD(alpaca_position_t, market_value), FIELD(alpaca_position_t, cost_basis),
    FIELD(alpaca_position_t, current_price), FIELD(alpaca_position_t, unrealized_pl),
};

static const field_t clock_fields[] = {
    FIELD(alpaca_clock_t, timestamp), FIELD(alpaca_clock_t, next_open),
    FIELD(alpaca_clock_t, next_close),
};

static const field_t bar_fields[] = {
    FIELD(alpaca_bar_t, t), FIELD(alpaca_bar_t, o), FIELD(alpaca_bar_t, h),
    FIELD(alpaca_bar_t, l), FIELD(alpaca_bar_t, c), FIELD(alpaca_bar_t, vw),
};

#define NFIELDS(table) (sizeof(table) / sizeof((table)[0]))

/* ---- parsing answers (alpaca_parse_*) ------------------------------------ */

/* Loads body as JSON of the wanted kind (JSON_OBJECT or JSON_ARRAY); NULL,
 * with what is wrong in bad, if it is not. */
static json_t *load_json(const char *body, size_t len, json_type want, const char **bad) {
    json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
    if (j && json_typeof(j) != want) {
        json_decref(j);
        j = NULL;
    }
    if (!j) *bad = want == JSON_ARRAY ? "not an array" : "not an object";
    return j;
}

/* Reads one order object; shared by the single-order calls, the list and
 * the stream.  text (len bytes, or NULL) is the object as it came: its
 * compact copy is the order's raw text, numbers as sent; without it, raw is
 * jansson's rendering.  Returns 0, or -1 with what is wrong in bad. */
static int order_from_json(json_t *j, const char *text, size_t len, alpaca_order_t *o,
                           const char **bad) {
    memset(o, 0, sizeof(*o));
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "id"))) {
        *bad = "no id";
        return -1;
    }
    if (read_fields(j, order_fields, NFIELDS(order_fields), o, bad) != 0) return -1;
    if (!o->type[0] && text_field(j, "order_type", o->type, sizeof(o->type)) != 0) {
        *bad = "order_type";
        return -1;
    }
    if (!o->filled_qty[0]) snprintf(o->filled_qty, sizeof(o->filled_qty), "0");
    o->extended_hours = flag_field(j, "extended_hours");
    size_t n;
    /* A NUL byte between tokens, which jansson lets pass, would cut the
     * copy short: then jansson's rendering. */
    o->raw = text && !memchr(text, '\0', len)
                 ? jsonscan_compact(text, len, &n)
                 : json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!o->raw) {
        *bad = "out of memory";
        return -1;
    }
    return 0;
}

int alpaca_parse_order(const char *body, size_t len, alpaca_order_t *out,
                       const char **bad) {
    memset(out, 0, sizeof(*out));
    json_t *j = load_json(body, len, JSON_OBJECT, bad);
    if (!j) return -1;
    int rc = alpaca_parse_order_json(j, body, len, out, bad);
    json_decref(j);
    return rc;
}

int alpaca_parse_order_json(struct json_t *j, const char *text, size_t len,
                            alpaca_order_t *out, const char **bad) {
    int rc = order_from_json(j, text, len, out, bad);
    if (rc != 0) {
        alpaca_order_clear(out);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}

int alpaca_parse_orders(const char *body, size_t len, alpaca_order_t **out,
                        size_t *n, const char **bad) {
    *out = NULL;
    *n = 0;
    json_t *j = load_json(body, len, JSON_ARRAY, bad);
    if (!j) return -1;
    size_t count = json_array_size(j);
    alpaca_order_t *orders = count ? calloc(count, sizeof(*orders)) : NULL;
    if (count && !orders) {
        json_decref(j);
        *bad = "out of memory";
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (order_from_json(json_array_get(j, i), NULL, 0, &orders[i], bad) != 0) {
            alpaca_orders_free(orders, i + 1);
            json_decref(j);
            return -1;
        }
    }
    json_decref(j);
    *out = orders;
    *n = count;
    return 0;
}

int alpaca_parse_account(const char *body, size_t len, alpaca_account_t *out,
                         const char **bad) {
    memset(out, 0, sizeof(*out));
    json_t *j = load_json(body, len, JSON_OBJECT, bad);
    if (!j) return -1;
    if (read_fields(j, account_fields, NFIELDS(account_fields), out, bad) != 0) {
        json_decref(j);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    out->trading_blocked = flag_field(j, "trading_blocked");
    out->account_blocked = flag_field(j, "account_blocked");
    out->trade_suspended_by_user = flag_field(j, "trade_suspended_by_user");
    out->shorting_enabled = flag_field(j, "shorting_enabled");
    json_decref(j);
    return 0;
}

int alpaca_parse_positions(const char *body, size_t len, alpaca_position_t **out,
                           size_t *n, const char **bad) {
    *out = NULL;
    *n = 0;
    json_t *j = load_json(body, len, JSON_ARRAY, bad);
    if (!j) return -1;
    size_t count = json_array_size(j);
    alpaca_position_t *ps = count ? calloc(count, sizeof(*ps)) : NULL;
    const char *why = count && !ps ? "out of memory" : NULL;
    for (size_t i = 0; !why && i < count; i++) {
        json_t *p = json_array_get(j, i);
        if (!json_is_object(p)) why = "not an object";
        else read_fields(p, position_fields, NFIELDS(position_fields), &ps[i], &why);
    }
    json_decref(j);
    if (why) {
        free(ps);
        *bad = why;
        return -1;
    }
    *out = ps;
    *n = count;
    return 0;
}

int alpaca_parse_clock(const char *body, size_t len, alpaca_clock_t *out,
                       const char **bad) {
    memset(out, 0, sizeof(*out));
    json_t *j = load_json(body, len, JSON_OBJECT, bad);
    if (!j) return -1;
    *bad = "is_open";
    if (!json_is_boolean(json_object_get(j, "is_open")) ||
        read_fields(j, clock_fields, NFIELDS(clock_fields), out, bad) != 0) {
        json_decref(j);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    out->is_open = flag_field(j, "is_open");
    json_decref(j);
    return 0;
}

int alpaca_parse_quote(const char *body, size_t len, const char *symbol,
                       alpaca_quote_t *out, const char **bad) {
    memset(out, 0, sizeof(*out));
    json_t *j = load_json(body, len, JSON_OBJECT, bad);
    if (!j) return -1;
    json_t *q = json_object_get(j, "quote");
    const char *why = NULL;
    if (!json_is_object(q)) why = "no quote object";
    else if (text_field(j, "symbol", out->symbol, sizeof(out->symbol))) why = "symbol";
    else if (text_field(q, "t", out->t, sizeof(out->t))) why = "t";
    else if (text_field(q, "ap", out->ask, sizeof(out->ask))) why = "ap";
    else if (text_field(q, "bp", out->bid, sizeof(out->bid))) why = "bp";
    else if (text_field(q, "ax", out->ask_exchange, sizeof(out->ask_exchange))) why = "ax";
    else if (text_field(q, "bx", out->bid_exchange, sizeof(out->bid_exchange))) why = "bx";
    if (!why) {
        out->ask_size = int_field(q, "as");
        out->bid_size = int_field(q, "bs");
        if (!out->ask[0]) snprintf(out->ask, sizeof(out->ask), "0");
        if (!out->bid[0]) snprintf(out->bid, sizeof(out->bid), "0");
        if (!out->symbol[0] && symbol && strlen(symbol) < sizeof(out->symbol))
            snprintf(out->symbol, sizeof(out->symbol), "%s", symbol);
    }
    json_decref(j);
    if (why) {
        memset(out, 0, sizeof(*out));
        *bad = why;
        return -1;
    }
    return 0;
}

/* Appends the bars of one page (an array, null or absent) to *bars. */
static int bars_append(json_t *page, alpaca_bar_t **bars, size_t *n, size_t *cap,
                       const char **bad) {
    json_t *list = json_object_get(page, "bars");
    if (list == NULL || json_is_null(list)) return 0;
    if (!json_is_array(list)) {
        *bad = "bars is not an array";
        return -1;
    }
    size_t count = json_array_size(list);
    if (*n + count > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < *n + count) c *= 2;
        alpaca_bar_t *b = realloc(*bars, c * sizeof(*b));
        if (!b) {
            *bad = "out of memory";
            return -1;
        }
        *bars = b;
        *cap = c;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *o = json_array_get(list, i);
        alpaca_bar_t *bar = &(*bars)[*n];
        memset(bar, 0, sizeof(*bar));
        if (!json_is_object(o)) {
            *bad = "bar is not an object";
            return -1;
        }
        if (read_fields(o, bar_fields, NFIELDS(bar_fields), bar, bad) != 0) return -1;
        bar->v = int_field(o, "v");
        bar->n = int_field(o, "n");
        (*n)++;
    }
    return 0;
}

int alpaca_parse_bars_page(const char *body, size_t len, alpaca_bar_t **bars,
                           size_t *n, size_t *cap, char **next_token,
                           const char **bad) {
    *next_token = NULL;
    json_t *j = load_json(body, len, JSON_OBJECT, bad);
    if (!j) return -1;
    if (bars_append(j, bars, n, cap, bad) != 0) {
        json_decref(j);
        return -1;
    }
    /* A string token means another page; null, absent or "" ends. */
    json_t *next = json_object_get(j, "next_page_token");
    const char *why = NULL;
    if (json_is_string(next) && json_string_length(next) > 0) {
        *next_token = strdup(json_string_value(next));
        if (!*next_token) why = "out of memory";
    } else if (next && !json_is_null(next) && !json_is_string(next)) {
        why = "next_page_token is not a string";
    }
    json_decref(j);
    if (why) {
        *bad = why;
        return -1;
    }
    return 0;
}

void alpaca_parse_error(const char *body, size_t len, long http_status,
                        alpaca_error_t *err) {
    err->http_status = http_status;
    err->code = 0;
    err->message[0] = '\0';
    json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
    if (json_is_object(j)) {
        json_t *c = json_object_get(j, "code");
        json_t *m = json_object_get(j, "message");
        if (json_is_integer(c)) err->code = (long)json_integer_value(c);
        if (json_is_string(m))
            snprintf(err->message, sizeof(err->message), "%s", json_string_value(m));
    }
    if (!err->message[0])
        snprintf(err->message, sizeof(err->message), "HTTP %ld", http_status);
    json_decref(j);
}

/* If the header line is "name: value" (name compared case-insensitively)
 * and value is an integer, stores it. */
static void header_number(const char *line, size_t len, const char *name,
                          long long *out) {
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return;
    char value[32];
    size_t i = nl + 1, k = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
    while (i < len && k + 1 < sizeof(value) && line[i] != '\r' && line[i] != '\n')
        value[k++] = line[i++];
    value[k] = '\0';
    char *end;
    long long v = strtoll(value, &end, 10);
    while (*end == ' ' || *end == '\t') end++;
    if (k > 0 && *end == '\0') *out = v;
}

void alpaca_parse_header(const char *line, size_t len, alpaca_ratelimit_t *rl) {
    /* A status line starts a new answer (after a 100 Continue, say). */
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        rl->limit = rl->remaining = rl->reset_epoch_s = -1;
        return;
    }
    header_number(line, len, "x-ratelimit-limit", &rl->limit);
    header_number(line, len, "x-ratelimit-remaining", &rl->remaining);
    header_number(line, len, "x-ratelimit-reset", &rl->reset_epoch_s);
}
