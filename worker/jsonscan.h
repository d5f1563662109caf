/* jsonscan.h -- the raw layout of a JSON object's top level.
 *
 * What jansson does not keep: where each top-level member's key and value
 * lie in the raw bytes, and a number's exact lexeme.  intent.c reads
 * decimals from their lexemes (never through a double) and keeps meta as
 * it was sent.  The scan stops at the top level: nested values are skipped
 * (brackets matched, strings skipped), not checked; jansson checks them.
 * Out of memory aborts (as in intent.c, its one user). */
#ifndef JSONSCAN_H
#define JSONSCAN_H

#include <stddef.h>

typedef struct jsonscan_member {
    size_t key_off, key_len; /* the key's string token, quotes included */
    size_t val_off, val_len; /* the value's token(s) */
    char kind;               /* 's' string, 'n' number, 'o' object,
                                'a' array, 'l' true/false/null */
} jsonscan_member_t;

typedef struct jsonscan {
    jsonscan_member_t *m;    /* the members, in document order */
    size_t n, cap;
    char *masked;            /* a copy of the bytes with every top-level
                                number blanked ("187.25" -> "0     "): what
                                jansson parses */
} jsonscan_t;

/* Scans the top-level object of s (len bytes) into sc (zeroed first).  0,
 * or -1 if s is not a well-formed object as far as the scanner can tell:
 * then sc has no members and no masked copy (jansson gives the verdict on
 * s itself).  Free with jsonscan_free either way. */
int jsonscan_object(const char *s, size_t len, jsonscan_t *sc);
void jsonscan_free(jsonscan_t *sc);

/* s (len bytes of JSON text) without the whitespace between its tokens:
 * exactly what was sent, compact.  malloc'd and NUL-terminated; its length
 * in *out_len. */
char *jsonscan_compact(const char *s, size_t len, size_t *out_len);

#endif
