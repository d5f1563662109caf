/* quota.c -- per-bot and per-user trade quotas, kept in Redis (GCRA).
 *
 * This file owns quota decisions: the Redis side (one connection per quota_t,
 * so one per worker lane; no shared state; the Lua script that makes each
 * decision atomically) and what happens while Redis cannot be reached
 * (QUOTA_REDIS_DOWN_MODE: decide locally, or refuse).
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
 *   KEYS[3] ow:quota:{SUBJECT:ID}:limit             override of the limit
 *                                                   (intentctl quota set)
 * Those names are made by quota_key() alone; the operators' side at the
 * end of the file (quota_show, quota_override_get|set, which `intentctl
 * quota` calls) reads and sets the same keys, and computes what the script
 * would (quota_status_at), so the two cannot drift apart.
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
 * The script is called with EVALSHA (its SHA-1 computed here); on NOSCRIPT
 * (a new or restarted Redis, SCRIPT FLUSH) it is sent once with EVAL, which
 * also caches it.
 *
 * A lane's batch is decided in one round trip (quota_charge_many; a single
 * charge is the batch of one): every script written at once on the
 * connection, Redis running them in order, each as atomic as alone, and the
 * answers read in order.  Pipelining changes nothing a decision depends
 * on: each script still reads and writes its own intent's record, so a
 * redelivered intent finds its decision whether it was charged alone or in
 * a batch, and when the connection breaks part way, the scripts Redis ran
 * are remembered there and the others never ran.
 *
 * While Redis is down, in "local" mode the same GCRA runs in memory, per
 * lane.  That is exact, not an approximation: a bot's intents are keyed by
 * bot_id and a user's by user_id, so all of one subject's intents go to one
 * partition, one replica and one lane.  What local mode cannot do is
 * remember decisions across a crash, so a redelivery after a crash while
 * Redis is down may be charged again (it is still executed at most once:
 * that is the ledger's and the client order id's job).  Redis is tried again
 * at most once a second; when it answers, shared decisions resume. */
#include "quota.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "redisconn.h"
#include "timefmt.h"

#define QUOTA_TIMEOUT_MS 2000
/* How long the decision for an intent is remembered.  An intent expires
 * (contract: 60 s by default) long before this, so a redelivery of it will
 * always find its decision. */
#define QUOTA_DECISION_TTL_MS 86400000LL
/* limit * period_ms must stay well below 2^53 for exact Lua arithmetic. */
#define QUOTA_MAX_TICKS (1LL << 50)
#define QUOTA_MAX_ID_LEN 128
/* While Redis is down, try it again at most this often. */
#define QUOTA_RETRY_MS 1000
/* Local mode: subjects and decisions remembered per lane. */
#define LOCAL_SUBJECTS 4096
#define LOCAL_DECISIONS 4096

static const char quota_script[] =
    "redis.replicate_commands()\n"
    "local d = redis.call('HMGET', KEYS[2], 'allowed', 'retry_after_ms', "
    "'remaining', 'limit')\n"
    "if d[1] then\n"
    "  return {tonumber(d[1]), tonumber(d[2]), tonumber(d[3]), "
    "tonumber(d[4]), 1}\n"
    "end\n"
    "local limit = tonumber(ARGV[1])\n"
    /* A per-subject override (intentctl quota set) wins over the default. */
    "local override = tonumber(redis.call('GET', KEYS[3]) or '')\n"
    "if override and override >= 1 then limit = override end\n"
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

typedef struct local_subject {
    char key[2 * QUOTA_MAX_ID_LEN + 8];  /* "bot:ID"; empty = free slot */
    int64_t tat_ticks;                    /* TAT in 1/limit ms (ms * limit) */
    int limit;
} local_subject_t;

typedef struct local_decision {
    char intent_id[QUOTA_MAX_ID_LEN + 1];
    quota_decision_t d;
} local_decision_t;

struct quota {
    redisconn_t *conn;
    quota_down_mode_t mode;
    char sha[41];            /* SHA-1 of quota_script */
    int down;                /* Redis was unreachable at the last try */
    int64_t retry_at_ms;     /* monotonic: next time to try Redis */
    local_subject_t *subjects;
    local_decision_t *decisions;
    size_t next_decision;    /* ring position */
};

