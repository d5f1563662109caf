/* request.h -- one complete HTTP request as the handlers see it.
 *
 * server.c builds it from libmicrohttpd's callbacks once the body has
 * arrived; api.c and control.c read it through these accessors, so only
 * server.c knows about libmicrohttpd. */
#ifndef REQUEST_H
#define REQUEST_H

#include <stddef.h>

typedef struct request {
    void *conn;           /* struct MHD_Connection * */
    const char *method;
    const char *url;      /* path without the query string */
    const char *body;     /* NUL-terminated copy, or NULL */
    size_t body_len;
} request_t;

/* Query-string argument, or NULL. */
const char *request_query(const request_t *req, const char *name);
/* Header (case-insensitive name), or NULL. */
const char *request_header(const request_t *req, const char *name);

#endif
