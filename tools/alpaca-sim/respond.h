/* respond.h -- the layer between the routes and the model: reads the JSON
 * body the model takes, and turns what the model returns (a JSON result,
 * or an apierr_t) into the reply.
 *
 * The model never sees a reply_t and the HTTP server never sees an
 * apierr_t: handlers call the model, then one of these. */
#ifndef RESPOND_H
#define RESPOND_H

#include <jansson.h>

#include "apierr.h"
#include "reply.h"
#include "request.h"

/* The request's body as JSON (a new reference), or NULL with r answered
 * 400 "request body format is invalid" (none, or not JSON). */
json_t *respond_read_body(const request_t *req, reply_t *r);
/* 200 with result (stolen). */
void respond_ok(reply_t *r, json_t *result);
/* The error's status and body (apierr.h: code, message, fields). */
void respond_error(reply_t *r, const apierr_t *e);
/* respond_error of apierr_set(kind): for kinds with their own message. */
void respond_fail(reply_t *r, apierr_kind_t kind);
/* respond_error of apierr_setf(kind, fmt, ...). */
void respond_failf(reply_t *r, apierr_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