static quota_t *quota_alloc(const char *redis_url, quota_down_mode_t mode, char *err,
                            size_t errlen) {
    quota_t *q = calloc(1, sizeof(*q));
    if (!q) {
        snprintf(err, errlen, "quota: out of memory");
        return NULL;
    }
    q->conn = redisconn_new(redis_url, "order-worker-quota", QUOTA_TIMEOUT_MS, err, errlen);
    if (!q->conn) {
        free(q);
        return NULL;
    }
    q->mode = mode;
    metrics_add(M_REDIS_ROUND_TRIPS, 0, "quota", NULL);  /* the series exists from the start */
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)quota_script, strlen(quota_script), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) snprintf(q->sha + 2 * i, 3, "%02x", md[i]);
    return q;
}

quota_t *quota_new(const char *redis_url, quota_down_mode_t mode, char *err, size_t errlen) {
    return quota_alloc(redis_url, mode, err, errlen);
}

quota_t *quota_connect(const char *redis_url, char *err, size_t errlen) {
    quota_t *q = quota_alloc(redis_url, QUOTA_DOWN_FAIL, err, errlen);
    if (!q) return NULL;
    redisReply *r = redisconn_command(q->conn, err, errlen, "PING");
    if (!r) {
        quota_close(q);
        return NULL;
    }
    freeReplyObject(r);
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

/* The name of one of subject id's keys: "ow:quota:{SUBJECT:ID}:SUFFIX". */
static void quota_key(char *buf, size_t len, const char *subject, const char *id,
                      const char *suffix) {
    snprintf(buf, len, "ow:quota:{%s:%s}:%s", subject, id, suffix);
}

int quota_limit_exact(int64_t limit, int64_t period_ms) {
    return limit >= 1 && period_ms >= 1 && limit <= QUOTA_MAX_TICKS / period_ms;
}

/* A request's state inside quota_charge_many, in rc until it ends 0 or -1. */
enum { CHARGE_ASK = 1, CHARGE_NOSCRIPT, CHARGE_FAILED };

/* The names of the keys request r's script reads and writes (quota_key). */
typedef struct charge_keys {
    char tat[64 + 2 * QUOTA_MAX_ID_LEN];
    char dec[64 + 3 * QUOTA_MAX_ID_LEN];
    char lim[64 + 2 * QUOTA_MAX_ID_LEN];
} charge_keys_t;

static void charge_keys(charge_keys_t *k, const quota_request_t *r) {
    char decsuffix[16 + QUOTA_MAX_ID_LEN];
    snprintf(decsuffix, sizeof(decsuffix), "intent:%s", r->intent_id);
    quota_key(k->tat, sizeof(k->tat), r->subject, r->id, "tat");
    quota_key(k->lim, sizeof(k->lim), r->subject, r->id, "limit");
    quota_key(k->dec, sizeof(k->dec), r->subject, r->id, decsuffix);
}

/* Queues r's script on the connection: by its SHA-1, or (eval) the script
 * itself, which also caches it.  0, or -1 with err. */
static int append_charge(quota_t *q, const quota_request_t *r, int eval, char *err,
                         size_t errlen) {
    charge_keys_t k;
    charge_keys(&k, r);
    return redisconn_append(q->conn, err, errlen, "%s %s 3 %s %s %s %d %lld %lld",
                            eval ? "EVAL" : "EVALSHA", eval ? quota_script : q->sha, k.tat,
                            k.dec, k.lim, r->limit, (long long)r->period_ms,
                            (long long)QUOTA_DECISION_TTL_MS);
}

/* The next script's reply, into r->d: 0, 1 for NOSCRIPT (the script must
 * be sent), -1 with err; -2 with err when the connection failed (no reply
 * after it can be read). */
static int read_decision(quota_t *q, quota_request_t *r, char *err, size_t errlen) {
    redisReply *rep = redisconn_reply(q->conn, err, errlen);
    if (!rep) return -2;
    if (rep->type == REDIS_REPLY_ERROR) {  /* err already says what Redis answered */
        int noscript = strncmp(rep->str, "NOSCRIPT", 8) == 0;
        freeReplyObject(rep);
        return noscript ? 1 : -1;
    }
    int ok = rep->type == REDIS_REPLY_ARRAY && rep->elements == 5;
    for (size_t i = 0; ok && i < 5; i++) ok = rep->element[i]->type == REDIS_REPLY_INTEGER;
    if (!ok) {
        snprintf(err, errlen, "%s: quota script: unexpected reply", redisconn_where(q->conn));
        freeReplyObject(rep);
        return -1;
    }
    r->d.allowed = rep->element[0]->integer != 0;
    r->d.retry_after_ms = rep->element[1]->integer;
    r->d.remaining = rep->element[2]->integer;
    r->d.limit = rep->element[3]->integer;
    r->d.replayed = rep->element[4]->integer != 0;
    r->d.local = 0;
    r->d.unavailable = 0;
    freeReplyObject(rep);
    return 0;
}

/* Redis's decisions for the requests in state CHARGE_ASK, all their
 * scripts in one write and their replies read in order (then, if Redis
 * had lost the script, the script itself for those, once more in one
 * round trip).  Each request answered ends rc 0; the others end
 * CHARGE_FAILED, err saying the first failure.  Returns how many failed. */
static int charge_redis_many(quota_t *q, quota_request_t *reqs, int n, char *err,
                             size_t errlen) {
    int failed = 0, broken = 0;
    char why[256];
    for (int pass = 0; pass < 2; pass++) {
        int want = pass == 0 ? CHARGE_ASK : CHARGE_NOSCRIPT, queued = 0;
        for (int i = 0; i < n && !broken; i++) {
            if (reqs[i].rc != want) continue;
            /* No connection: what was queued went with it. */
            if (append_charge(q, &reqs[i], pass, why, sizeof(why)) < 0) broken = 1;
            else queued++;
        }
        if (queued && !broken) metrics_add(M_REDIS_ROUND_TRIPS, 1, "quota", NULL);
        for (int i = 0; i < n; i++) {
            if (reqs[i].rc != want) continue;
            int rc = broken ? -2 : read_decision(q, &reqs[i], why, sizeof(why));
            if (rc == -2) broken = 1;
            reqs[i].rc = rc == 0 ? 0 : rc == 1 && pass == 0 ? CHARGE_NOSCRIPT : CHARGE_FAILED;
            if (reqs[i].rc == CHARGE_FAILED && failed++ == 0) snprintf(err, errlen, "%s", why);
        }
        if (broken) redisconn_drop(q->conn);  /* replies still due are not read */
    }
    return failed;
}

/* The same GCRA as the script, in memory (see the comment at the top). */
static void charge_local(quota_t *q, const char *subject, const char *id,
                         const char *intent_id, int limit, int64_t period_ms,
                         quota_decision_t *out) {
    if (!q->subjects) {
        q->subjects = calloc(LOCAL_SUBJECTS, sizeof(*q->subjects));
        q->decisions = calloc(LOCAL_DECISIONS, sizeof(*q->decisions));
    }
    memset(out, 0, sizeof(*out));
    out->local = 1;
    out->limit = limit;
    if (!q->subjects || !q->decisions) {  /* no memory: refuse, safely */
        out->retry_after_ms = 1000;
        return;
    }
    for (size_t i = 0; i < LOCAL_DECISIONS; i++)
        if (!strcmp(q->decisions[i].intent_id, intent_id)) {
            *out = q->decisions[i].d;
            out->replayed = 1;
            return;
        }
    char key[sizeof(q->subjects[0].key)];
    snprintf(key, sizeof(key), "%s:%s", subject, id);
    uint64_t h = 1469598103934665603ULL;
    for (const char *c = key; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    int64_t now_ticks = timefmt_now_ms() * limit;
    local_subject_t *slot = NULL;
    for (size_t i = 0; i < LOCAL_SUBJECTS; i++) {
        local_subject_t *s = &q->subjects[(h + i) % LOCAL_SUBJECTS];
        /* A free slot, this subject, or one whose state has lapsed. */
        if (!s->key[0] || !strcmp(s->key, key) || s->tat_ticks / s->limit < now_ticks / limit) {
            slot = s;
            break;
        }
    }
    if (!slot) slot = &q->subjects[h % LOCAL_SUBJECTS];
    if (strcmp(slot->key, key) != 0 || slot->limit != limit) {
        snprintf(slot->key, sizeof(slot->key), "%s", key);
        slot->tat_ticks = 0;
        slot->limit = limit;
    }
    int64_t t = period_ms;                 /* emission interval, in ticks */
    int64_t tat = slot->tat_ticks > now_ticks ? slot->tat_ticks : now_ticks;
    int64_t new_tat = tat + t;
    int64_t window = period_ms * limit;    /* the period, in ticks */
    if (new_tat - now_ticks <= window) {
        slot->tat_ticks = new_tat;
        out->allowed = 1;
        out->remaining = (window - (new_tat - now_ticks)) / t;
    } else {
        int64_t wait_ticks = new_tat - window - now_ticks;
        out->retry_after_ms = (wait_ticks + limit - 1) / limit;
    }
    local_decision_t *d = &q->decisions[q->next_decision++ % LOCAL_DECISIONS];
    snprintf(d->intent_id, sizeof(d->intent_id), "%s", intent_id);
    d->d = *out;
}

/* rc CHARGE_ASK for a request whose arguments are good; -1 with err (the
 * first one's) for one whose are not.  How many are bad. */
static int check_requests(quota_request_t *reqs, int n, char *err, size_t errlen) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        quota_request_t *r = &reqs[i];
        memset(&r->d, 0, sizeof(r->d));
        r->rc = CHARGE_ASK;
        if (!valid_key_part(r->subject) || !valid_key_part(r->id) ||
            !valid_key_part(r->intent_id)) {
            if (bad == 0)
                snprintf(err, errlen, "quota: subject, id and intent_id must be 1..%d "
                                      "characters of [A-Za-z0-9._-]", QUOTA_MAX_ID_LEN);
            r->rc = -1;
        } else if (!quota_limit_exact(r->limit, r->period_ms)) {
            if (bad == 0)
                snprintf(err, errlen, "quota: bad limit %d per %lld ms", r->limit,
                         (long long)r->period_ms);
            r->rc = -1;
        }
        bad += r->rc == -1;
    }
    return bad;
}

