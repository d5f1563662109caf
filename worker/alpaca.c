/* alpaca.c -- the Alpaca client (see alpaca.h).
 *
 * Owns every HTTP call to Alpaca's trading API (cfg->alpaca_base_url) and
 * market data API (cfg->alpaca_data_url): authentication headers, timeouts,
 * connection reuse (one libcurl easy handle per alpaca_t keeps its
 * connections alive; never share an alpaca_t between threads), URL building
 * with every path part and query value percent-escaped, the X-Ratelimit-*
 * headers, parsing of the answers and the classification of every answer by
 * HTTP status first, then message -- never by Alpaca's numeric code alone,
 * which it reuses across situations.
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
 * The parsing of answers (alpaca_parse_*) is pure and public: the calls
 * below hand it the body they received, and the unit tests and fuzzers
 * (tests/fuzz/fuzz_alpaca.c) call it directly.
 *
 * Secrets: the key headers are built once in alpaca_new(); no error message
 * or log line ever contains a header, only the method and the path. */
#include "alpaca.h"

#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "decimal.h"
#include "metrics.h"
#include "timefmt.h"

#define ALPACA_MAX_BODY (64u * 1024u * 1024u)  /* larger answers are refused */
#define ALPACA_MAX_BAR_PAGES 100000            /* guards a token that loops */

typedef enum { API_TRADING, API_DATA } api_t;

struct alpaca {
    CURL *curl;
    const config_t *cfg;
    struct curl_slist *headers;
    char *body;                /* last answer, NUL terminated */
    size_t body_len, body_cap;
    int body_too_large;
    const char *upload;        /* POST body being sent, and how much was */
    size_t upload_len, upload_pos;
    alpaca_ratelimit_t answer_rl;  /* X-Ratelimit-* of the answer being read */
    alpaca_ratelimit_t last_rl;    /* ... of the last trading API answer */
    long answer_status;            /* HTTP status of the last answer, 0: none */
    circuits_t *circuits;          /* NULL: no breakers */
    budget_t *budget;              /* NULL: unpaced */
    budget_priority_t prio;        /* the call context (alpaca_set_call_context) */
    int64_t deadline_mono_ms;
    const atomic_int *abandon;
};

/* ---- growable strings (URLs) ------------------------------------------ */

typedef struct strbuf {
    char *s;
    size_t len, cap;
    int failed;        /* an allocation failed; s is unusable */
} strbuf_t;

static void strbuf_append(strbuf_t *b, const char *text) {
    size_t n = strlen(text);
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->failed = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
}

/* Appends text percent-escaped (RFC 3986: all but unreserved characters). */
static void strbuf_append_escaped(strbuf_t *b, CURL *curl, const char *text) {
    char *esc = curl_easy_escape(curl, text, 0);
    if (!esc) {
        b->failed = 1;
        return;
    }
    strbuf_append(b, esc);
    curl_free(esc);
}

/* Appends "?name=value" or "&name=value"; nothing when value is NULL. */
static void strbuf_add_query(strbuf_t *b, CURL *curl, const char *name,
                             const char *value) {
    if (!value) return;
    strbuf_append(b, b->s && strchr(b->s, '?') ? "&" : "?");
    strbuf_append(b, name);
    strbuf_append(b, "=");
    strbuf_append_escaped(b, curl, value);
}

static void strbuf_add_query_int(strbuf_t *b, CURL *curl, const char *name,
                                 long long value) {
    char num[32];
    snprintf(num, sizeof(num), "%lld", value);
    strbuf_add_query(b, curl, name, num);
}

