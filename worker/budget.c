/* budget.c -- the shared Alpaca budget (see budget.h).
 *
 * Redis keys (named here only: BUDGET_KEYS below; budget_show at the end
 * of the file reads them for `intentctl quota alpaca`):
 *   ow:budget:calls          ZSET  member: unique call id, score: grant ms
 *   ow:budget:waiters        ZSET  member: waiter id, score:
 *                                  priority * 1e13 + first arrival ms
 *   ow:budget:seen           HASH  waiter id -> last poll ms (a waiter that
 *                                  stops polling, e.g. a dead replica, is
 *                                  dropped from the head of the queue 2 s
 *                                  later; one that gives up leaves at once:
 *                                  leave_queue)
 *   ow:budget:blocked_until  STRING ms until which Alpaca said "no more"
 * One script decides a grant atomically with Redis's clock: one token, or,
 * while the window is far from its ceiling and nobody waits, a block of
 * them for this replica to spend itself (budget_lease.h: the blocks and why
 * they keep the log exact), whose members are "<id>:1".."<id>:<n>". */
#include "budget.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget_lease.h"
#include "log.h"
#include "metrics.h"
#include "redisconn.h"
#include "timefmt.h"

#define BUDGET_CALLS "ow:budget:calls"
#define BUDGET_WAITERS "ow:budget:waiters"
#define BUDGET_SEEN "ow:budget:seen"
#define BUDGET_BLOCKED "ow:budget:blocked_until"
/* The script's KEYS, in order. */
#define BUDGET_KEYS BUDGET_CALLS " " BUDGET_WAITERS " " BUDGET_SEEN " " BUDGET_BLOCKED

/* ARGV: limit, window, the caller's id and queue score, its ceiling; the
 * tokens it asks for (2 or more: a block, budget_lease.h), the ceiling for
 * a block, how long a block may be spent; the unspent tokens of an earlier
 * block to take out of the log (id, or "-" for none, and their range). */
static const char budget_script[] =
    "redis.replicate_commands()\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local limit = tonumber(ARGV[1])\n"
    "local window = tonumber(ARGV[2])\n"
    "local id = ARGV[3]\n"
    "local score = tonumber(ARGV[4])\n"
    "local ceiling = math.min(tonumber(ARGV[5]), limit)\n"
    "local block = tonumber(ARGV[6])\n"
    "local lease_ms = tonumber(ARGV[8])\n"
    /* The log outlives its last entry's stay in the window. */
    "local ttl = window + lease_ms + 1000\n"
    "if ARGV[9] ~= '-' then\n"
    "  local gone = {}\n"
    "  for i = tonumber(ARGV[10]), tonumber(ARGV[11]) do\n"
    "    gone[#gone + 1] = ARGV[9] .. ':' .. i\n"
    "  end\n"
    "  if #gone > 0 then redis.call('ZREM', KEYS[1], unpack(gone)) end\n"
    "end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)\n"
    "while true do\n"
    "  local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]\n"
    "  if not head then break end\n"
    "  local seen = tonumber(redis.call('HGET', KEYS[3], head) or '0')\n"
    "  if seen >= now - 2000 then break end\n"
    "  redis.call('ZREM', KEYS[2], head)\n"
    "  redis.call('HDEL', KEYS[3], head)\n"
    "end\n"
    "local used = redis.call('ZCARD', KEYS[1])\n"
    "local blocked = tonumber(redis.call('GET', KEYS[4]) or '0')\n"
    /* A block: far from the ceiling, nobody queued, no word from Alpaca;
     * its tokens count from the last moment they may be spent. */
    "if block >= 2 and now >= blocked and used + block <= tonumber(ARGV[7]) and\n"
    "   redis.call('ZCARD', KEYS[2]) == 0 then\n"
    "  local add = {}\n"
    "  for i = 1, block do\n"
    "    add[#add + 1] = now + lease_ms\n"
    "    add[#add + 1] = id .. ':' .. i\n"
    "  end\n"
    "  redis.call('ZADD', KEYS[1], unpack(add))\n"
    "  redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "  return {1, 0, used + block, block}\n"
    "end\n"
    "redis.call('ZADD', KEYS[2], 'NX', score, id)\n"
    "redis.call('HSET', KEYS[3], id, now)\n"
    "if now < blocked then return {0, blocked - now, used, 0} end\n"
    "local ahead = redis.call('ZRANK', KEYS[2], id) or 0\n"
    "if used + ahead < ceiling then\n"
    "  redis.call('ZADD', KEYS[1], now, id)\n"
    "  redis.call('ZREM', KEYS[2], id)\n"
    "  redis.call('HDEL', KEYS[3], id)\n"
    "  redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "  redis.call('PEXPIRE', KEYS[2], 60000)\n"
    "  redis.call('PEXPIRE', KEYS[3], 60000)\n"
    "  return {1, 0, used + 1, 1}\n"
    "end\n"
    "local wait = 10\n"
    "if used >= ceiling then\n"
    "  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
    "  if oldest[2] then wait = tonumber(oldest[2]) + window - now + 1 end\n"
    "  if wait < 1 then wait = 1 end\n"
    "  if wait > 1000 then wait = 1000 end\n"
    "end\n"
    "return {0, wait, used, 0}\n";

