/* jsonw.c -- the JSON text writer (see jsonw.h).
 *
 * Why not jansson here: the profile of a saturated replica put a fifth of
 * the worker's CPU in jansson, most of it in json_pack's format parsing and
 * the object hash tables of rows that are built only to be dumped again.
 * Writing the text directly gives the same JSON for the same values
 * (tests/test_jsonw.c checks it against jansson's reading) at a fraction of
 * the cost.  jansson still reads every JSON the worker receives. */
#include "jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jsonw_reset(jsonw_t *w) {
    w->len = 0;
    w->failed = 0;
    w->depth = 0;
    w->count[0] = 0;
    if (w->buf) w->buf[0] = '\0';
}

void jsonw_free(jsonw_t *w) {
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

/* Room for n more bytes and the NUL. */
static int room(jsonw_t *w, size_t n) {
    if (w->failed) return 0;
    if (w->len + n + 1 <= w->cap) return 1;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->len + n + 1) cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->failed = 1;
        return 0;
    }
    w->buf = b;
    w->cap = cap;
    return 1;
}

static void put(jsonw_t *w, const char *s, size_t n) {
    if (!room(w, n)) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* The length of the UTF-8 character at p (before end), 0 when it is not
 * one. */
static size_t utf8_char(const unsigned char *p, const unsigned char *end) {
    unsigned c = *p;
    if (c < 0x80) return 1;
    size_t k;
    unsigned cp, min;
    if (c >= 0xC2 && c <= 0xDF) k = 1, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) k = 2, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) k = 3, cp = c & 0x07, min = 0x10000;
    else return 0;
    if ((size_t)(end - p) <= k) return 0;
    for (size_t i = 1; i <= k; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return k + 1;
}

int jsonw_utf8_ok(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        size_t k = utf8_char(p, end);
        if (!k) return 0;
        p += k;
    }
    return 1;
}

/* The separator and the key of the next value at this level. */
static void member(jsonw_t *w, const char *key) {
    if (w->count[w->depth]++ > 0) put(w, ",", 1);
    if (!key) return;
    put(w, "\"", 1);
    put(w, key, strlen(key));  /* the caller's literal: nothing to escape */
    put(w, "\":", 2);
}

/* s (n bytes, UTF-8 checked) as a quoted, escaped JSON string. */
static void quoted(jsonw_t *w, const char *s, size_t n) {
    if (!jsonw_utf8_ok(s, n)) {
        w->failed = 1;
        return;
    }
    if (!room(w, n + 2)) return;
    put(w, "\"", 1);
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(w, s + from, i - from);
        char esc[8];
        switch (c) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        case '\b': put(w, "\\b", 2); break;
        case '\f': put(w, "\\f", 2); break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(w, esc, 6);
        }
        from = i + 1;
    }
    put(w, s + from, n - from);
    put(w, "\"", 1);
}

void jsonw_open(jsonw_t *w, const char *key, char bracket) {
    member(w, key);
    put(w, &bracket, 1);
    if (w->depth + 1 >= JSONW_DEPTH) {
        w->failed = 1;
        return;
    }
    w->count[++w->depth] = 0;
}

void jsonw_close(jsonw_t *w, char bracket) {
    put(w, &bracket, 1);
    if (w->depth == 0) w->failed = 1;
    else w->depth--;
}

void jsonw_str(jsonw_t *w, const char *key, const char *s) {
    if (s) jsonw_strn(w, key, s, strlen(s));
}

void jsonw_strn(jsonw_t *w, const char *key, const char *s, size_t n) {
    if (!s) return;
    member(w, key);
    quoted(w, s, strnlen(s, n));
}

void jsonw_str_lossy(jsonw_t *w, const char *key, const char *s) {
    if (!s) return;
    size_t n = strlen(s);
    if (jsonw_utf8_ok(s, n)) {
        jsonw_strn(w, key, s, n);
        return;
    }
    char *fixed = malloc(3 * n + 1);  /* each bad byte: 3 bytes of U+FFFD */
    if (!fixed) {
        w->failed = 1;
        return;
    }
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    size_t m = 0;
    while (p < end) {
        size_t k = utf8_char(p, end);
        if (k) {
            memcpy(fixed + m, p, k);
            m += k;
            p += k;
        } else {
            memcpy(fixed + m, "\xef\xbf\xbd", 3);
            m += 3;
            p++;
        }
    }
    jsonw_strn(w, key, fixed, m);
    free(fixed);
}

void jsonw_null(jsonw_t *w, const char *key) {
    member(w, key);
    put(w, "null", 4);
}

void jsonw_int(jsonw_t *w, const char *key, int64_t v) {
    char num[24];
    int k = snprintf(num, sizeof(num), "%" PRId64, v);
    member(w, key);
    put(w, num, (size_t)k);
}

void jsonw_bool(jsonw_t *w, const char *key, int v) {
    member(w, key);
    if (v) put(w, "true", 4);
    else put(w, "false", 5);
}

void jsonw_raw(jsonw_t *w, const char *key, const char *json) {
    member(w, key);
    put(w, json, strlen(json));
}

const char *jsonw_text(const jsonw_t *w) {
    if (w->failed || w->depth != 0 || !w->buf) return NULL;
    return w->buf;
}

char *jsonw_take(jsonw_t *w) {
    char *text = jsonw_text(w) ? w->buf : NULL;
    if (!text) free(w->buf);
    memset(w, 0, sizeof(*w));
    return text;
}