/* ---- libcurl callbacks -------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    alpaca_t *a = ud;
    size_t len = size * n;
    if (a->body_len + len + 1 > ALPACA_MAX_BODY) {
        a->body_too_large = 1;
        return 0;
    }
    if (a->body_len + len + 1 > a->body_cap) {
        size_t cap = a->body_cap ? a->body_cap : 4096;
        while (cap < a->body_len + len + 1) cap *= 2;
        char *b = realloc(a->body, cap);
        if (!b) return 0;
        a->body = b;
        a->body_cap = cap;
    }
    memcpy(a->body + a->body_len, data, len);
    a->body_len += len;
    a->body[a->body_len] = '\0';
    return len;
}

/* POST bodies are handed to libcurl through a read callback that cannot
 * rewind, on purpose.  When a reused keep-alive connection dies without a
 * byte of answer, libcurl silently sends the request again on a fresh
 * connection -- for a POST that is a second order submission behind the
 * caller's back (with the same client_order_id the second one is refused
 * as a duplicate, hiding the real outcome).  Refusing the rewind makes that
 * retry fail instead, so a lost answer is reported as ALPACA_TRANSIENT and
 * the caller decides (lookup by client_order_id).  GETs keep the retry. */
static size_t on_upload(char *buf, size_t size, size_t n, void *ud) {
    alpaca_t *a = ud;
    size_t room = size * n, left = a->upload_len - a->upload_pos;
    size_t k = left < room ? left : room;
    memcpy(buf, a->upload + a->upload_pos, k);
    a->upload_pos += k;
    return k;
}

static int on_upload_seek(void *ud, curl_off_t offset, int origin) {
    alpaca_t *a = ud;
    if (origin == SEEK_SET && offset == 0 && a->upload_pos == 0) return CURL_SEEKFUNC_OK;
    return CURL_SEEKFUNC_FAIL;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
    alpaca_t *a = ud;
    size_t len = size * n;
    alpaca_parse_header(data, len, &a->answer_rl);
    return len;
}

/* ---- life ---------------------------------------------------------------- */

