/* reply.h -- what a handler answers, before it becomes an HTTP response.
 *
 * Handlers fill a reply_t: a status, a JSON body, extra headers; server.c
 * turns it into a libmicrohttpd response (Content-Type, when there is a
 * body, then the extra headers in the order they were added), or closes
 * the connection without an answer when drop is set.  Nothing here knows
 * about Alpaca: respond.h builds its error bodies. */
#ifndef REPLY_H
#define REPLY_H

#include <jansson.h>
#include <stddef.h>

#define REPLY_HEADERS_MAX 4
#define REPLY_VALUE_MAX 32

typedef struct reply_header {
    const char *name;          /* a string literal */
    char value[REPLY_VALUE_MAX];
} reply_header_t;

typedef struct reply {
    int status;          /* HTTP status */
    json_t *body;        /* owned; NULL for an empty body (204) */
    int drop;            /* close the connection without answering */
    size_t nheaders;
    reply_header_t headers[REPLY_HEADERS_MAX];
} reply_t;

/* An empty reply with status 500 (what is sent if no handler answers). */
void reply_init(reply_t *r);
/* Frees the body. */
void reply_clear(reply_t *r);
/* Sets status and body (the reference is stolen; NULL: no body).  The
 * headers added so far stay. */
void reply_json(reply_t *r, int status, json_t *body);
/* Adds a header whose value is the decimal text of v (at most
 * REPLY_HEADERS_MAX headers). */
void reply_header_int(reply_t *r, const char *name, long long v);

#endif