struct budget {
    const config_t *cfg;
    redisconn_t *redis;
    pthread_mutex_t lock;     /* guards everything below */
    unsigned long long seq;   /* for unique waiter ids */
    char sha[41];
    int unpaced;              /* Redis unreachable at the last try */
    long long last_used;      /* calls in the window at the last attempt */
    int last_refused;         /* the last attempt was not granted */
    budget_lease_t lease;     /* the block of tokens this replica holds */
    int lease_size;           /* tokens asked for at once (1: no blocks) */
    int64_t lease_ms;         /* how long a block may be spent */
    long long lease_ceiling;  /* blocks only up to this many calls */
};

/* The priorities' names in metrics (budget_priority_t order). */
static const char *const prio_names[] = {"cancel", "user", "bot", "follow"};

/* How many calls of the window a caller of prio may see used before it:
 * the limit less the reserve (ALPACA_BUDGET_RESERVE_PCT, whole calls) for
 * bot placements and following, less a quarter of it for user placements,
 * the whole limit for cancels. */
static long long ceiling_of(const config_t *cfg, budget_priority_t prio) {
    long long limit = cfg->alpaca_calls_per_min;
    long long reserve = limit * cfg->budget_reserve_pct / 100;  /* whole calls */
    if (prio == BUDGET_CANCEL) return limit;
    if (prio == BUDGET_USER) return limit - reserve / 4;
    return limit - reserve;
}

budget_t *budget_new(const config_t *cfg, char *err, size_t errlen) {
    budget_t *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->cfg = cfg;
    b->redis = redisconn_new(cfg->redis_url, "order-worker-budget", 500, err, errlen);
    if (!b->redis) {
        free(b);
        return NULL;
    }
    pthread_mutex_init(&b->lock, NULL);
    /* Blocks are asked for only below half of the bots' share (a block is
     * always spent as if by the lowest priority). */
    b->lease_ms = budget_lease_ms(cfg->rate_period_ms);
    b->lease_ceiling = budget_lease_ceiling(ceiling_of(cfg, BUDGET_BOT));
    b->lease_size = budget_lease_size(cfg->budget_lease_tokens, b->lease_ceiling);
    metrics_set(M_BUDGET_LIMIT, cfg->alpaca_calls_per_min, NULL, NULL);
    /* Series an alert watches exist from the start at 0, so that the
     * first timeout is an increase Prometheus can see. */
    for (size_t i = 0; i < sizeof(prio_names) / sizeof(prio_names[0]); i++)
        metrics_add(M_BUDGET_TIMEOUTS, 0, prio_names[i], NULL);
    metrics_add(M_BUDGET_LEASES, 0, NULL, NULL);
    metrics_add(M_BUDGET_LEASED_TOKENS, 0, "spent", NULL);
    metrics_add(M_BUDGET_LEASED_TOKENS, 0, "returned", NULL);
    metrics_add(M_REDIS_ROUND_TRIPS, 0, "budget", NULL);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)budget_script, strlen(budget_script), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) snprintf(b->sha + 2 * i, 3, "%02x", md[i]);
    return b;
}

/* Sends the pending return of unspent tokens (budget_lease_returning)
 * itself, all its members in one round trip, when no script call will
 * carry it: at shutdown.  Best effort: tokens not taken out stay counted,
 * and leave the window with the rest.  How many went back. */
