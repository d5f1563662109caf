/* reply.c -- building handler answers (see reply.h). */
#include "reply.h"

#include <stdio.h>

void reply_init(reply_t *r)
{
    r->status = 500;
    r->body = NULL;
    r->drop = 0;
    r->upgrade = NULL;
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

void reply_header(reply_t *r, const char *name, const char *value)
{
    if (r->nheaders == REPLY_HEADERS_MAX)
        return;
    reply_header_t *h = &r->headers[r->nheaders++];
    h->name = name;
    snprintf(h->value, sizeof(h->value), "%s", value);
}

void reply_header_int(reply_t *r, const char *name, long long v)
{
    char text[REPLY_VALUE_MAX];
    snprintf(text, sizeof(text), "%lld", v);
    reply_header(r, name, text);
}
