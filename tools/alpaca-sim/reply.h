/* reply.h -- what a handler answers, before it becomes an HTTP response.
 *
 * Handlers fill a reply_t: a status, a JSON body, extra headers; server.c
 * turns it into a libmicrohttpd response (Content-Type, when there is a
 * body, then the extra headers in the order they were added), or closes
 * the connection without an answer when drop is set.  A reply with
 * upgrade set switches protocols (101, "Connection: Upgrade" added, the
 * handler's own headers such as Upgrade): the connection is then handed to
 * upgrade->run, which owns its bytes until it returns, and is closed
 * after.  Nothing here knows about Alpaca or websockets: respond.h builds
 * the error bodies, stream.c the websocket handshake. */
#ifndef REPLY_H
#define REPLY_H

#include <jansson.h>
#include <stddef.h>

#define REPLY_HEADERS_MAX 4
#define REPLY_VALUE_MAX 32

/* Who takes an upgraded connection: run(ctx, fd, extra, extra_len) is
 * called on the connection's own thread with its socket (non-blocking; not
 * to be closed) and the bytes the client sent after its request.  Must
 * outlive the server. */
typedef struct reply_upgrade {
    void (*run)(void *ctx, int fd, const char *extra, size_t extra_len);
    void *ctx;
} reply_upgrade_t;

typedef struct reply_header {
    const char *name;          /* a string literal */
    char value[REPLY_VALUE_MAX];
} reply_header_t;

typedef struct reply {
    int status;          /* HTTP status */
    json_t *body;        /* owned; NULL for an empty body (204) */
    int drop;            /* close the connection without answering */
    const reply_upgrade_t *upgrade; /* 101: switch protocols to upgrade->run */
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
/* Adds a header (name a string literal; value cut to REPLY_VALUE_MAX - 1
 * characters; at most REPLY_HEADERS_MAX headers). */
void reply_header(reply_t *r, const char *name, const char *value);
/* reply_header of the decimal text of v. */
void reply_header_int(reply_t *r, const char *name, long long v);

#endif
