/* reply.c -- building handler answers (see reply.h). */
#include "reply.h"

#include <stdio.h>

void reply_init(reply_t *r)
{
    r->status = 500;
    r->body = NULL;
    r->drop = 0;
    r->nheaders = 0;
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

void reply_header_int(reply_t *r, const char *name, long long v)
{
    if (r->nheaders == REPLY_HEADERS_MAX)
        return;
    reply_header_t *h = &r->headers[r->nheaders++];
    h->name = name;
    snprintf(h->value, sizeof(h->value), "%lld", v);
}
