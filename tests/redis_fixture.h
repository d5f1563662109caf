/* redis_fixture.h -- what the C tests of the quotas against the stack's
 * Redis share (test_quota.c, test_quota_batch.c): the run's tag and a
 * quota_t on REDIS_URL, an administrative connection of their own, and the
 * killing of this process's quota connections, as a Redis restart or a
 * network cut would. */
#ifndef REDIS_FIXTURE_H
#define REDIS_FIXTURE_H

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "quota.h"
#include "redisurl.h"

/* The run's tag ("<pid>-<ms>": ids unique to the run, so reruns against
 * one Redis never meet) and, REDIS_URL being set (*url, else NULL), its
 * parts and a quota_t connected to it (mode FAIL), or NULL with err. */
static inline quota_t *fixture_quota(char *tag, size_t taglen, const char **url,
                                     redis_url_t *parts, char *err, size_t errlen) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(tag, taglen, "%ld-%lld", (long)getpid(),
             (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    *url = getenv("REDIS_URL");
    if (*url && !(*url)[0]) *url = NULL;
    if (!*url || redisurl_parse(*url, parts, err, errlen) != 0) return NULL;
    return quota_connect(*url, err, errlen);
}

/* Connects a plain hiredis context for administrative commands. */
static inline redisContext *admin_connect(const redis_url_t *u) {
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(u->host, u->port, tv);
    if (c == NULL || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    if (u->password[0]) {
        redisReply *r = u->user[0]
            ? redisCommand(c, "AUTH %s %s", u->user, u->password)
            : redisCommand(c, "AUTH %s", u->password);
        int ok = r != NULL && r->type != REDIS_REPLY_ERROR;
        if (r) freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* Kills this process's quota connections (named with our pid); how many. */
static inline int kill_our_connections(redisContext *c) {
    char name[64];
    snprintf(name, sizeof(name), "name=order-worker-quota-%ld ", (long)getpid());
    redisReply *r = redisCommand(c, "CLIENT LIST");
    int killed = 0;
    if (r != NULL && r->type == REDIS_REPLY_STRING) {
        char *line = r->str;
        while (line && *line) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            if (strstr(line, name) != NULL && strncmp(line, "id=", 3) == 0) {
                long long id = atoll(line + 3);
                redisReply *k = redisCommand(c, "CLIENT KILL ID %lld", id);
                if (k && k->type == REDIS_REPLY_INTEGER) killed += (int)k->integer;
                if (k) freeReplyObject(k);
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    if (r) freeReplyObject(r);
    return killed;
}

#endif
