/* request.c -- the request's copied names, values and body, and the
 * look-ups (see request.h).
 *
 * Names and values are copied into one growing text buffer and found by a
 * scan: a request has a dozen of them, so a table would cost more than it
 * saves. */
#include "request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void request_init(request_t *req, const char *method, const char *path)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->path = path;
}

void request_free(request_t *req)
{
    free(req->body);
    free(req->text);
    free(req->pairs);
    req->body = req->text = NULL;
    req->pairs = NULL;
    req->body_len = req->body_cap = req->text_len = req->text_cap = 0;
    req->npairs = req->pairs_cap = 0;
}

/* Makes room for n more bytes in *buf (len used of cap).  Returns 0 or -1. */
static int request_reserve(char **buf, size_t len, size_t *cap, size_t n)
{
    if (len + n <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < len + n)
        ncap *= 2;
    char *nb = realloc(*buf, ncap);
    if (nb == NULL)
        return -1;
    *buf = nb;
    *cap = ncap;
    return 0;
}

/* Copies s and its NUL into text, at *offset.  Returns 0, or -1 when out
 * of memory. */
static int request_copy(request_t *req, const char *s, size_t *offset)
{
    size_t n = strlen(s) + 1;
    if (request_reserve(&req->text, req->text_len, &req->text_cap, n) != 0)
        return -1;
    memcpy(req->text + req->text_len, s, n);
    *offset = req->text_len;
    req->text_len += n;
    return 0;
}

static int request_add(request_t *req, int is_header, const char *name, const char *value)
{
    if (req->npairs == req->pairs_cap) {
        size_t ncap = req->pairs_cap ? req->pairs_cap * 2 : 16;
        request_pair_t *np = realloc(req->pairs, ncap * sizeof(*np));
        if (np == NULL)
            return -1;
        req->pairs = np;
        req->pairs_cap = ncap;
    }
    request_pair_t p = {is_header, 0, REQUEST_NO_VALUE};
    if (request_copy(req, name, &p.name) != 0 ||
        (value != NULL && request_copy(req, value, &p.value) != 0))
        return -1;
    req->pairs[req->npairs++] = p;
    return 0;
}

int request_add_query(request_t *req, const char *name, const char *value)
{
    return request_add(req, 0, name, value);
}

int request_add_header(request_t *req, const char *name, const char *value)
{
    return request_add(req, 1, name, value);
}

int request_append_body(request_t *req, const char *data, size_t len)
{
    if (req->too_large || req->body_len + len > REQUEST_MAX_BODY) {
        req->too_large = 1;
        return 0;
    }
    if (request_reserve(&req->body, req->body_len, &req->body_cap, len + 1) != 0)
        return -1;
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
    return 0;
}

static const char *request_find(const request_t *req, int is_header, const char *name)
{
    for (size_t i = 0; i < req->npairs; i++) {
        const request_pair_t *p = &req->pairs[i];
        if (p->is_header == is_header && strcasecmp(req->text + p->name, name) == 0)
            return p->value == REQUEST_NO_VALUE ? NULL : req->text + p->value;
    }
    return NULL;
}

const char *request_query(const request_t *req, const char *name)
{
    return request_find(req, 0, name);
}

const char *request_header(const request_t *req, const char *name)
{
    return request_find(req, 1, name);
}