static int send_return(budget_t *b) {
    char err[256];
    const char *id;
    int from, to, queued = 0;
    int n = budget_lease_returning(&b->lease, &id, &from, &to);
    if (n <= 0 || b->unpaced) return 0;
    for (int i = from; i <= to; i++, queued++)
        if (redisconn_append(b->redis, err, sizeof(err), "ZREM " BUDGET_CALLS " %s:%d", id, i) < 0)
            break;
    int done = queued;
    for (int i = 0; i < queued; i++) {
        redisReply *r = redisconn_reply(b->redis, err, sizeof(err));
        if (!r) {
            done = i;
            break;
        }
        freeReplyObject(r);
    }
    budget_lease_returned(&b->lease);
    return done;
}

void budget_free(budget_t *b) {
    if (!b) return;
    /* Nobody takes a token any more: what this replica holds goes back to
     * the fleet now, not a window later (a rolling restart would otherwise
     * cost a block per replica for a whole period). */
    int n = send_return(b);
    budget_lease_end(&b->lease);
    n += send_return(b);
    if (n > 0) log_msg(LOG_INFO, "budget_returned", NULL, "%d unspent token(s) given back", n);
    redisconn_free(b->redis);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* The script for the caller id asking for `want` tokens (the pending
 * return of unspent tokens with it), by its SHA-1, or itself when Redis
 * lost it.  Under b->lock.  The reply, or NULL with err. */
static redisReply *run_script(budget_t *b, const char *id, budget_priority_t prio,
                              long long score, int want, char *err, size_t errlen) {
    long long window = b->cfg->rate_period_ms + b->cfg->budget_margin_ms;
    const char *ret = "-";
    int from = 1, to = 0;
    budget_lease_returning(&b->lease, &ret, &from, &to);
    redisReply *r = NULL;
    for (int eval = 0; eval < 2; eval++) {
        if (r) freeReplyObject(r);
        metrics_add(M_REDIS_ROUND_TRIPS, 1, "budget", NULL);
        r = redisconn_command_raw(
            b->redis, err, errlen,
            "%s %s 4 " BUDGET_KEYS " %d %lld %s %lld %lld %d %lld %lld %s %d %d",
            eval ? "EVAL" : "EVALSHA", eval ? budget_script : b->sha,
            b->cfg->alpaca_calls_per_min, window, id, score, ceiling_of(b->cfg, prio), want,
            b->lease_ceiling, (long long)b->lease_ms, ret, from, to);
        if (!r || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOSCRIPT", 8) != 0) break;
    }
    return r;
}

/* One attempt for the caller id: 1 granted (a token of the block this
 * replica holds, or from the script: one, or a new block, whose first it
 * takes), 0 not (wait *wait_ms), -1 Redis failed.  queued: the caller was
 * refused before and waits in the fleet's queue: one token per call, in
 * its turn. */
static int attempt(budget_t *b, const char *id, budget_priority_t prio, long long score,
                   int queued, int64_t *wait_ms) {
    char err[256];
    int64_t asked = timefmt_mono_ms();
    pthread_mutex_lock(&b->lock);
    budget_lease_expire(&b->lease, asked);
    if (!queued && budget_lease_take(&b->lease, asked)) {
        pthread_mutex_unlock(&b->lock);
        metrics_add(M_BUDGET_LEASED_TOKENS, 1, "spent", NULL);
        return 1;
    }
    const char *ret_id;
    int from, to, returning = budget_lease_returning(&b->lease, &ret_id, &from, &to);
    redisReply *r = run_script(b, id, prio, score, queued ? 1 : b->lease_size, err,
                               sizeof(err));
    int rc = -1;
    long long tokens = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
        r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER &&
        r->element[2]->type == REDIS_REPLY_INTEGER && r->element[3]->type == REDIS_REPLY_INTEGER) {
        rc = r->element[0]->integer ? 1 : 0;
        *wait_ms = r->element[1]->integer;
        tokens = r->element[3]->integer;
        metrics_set(M_BUDGET_USED, (double)r->element[2]->integer, NULL, NULL);
        b->last_used = r->element[2]->integer;
        b->last_refused = rc == 0;
        budget_lease_returned(&b->lease);  /* the script took them out of the log */
        if (tokens >= 2) budget_lease_start(&b->lease, id, (int)tokens, asked, b->lease_ms);
    }
    int was_unpaced = b->unpaced;
    b->unpaced = rc < 0;
    pthread_mutex_unlock(&b->lock);
    if (r) freeReplyObject(r);
    if (rc >= 0 && returning > 0) metrics_add(M_BUDGET_LEASED_TOKENS, returning, "returned", NULL);
    if (tokens >= 2) {
        metrics_add(M_BUDGET_LEASES, 1, NULL, NULL);
        metrics_add(M_BUDGET_LEASED_TOKENS, 1, "spent", NULL);
    }
    if (rc < 0 && !was_unpaced)
        log_msg(LOG_WARN, "budget_unpaced", NULL,
                "the shared Alpaca budget cannot be read (%s): calls go unpaced", err);
    else if (rc >= 0 && was_unpaced)
        log_msg(LOG_INFO, "budget_paced", NULL, "the shared Alpaca budget is back");
    return rc;
}

/* Takes the waiter id out of the queue, when its caller gives up (its
 * deadline, abandon, canceled).  Left there, it would count as "ahead" of
 * every caller behind it until the head's 2 s check dropped it; a caller
 * that asks again and again with short deadlines (the operators' cancel
 * sender, every turn) would pile such waiters ahead of its own next ask
 * and of everyone else's: with a budget of 2 calls, two of them refuse
 * every grant of the fleet.  A failure here is logged: the head's check
 * drops the waiter later. */
static void leave_queue(budget_t *b, const char *id) {
    char err[256];
    pthread_mutex_lock(&b->lock);
    redisReply *r = redisconn_command(b->redis, err, sizeof(err), "ZREM " BUDGET_WAITERS " %s", id);
    if (r) {
        freeReplyObject(r);
        r = redisconn_command(b->redis, err, sizeof(err), "HDEL " BUDGET_SEEN " %s", id);
    }
    pthread_mutex_unlock(&b->lock);
    if (r) freeReplyObject(r);
    else
        log_msg(LOG_WARN, "budget_leave_failed", NULL,
                "a waiter that gave up stays in the budget's queue up to 2 s (%s)", err);
}

/* Sleeps ms, in slices of 20 ms, until either flag (may be NULL) is set. */
static void nap_unless(int64_t ms, const atomic_int *a, const atomic_int *c) {
    while (ms > 0 && !(a && atomic_load(a)) && !(c && atomic_load(c))) {
        int64_t slice = ms < 20 ? ms : 20;
        struct timespec ts = {0, (long)slice * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

int budget_take(budget_t *b, budget_priority_t prio, int64_t deadline_mono_ms,
                const atomic_int *abandon, const atomic_int *canceled) {
    char id[192];
    pthread_mutex_lock(&b->lock);
    unsigned long long n = ++b->seq;
    pthread_mutex_unlock(&b->lock);
    snprintf(id, sizeof(id), "%s:%llu", b->cfg->replica_id, n);
    long long score = (long long)prio * 10000000000000LL + timefmt_now_ms();
    const char *pname = prio_names[prio <= BUDGET_FOLLOW ? prio : BUDGET_FOLLOW];
    int64_t start = timefmt_mono_ms();
    for (int queued = 0;; queued = 1) {  /* refused once: in the fleet's queue */
        int64_t wait = 0;
        int r = attempt(b, id, prio, score, queued, &wait);
        int64_t now = timefmt_mono_ms();
        if (r != 0) {  /* granted, or unpaced */
            if (r == 1) {
                metrics_add(M_BUDGET_GRANTS, 1, pname, NULL);
                metrics_observe(M_BUDGET_WAIT_SECONDS, (double)(now - start) / 1000.0, pname,
                                NULL);
            }
            return 0;
        }
        if ((abandon && atomic_load(abandon)) || (canceled && atomic_load(canceled))) {
            leave_queue(b, id);
            return 1;
        }
        if (now >= deadline_mono_ms) {
            leave_queue(b, id);
            metrics_add(M_BUDGET_TIMEOUTS, 1, pname, NULL);
            return 1;
        }
        if (wait > deadline_mono_ms - now) wait = deadline_mono_ms - now;
        if (wait > 200) wait = 200;  /* stay in the queue: poll at least 5/s */
        nap_unless(wait < 1 ? 1 : wait, abandon, canceled);
    }
}

int budget_is_short(budget_t *b, int calls) {
    pthread_mutex_lock(&b->lock);
    int s = !b->unpaced &&
            (b->last_refused || b->last_used + calls > b->cfg->alpaca_calls_per_min);
    pthread_mutex_unlock(&b->lock);
    return s;
}

void budget_observe(budget_t *b, long long remaining, long long reset_epoch_s, int was_429) {
    if (!(was_429 || remaining == 0)) return;
    /* "Remaining 0" when the fleet's own log is full says nothing new: the
     * log already holds every caller until a call leaves the window (a
     * block until Alpaca's reset, rounded up to its second, would hold the
     * reserve's callers too).  It blocks only when the log thought there
     * was room: someone else spends the account's calls.  Either way the
     * tokens of a block this replica holds are given back: from here on,
     * every call asks the log. */
    pthread_mutex_lock(&b->lock);
    budget_lease_end(&b->lease);
    int own = !was_429 && b->last_used >= b->cfg->alpaca_calls_per_min;
    pthread_mutex_unlock(&b->lock);
    if (own) return;
    long long until = reset_epoch_s > 0 ? reset_epoch_s * 1000 : timefmt_now_ms() + 1000;
    long long ttl = until - timefmt_now_ms();
    if (ttl <= 0) return;
    if (ttl > 60000) {  /* a skewed clock must not block the budget for long */
        ttl = 60000;
        until = timefmt_now_ms() + ttl;
    }
    char err[256];
    pthread_mutex_lock(&b->lock);
    redisReply *r = redisconn_command(b->redis, err, sizeof(err),
                                      "SET " BUDGET_BLOCKED " %lld PX %lld", until, ttl + 1000);
    pthread_mutex_unlock(&b->lock);
    if (r) freeReplyObject(r);
    log_msg(LOG_WARN, "budget_blocked", NULL,
            "Alpaca said %s: no calls until its reset in %lld ms",
            was_429 ? "429" : "X-Ratelimit-Remaining 0", ttl);
}

/* ---- the operators' side -------------------------------------------- */

/* From the oldest call in the window (reply of ZRANGEBYSCORE ... WITHSCORES
 * LIMIT 0 1) and the block, the figures of out that need them. */
static void budget_status_fill(budget_status_t *out, const redisReply *oldest,
                               const redisReply *blocked, int64_t now) {
    if (oldest->type == REDIS_REPLY_ARRAY && oldest->elements == 2 &&
        oldest->element[1]->type == REDIS_REPLY_STRING) {
        int64_t first = (int64_t)strtod(oldest->element[1]->str, NULL);
        out->reset_ms = first + out->period_ms - now;
        if (out->reset_ms < 0) out->reset_ms = 0;
    }
    out->remaining = out->limit > out->used ? out->limit - out->used : 0;
    out->blocked = redisconn_reply_i64(blocked, &out->blocked_until);
    out->blocked_ms = out->blocked && out->blocked_until > now ? out->blocked_until - now : 0;
}

int budget_show(redisconn_t *rc, int64_t limit, int64_t period_ms, budget_status_t *out,
                char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    out->limit = limit;
    out->period_ms = period_ms;
    int64_t now = 0;
    if (redisconn_time_ms(rc, &now, err, errlen) < 0) return -1;
    char from[32];
    snprintf(from, sizeof(from), "(%lld", (long long)(now - period_ms));
    redisReply *r = redisconn_command(rc, err, errlen, "ZCOUNT " BUDGET_CALLS " %s +inf", from);
    if (!r) return -1;
    out->used = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    redisReply *oldest = redisconn_command(
        rc, err, errlen, "ZRANGEBYSCORE " BUDGET_CALLS " %s +inf WITHSCORES LIMIT 0 1", from);
    redisReply *blocked =
        oldest ? redisconn_command(rc, err, errlen, "GET " BUDGET_BLOCKED) : NULL;
    if (blocked) budget_status_fill(out, oldest, blocked, now);
    int rc_ = blocked ? 0 : -1;
    if (oldest) freeReplyObject(oldest);
    if (blocked) freeReplyObject(blocked);
    return rc_;
}
