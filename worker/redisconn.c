/* redisconn.c -- one Redis connection that connects when needed (see
 * redisconn.h).  Shared by the quota, the breaker sharing and the market
 * data cache, so that connecting, authenticating and keeping secrets out of
 * error messages are written once. */
#include "redisconn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redisurl.h"

struct redisconn {
    redis_url_t url;       /* holds the password: wiped in redisconn_free */
    char where[300];       /* "redis host:port" */
    char name[64];
    int timeout_ms;
    redisContext *ctx;     /* NULL while disconnected */
    int pending;           /* replies of appended commands not yet read */
};

/* Writes "redis HOST:PORT: WHAT: TEXT"; a reply that contains the password
 * is withheld rather than printed. */
static void set_err(const redisconn_t *c, char *err, size_t errlen, const char *what,
                    const char *text) {
    if (!text) text = "unknown error";
    if (c->url.password[0] && strstr(text, c->url.password))
        text = "(server reply withheld: it contains the password)";
    snprintf(err, errlen, "%s: %s: %s", c->where, what, text);
}

void redisconn_drop(redisconn_t *c) {
    if (c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
    }
    c->pending = 0;
}

static int simple(redisconn_t *c, char *err, size_t errlen, const char *what,
                  redisReply *r) {
    if (r && r->type != REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return 0;
    }
    set_err(c, err, errlen, what, r ? r->str : c->ctx->errstr[0] ? c->ctx->errstr : "connection lost");
    if (r) freeReplyObject(r);
    return -1;
}

static int open_conn(redisconn_t *c, char *err, size_t errlen) {
    struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
    c->ctx = redisConnectWithTimeout(c->url.host, c->url.port, tv);
    if (!c->ctx) {
        set_err(c, err, errlen, "connect", "out of memory");
        return -1;
    }
    if (c->ctx->err) {
        set_err(c, err, errlen, "connect", c->ctx->errstr);
        goto fail;
    }
    if (redisSetTimeout(c->ctx, tv) != REDIS_OK) {
        set_err(c, err, errlen, "set timeout", c->ctx->errstr);
        goto fail;
    }
    /* Detects a peer that vanished without a FIN while we are idle. */
    redisEnableKeepAlive(c->ctx);
    if (c->url.password[0]) {
        redisReply *r = c->url.user[0]
                            ? redisCommand(c->ctx, "AUTH %s %s", c->url.user, c->url.password)
                            : redisCommand(c->ctx, "AUTH %s", c->url.password);
        if (simple(c, err, errlen, "AUTH failed", r) < 0) goto fail;
    }
    if (c->url.db != 0 &&
        simple(c, err, errlen, "SELECT failed", redisCommand(c->ctx, "SELECT %d", c->url.db)) < 0)
        goto fail;
    /* Optional: an ACL without CLIENT answers an error, which is fine. */
    redisReply *r = redisCommand(c->ctx, "CLIENT SETNAME %s-%ld", c->name, (long)getpid());
    if (!r) {
        set_err(c, err, errlen, "CLIENT SETNAME", "connection lost");
        goto fail;
    }
    freeReplyObject(r);
    return 0;
fail:
    redisconn_drop(c);
    return -1;
}

redisconn_t *redisconn_new(const char *redis_url, const char *name, int timeout_ms,
                           char *err, size_t errlen) {
    redisconn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "redis: out of memory");
        return NULL;
    }
    if (redisurl_parse(redis_url, &c->url, err, errlen) != 0) {
        free(c);
        return NULL;
    }
    if (strchr(c->url.host, ':'))
        snprintf(c->where, sizeof(c->where), "redis [%s]:%d", c->url.host, c->url.port);
    else
        snprintf(c->where, sizeof(c->where), "redis %s:%d", c->url.host, c->url.port);
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    return c;
}

void redisconn_free(redisconn_t *c) {
    if (!c) return;
    redisconn_drop(c);
    explicit_bzero(&c->url, sizeof(c->url));
    free(c);
}

const char *redisconn_where(const redisconn_t *c) { return c->where; }

/* Errors after which this connection should not be reused: a failover left
 * us on a replica, Redis is still loading, or it lost our AUTH. */
static int needs_reconnect(const redisReply *r) {
    return !strncmp(r->str, "READONLY", 8) || !strncmp(r->str, "LOADING", 7) ||
           !strncmp(r->str, "MASTERDOWN", 10) || !strncmp(r->str, "NOAUTH", 6);
}

/* What came back for one command: NULL (the connection failed: err says
 * how, and it is dropped), an error reply (err says which; freed unless
 * keep_errors), or the reply. */
static redisReply *checked(redisconn_t *c, redisReply *r, char *err, size_t errlen,
                           int keep_errors) {
    if (!r) {
        set_err(c, err, errlen, "command failed",
                c->ctx && c->ctx->errstr[0] ? c->ctx->errstr : "connection lost");
        redisconn_drop(c);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        set_err(c, err, errlen, "error reply", r->str);
        if (needs_reconnect(r)) redisconn_drop(c);
        if (!keep_errors) {
            freeReplyObject(r);
            return NULL;
        }
    }
    return r;
}

static redisReply *run(redisconn_t *c, char *err, size_t errlen, int keep_errors,
                       const char *fmt, va_list ap) {
    if (c->pending) redisconn_drop(c);  /* replies nobody read: never take one for ours */
    if (!c->ctx && open_conn(c, err, errlen) != 0) return NULL;
    return checked(c, redisvCommand(c->ctx, fmt, ap), err, errlen, keep_errors);
}

int redisconn_append(redisconn_t *c, char *err, size_t errlen, const char *fmt, ...) {
    if (!c->ctx && open_conn(c, err, errlen) != 0) return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(c->ctx, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        set_err(c, err, errlen, "command not queued", "out of memory");
        redisconn_drop(c);
        return -1;
    }
    c->pending++;
    return 0;
}

redisReply *redisconn_reply(redisconn_t *c, char *err, size_t errlen) {
    if (!c->ctx || c->pending <= 0) {
        set_err(c, err, errlen, "no reply", c->ctx ? "none is due" : "connection lost");
        return NULL;
    }
    void *r = NULL;
    if (redisGetReply(c->ctx, &r) != REDIS_OK) r = NULL;
    else c->pending--;
    return checked(c, r, err, errlen, 1);
}

redisReply *redisconn_command(redisconn_t *c, char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = run(c, err, errlen, 0, fmt, ap);
    va_end(ap);
    return r;
}

redisReply *redisconn_command_raw(redisconn_t *c, char *err, size_t errlen,
                                  const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = run(c, err, errlen, 1, fmt, ap);
    va_end(ap);
    return r;
}

int redisconn_time_ms(redisconn_t *c, int64_t *now, char *err, size_t errlen) {
    redisReply *r = redisconn_command(c, err, errlen, "TIME");
    if (!r) return -1;
    int ok = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING;
    if (ok)
        *now = strtoll(r->element[0]->str, NULL, 10) * 1000 +
               strtoll(r->element[1]->str, NULL, 10) / 1000;
    else
        snprintf(err, errlen, "Redis TIME: unexpected reply");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

int redisconn_reply_i64(const redisReply *r, int64_t *out) {
    if (!r) return 0;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 1;
    }
    if (r->type != REDIS_REPLY_STRING) return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(r->str, &end, 10);
    if (errno || end == r->str || *end) return 0;
    *out = v;
    return 1;
}
