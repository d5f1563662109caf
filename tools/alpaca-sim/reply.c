/* reply.c -- building handler answers (see reply.h). */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>

void reply_init(reply_t *r)
{
    r->status = 500;
    r->body = NULL;
    r->drop = 0;
    r->has_ratelimit = 0;
    r->rl_limit = 0;
    r->rl_remaining = 0;
    r->rl_reset = 0;
}

void reply_clear(reply_t *r)
{
    json_decref(r->body);
    r->body = NULL;
}

void reply_json(reply_t *r, int status, json_t *body)
{
    json_decref(r->body);
    r->status = status;
    r->body = body;
}

void reply_error(reply_t *r, int status, long code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *body = json_object();
    if (code != 0)
        json_object_set_new(body, "code", json_integer(code));
    json_object_set_new(body, "message", json_string(msg));
    reply_json(r, status, body);
}
