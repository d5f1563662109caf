/* apierr.c -- the table of error kinds and the setters (see apierr.h). */
#include "apierr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct apierr_spec {
    int status;
    long code;
    const char *message;    /* "" when the caller gives it */
} apierr_spec_t;

static const apierr_spec_t apierr_specs[APIERR_KIND_COUNT] = {
    [APIERR_BODY_FORMAT] = {400, APIERR_CODE_BODY_FORMAT, "request body format is invalid"},
    [APIERR_INVALID] = {422, APIERR_CODE_INVALID, ""},
    [APIERR_UNKNOWN_ASSET] = {422, APIERR_CODE_INVALID, "asset not found"},
    [APIERR_UNAUTHORIZED] = {401, APIERR_CODE_UNAUTHORIZED, "request is not authorized"},
    [APIERR_FORBIDDEN] = {403, APIERR_CODE_FORBIDDEN, ""},
    [APIERR_NOT_FOUND] = {404, APIERR_CODE_NOT_FOUND, ""},
    [APIERR_ORDER_NOT_FOUND] = {404, APIERR_CODE_NOT_FOUND, "order not found"},
    [APIERR_METHOD_NOT_ALLOWED] = {405, APIERR_CODE_METHOD, "method not allowed"},
    [APIERR_UNPROCESSABLE] = {422, APIERR_CODE_UNPROCESSABLE, ""},
    [APIERR_RATE_LIMITED] = {429, APIERR_CODE_RATE_LIMITED, "rate limit exceeded"},
    [APIERR_INTERNAL] = {500, APIERR_CODE_INTERNAL, "internal server error"},
    [APIERR_BAD_REQUEST] = {400, 0, ""},
    [APIERR_BAD_VALUE] = {422, 0, ""},
    [APIERR_NO_SUCH_SYMBOL] = {404, 0, ""},
    [APIERR_NO_ROUTE] = {404, 0, "not found"},
    [APIERR_NO_METHOD] = {405, 0, "method not allowed"},
    [APIERR_TOO_LARGE] = {413, 0, "request body too large"},
    [APIERR_OUT_OF_MEMORY] = {500, 0, "out of memory"},
    [APIERR_UPGRADE_REQUIRED] = {426, 0, ""},
};

static void apierr_start(apierr_t *e, apierr_kind_t kind)
{
    e->status = apierr_specs[kind].status;
    e->code = apierr_specs[kind].code;
    e->nfields = 0;
}

void apierr_set(apierr_t *e, apierr_kind_t kind)
{
    apierr_start(e, kind);
    snprintf(e->message, sizeof(e->message), "%s", apierr_specs[kind].message);
}

void apierr_vsetf(apierr_t *e, apierr_kind_t kind, const char *fmt, va_list ap)
{
    apierr_start(e, kind);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
}

void apierr_setf(apierr_t *e, apierr_kind_t kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    apierr_vsetf(e, kind, fmt, ap);
    va_end(ap);
}

/* The message of an injected failure. */
static const char *apierr_status_text(int status)
{
    switch (status) {
    case 429: return apierr_specs[APIERR_RATE_LIMITED].message;
    case 500: return apierr_specs[APIERR_INTERNAL].message;
    case 502: return "bad gateway";
    case 503: return "service unavailable";
    case 504: return "gateway timeout";
    default: return "simulated failure";
    }
}

void apierr_set_injected(apierr_t *e, int status)
{
    e->status = status;
    e->code = (long)status * 100000L + 10000L;
    e->nfields = 0;
    snprintf(e->message, sizeof(e->message), "%s", apierr_status_text(status));
}

void apierr_add_field(apierr_t *e, const char *name, const char *value)
{
    if (e->nfields == APIERR_FIELDS_MAX)
        return;
    apierr_field_t *f = &e->fields[e->nfields++];
    f->name = name;
    snprintf(f->value, sizeof(f->value), "%s", value);
}