/* What the mode says of a request Redis did not decide. */
static void charge_down(quota_t *q, quota_request_t *r) {
    r->rc = 0;
    if (q->mode == QUOTA_DOWN_LOCAL) {
        charge_local(q, r->subject, r->id, r->intent_id, r->limit, r->period_ms, &r->d);
        return;
    }
    memset(&r->d, 0, sizeof(r->d));
    r->d.unavailable = 1;
    r->d.limit = r->limit;
    r->d.retry_after_ms = QUOTA_RETRY_MS;
}

int quota_charge_many(quota_t *q, quota_request_t *reqs, int n, char *err, size_t errlen) {
    int bad = check_requests(reqs, n, err, errlen);
    int64_t now = timefmt_mono_ms();
    if (bad < n && (q->mode == QUOTA_DOWN_FAIL || !q->down || now >= q->retry_at_ms)) {
        char why[256] = "";
        int failed = charge_redis_many(q, reqs, n, why, sizeof(why));
        if (failed == 0) {
            if (q->down)
                log_msg(LOG_INFO, "quota_mode", NULL,
                        "quota decisions are shared again (Redis answers)");
            q->down = 0;
        } else if (q->mode == QUOTA_DOWN_FAIL) {
            for (int i = 0; i < n; i++)
                if (reqs[i].rc == CHARGE_FAILED) reqs[i].rc = -1;
            if (bad == 0) snprintf(err, errlen, "%s", why);
            return -1;
        } else {
            if (!q->down)
                log_msg(LOG_WARN, "quota_mode", NULL, "quota decisions are %s: %s",
                        q->mode == QUOTA_DOWN_LOCAL ? "local to this replica"
                                                    : "refused (QUOTA_REDIS_DOWN_MODE=closed)",
                        why);
            q->down = 1;
            q->retry_at_ms = now + QUOTA_RETRY_MS;
        }
    }
    for (int i = 0; i < n; i++)
        if (reqs[i].rc > 0) charge_down(q, &reqs[i]);
    return bad ? -1 : 0;
}

