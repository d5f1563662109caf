/* router.h -- a route table (method, path pattern, handler) and its matcher.
 *
 * A pattern is literal text with parameters in braces:
 *   {name}       one or more characters other than '/'
 *   {name:N}     the same, at most N characters (a longer one: no match)
 *   {name...}    one or more characters, '/' included; only literal text
 *                may follow it, and it must end the path
 * e.g. "/v2/orders/{id}", "/v2/stocks/{symbol...}/quotes/latest".
 * router_dispatch() takes the first row whose pattern and method match.
 * Nothing here knows about Alpaca: each API answers "no such path" and
 * "no such method" its own way. */
#ifndef ROUTER_H
#define ROUTER_H

#include <stddef.h>

#include "reply.h"
#include "request.h"

#define ROUTER_MAX_PARAMS 2

typedef struct router_param {
    const char *name;       /* in the pattern, name_len long */
    size_t name_len;
    const char *value;      /* in the path, len long */
    size_t len;
} router_param_t;

/* The path parameters of a matched route. */
typedef struct router_match {
    size_t nparams;
    router_param_t params[ROUTER_MAX_PARAMS];
} router_match_t;

typedef void (*router_handler_fn)(void *ctx, const request_t *req, const router_match_t *m,
                                  reply_t *out);

typedef struct route {
    const char *method;
    const char *pattern;
    router_handler_fn handler;
} route_t;

typedef enum {
    ROUTER_HANDLED = 0,    /* a handler answered */
    ROUTER_NO_METHOD,      /* the path is known, not with this method */
    ROUTER_NO_PATH         /* no pattern matches the path */
} router_result_t;

/* Calls the handler of the first of the n routes matching req's method and
 * path, with ctx. */
router_result_t router_dispatch(const route_t *routes, size_t n, void *ctx, const request_t *req,
                                reply_t *out);
/* 1 if path matches pattern (m gets the parameters), else 0. */
int router_match(const char *pattern, const char *path, router_match_t *m);
/* Copies parameter name into buf, NUL-terminated and cut to len - 1
 * characters; "" if there is none.  Returns its whole length. */
size_t router_param(const router_match_t *m, const char *name, char *buf, size_t len);

#endif