alpaca_t *alpaca_new(const config_t *cfg) {
    alpaca_t *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    /* The 429 series exist from the start at 0, so that the first 429 is an
     * increase the alert OrderWorkerAlpacaRateLimited can see. */
    for (int op = 0; op < OP_COUNT; op++)
        metrics_add(M_ALPACA_REQUESTS, 0, circuits_op_name((circuit_op_t)op), "429");
    a->cfg = cfg;
    a->deadline_mono_ms = INT64_MAX;
    a->last_rl.limit = a->last_rl.remaining = a->last_rl.reset_epoch_s = -1;
    a->answer_rl = a->last_rl;
    a->curl = curl_easy_init();
    if (!a->curl) {
        free(a);
        return NULL;
    }
    char h[400];
    const char *fixed[] = {"Content-Type: application/json",
                           "Accept: application/json", "Expect:"};
    snprintf(h, sizeof(h), "APCA-API-KEY-ID: %s", cfg->alpaca_key_id);
    a->headers = curl_slist_append(a->headers, h);
    snprintf(h, sizeof(h), "APCA-API-SECRET-KEY: %s", cfg->alpaca_secret_key);
    struct curl_slist *l = a->headers ? curl_slist_append(a->headers, h) : NULL;
    for (size_t i = 0; l && i < sizeof(fixed) / sizeof(fixed[0]); i++)
        l = curl_slist_append(l, fixed[i]);
    explicit_bzero(h, sizeof(h));
    if (!l) {
        curl_slist_free_all(a->headers);
        curl_easy_cleanup(a->curl);
        free(a);
        return NULL;
    }
    curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, a->headers);
    curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(a->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(a->curl, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(a->curl, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(a->curl, CURLOPT_READDATA, a);
    curl_easy_setopt(a->curl, CURLOPT_SEEKFUNCTION, on_upload_seek);
    curl_easy_setopt(a->curl, CURLOPT_SEEKDATA, a);
    curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->alpaca_connect_timeout_ms);
    curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, (long)cfg->alpaca_timeout_ms);
    curl_easy_setopt(a->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(a->curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(a->curl, CURLOPT_USERAGENT, "order-worker/1");
    return a;
}

void alpaca_set_circuits(alpaca_t *a, circuits_t *c) { a->circuits = c; }

void alpaca_set_budget(alpaca_t *a, budget_t *b) { a->budget = b; }

void alpaca_set_call_context(alpaca_t *a, budget_priority_t prio, int64_t deadline_mono_ms,
                             const atomic_int *abandon) {
    a->prio = prio;
    a->deadline_mono_ms = deadline_mono_ms;
    a->abandon = abandon;
}

void alpaca_free(alpaca_t *a) {
    if (!a) return;
    curl_easy_cleanup(a->curl);
    curl_slist_free_all(a->headers);
    free(a->body);
    free(a);
}

void alpaca_last_ratelimit(const alpaca_t *a, alpaca_ratelimit_t *out) {
    *out = a->last_rl;
}

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

/* ---- parsing answers (alpaca_parse_*, see alpaca.h) --------------------- */

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

/* Reads one order object; shared by the single-order calls and the list.
 * Returns 0, or -1 with what is wrong in bad. */
static int order_from_json(json_t *j, alpaca_order_t *o, const char **bad) {
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
    o->raw = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
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
    int rc = order_from_json(j, out, bad);
    json_decref(j);
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
        if (order_from_json(json_array_get(j, i), &orders[i], bad) != 0) {
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

/* ---- requests ------------------------------------------------------------ */

static alpaca_result_t unreadable(alpaca_t *a, alpaca_error_t *err,
                                  const char *what, const char *detail) {
    long status = 0;
    curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
    err->http_status = status;
    err->code = 0;
    snprintf(err->message, sizeof(err->message), "unreadable %s in answer%s%s", what,
             detail ? ": " : "", detail ? detail : "");
    return ALPACA_TRANSIENT;
}

/* The breaker that guards a call, from its method and path. */
static circuit_op_t op_of(const char *method, const char *path) {
    if (strstr(path, "/quotes/")) return OP_QUOTE;
    if (strstr(path, "/bars")) return OP_BARS;
    if (!strcmp(path, "/v2/account")) return OP_ACCOUNT;
    if (!strcmp(path, "/v2/positions")) return OP_POSITIONS;
    if (!strcmp(path, "/v2/clock")) return OP_CLOCK;
    if (!strcmp(method, "DELETE")) return OP_CANCEL;
    if (!strcmp(method, "POST")) return OP_PLACE;
    if (!strcmp(path, "/v2/orders")) return OP_LIST;
    return OP_LOOKUP;
}

/* What a classified answer tells a breaker: only a broken broker (5xx, 408,
 * timeouts, connection errors) is a failure; refusals and 429 say nothing
 * of the broker's health, either way. */
static breaker_outcome_t outcome_of(alpaca_result_t r) {
    if (r == ALPACA_OK) return BREAKER_SUCCESS;
    if (r == ALPACA_TRANSIENT) return BREAKER_FAILURE;
    return BREAKER_IGNORED;
}

static alpaca_result_t perform(alpaca_t *a, api_t api, const char *method,
                               strbuf_t *url, const char *path_for_errors,
                               const char *body, alpaca_error_t *err);

static double mono_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A call that was not sent: why, for the error and the metrics. */
static alpaca_result_t not_sent(circuit_op_t op, const char *method, const char *path,
                                alpaca_result_t r, alpaca_error_t *err) {
    memset(err, 0, sizeof(*err));
    if (r == ALPACA_BREAKER_OPEN)
        snprintf(err->message, sizeof(err->message),
                 "%s %s: not sent, the circuit breaker for %s is open", method, path,
                 circuits_op_name(op));
    else
        snprintf(err->message, sizeof(err->message),
                 "%s %s: not sent, no token of the shared Alpaca budget in time", method, path);
    metrics_add(M_ALPACA_REQUESTS, 1, circuits_op_name(op),
                r == ALPACA_BREAKER_OPEN ? "refused" : "no_budget");
    return r;
}

/* The call behind its breaker; its duration and answer go to the metrics. */
static alpaca_result_t guarded(alpaca_t *a, api_t api, circuit_op_t op, const char *method,
                               strbuf_t *url, const char *path_for_errors,
                               const char *body, alpaca_error_t *err) {
    if (a->circuits && !circuits_allow(a->circuits, op))
        return not_sent(op, method, path_for_errors, ALPACA_BREAKER_OPEN, err);
    double start = mono_seconds();
    alpaca_result_t r = perform(a, api, method, url, path_for_errors, body, err);
    double took = mono_seconds() - start;
    if (a->circuits) circuits_record(a->circuits, op, outcome_of(r), (int64_t)(took * 1000));
    char status[24] = "error";
    if (a->answer_status > 0) snprintf(status, sizeof(status), "%ld", a->answer_status);
    metrics_add(M_ALPACA_REQUESTS, 1, circuits_op_name(op), status);
    metrics_observe(M_ALPACA_SECONDS, took, circuits_op_name(op), NULL);
    return r;
}

/* The one request helper: the breaker of the operation first (a call it
 * would refuse spends no token), then a token of the shared budget (trading
 * API only: market data has its own limit), then the call behind its
 * breaker; Alpaca's rate-limit headers go back to the budget. */
static alpaca_result_t request(alpaca_t *a, api_t api, const char *method,
                               strbuf_t *url, const char *path_for_errors,
                               const char *body, alpaca_error_t *err) {
    circuit_op_t op = op_of(method, path_for_errors);
    if (a->circuits && !circuits_allow_peek(a->circuits, op))
        return not_sent(op, method, path_for_errors, ALPACA_BREAKER_OPEN, err);
    if (a->budget && api == API_TRADING &&
        budget_take(a->budget, a->prio, a->deadline_mono_ms, a->abandon) != 0)
        return not_sent(op, method, path_for_errors, ALPACA_NO_BUDGET, err);
    alpaca_result_t r = guarded(a, api, op, method, url, path_for_errors, body, err);
    if (a->budget && api == API_TRADING)
        budget_observe(a->budget, a->last_rl.remaining, a->last_rl.reset_epoch_s,
                       r == ALPACA_RATE_LIMITED);
    return r;
}

/* Performs method on the URL in url (built by the caller from api's base),
 * with body for POST; leaves the answer in a->body and returns it
 * classified: status first, then message. */
static alpaca_result_t perform(alpaca_t *a, api_t api, const char *method,
                               strbuf_t *url, const char *path_for_errors,
                               const char *body, alpaca_error_t *err) {
    memset(err, 0, sizeof(*err));
    a->answer_status = 0;
    a->body_len = 0;
    a->body_too_large = 0;
    if (a->body) a->body[0] = '\0';
    a->answer_rl.limit = a->answer_rl.remaining = a->answer_rl.reset_epoch_s = -1;
    if (url->failed || !url->s) {
        snprintf(err->message, sizeof(err->message), "%s %s: out of memory", method,
                 path_for_errors);
        return ALPACA_TRANSIENT;
    }
    curl_easy_setopt(a->curl, CURLOPT_URL, url->s);
    if (!strcmp(method, "POST")) {
        a->upload = body ? body : "";
        a->upload_len = strlen(a->upload);
        a->upload_pos = 0;
        curl_easy_setopt(a->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->upload_len);
        curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, NULL);
    } else {
        curl_easy_setopt(a->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST,
                         strcmp(method, "GET") ? method : NULL);
    }
    CURLcode rc = curl_easy_perform(a->curl);
    a->upload = NULL;
    if (api == API_TRADING && rc == CURLE_OK) a->last_rl = a->answer_rl;
    if (rc != CURLE_OK) {
        const char *why = curl_easy_strerror(rc);
        if (a->body_too_large) why = "answer too large";
        else if (rc == CURLE_SEND_FAIL_REWIND)  /* see on_upload */
            why = "connection closed without an answer (request not resent)";
        snprintf(err->message, sizeof(err->message), "%s %s: %s", method, path_for_errors, why);
        return ALPACA_TRANSIENT;
    }
    long status = 0;
    curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
    a->answer_status = status;
    if (status >= 200 && status < 300) {
        err->http_status = status;
        return ALPACA_OK;
    }
    alpaca_parse_error(a->body, a->body_len, status, err);
    if (status == 401) return ALPACA_UNAUTHORIZED;
    if (status == 404) return ALPACA_NOT_FOUND;
    if (status == 429) {
        int64_t now = timefmt_now_ms();
        err->retry_at_ms = a->answer_rl.reset_epoch_s > 0
                               ? (int64_t)a->answer_rl.reset_epoch_s * 1000
                               : now + 1000;
        if (err->retry_at_ms <= now) err->retry_at_ms = now + 100;
        return ALPACA_RATE_LIMITED;
    }
    if (status == 408 || status >= 500) return ALPACA_TRANSIENT;
    if (status == 422 && strstr(err->message, "client_order_id must be unique"))
        return ALPACA_DUPLICATE;
    if (status >= 400) return ALPACA_REJECTED;
    /* 1xx/3xx as a final answer: nothing Alpaca sends; outcome unknown. */
    return ALPACA_TRANSIENT;
}

/* Starts a URL: the base of api, then path (literal; the caller appends
 * any variable part with strbuf_append_escaped and strbuf_add_query). */
static void url_start(alpaca_t *a, api_t api, strbuf_t *url, const char *path) {
    memset(url, 0, sizeof(*url));
    strbuf_append(url, api == API_DATA ? a->cfg->alpaca_data_url : a->cfg->alpaca_base_url);
    strbuf_append(url, path);
}

/* GETs url (freeing it); the answer is left in a->body for an
 * alpaca_parse_* function. */
static alpaca_result_t get_answer(alpaca_t *a, api_t api, strbuf_t *url,
                                  const char *path, alpaca_error_t *err) {
    alpaca_result_t r = request(a, api, "GET", url, path, NULL, err);
    free(url->s);
    url->s = NULL;
    return r;
}

/* ---- orders ---------------------------------------------------------------- */

/* Performs a request whose answer is one order. */
static alpaca_result_t order_request(alpaca_t *a, const char *method, strbuf_t *url,
                                     const char *path, const char *body,
                                     alpaca_order_t *out, alpaca_error_t *err) {
    memset(out, 0, sizeof(*out));
    alpaca_result_t r = request(a, API_TRADING, method, url, path, body, err);
    free(url->s);
    if (r != ALPACA_OK) return r;
    const char *bad = NULL;
    if (alpaca_parse_order(a->body, a->body_len, out, &bad) != 0)
        return unreadable(a, err, "order", bad);
    return ALPACA_OK;
}

alpaca_result_t alpaca_place_order(alpaca_t *a, const intent_t *in,
                                   const char *client_order_id,
                                   alpaca_order_t *out, alpaca_error_t *err) {
    json_t *b = json_object();
    json_object_set_new(b, "symbol", json_string(in->symbol));
    if (in->has_qty) json_object_set_new(b, "qty", json_string(in->qty.text));
    if (in->has_notional) json_object_set_new(b, "notional", json_string(in->notional.text));
    json_object_set_new(b, "side", json_string(in->side));
    json_object_set_new(b, "type", json_string(in->type));
    json_object_set_new(b, "time_in_force", json_string(in->time_in_force));
    if (in->has_limit_price)
        json_object_set_new(b, "limit_price", json_string(in->limit_price.text));
    if (in->has_stop_price)
        json_object_set_new(b, "stop_price", json_string(in->stop_price.text));
    if (in->extended_hours) json_object_set_new(b, "extended_hours", json_true());
    json_object_set_new(b, "client_order_id", json_string(client_order_id));
    char *body = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(b);
    strbuf_t url;
    url_start(a, API_TRADING, &url, "/v2/orders");
    if (!body) url.failed = 1;
    alpaca_result_t r = order_request(a, "POST", &url, "/v2/orders", body, out, err);
    free(body);
    return r;
}

alpaca_result_t alpaca_get_order_by_client_id(alpaca_t *a, const char *cid,
                                              alpaca_order_t *out,
                                              alpaca_error_t *err) {
    strbuf_t url;
    url_start(a, API_TRADING, &url, "/v2/orders:by_client_order_id");
    strbuf_add_query(&url, a->curl, "client_order_id", cid);
    return order_request(a, "GET", &url, "/v2/orders:by_client_order_id", NULL, out, err);
}

alpaca_result_t alpaca_get_order(alpaca_t *a, const char *order_id,
                                 alpaca_order_t *out, alpaca_error_t *err) {
    strbuf_t url;
    url_start(a, API_TRADING, &url, "/v2/orders/");
    strbuf_append_escaped(&url, a->curl, order_id);
    return order_request(a, "GET", &url, "/v2/orders/{id}", NULL, out, err);
}

alpaca_result_t alpaca_list_orders(alpaca_t *a, const char *status,
                                   const char *after, int limit,
                                   alpaca_order_t **out, size_t *n,
                                   alpaca_error_t *err) {
    *out = NULL;
    *n = 0;
    if (limit < 1 || limit > 500) {
        memset(err, 0, sizeof(*err));
        snprintf(err->message, sizeof(err->message), "list orders: limit must be 1..500");
        return ALPACA_REJECTED;
    }
    strbuf_t url;
    url_start(a, API_TRADING, &url, "/v2/orders");
    strbuf_add_query(&url, a->curl, "status", status);
    strbuf_add_query(&url, a->curl, "after", after);
    strbuf_add_query_int(&url, a->curl, "limit", limit);
    strbuf_add_query(&url, a->curl, "direction", "asc");
    alpaca_result_t r = get_answer(a, API_TRADING, &url, "/v2/orders", err);
    if (r != ALPACA_OK) return r;
    const char *bad = NULL;
    if (alpaca_parse_orders(a->body, a->body_len, out, n, &bad) != 0)
        return unreadable(a, err, "order list", bad);
    return ALPACA_OK;
}

alpaca_result_t alpaca_cancel_order(alpaca_t *a, const char *order_id,
                                    alpaca_error_t *err) {
    strbuf_t url;
    url_start(a, API_TRADING, &url, "/v2/orders/");
    strbuf_append_escaped(&url, a->curl, order_id);
    alpaca_result_t r = request(a, API_TRADING, "DELETE", &url, "/v2/orders/{id}", NULL, err);
    free(url.s);
    return r;
}

/* ---- account, positions, clock ------------------------------------------ */

alpaca_result_t alpaca_get_account(alpaca_t *a, alpaca_account_t *out,
                                   alpaca_error_t *err) {
    memset(out, 0, sizeof(*out));
    strbuf_t url;
    url_start(a, API_TRADING, &url, "/v2/account");
    alpaca_result_t r = get_answer(a, API_TRADING, &url, "/v2/account", err);
    if (r != ALPACA_OK) return r;
    const char *bad = NULL;
    if (alpaca_parse_account(a->body, a->body_len, out, &bad) != 0)
        return unreadable(a, err, "account", bad);
    return ALPACA_OK;
}

alpaca_result_t alpaca_get_positions(alpaca_t *a, alpaca_position_t **out,
                                     size_t *n, alpaca_error_t *err) {
    *out = NULL;
    *n = 0;
    strbuf_t url;
    url_start(a, API_TRADING, &url, "/v2/positions");
    alpaca_result_t r = get_answer(a, API_TRADING, &url, "/v2/positions", err);
    if (r != ALPACA_OK) return r;
    const char *bad = NULL;
    if (alpaca_parse_positions(a->body, a->body_len, out, n, &bad) != 0)
        return unreadable(a, err, "positions", bad);
    return ALPACA_OK;
}

alpaca_result_t alpaca_get_clock(alpaca_t *a, alpaca_clock_t *out,
                                 alpaca_error_t *err) {
    memset(out, 0, sizeof(*out));
    strbuf_t url;
    url_start(a, API_TRADING, &url, "/v2/clock");
    alpaca_result_t r = get_answer(a, API_TRADING, &url, "/v2/clock", err);
    if (r != ALPACA_OK) return r;
    const char *bad = NULL;
    if (alpaca_parse_clock(a->body, a->body_len, out, &bad) != 0)
        return unreadable(a, err, "clock", bad);
    return ALPACA_OK;
}

/* ---- market data ------------------------------------------------------------ */

alpaca_result_t alpaca_get_quote(alpaca_t *a, const char *symbol,
                                 alpaca_quote_t *out, alpaca_error_t *err) {
    memset(out, 0, sizeof(*out));
    strbuf_t url;
    url_start(a, API_DATA, &url, "/v2/stocks/");
    strbuf_append_escaped(&url, a->curl, symbol);
    strbuf_append(&url, "/quotes/latest");
    strbuf_add_query(&url, a->curl, "feed", a->cfg->alpaca_feed[0] ? a->cfg->alpaca_feed : NULL);
    alpaca_result_t r = get_answer(a, API_DATA, &url, "/v2/stocks/{symbol}/quotes/latest", err);
    if (r != ALPACA_OK) return r;
    const char *bad = NULL;
    if (alpaca_parse_quote(a->body, a->body_len, symbol, out, &bad) != 0)
        return unreadable(a, err, "quote", bad);
    return ALPACA_OK;
}

alpaca_result_t alpaca_get_bars(alpaca_t *a, const char *symbol,
                                const char *timeframe, const char *start,
                                const char *end, int limit,
                                alpaca_bar_t **bars, size_t *n,
                                alpaca_error_t *err) {
    alpaca_bar_t *all = NULL;
    size_t count = 0, cap = 0;
    char *token = NULL;
    alpaca_result_t r = ALPACA_OK;
    *bars = NULL;
    *n = 0;
    for (int page = 0;; page++) {
        if (page >= ALPACA_MAX_BAR_PAGES) {
            r = unreadable(a, err, "bars", "too many pages");
            break;
        }
        strbuf_t url;
        url_start(a, API_DATA, &url, "/v2/stocks/");
        strbuf_append_escaped(&url, a->curl, symbol);
        strbuf_append(&url, "/bars");
        strbuf_add_query(&url, a->curl, "timeframe", timeframe);
        strbuf_add_query(&url, a->curl, "start", start);
        strbuf_add_query(&url, a->curl, "end", end);
        if (limit > 0) strbuf_add_query_int(&url, a->curl, "limit", limit);
        strbuf_add_query(&url, a->curl, "feed",
                         a->cfg->alpaca_feed[0] ? a->cfg->alpaca_feed : NULL);
        strbuf_add_query(&url, a->curl, "page_token", token);
        r = get_answer(a, API_DATA, &url, "/v2/stocks/{symbol}/bars", err);
        if (r != ALPACA_OK) break;
        const char *bad = NULL;
        char *following = NULL;
        if (alpaca_parse_bars_page(a->body, a->body_len, &all, &count, &cap, &following,
                                   &bad) != 0) {
            r = unreadable(a, err, "bars", bad);
            break;
        }
        if (following && token && !strcmp(token, following)) bad = "next_page_token repeats";
        free(token);
        token = following;
        if (bad) {
            r = unreadable(a, err, "bars", bad);
            break;
        }
        if (!token) break;
    }
    free(token);
    if (r != ALPACA_OK) {
        free(all);
        return r;
    }
    *bars = all;
    *n = count;
    return ALPACA_OK;
}