int quota_charge(quota_t *q, const char *subject, const char *id,
                 const char *intent_id, int limit, int64_t period_ms,
                 quota_decision_t *out, char *err, size_t errlen) {
    quota_request_t r = {subject, id, intent_id, limit, period_ms, 0, {0}};
    if (quota_charge_many(q, &r, 1, err, errlen) < 0) return -1;
    *out = r.d;
    return 0;
}

int quota_is_local(const quota_t *q) { return q->down; }

void quota_close(quota_t *q) {
    if (q == NULL) return;
    redisconn_free(q->conn);
    free(q->subjects);
    free(q->decisions);
    free(q);
}

/* ---- the operators' side -------------------------------------------- */

static int64_t ceil_div(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

void quota_status_at(const quota_gcra_t *s, int64_t now_ms, int64_t limit, int64_t period_ms,
                     quota_status_t *out) {
    /* As the script: the state counts in ticks of 1/limit ms; a trade costs
     * `period` ticks; the whole period is period*limit ticks. */
    int64_t cap = period_ms * limit, used_ticks = 0;
    if (s->present) {
        int64_t frac = s->frac;
        if (s->state_limit != limit) /* the limit changed: rescale, against the subject */
            frac = ceil_div(frac * limit, s->state_limit);
        used_ticks = (s->tat - now_ms) * limit + frac;
        if (used_ticks < 0) used_ticks = 0;
    }
    memset(out, 0, sizeof(*out));
    out->limit = limit;
    out->period_ms = period_ms;
    out->remaining = used_ticks >= cap ? 0 : (cap - used_ticks) / period_ms;
    out->used = limit - out->remaining;
    out->reset_ms = ceil_div(used_ticks, limit);
    out->retry_after_ms = out->remaining > 0 ? 0 : ceil_div(used_ticks + period_ms - cap, limit);
}

/* subject and id as key parts: 0, or -1 with err. */
static int check_subject(const char *subject, const char *id, char *err, size_t errlen) {
    if (valid_key_part(subject) && valid_key_part(id)) return 0;
    snprintf(err, errlen, "quota: subject and id must be 1..%d characters of [A-Za-z0-9._-]",
             QUOTA_MAX_ID_LEN);
    return -1;
}

int quota_override_get(redisconn_t *rc, const char *subject, const char *id, int64_t *limit,
                       char *err, size_t errlen) {
    if (check_subject(subject, id, err, errlen) < 0) return -1;
    char key[64 + 2 * QUOTA_MAX_ID_LEN];
    quota_key(key, sizeof(key), subject, id, "limit");
    redisReply *r = redisconn_command(rc, err, errlen, "GET %s", key);
    if (!r) return -1;
    int64_t v = 0;
    int set = redisconn_reply_i64(r, &v) && v >= 1;
    freeReplyObject(r);
    if (set) *limit = v;
    return set;
}

int quota_override_set(redisconn_t *rc, const char *subject, const char *id, int64_t limit,
                       char *err, size_t errlen) {
    if (check_subject(subject, id, err, errlen) < 0) return -1;
    if (limit < 0 || limit > 1000000) {
        snprintf(err, errlen, "quota: an override is 1..1000000 trades (0 removes it)");
        return -1;
    }
    char key[64 + 2 * QUOTA_MAX_ID_LEN];
    quota_key(key, sizeof(key), subject, id, "limit");
    redisReply *r = limit ? redisconn_command(rc, err, errlen, "SET %s %lld", key, (long long)limit)
                          : redisconn_command(rc, err, errlen, "DEL %s", key);
    if (!r) return -1;
    freeReplyObject(r);
    return 0;
}

int quota_show(redisconn_t *rc, const char *subject, const char *id, int64_t default_limit,
               int64_t period_ms, quota_status_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    int64_t limit = default_limit, now = 0;
    int overridden = quota_override_get(rc, subject, id, &limit, err, errlen);
    if (overridden < 0) return -1;
    if (!quota_limit_exact(limit, period_ms)) {
        snprintf(err, errlen, "%s %s: limit %lld per %lld ms is beyond what the quota script "
                 "computes exactly", subject, id, (long long)limit, (long long)period_ms);
        return -1;
    }
    char key[64 + 2 * QUOTA_MAX_ID_LEN];
    quota_key(key, sizeof(key), subject, id, "tat");
    redisReply *r = redisconn_command(rc, err, errlen, "HMGET %s tat frac limit", key);
    if (!r) return -1;
    if (redisconn_time_ms(rc, &now, err, errlen) < 0) {
        freeReplyObject(r);
        return -1;
    }
    quota_gcra_t s = {0, 0, 0, limit};
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
        redisconn_reply_i64(r->element[0], &s.tat)) {
        s.present = 1;
        if (!redisconn_reply_i64(r->element[1], &s.frac)) s.frac = 0;
        if (!redisconn_reply_i64(r->element[2], &s.state_limit) || s.state_limit < 1)
            s.state_limit = limit;
    }
    freeReplyObject(r);
    quota_status_at(&s, now, limit, period_ms, out);
    out->overridden = overridden;
    return 0;
}
