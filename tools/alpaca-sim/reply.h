/* reply.h -- what a handler answers, before it becomes an HTTP response.
 *
 * Handlers (api.c, control.c, book.c) fill a reply_t; server.c turns it
 * into a libmicrohttpd response, adds the rate-limit headers, or closes the
 * connection without an answer when drop is set. */
#ifndef REPLY_H
#define REPLY_H

#include <jansson.h>
#include <stdint.h>

typedef struct reply {
    int status;          /* HTTP status */
    json_t *body;        /* owned; NULL for an empty body (204) */
    int drop;            /* close the connection without answering */
    int has_ratelimit;   /* add X-Ratelimit-* headers */
    int rl_limit;
    int rl_remaining;
    int64_t rl_reset;    /* epoch seconds */
} reply_t;

void reply_init(reply_t *r);
/* Frees the body. */
void reply_clear(reply_t *r);
/* Sets status and body (the reference is stolen). */
void reply_json(reply_t *r, int status, json_t *body);
/* Alpaca error body {"code":code,"message":...}; code 0 leaves out "code"
 * (market data API and unknown paths). */
void reply_error(reply_t *r, int status, long code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
