/* respond.c -- results and typed errors into replies (see respond.h). */
#include "respond.h"

#include <stdarg.h>
#include <string.h>

json_t *respond_read_body(const request_t *req, reply_t *r)
{
    json_error_t jerr;
    json_t *body = req->body ? json_loadb(req->body, req->body_len, 0, &jerr) : NULL;
    if (body == NULL)
        respond_fail(r, APIERR_BODY_FORMAT);
    return body;
}

void respond_ok(reply_t *r, json_t *result)
{
    reply_json(r, 200, result);
}

/* One member of an error body, to be put in order. */
typedef struct respond_member {
    const char *name;
    json_t *value;
} respond_member_t;

void respond_error(reply_t *r, const apierr_t *e)
{
    respond_member_t m[APIERR_FIELDS_MAX + 2];
    size_t n = 0;
    if (e->code != 0)
        m[n++] = (respond_member_t){"code", json_integer(e->code)};
    m[n++] = (respond_member_t){"message", json_string(e->message)};
    for (size_t i = 0; i < e->nfields; i++)
        m[n++] = (respond_member_t){e->fields[i].name, json_string(e->fields[i].value)};
    /* Alphabetical order of the names, as Alpaca prints them (apierr.h). */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && strcmp(m[k - 1].name, m[k].name) > 0; k--) {
            respond_member_t t = m[k];
            m[k] = m[k - 1];
            m[k - 1] = t;
        }
    json_t *body = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(body, m[i].name, m[i].value);
    reply_json(r, e->status, body);
}

void respond_fail(reply_t *r, apierr_kind_t kind)
{
    apierr_t e;
    apierr_set(&e, kind);
    respond_error(r, &e);
}

void respond_failf(reply_t *r, apierr_kind_t kind, const char *fmt, ...)
{
    apierr_t e;
    va_list ap;
    va_start(ap, fmt);
    apierr_vsetf(&e, kind, fmt, ap);
    va_end(ap);
    respond_error(r, &e);
}
