/* quota.c -- per-bot and per-user trade quotas, kept in Redis (GCRA).
 *
 * This file owns the Redis side of quota decisions: one synchronous hiredis
 * connection per quota_t (so one per worker lane; no shared state), the Lua
 * script that makes each decision atomically, and reconnection after errors.
 *
 * Why one script per decision: the rate-limit step and the record of "this
 * intent_id was already decided" must change together.  With two separate
 * calls a crash between them would charge an intent without remembering it,
 * and the redelivered Kafka message would be charged a second time.  Inside
 * one script Redis runs both atomically.
 *
 * Keys (same {hash tag}, so both live in one Redis Cluster slot):
 *   KEYS[1] ow:quota:{SUBJECT:ID}:tat               GCRA state of the subject
 *   KEYS[2] ow:quota:{SUBJECT:ID}:intent:INTENT_ID  decision for one intent
 *
 * GCRA (generic cell rate algorithm): the state is the theoretical arrival
 * time TAT.  With emission interval T = period/limit and burst = limit, a
 * trade is allowed when TAT' = max(TAT, now) + T is at most now + period; it
 * then stores TAT'.  So `limit` trades pass at once from an idle subject and
 * afterwards one every T, never more than `limit` in any window of `period`
 * (no double burst at a window edge, unlike fixed windows).
 *
 * Exactness: T = period/limit is usually not a whole number of ms (60000/7),
 * and Lua numbers are doubles.  The script therefore counts in "ticks" of
 * 1/limit ms, where T is exactly `period` ticks and the whole period is
 * period*limit ticks, and it stores TAT as whole ms plus a tick remainder
 * (`tat`, `frac`).  Every value stays an integer far below 2^53, so the
 * comparisons at the boundary are exact.  The clock is Redis's TIME, not the
 * worker's, so replicas with skewed clocks agree.
 *
 * The script is loaded with SCRIPT LOAD and called with EVALSHA; on NOSCRIPT
 * (Redis restarted or SCRIPT FLUSH) it is sent once with EVAL, which also
 * caches it again. */
#include "quota.h"
#include "redisurl.h"

#include <hiredis/hiredis.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUOTA_TIMEOUT_SEC 2
/* How long the decision for an intent is remembered.  An intent expires
 * (contract: 60 s by default) long before this, so a redelivery of it will
 * always find its decision. */
#define QUOTA_DECISION_TTL_MS 86400000LL
/* limit * period_ms must stay well below 2^53 for exact Lua arithmetic. */
#define QUOTA_MAX_TICKS (1LL << 50)
#define QUOTA_MAX_ID_LEN 128

static const char quota_script[] =
    "redis.replicate_commands()\n"
    "local d = redis.call('HMGET', KEYS[2], 'allowed', 'retry_after_ms', "
    "'remaining', 'limit')\n"
    "if d[1] then\n"
    "  return {tonumber(d[1]), tonumber(d[2]), tonumber(d[3]), "
    "tonumber(d[4]), 1}\n"
    "end\n"
    "local limit = tonumber(ARGV[1])\n"
    "local period = tonumber(ARGV[2])\n"
    "local dttl = tonumber(ARGV[3])\n"
    "if not limit or not period or not dttl or limit < 1 or period < 1 then\n"
    "  return redis.error_reply('ERR quota: bad limit or period')\n"
    "end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    /* cap: the period in ticks of 1/limit ms; T is `period` ticks. */
    "local cap = period * limit\n"
    "local used = 0\n"
    "local s = redis.call('HMGET', KEYS[1], 'tat', 'frac', 'limit')\n"
    "if s[1] then\n"
    "  local tat = tonumber(s[1])\n"
    "  local frac = tonumber(s[2]) or 0\n"
    "  local slimit = tonumber(s[3]) or limit\n"
    /* The limit changed since the state was written: convert the tick
     * remainder to the new tick size, rounding against the subject. */
    "  if slimit ~= limit then frac = math.ceil(frac * limit / slimit) end\n"
    "  used = (tat - now) * limit + frac\n"
    "  if used < 0 then used = 0 end\n"
    "end\n"
    "local allowed, retry, remaining\n"
    "if used + period <= cap then\n"
    "  allowed = 1\n"
    "  retry = 0\n"
    "  local nu = used + period\n"
    "  local ms = math.floor(nu / limit)\n"
    "  redis.call('HSET', KEYS[1], 'tat', string.format('%d', now + ms), "
    "'frac', string.format('%d', nu - ms * limit), "
    "'limit', string.format('%d', limit))\n"
    /* Once TAT is in the past the state means the same as no state. */
    "  redis.call('PEXPIRE', KEYS[1], math.ceil(nu / limit) + 1)\n"
    "  remaining = math.floor((cap - nu) / period)\n"
    "else\n"
    "  allowed = 0\n"
    "  retry = math.ceil((used + period - cap) / limit)\n"
    "  remaining = 0\n"
    "end\n"
    "redis.call('HSET', KEYS[2], 'allowed', allowed, "
    "'retry_after_ms', string.format('%d', retry), "
    "'remaining', string.format('%d', remaining), "
    "'limit', string.format('%d', limit))\n"
    "redis.call('PEXPIRE', KEYS[2], dttl)\n"
    "return {allowed, retry, remaining, limit, 0}\n";

