/* router.c -- matching paths against route patterns (see router.h). */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the parameter at pattern p ('{'): its name, its kind and what
 * follows it.  Returns the pattern after '}'. */
static const char *router_placeholder(const char *p, router_param_t *param, int *rest,
                                      size_t *max)
{
    const char *close = strchr(p, '}');
    const char *colon = memchr(p, ':', (size_t)(close - p));
    const char *name_end = colon ? colon : close;
    *rest = name_end - p > 4 && strncmp(name_end - 3, "...", 3) == 0;
    if (*rest)
        name_end -= 3;
    *max = colon ? (size_t)strtoul(colon + 1, NULL, 10) : (size_t)-1;
    param->name = p + 1;
    param->name_len = (size_t)(name_end - p - 1);
    return close + 1;
}

int router_match(const char *pattern, const char *path, router_match_t *m)
{
    const char *p = pattern, *s = path;
    m->nparams = 0;
    while (*p) {
        if (*p != '{') {
            if (*p++ != *s++)
                return 0;
            continue;
        }
        router_param_t param;
        int rest;
        size_t max, len;
        p = router_placeholder(p, &param, &rest, &max);
        if (rest) {
            /* The literal tail of the pattern ends the path. */
            size_t tail = strlen(p), left = strlen(s);
            if (left <= tail || strcmp(s + left - tail, p) != 0)
                return 0;
            len = left - tail;
        } else {
            len = strcspn(s, "/");
            if (len == 0 || len > max)
                return 0;
        }
        if (m->nparams == ROUTER_MAX_PARAMS)
            return 0;
        param.value = s;
        param.len = len;
        m->params[m->nparams++] = param;
        s += len;
    }
    return *s == '\0';
}

router_result_t router_dispatch(const route_t *routes, size_t n, void *ctx, const request_t *req,
                                reply_t *out)
{
    router_result_t result = ROUTER_NO_PATH;
    router_match_t m;
    for (size_t i = 0; i < n; i++) {
        if (!router_match(routes[i].pattern, req->path, &m))
            continue;
        if (strcmp(routes[i].method, req->method) == 0) {
            routes[i].handler(ctx, req, &m, out);
            return ROUTER_HANDLED;
        }
        result = ROUTER_NO_METHOD;
    }
    return result;
}

size_t router_param(const router_match_t *m, const char *name, char *buf, size_t len)
{
    for (size_t i = 0; i < m->nparams; i++) {
        const router_param_t *p = &m->params[i];
        if (p->name_len == strlen(name) && strncmp(p->name, name, p->name_len) == 0) {
            snprintf(buf, len, "%.*s", (int)p->len, p->value);
            return p->len;
        }
    }
    if (len > 0)
        buf[0] = '\0';
    return 0;
}
