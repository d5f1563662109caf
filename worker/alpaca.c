/* alpaca.c -- the Alpaca client (see alpaca.h).
 *
 * Owns every HTTP call to Alpaca's trading API (cfg->alpaca_base_url) and
 * market data API (cfg->alpaca_data_url): authentication headers, timeouts,
 * connection reuse (one libcurl easy handle per alpaca_t keeps its
 * connections alive; never share an alpaca_t between threads), URL building
 * with every path part and query value percent-escaped, the X-Ratelimit-*
 * headers, and the classification of every answer by HTTP status first,
 * then message -- never by Alpaca's numeric code alone, which it reuses
 * across situations.  Each call hands the body it received to the pure
 * parsers of alpaca_parse.c.
 *
 * Secrets: the key headers are built once in alpaca_new(); no error message
 * or log line ever contains a header, only the method and the path. */
#include "alpaca.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alpaca_internal.h"
#include "metrics.h"
#include "timefmt.h"

#define ALPACA_MAX_BODY (64u * 1024u * 1024u)  /* larger answers are refused */
#define ALPACA_MAX_BAR_PAGES 100000            /* guards a token that loops */

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

void alpaca_set_prepaid(alpaca_t *a, int on) { a->prepaid = on; }

int alpaca_prepaid(const alpaca_t *a) { return a->prepaid; }

/* Spends the token held for this call, if any: 1 when there was one. */
static int take_prepaid(alpaca_t *a) {
    int had = a->prepaid;
    a->prepaid = 0;
    return had;
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
circuit_op_t alpaca_op_of(const char *method, const char *path) {
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
alpaca_result_t alpaca_not_sent(circuit_op_t op, const char *method, const char *path,
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
        return alpaca_not_sent(op, method, path_for_errors, ALPACA_BREAKER_OPEN, err);
    double start = mono_seconds();
    alpaca_result_t r = perform(a, api, method, url, path_for_errors, body, err);
    alpaca_record_call(a, op, r, mono_seconds() - start);
    return r;
}

void alpaca_record_call(alpaca_t *a, circuit_op_t op, alpaca_result_t r, double took_s) {
    if (a->circuits) circuits_record(a->circuits, op, outcome_of(r), (int64_t)(took_s * 1000));
    char status[24] = "error";
    if (a->answer_status > 0) snprintf(status, sizeof(status), "%ld", a->answer_status);
    metrics_add(M_ALPACA_REQUESTS, 1, circuits_op_name(op), status);
    metrics_observe(M_ALPACA_SECONDS, took_s, circuits_op_name(op), NULL);
}

/* The one request helper: the breaker of the operation first (a call it
 * would refuse spends no token), then a token of the shared budget (trading
 * API only: market data has its own limit), then the call behind its
 * breaker; Alpaca's rate-limit headers go back to the budget. */
static alpaca_result_t request(alpaca_t *a, api_t api, const char *method,
                               strbuf_t *url, const char *path_for_errors,
                               const char *body, alpaca_error_t *err) {
    circuit_op_t op = alpaca_op_of(method, path_for_errors);
    if (a->circuits && !circuits_allow_peek(a->circuits, op))
        return alpaca_not_sent(op, method, path_for_errors, ALPACA_BREAKER_OPEN, err);
    if (a->budget && api == API_TRADING &&
        !take_prepaid(a) &&
        budget_take(a->budget, a->prio, a->deadline_mono_ms, a->abandon, NULL) != 0)
        return alpaca_not_sent(op, method, path_for_errors, ALPACA_NO_BUDGET, err);
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
    if (alpaca_perform_setup(a, method, url->failed ? NULL : url->s, path_for_errors, body,
                             err) < 0)
        return ALPACA_TRANSIENT;
    return alpaca_perform_finish(a, api, method, path_for_errors, curl_easy_perform(a->curl),
                                 err);
}

int alpaca_perform_setup(alpaca_t *a, const char *method, const char *url,
                         const char *path_for_errors, const char *body, alpaca_error_t *err) {
    memset(err, 0, sizeof(*err));
    a->answer_status = 0;
    a->body_len = 0;
    a->body_too_large = 0;
    if (a->body) a->body[0] = '\0';
    a->answer_rl.limit = a->answer_rl.remaining = a->answer_rl.reset_epoch_s = -1;
    if (!url) {
        snprintf(err->message, sizeof(err->message), "%s %s: out of memory", method,
                 path_for_errors);
        return -1;
    }
    curl_easy_setopt(a->curl, CURLOPT_URL, url);
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
    return 0;
}

alpaca_result_t alpaca_perform_finish(alpaca_t *a, api_t api, const char *method,
                                      const char *path_for_errors, CURLcode rc,
                                      alpaca_error_t *err) {
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
    return alpaca_order_answer(a, r, out, err);
}

alpaca_result_t alpaca_order_answer(alpaca_t *a, alpaca_result_t r, alpaca_order_t *out,
                                    alpaca_error_t *err) {
    if (r != ALPACA_OK) return r;
    const char *bad = NULL;
    if (alpaca_parse_order(a->body, a->body_len, out, &bad) != 0)
        return unreadable(a, err, "order", bad);
    return ALPACA_OK;
}

char *alpaca_order_body(const intent_t *in, const char *client_order_id) {
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
    return body;
}

alpaca_result_t alpaca_place_order(alpaca_t *a, const intent_t *in,
                                   const char *client_order_id,
                                   alpaca_order_t *out, alpaca_error_t *err) {
    char *body = alpaca_order_body(in, client_order_id);
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