struct quota {
    redis_url_t url;      /* holds the password: wiped in quota_close */
    char where[300];      /* "host:port" for error messages */
    redisContext *c;      /* NULL while disconnected */
    char sha[41];         /* SHA1 of quota_script, from SCRIPT LOAD */
};

static void quota_disconnect(quota_t *q) {
    if (q->c != NULL) {
        redisFree(q->c);
        q->c = NULL;
    }
}

/* Writes "redis HOST:PORT: WHAT: TEXT" into err.  A server reply could in
 * theory echo a command argument; if TEXT contains the password it is
 * withheld rather than printed. */
static void quota_err(const quota_t *q, char *err, size_t errlen,
                      const char *what, const char *text) {
    if (text == NULL) text = "unknown error";
    if (q->url.password[0] != '\0' && strstr(text, q->url.password) != NULL)
        text = "(server reply withheld: it contains the password)";
    snprintf(err, errlen, "redis %s: %s: %s", q->where, what, text);
}

/* Reports a failed command: I/O errors (reply NULL) drop the connection. */
static void quota_cmd_failed(quota_t *q, redisReply *r, const char *what,
                             char *err, size_t errlen) {
    if (r == NULL) {
        quota_err(q, err, errlen, what,
                  q->c != NULL && q->c->errstr[0] ? q->c->errstr
                                                  : "connection lost");
        quota_disconnect(q);
    } else if (r->type == REDIS_REPLY_ERROR) {
        quota_err(q, err, errlen, what, r->str);
    } else {
        quota_err(q, err, errlen, what, "unexpected reply type");
    }
}

/* Connects, authenticates, selects the db and loads the script.
 * Returns 0, or -1 with err and q->c left NULL. */
static int quota_open(quota_t *q, char *err, size_t errlen) {
    struct timeval tv = {QUOTA_TIMEOUT_SEC, 0};
    redisReply *r;

    q->c = redisConnectWithTimeout(q->url.host, q->url.port, tv);
    if (q->c == NULL) {
        quota_err(q, err, errlen, "connect", "out of memory");
        return -1;
    }
    if (q->c->err) {
        quota_err(q, err, errlen, "connect", q->c->errstr);
        goto fail;
    }
    if (redisSetTimeout(q->c, tv) != REDIS_OK) {
        quota_err(q, err, errlen, "set timeout", q->c->errstr);
        goto fail;
    }
    /* Detects a peer that vanished without a FIN while we are idle. */
    redisEnableKeepAlive(q->c);

    if (q->url.password[0] != '\0') {
        if (q->url.user[0] != '\0')
            r = redisCommand(q->c, "AUTH %s %s", q->url.user, q->url.password);
        else
            r = redisCommand(q->c, "AUTH %s", q->url.password);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            quota_cmd_failed(q, r, "AUTH failed", err, errlen);
            if (r != NULL) freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }

    if (q->url.db != 0) {
        r = redisCommand(q->c, "SELECT %d", q->url.db);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            quota_cmd_failed(q, r, "SELECT failed", err, errlen);
            if (r != NULL) freeReplyObject(r);
            goto fail;
        }
        freeReplyObject(r);
    }

    /* A name makes our connections recognisable in CLIENT LIST.  It is
     * optional: an error reply (e.g. an ACL without CLIENT) is ignored. */
    r = redisCommand(q->c, "CLIENT SETNAME order-worker-quota-%ld",
                     (long)getpid());
    if (r == NULL) {
        quota_cmd_failed(q, r, "CLIENT SETNAME", err, errlen);
        goto fail;
    }
    freeReplyObject(r);

    r = redisCommand(q->c, "SCRIPT LOAD %s", quota_script);
    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
        quota_cmd_failed(q, r, "SCRIPT LOAD failed", err, errlen);
        if (r != NULL) freeReplyObject(r);
        goto fail;
    }
    memcpy(q->sha, r->str, 40);
    q->sha[40] = '\0';
    freeReplyObject(r);
    return 0;

