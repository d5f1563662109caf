/* tradestream_parse.c -- the pure half of the trade_updates stream
 * (tradestream.h): what a message says, the stream's URL, the backoff.
 *
 * Owns reading the stream's messages, so that the connection code
 * (tradestream.c), the unit tests and the fuzz target
 * (tests/fuzz/fuzz_tradestream.c) share one reader with no I/O.  The rules
 * are alpaca_parse.c's: unknown fields are ignored, absent or null text
 * fields become "", a field too long for its buffer makes the message
 * unreadable instead of being cut, and the order is read by
 * alpaca_parse_order() from its own JSON, exactly as a REST answer is, so
 * that the stream and the polls see the same order.  Event names are
 * passed on as sent: an event this code has never heard of is still an
 * order's move, for the consumer to judge. */
#include "tradestream.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* {"stream":"trade_updates","data":{"event":...,"order":{...},...}} */
static int read_trade_update(json_t *data, tradestream_event_t *ev, const char **bad) {
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
    char *text = json_dumps(order, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        *bad = "out of memory";
        return -1;
    }
    int rc = alpaca_parse_order(text, strlen(text), &ev->order, bad);
    free(text);
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
        kind = read_trade_update(data, ev, bad) ? -1 : TRADESTREAM_MSG_TRADE_UPDATE;
        if (kind < 0) {
            tradestream_event_clear(ev);
            memset(ev, 0, sizeof(*ev));
        }
    }
    json_decref(j);
    return kind;
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
