/* tradestream_parse.c -- the pure half of the trade_updates stream
 * (tradestream.h): what a message says, the stream's URL, the backoff.
 *
 * Owns reading the stream's messages, so that the connection code
 * (tradestream.c), the unit tests and the fuzz target
 * (tests/fuzz/fuzz_tradestream.c) share one reader with no I/O.  The rules
 * are alpaca_parse.c's: unknown fields are ignored, absent or null text
 * fields become "", a field too long for its buffer makes the message
 * unreadable instead of being cut, and the order is read by
 * alpaca_parse_order_json() from the message's one jansson tree, exactly
 * as a REST answer is, so that the stream and the polls see the same order;
 * its raw text is its own bytes, compact (jsonscan.h).  Event names are
 * passed on as sent: an event this code has never heard of is still an
 * order's move, for the consumer to judge. */
#include "tradestream.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonscan.h"

/* Copies the string field key of o into buf: "" when absent or null.
 * Returns 0, or -1 when it is of another type, holds a NUL or does not fit. */
static int string_field(json_t *o, const char *key, char *buf, size_t len) {
    json_t *v = json_object_get(o, key);
    buf[0] = '\0';
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return -1;
    size_t n = json_string_length(v);
    if (n >= len || strlen(json_string_value(v)) != n) return -1;
    memcpy(buf, json_string_value(v), n + 1);
    return 0;
}

static int is_stream(json_t *msg, const char *name) {
    json_t *s = json_object_get(msg, "stream");
    return json_is_string(s) && !strcmp(json_string_value(s), name);
}

/* Where the members keys[0..n-1] of the object text (len bytes) lie, from
 * one scan: for each, the last one, as jansson keeps the last of
 * duplicates.  0 when all are there, -1 when one is absent or the scanner
 * cannot follow the text. */
static int member_spans(const char *text, size_t len, int n, const char *const *keys,
                        size_t *off, size_t *vlen) {
    jsonscan_t sc;
    int found = 0;
    unsigned seen = 0;  /* n is at most 2 */
    if (jsonscan_object(text, len, &sc) == 0) {
        for (size_t i = 0; i < sc.n; i++) {
            const jsonscan_member_t *m = &sc.m[i];
            for (int k = 0; k < n; k++) {
                size_t klen = strlen(keys[k]);
                if (m->key_len == klen + 2 && !memcmp(text + m->key_off + 1, keys[k], klen)) {
                    off[k] = m->val_off;
                    vlen[k] = m->val_len;
                    seen |= 1u << k;
                }
            }
        }
    }
    jsonscan_free(&sc);
    for (int k = 0; k < n; k++)
        if (!(seen & (1u << k))) found = -1;
    return found;
}

static int member_span(const char *text, size_t len, const char *key, size_t *off,
                       size_t *vlen) {
    return member_spans(text, len, 1, &key, off, vlen);
}

/* {"stream":"trade_updates","data":{"event":...,"order":{...},...}}; msg
 * (len bytes) is the whole message, whose data.order bytes become the
 * order's raw text. */
static int read_trade_update(json_t *data, const char *msg, size_t len,
                             tradestream_event_t *ev, const char **bad) {
    static const struct {
        const char *key;
        size_t offset, size;
    } fields[] = {
        {"event", offsetof(tradestream_event_t, event), sizeof(ev->event)},
        {"timestamp", offsetof(tradestream_event_t, timestamp), sizeof(ev->timestamp)},
        {"execution_id", offsetof(tradestream_event_t, execution_id), sizeof(ev->execution_id)},
        {"price", offsetof(tradestream_event_t, price), sizeof(ev->price)},
        {"qty", offsetof(tradestream_event_t, qty), sizeof(ev->qty)},
        {"position_qty", offsetof(tradestream_event_t, position_qty), sizeof(ev->position_qty)},
    };
    if (!json_is_object(data)) {
        *bad = "trade_update without data";
        return -1;
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (string_field(data, fields[i].key, (char *)ev + fields[i].offset, fields[i].size)) {
            *bad = fields[i].key;
            return -1;
        }
    }
    if (!ev->event[0]) {
        *bad = "trade_update without event";
        return -1;
    }
    json_t *order = json_object_get(data, "order");
    if (!json_is_object(order)) {
        *bad = "trade_update without order";
        return -1;
    }
    /* The order's bytes, read once by jansson (above) and kept as sent. */
    size_t d_off = 0, d_len = 0, o_off = 0, o_len = 0;
    const char *text = NULL;
    if (member_span(msg, len, "data", &d_off, &d_len) == 0 &&
        member_span(msg + d_off, d_len, "order", &o_off, &o_len) == 0)
        text = msg + d_off + o_off;
    int rc = alpaca_parse_order_json(order, text, text ? o_len : 0, &ev->order, bad);
    if (rc == 0 && !ev->order.id[0]) {
        *bad = "order with an empty id";
        rc = -1;
    }
    return rc;
}

