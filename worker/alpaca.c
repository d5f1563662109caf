/* alpaca.c -- the Alpaca client (see alpaca.h).
 *
 * Owns every HTTP call to Alpaca's trading API: authentication headers,
 * timeouts, connection reuse (one libcurl easy handle per lane keeps its
 * connection alive), parsing of the order and account objects (decimals kept
 * as the exact strings Alpaca sends; unknown fields ignored; nulls become
 * empty strings) and the classification of every answer by HTTP status
 * first, then message -- never by Alpaca's numeric code alone, which it
 * reuses across situations. */
#include "alpaca.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "timefmt.h"

struct alpaca {
    CURL *curl;
    const config_t *cfg;
    struct curl_slist *headers;
    char *body;          /* last answer */
    size_t body_len, body_cap;
    int64_t ratelimit_reset_s;  /* X-Ratelimit-Reset of the last answer */
};

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
    alpaca_t *a = ud;
    size_t len = size * n;
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

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
    alpaca_t *a = ud;
    size_t len = size * n;
    static const char name[] = "x-ratelimit-reset:";
    if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0)
        a->ratelimit_reset_s = strtoll(data + sizeof(name) - 1, NULL, 10);
    return len;
}

alpaca_t *alpaca_new(const config_t *cfg) {
    alpaca_t *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->cfg = cfg;
    a->curl = curl_easy_init();
    if (!a->curl) {
        free(a);
        return NULL;
    }
    char h[400];
    snprintf(h, sizeof(h), "APCA-API-KEY-ID: %s", cfg->alpaca_key_id);
    a->headers = curl_slist_append(a->headers, h);
    snprintf(h, sizeof(h), "APCA-API-SECRET-KEY: %s", cfg->alpaca_secret_key);
    a->headers = curl_slist_append(a->headers, h);
    a->headers = curl_slist_append(a->headers, "Content-Type: application/json");
    a->headers = curl_slist_append(a->headers, "Accept: application/json");
    a->headers = curl_slist_append(a->headers, "Expect:");
    memset(h, 0, sizeof(h));
    curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, a->headers);
    curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(a->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(a->curl, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->alpaca_connect_timeout_ms);
    curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, (long)cfg->alpaca_timeout_ms);
    curl_easy_setopt(a->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(a->curl, CURLOPT_USERAGENT, "order-worker/1");
    return a;
}

void alpaca_free(alpaca_t *a) {
    if (!a) return;
    curl_easy_cleanup(a->curl);
    curl_slist_free_all(a->headers);
    free(a->body);
    free(a);
}

void alpaca_order_clear(alpaca_order_t *o) {
    free(o->raw);
    o->raw = NULL;
}

int alpaca_status_is_terminal(const char *s) {
    return !strcmp(s, "filled") || !strcmp(s, "canceled") ||
           !strcmp(s, "expired") || !strcmp(s, "rejected") ||
           !strcmp(s, "replaced");
}

/* Copies a string (or a number's text) field of o into buf; empty if null,
 * absent or of another type. */
static void copy_field(json_t *o, const char *key, char *buf, size_t len) {
    json_t *v = json_object_get(o, key);
    buf[0] = '\0';
    if (json_is_string(v)) {
        snprintf(buf, len, "%s", json_string_value(v));
    } else if (json_is_integer(v)) {
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    }
}

static int flag_field(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_true(v);
}

static void error_from_body(alpaca_t *a, long status, alpaca_error_t *err) {
    err->http_status = status;
    err->code = 0;
    err->message[0] = '\0';
    json_t *j = a->body ? json_loadb(a->body, a->body_len, 0, NULL) : NULL;
    if (json_is_object(j)) {
        json_t *c = json_object_get(j, "code");
        if (json_is_integer(c)) err->code = (long)json_integer_value(c);
        copy_field(j, "message", err->message, sizeof(err->message));
    }
    if (!err->message[0]) snprintf(err->message, sizeof(err->message), "HTTP %ld", status);
    json_decref(j);
}

/* Performs one request; returns the classified result and leaves the body
 * in a->body.  method: "GET", "POST" or "DELETE". */
static alpaca_result_t request(alpaca_t *a, const char *method, const char *url,
                               const char *body, alpaca_error_t *err) {
    memset(err, 0, sizeof(*err));
    a->body_len = 0;
    if (a->body) a->body[0] = '\0';
    a->ratelimit_reset_s = 0;
    curl_easy_setopt(a->curl, CURLOPT_URL, url);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(a->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, NULL);
    } else {
        curl_easy_setopt(a->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST,
                         strcmp(method, "GET") ? method : NULL);
    }
    CURLcode rc = curl_easy_perform(a->curl);
    if (rc != CURLE_OK) {
        snprintf(err->message, sizeof(err->message), "%s %s: %s", method,
                 strstr(url, "/v2/") ? strstr(url, "/v2/") : "", curl_easy_strerror(rc));
        return ALPACA_TRANSIENT;
    }
    long status = 0;
    curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        err->http_status = status;
        return ALPACA_OK;
    }
    error_from_body(a, status, err);
    if (status == 429) {
        int64_t now = timefmt_now_ms();
        err->retry_at_ms = a->ratelimit_reset_s > 0 ? a->ratelimit_reset_s * 1000 : now + 1000;
        if (err->retry_at_ms < now) err->retry_at_ms = now + 100;
        return ALPACA_RATE_LIMITED;
    }
    if (status == 408 || status >= 500) return ALPACA_TRANSIENT;
    if (status == 401) return ALPACA_UNAUTHORIZED;
    if (status == 404) return ALPACA_NOT_FOUND;
    if (status == 422 && strstr(err->message, "client_order_id must be unique"))
        return ALPACA_DUPLICATE;
    return ALPACA_REJECTED;
}

