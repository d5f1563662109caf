/* jsonw.h -- a JSON text writer for the hot path: the ledger's statements
 * send their rows as one JSON array, built here into a buffer the caller
 * keeps from call to call (no allocation per intent once it has grown, no
 * tree of objects to build and free as with jansson's json_pack).
 *
 * Members are written in the order given; a member whose string is NULL is
 * left out (PostgreSQL's json_to_recordset reads it as NULL).  Strings are
 * checked to be UTF-8 and escaped as RFC 8259 says; a string that is not
 * UTF-8 marks the writer failed, and jsonw_text() then returns NULL (so a
 * row with a hole is never sent).  Running out of memory does the same. */
#ifndef JSONW_H
#define JSONW_H

#include <stddef.h>
#include <stdint.h>

#define JSONW_DEPTH 8

typedef struct jsonw {
    char *buf;
    size_t len, cap;
    int failed;
    int depth;
    int count[JSONW_DEPTH];  /* values written so far at each level */
} jsonw_t;

/* Empties w for a new text (keeps its buffer).  A zeroed jsonw_t is an
 * empty writer. */
void jsonw_reset(jsonw_t *w);
void jsonw_free(jsonw_t *w);

/* Opens an object ('{') or an array ('['), as a member named key in an
 * object, or as a value (key NULL) in an array or at the top. */
void jsonw_open(jsonw_t *w, const char *key, char bracket);
void jsonw_close(jsonw_t *w, char bracket);

/* Members (key NULL: a value of the enclosing array).  jsonw_str and
 * jsonw_strn leave the member out when s is NULL; jsonw_strn stops at a NUL
 * byte within n. */
void jsonw_str(jsonw_t *w, const char *key, const char *s);
void jsonw_strn(jsonw_t *w, const char *key, const char *s, size_t n);
/* jsonw_str for a text meant for people (a message that may have been cut
 * in the middle of a character): what is not UTF-8 becomes U+FFFD instead
 * of failing the text. */
void jsonw_str_lossy(jsonw_t *w, const char *key, const char *s);
void jsonw_null(jsonw_t *w, const char *key);
void jsonw_int(jsonw_t *w, const char *key, int64_t v);
void jsonw_bool(jsonw_t *w, const char *key, int v);
/* A value already in JSON (trusted: the caller's own literal). */
void jsonw_raw(jsonw_t *w, const char *key, const char *json);

/* The text written (NUL terminated, owned by w), or NULL when a string was
 * not UTF-8, memory ran out, or an object or array is still open. */
const char *jsonw_text(const jsonw_t *w);
/* The same text, handed over (free() it; w is empty after), or NULL as
 * jsonw_text (w is then freed). */
char *jsonw_take(jsonw_t *w);

/* 1 when the n bytes of s are UTF-8 (no overlong form, no surrogate,
 * nothing beyond U+10FFFF). */
int jsonw_utf8_ok(const char *s, size_t n);

#endif