int tradestream_parse(const char *msg, size_t len, tradestream_event_t *ev, const char **bad) {
    memset(ev, 0, sizeof(*ev));
    json_t *j = len ? json_loadb(msg, len, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        *bad = "not a JSON object";
        return -1;
    }
    json_t *data = json_object_get(j, "data");
    int kind = TRADESTREAM_MSG_OTHER;
    if (is_stream(j, "authorization")) {
        json_t *st = json_object_get(data, "status");
        const char *status = json_is_string(st) ? json_string_value(st) : "";
        if (!strcmp(status, "authorized")) {
            kind = TRADESTREAM_MSG_AUTHORIZED;
        } else if (!strcmp(status, "unauthorized")) {
            kind = TRADESTREAM_MSG_UNAUTHORIZED;
        } else {
            *bad = "authorization without a known status";
            kind = -1;
        }
    } else if (is_stream(j, "listening")) {
        json_t *streams = json_object_get(data, "streams");
        size_t i;
        json_t *v;
        kind = -1;
        *bad = "listening without trade_updates";
        json_array_foreach(streams, i, v) {
            if (json_is_string(v) && !strcmp(json_string_value(v), "trade_updates"))
                kind = TRADESTREAM_MSG_LISTENING;
        }
    } else if (is_stream(j, "trade_updates")) {
        kind = read_trade_update(data, msg, len, ev, bad) ? -1 : TRADESTREAM_MSG_TRADE_UPDATE;
        if (kind < 0) {
            tradestream_event_clear(ev);
            memset(ev, 0, sizeof(*ev));
        }
    }
    json_decref(j);
    return kind;
}

int tradestream_peek_event(const char *msg, size_t len, char *event, size_t event_len) {
    static const char *const top[] = {"stream", "data"};
    static const char want[] = "\"trade_updates\"";
    size_t off[2] = {0, 0}, vlen[2] = {0, 0}, e_off = 0, e_len = 0;
    if (member_spans(msg, len, 2, top, off, vlen) < 0 || vlen[0] != sizeof(want) - 1 ||
        memcmp(msg + off[0], want, vlen[0]) != 0)
        return 0;
    size_t d_off = off[1], d_len = vlen[1];
    if (member_span(msg + d_off, d_len, "event", &e_off, &e_len) < 0) return 0;
    const char *e = msg + d_off + e_off;
    /* A plain string token: no escapes to undo, and it fits. */
    if (e_len < 2 || e[0] != '"' || e_len - 2 >= event_len || memchr(e + 1, '\\', e_len - 2))
        return 0;
    memcpy(event, e + 1, e_len - 2);
    event[e_len - 2] = '\0';
    return 1;
}

int tradestream_event_moves(const char *event) {
    static const char *const moving[] = {"partial_fill", "fill",     "canceled",
                                         "expired",      "rejected", "replaced"};
    for (size_t i = 0; i < sizeof(moving) / sizeof(moving[0]); i++)
        if (!strcmp(event, moving[i])) return 1;
    return 0;
}

void tradestream_event_clear(tradestream_event_t *ev) {
    if (ev) alpaca_order_clear(&ev->order);
}

/* ---- the URL ------------------------------------------------------------- */

int tradestream_url_parse(const char *url, tradestream_url_t *out, const char **bad) {
    memset(out, 0, sizeof(*out));
    const char *p;
    if (!strncasecmp(url, "wss://", 6)) {
        out->tls = 1;
        p = url + 6;
    } else if (!strncasecmp(url, "ws://", 5)) {
        p = url + 5;
    } else {
        *bad = "must start with ws:// or wss://";
        return -1;
    }
    size_t hostlen = strcspn(p, ":/?#");
    if (hostlen == 0 || hostlen >= sizeof(out->host)) {
        *bad = "has no host, or one too long";
        return -1;
    }
    if (memchr(p, '@', strcspn(p, "/?#")) || memchr(p, '[', hostlen)) {
        *bad = "must not carry a user or an IPv6 literal";
        return -1;
    }
    memcpy(out->host, p, hostlen);
    p += hostlen;
    out->port = out->tls ? 443 : 80;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/')) {
            *bad = "has a port that is not 1 to 65535";
            return -1;
        }
        out->port = (int)port;
        p = end;
    }
    if (*p && *p != '/') {
        *bad = "must not carry a query or a fragment without a path";
        return -1;
    }
    if (strlen(*p ? p : "/") >= sizeof(out->path)) {
        *bad = "has a path too long";
        return -1;
    }
    snprintf(out->path, sizeof(out->path), "%s", *p ? p : "/");
    return 0;
}

int tradestream_url_derive(const char *base_url, char *out, size_t outlen, const char **bad) {
    const char *scheme, *rest;
    if (!strncasecmp(base_url, "https://", 8)) {
        scheme = "wss://";
        rest = base_url + 8;
    } else if (!strncasecmp(base_url, "http://", 7)) {
        scheme = "ws://";
        rest = base_url + 7;
    } else {
        *bad = "is not an http:// or https:// URL";
        return -1;
    }
    int n = snprintf(out, outlen, "%s%.*s/stream", scheme, (int)strcspn(rest, "/?#"), rest);
    if (n < 0 || (size_t)n >= outlen) {
        *bad = "is too long";
        return -1;
    }
    return 0;
}

/* ---- the backoff ---------------------------------------------------------- */

int64_t tradestream_backoff_ms(int64_t base_ms, int64_t max_ms, unsigned attempt, uint64_t r) {
    if (base_ms <= 0 || max_ms <= 0) return 0;
    int64_t cap = base_ms;
    for (unsigned i = 0; i < attempt && cap < max_ms; i++) cap *= 2;
    if (cap > max_ms) cap = max_ms;
    return (int64_t)(r % ((uint64_t)cap + 1));
}