static alpaca_result_t parse_order(alpaca_t *a, alpaca_order_t *o,
                                   alpaca_error_t *err) {
    memset(o, 0, sizeof(*o));
    json_error_t je;
    json_t *j = json_loadb(a->body ? a->body : "", a->body_len, 0, &je);
    if (!json_is_object(j) || !json_is_string(json_object_get(j, "id"))) {
        json_decref(j);
        snprintf(err->message, sizeof(err->message), "unreadable order in answer");
        return ALPACA_TRANSIENT;
    }
    copy_field(j, "id", o->id, sizeof(o->id));
    copy_field(j, "client_order_id", o->client_order_id, sizeof(o->client_order_id));
    copy_field(j, "status", o->status, sizeof(o->status));
    copy_field(j, "symbol", o->symbol, sizeof(o->symbol));
    copy_field(j, "side", o->side, sizeof(o->side));
    copy_field(j, "type", o->type, sizeof(o->type));
    if (!o->type[0]) copy_field(j, "order_type", o->type, sizeof(o->type));
    copy_field(j, "time_in_force", o->time_in_force, sizeof(o->time_in_force));
    copy_field(j, "qty", o->qty, sizeof(o->qty));
    copy_field(j, "notional", o->notional, sizeof(o->notional));
    copy_field(j, "filled_qty", o->filled_qty, sizeof(o->filled_qty));
    if (!o->filled_qty[0]) snprintf(o->filled_qty, sizeof(o->filled_qty), "0");
    copy_field(j, "filled_avg_price", o->filled_avg_price, sizeof(o->filled_avg_price));
    copy_field(j, "limit_price", o->limit_price, sizeof(o->limit_price));
    copy_field(j, "stop_price", o->stop_price, sizeof(o->stop_price));
    copy_field(j, "created_at", o->created_at, sizeof(o->created_at));
    copy_field(j, "updated_at", o->updated_at, sizeof(o->updated_at));
    copy_field(j, "filled_at", o->filled_at, sizeof(o->filled_at));
    o->raw = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return ALPACA_OK;
}

static void url_of(alpaca_t *a, char *buf, size_t len, const char *path) {
    snprintf(buf, len, "%s%s", a->cfg->alpaca_base_url, path);
}

alpaca_result_t alpaca_place_order(alpaca_t *a, const intent_t *in,
                                   const char *client_order_id,
                                   alpaca_order_t *out, alpaca_error_t *err) {
    memset(out, 0, sizeof(*out));
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
    char url[512];
    url_of(a, url, sizeof(url), "/v2/orders");
    alpaca_result_t r = request(a, "POST", url, body, err);
    free(body);
    if (r == ALPACA_OK) r = parse_order(a, out, err);
    return r;
}

alpaca_result_t alpaca_get_order_by_client_id(alpaca_t *a, const char *cid,
                                              alpaca_order_t *out,
                                              alpaca_error_t *err) {
    memset(out, 0, sizeof(*out));
    char *esc = curl_easy_escape(a->curl, cid, 0);
    char path[256], url[512];
    snprintf(path, sizeof(path), "/v2/orders:by_client_order_id?client_order_id=%s",
             esc ? esc : "");
    curl_free(esc);
    url_of(a, url, sizeof(url), path);
    alpaca_result_t r = request(a, "GET", url, NULL, err);
    if (r == ALPACA_OK) r = parse_order(a, out, err);
    return r;
}

alpaca_result_t alpaca_get_order(alpaca_t *a, const char *order_id,
                                 alpaca_order_t *out, alpaca_error_t *err) {
    memset(out, 0, sizeof(*out));
    char *esc = curl_easy_escape(a->curl, order_id, 0);
    char path[256], url[512];
    snprintf(path, sizeof(path), "/v2/orders/%s", esc ? esc : "");
    curl_free(esc);
    url_of(a, url, sizeof(url), path);
    alpaca_result_t r = request(a, "GET", url, NULL, err);
    if (r == ALPACA_OK) r = parse_order(a, out, err);
    return r;
}

alpaca_result_t alpaca_get_account(alpaca_t *a, alpaca_account_t *out,
                                   alpaca_error_t *err) {
    memset(out, 0, sizeof(*out));
    char url[512];
    url_of(a, url, sizeof(url), "/v2/account");
    alpaca_result_t r = request(a, "GET", url, NULL, err);
    if (r != ALPACA_OK) return r;
    json_t *j = json_loadb(a->body ? a->body : "", a->body_len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err->message, sizeof(err->message), "unreadable account in answer");
        return ALPACA_TRANSIENT;
    }
    copy_field(j, "id", out->id, sizeof(out->id));
    copy_field(j, "status", out->status, sizeof(out->status));
    copy_field(j, "buying_power", out->buying_power, sizeof(out->buying_power));
    copy_field(j, "cash", out->cash, sizeof(out->cash));
    out->trading_blocked = flag_field(j, "trading_blocked");
    out->account_blocked = flag_field(j, "account_blocked");
    out->trade_suspended_by_user = flag_field(j, "trade_suspended_by_user");
    json_decref(j);
    return ALPACA_OK;
}