fail:
    quota_disconnect(q);
    return -1;
}

quota_t *quota_connect(const char *redis_url, char *err, size_t errlen) {
    quota_t *q = calloc(1, sizeof(*q));
    if (q == NULL) {
        snprintf(err, errlen, "quota: out of memory");
        return NULL;
    }
    if (redisurl_parse(redis_url, &q->url, err, errlen) != 0) {
        free(q);
        return NULL;
    }
    if (strchr(q->url.host, ':') != NULL)
        snprintf(q->where, sizeof(q->where), "[%s]:%d", q->url.host, q->url.port);
    else
        snprintf(q->where, sizeof(q->where), "%s:%d", q->url.host, q->url.port);
    if (quota_open(q, err, errlen) != 0) {
        quota_close(q);
        return NULL;
    }
    return q;
}

/* Subjects and ids become parts of key names: allow only [A-Za-z0-9._-]
 * (the contract's id alphabet, and UUID text), so no id can contain a
 * brace or colon and forge another subject's key or hash tag. */
static int valid_key_part(const char *s) {
    if (s == NULL) return 0;
    size_t n = strlen(s);
    if (n == 0 || n > QUOTA_MAX_ID_LEN) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Errors after which this connection should not be reused: a failover left
 * us on a replica, Redis is still loading, or it lost our AUTH. */
static int reply_needs_reconnect(const redisReply *r) {
    return strncmp(r->str, "READONLY", 8) == 0 ||
           strncmp(r->str, "LOADING", 7) == 0 ||
           strncmp(r->str, "MASTERDOWN", 10) == 0 ||
           strncmp(r->str, "NOAUTH", 6) == 0;
}

int quota_charge(quota_t *q, const char *subject, const char *id,
                 const char *intent_id, int limit, int64_t period_ms,
                 quota_decision_t *out, char *err, size_t errlen) {
    char tatkey[64 + 2 * QUOTA_MAX_ID_LEN];
    char deckey[64 + 3 * QUOTA_MAX_ID_LEN];
    redisReply *r;

    if (!valid_key_part(subject) || !valid_key_part(id) ||
        !valid_key_part(intent_id)) {
        snprintf(err, errlen, "quota: subject, id and intent_id must be 1..%d "
                              "characters of [A-Za-z0-9._-]", QUOTA_MAX_ID_LEN);
        return -1;
    }
    if (limit < 1 || period_ms < 1 ||
        (int64_t)limit > QUOTA_MAX_TICKS / period_ms) {
        snprintf(err, errlen, "quota: bad limit %d per %lld ms", limit,
                 (long long)period_ms);
        return -1;
    }
    snprintf(tatkey, sizeof(tatkey), "ow:quota:{%s:%s}:tat", subject, id);
    snprintf(deckey, sizeof(deckey), "ow:quota:{%s:%s}:intent:%s", subject,
             id, intent_id);

    if (q->c == NULL && quota_open(q, err, errlen) != 0) return -1;

    r = redisCommand(q->c, "EVALSHA %s 2 %s %s %d %lld %lld", q->sha, tatkey,
                     deckey, limit, (long long)period_ms,
                     (long long)QUOTA_DECISION_TTL_MS);
    if (r != NULL && r->type == REDIS_REPLY_ERROR &&
        strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        r = redisCommand(q->c, "EVAL %s 2 %s %s %d %lld %lld", quota_script,
                         tatkey, deckey, limit, (long long)period_ms,
                         (long long)QUOTA_DECISION_TTL_MS);
    }
    if (r == NULL) {
        quota_cmd_failed(q, r, "quota script", err, errlen);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        quota_cmd_failed(q, r, "quota script", err, errlen);
        if (reply_needs_reconnect(r)) quota_disconnect(q);
        freeReplyObject(r);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5) {
        quota_err(q, err, errlen, "quota script", "unexpected reply shape");
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < 5; i++) {
        if (r->element[i]->type != REDIS_REPLY_INTEGER) {
            quota_err(q, err, errlen, "quota script", "non-integer in reply");
            freeReplyObject(r);
            return -1;
        }
    }
    out->allowed = r->element[0]->integer != 0;
    out->retry_after_ms = r->element[1]->integer;
    out->remaining = r->element[2]->integer;
    out->limit = r->element[3]->integer;
    out->replayed = r->element[4]->integer != 0;
    freeReplyObject(r);
    return 0;
}

void quota_close(quota_t *q) {
    if (q == NULL) return;
    quota_disconnect(q);
    explicit_bzero(&q->url, sizeof(q->url));
    free(q);
}
