/* request.h -- one HTTP request as the handlers see it: method, path,
 * query arguments, headers and body.
 *
 * Whoever reads the request off the wire (server.c from libmicrohttpd's
 * callbacks, the fuzz target from its input) builds it with the request_add_*
 * and request_append_body calls; the handlers only read it.  Nothing here
 * knows about routes, Alpaca or the model.
 *
 * Names are looked up as libmicrohttpd looks them up: case-insensitively,
 * the first of several equal names wins, and a query argument given
 * without '=' ("?limit") is present with no value (NULL, as if absent).
 * The body is kept whole, up to REQUEST_MAX_BODY bytes: beyond that only
 * too_large is set, and the handlers answer 413. */
#ifndef REQUEST_H
#define REQUEST_H

#include <stddef.h>

#define REQUEST_MAX_BODY (64 * 1024)
#define REQUEST_NO_VALUE ((size_t)-1)

typedef struct request_pair {
    int is_header;        /* else a query argument */
    size_t name;          /* offset into text */
    size_t value;         /* offset into text; REQUEST_NO_VALUE: none */
} request_pair_t;

typedef struct request {
    const char *method;   /* borrowed: lives as long as the request */
    const char *path;     /* decoded path without the query string, borrowed */
    char *body;           /* NUL-terminated copy, or NULL when there is none */
    size_t body_len;
    size_t body_cap;
    int too_large;        /* the body was longer than REQUEST_MAX_BODY */
    char *text;           /* names and values, NUL-terminated one after another */
    size_t text_len, text_cap;
    request_pair_t *pairs;
    size_t npairs, pairs_cap;
} request_t;

/* Starts an empty request; method and path must outlive it. */
void request_init(request_t *req, const char *method, const char *path);
/* Frees what the request copied. */
void request_free(request_t *req);
/* Adds a query argument (value NULL: given without '=').  Returns 0, or -1
 * when out of memory. */
int request_add_query(request_t *req, const char *name, const char *value);
/* Adds a header.  Returns 0, or -1 when out of memory. */
int request_add_header(request_t *req, const char *name, const char *value);
/* Appends len bytes to the body, or sets too_large past REQUEST_MAX_BODY.
 * Returns 0, or -1 when out of memory. */
int request_append_body(request_t *req, const char *data, size_t len);

/* The value of a query argument, or NULL. */
const char *request_query(const request_t *req, const char *name);
/* The value of a header, or NULL. */
const char *request_header(const request_t *req, const char *name);

#endif
