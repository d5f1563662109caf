/* jsonscan.c -- the raw top level of a JSON object (see jsonscan.h).
 *
 * A small scanner over the bytes: whitespace, string tokens (escapes
 * skipped, not checked), numbers (their syntax checked with decimal_parse,
 * exponents allowed), the three literals, and nested objects and arrays
 * skipped by matching brackets up to jansson's own nesting limit.  Each
 * top-level member's spans are recorded as it is met; a number's span is
 * blanked in the masked copy at the same time ("0" then spaces: the copy
 * keeps the length, so every span holds in both).  Anything the scanner
 * cannot follow makes it give up (-1) rather than guess. */
#include "jsonscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"

/* jansson's own nesting limit; the scanner refuses deeper input the same. */
#define SCAN_MAX_DEPTH 2048

static void *xrealloc(void *p, size_t size) {
    void *q = realloc(p, size ? size : 1);
    if (!q) {
        fprintf(stderr, "jsonscan: out of memory\n");
        abort();
    }
    return q;
}

static int is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(const char *s, size_t len, size_t *i) {
    while (*i < len && is_ws(s[*i])) (*i)++;
}

/* s[*i] is '"'; moves past the closing quote.  Escapes are skipped, not
 * checked: jansson checks the content later. */
static int skip_string(const char *s, size_t len, size_t *i) {
    (*i)++;
    while (*i < len) {
        if (s[*i] == '"') {
            (*i)++;
            return 0;
        }
        if (s[*i] == '\\') (*i)++;
        (*i)++;
    }
    return -1;
}

/* s[*i] is '{' or '['; moves past the matching bracket. */
static int skip_nested(const char *s, size_t len, size_t *i) {
    char stack[SCAN_MAX_DEPTH];
    size_t depth = 0;

    while (*i < len) {
        char c = s[*i];
        if (c == '"') {
            if (skip_string(s, len, i) < 0) return -1;
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth == SCAN_MAX_DEPTH) return -1;
            stack[depth++] = c == '{' ? '}' : ']';
        } else if (c == '}' || c == ']') {
            if (depth == 0 || stack[depth - 1] != c) return -1;
            depth--;
            if (depth == 0) {
                (*i)++;
                return 0;
            }
        }
        (*i)++;
    }
    return -1;
}

static int is_number_char(char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
           c == 'e' || c == 'E';
}

/* Scans one top-level value at s[*i] into m. */
static int scan_value(const char *s, size_t len, size_t *i, jsonscan_member_t *m) {
    size_t start = *i;
    char c;

    if (*i >= len) return -1;
    c = s[*i];
    if (c == '"') {
        if (skip_string(s, len, i) < 0) return -1;
        m->kind = 's';
    } else if (c == '{' || c == '[') {
        if (skip_nested(s, len, i) < 0) return -1;
        m->kind = c == '{' ? 'o' : 'a';
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        decimal_t d;
        while (*i < len && is_number_char(s[*i])) (*i)++;
        if (decimal_parse(s + start, *i - start, 1, &d) == DECIMAL_SYNTAX)
            return -1;
        m->kind = 'n';
    } else {
        static const char *const lits[] = {"true", "false", "null"};
        size_t k, l;
        for (k = 0; k < 3; k++) {
            l = strlen(lits[k]);
            if (len - *i >= l && memcmp(s + *i, lits[k], l) == 0) break;
        }
        if (k == 3) return -1;
        *i += l;
        m->kind = 'l';
    }
    m->val_off = start;
    m->val_len = *i - start;
    return 0;
}

/* Scans the top-level object of s, filling sc and blanking every top-level
 * number in masked (a copy of s).  -1 if s is not a well-formed object as
 * far as the scanner can tell; jansson then gives the verdict on s itself. */
static int scan_object(const char *s, size_t len, char *masked, jsonscan_t *sc) {
    size_t i = 0;

    skip_ws(s, len, &i);
    if (i >= len || s[i] != '{') return -1;
    i++;
    skip_ws(s, len, &i);
    if (i < len && s[i] == '}') {
        i++;
    } else {
        for (;;) {
            jsonscan_member_t m;
            if (i >= len || s[i] != '"') return -1;
            m.key_off = i;
            if (skip_string(s, len, &i) < 0) return -1;
            m.key_len = i - m.key_off;
            skip_ws(s, len, &i);
            if (i >= len || s[i] != ':') return -1;
            i++;
            skip_ws(s, len, &i);
            if (scan_value(s, len, &i, &m) < 0) return -1;
            if (m.kind == 'n') {
                masked[m.val_off] = '0';
                memset(masked + m.val_off + 1, ' ', m.val_len - 1);
            }
            if (sc->n == sc->cap) {
                sc->cap = sc->cap ? sc->cap * 2 : 16;
                sc->m = xrealloc(sc->m, sc->cap * sizeof(jsonscan_member_t));
            }
            sc->m[sc->n++] = m;
            skip_ws(s, len, &i);
            if (i < len && s[i] == ',') {
                i++;
                skip_ws(s, len, &i);
                continue;
            }
            if (i < len && s[i] == '}') {
                i++;
                break;
            }
            return -1;
        }
    }
    skip_ws(s, len, &i);
    return i == len ? 0 : -1;
}

int jsonscan_object(const char *s, size_t len, jsonscan_t *sc) {
    memset(sc, 0, sizeof(*sc));
    sc->masked = xrealloc(NULL, len);
    if (len) memcpy(sc->masked, s, len);
    if (scan_object(s, len, sc->masked, sc) == 0) return 0;
    free(sc->masked);
    sc->masked = NULL;
    sc->n = 0;
    return -1;
}

void jsonscan_free(jsonscan_t *sc) {
    free(sc->masked);
    free(sc->m);
    memset(sc, 0, sizeof(*sc));
}

char *jsonscan_compact(const char *s, size_t len, size_t *out_len) {
    char *out = xrealloc(NULL, len + 1);
    size_t n = 0;
    int in_string = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            out[n++] = c;
            if (c == '\\' && i + 1 < len) {
                out[n++] = s[++i];
            } else if (c == '"') {
                in_string = 0;
            }
        } else if (!is_ws(c)) {
            if (c == '"') in_string = 1;
            out[n++] = c;
        }
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}
