/* circuits.c -- the breakers of the Alpaca operations, shared by the fleet
 * (see circuits.h).
 *
 * Redis keys (one per operation class):
 *   ow:breaker:{OP}        the wall-clock ms at which the fleet may probe OP
 *                          again; present while OP's breaker is open
 *   ow:breaker:{OP}:probe  who probes OP now (SET NX, expires after open_ms)
 *
 * The transition listener runs in the thread that made the call; it only
 * logs and notes what to tell the fleet.  The sharing thread does the Redis
 * work every 500 ms.  A lane talks to Redis only when a probe is due, to
 * take the probe lock; that connection is shared under a mutex. */
#include "circuits.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "redisconn.h"
#include "timefmt.h"

#define SYNC_MS 500

static const char *const OP_NAMES[OP_COUNT] = {
    "quote", "bars", "account", "place_order", "order_lookup",
    "order_list", "cancel", "positions", "clock"};

struct circuits {
    const config_t *cfg;
    breaker_t *b[OP_COUNT];
    redisconn_t *redis;           /* NULL: no sharing */
    pthread_mutex_t redis_lock;   /* guards redis */
    pthread_mutex_t lock;         /* guards the fields below */
    pthread_cond_t wake;
    pthread_t thread;
    int running, stop;
    int remote[OP_COUNT];         /* the open state came from the fleet */
    int tell_open[OP_COUNT];      /* to write ow:breaker:{op} */
    int64_t probe_at_ms[OP_COUNT];/* its value: wall-clock ms */
    int tell_closed[OP_COUNT];    /* to delete it */
    int used[OP_COUNT];           /* has seen an outcome (for readiness) */
};

const char *circuits_op_name(circuit_op_t op) {
    return op < OP_COUNT ? OP_NAMES[op] : "unknown";
}

static circuit_op_t op_of(const circuits_t *c, const char *name) {
    (void)c;
    for (int i = 0; i < OP_COUNT; i++)
        if (!strcmp(OP_NAMES[i], name)) return (circuit_op_t)i;
    return OP_COUNT;
}

/* order_worker_breaker_state: 1 on the current state, 0 on the others. */
static void show_state(const char *name, breaker_state_t now) {
    static const breaker_state_t all[] = {BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN};
    for (int i = 0; i < 3; i++)
        metrics_set(M_BREAKER_STATE, all[i] == now, name, breaker_state_name(all[i]));
}

/* Logs the transition as the seed does, and notes what the fleet must learn. */
static void on_transition(void *ud, const char *name, breaker_state_t from,
                          breaker_state_t to, int64_t now_ms) {
    circuits_t *c = ud;
    circuit_op_t op = op_of(c, name);
    if (op == OP_COUNT) return;
    pthread_mutex_lock(&c->lock);
    int remote = c->remote[op];
    if (to == BREAKER_OPEN && !remote) {
        c->tell_open[op] = 1;
        c->tell_closed[op] = 0;
        c->probe_at_ms[op] = timefmt_now_ms() + (breaker_open_until(c->b[op]) - now_ms);
    } else if (to == BREAKER_CLOSED) {
        if (!remote) {
            c->tell_closed[op] = 1;
            c->tell_open[op] = 0;
        }
        c->remote[op] = 0;
    }
    pthread_mutex_unlock(&c->lock);
    show_state(name, to);
    metrics_add(M_BREAKER_TRANSITIONS, 1, name, breaker_state_name(to));
    if (to == BREAKER_OPEN)
        log_msg(LOG_WARN, "breaker_opened", NULL, "circuit breaker OPENED for %s%s (was %s)",
                name, remote ? ", learned from another replica" : "",
                breaker_state_name(from));
    else if (to == BREAKER_HALF_OPEN)
        log_msg(LOG_INFO, "breaker_half_open", NULL,
                "circuit breaker HALF-OPEN for %s, testing...", name);
    else
        log_msg(LOG_INFO, "breaker_closed", NULL, "circuit breaker CLOSED for %s%s", name,
                remote ? " (another replica's probe succeeded)" : "");
}

/* ---- sharing with the fleet ------------------------------------------- */

static void share_once(circuits_t *c) {
    char err[256];
    int64_t now = timefmt_mono_ms(), wall = timefmt_now_ms();
    int tell_open[OP_COUNT], tell_closed[OP_COUNT];
    int64_t probe_at[OP_COUNT];
    pthread_mutex_lock(&c->lock);
    memcpy(tell_open, c->tell_open, sizeof(tell_open));
    memcpy(tell_closed, c->tell_closed, sizeof(tell_closed));
    memcpy(probe_at, c->probe_at_ms, sizeof(probe_at));
    memset(c->tell_open, 0, sizeof(c->tell_open));
    memset(c->tell_closed, 0, sizeof(c->tell_closed));
    pthread_mutex_unlock(&c->lock);

    pthread_mutex_lock(&c->redis_lock);
    int failed = 0;
    for (int op = 0; op < OP_COUNT && !failed; op++) {
        redisReply *r = NULL;
        if (tell_open[op]) {
            /* Kept well past the probe time: the prober deletes it. */
            r = redisconn_command(c->redis, err, sizeof(err),
                                  "SET ow:breaker:{%s} %lld PX %lld", OP_NAMES[op],
                                  (long long)probe_at[op],
                                  (long long)(c->cfg->breaker_open_ms * 2 + 10000));
            if (!r) failed = 1;
        } else if (tell_closed[op]) {
            r = redisconn_command(c->redis, err, sizeof(err),
                                  "DEL ow:breaker:{%s} ow:breaker:{%s}:probe", OP_NAMES[op],
                                  OP_NAMES[op]);
            if (!r) failed = 1;
        }
        if (r) freeReplyObject(r);
    }
    redisReply *m = failed ? NULL
                           : redisconn_command(c->redis, err, sizeof(err),
                                               "MGET ow:breaker:{%s} ow:breaker:{%s} "
                                               "ow:breaker:{%s} ow:breaker:{%s} "
                                               "ow:breaker:{%s} ow:breaker:{%s} "
                                               "ow:breaker:{%s} ow:breaker:{%s} "
                                               "ow:breaker:{%s}",
                                               OP_NAMES[0], OP_NAMES[1], OP_NAMES[2],
                                               OP_NAMES[3], OP_NAMES[4], OP_NAMES[5],
                                               OP_NAMES[6], OP_NAMES[7], OP_NAMES[8]);
    pthread_mutex_unlock(&c->redis_lock);
    if (!m) {
        /* Without Redis each replica keeps its own breakers; what could not
         * be told is told again when a breaker next changes. */
        pthread_mutex_lock(&c->lock);
        for (int op = 0; op < OP_COUNT; op++) {
            c->tell_open[op] |= tell_open[op];
            c->tell_closed[op] |= tell_closed[op] && !c->tell_open[op];
            if (tell_open[op]) c->probe_at_ms[op] = probe_at[op];
        }
        pthread_mutex_unlock(&c->lock);
        return;
    }
    for (int op = 0; op < OP_COUNT && m->type == REDIS_REPLY_ARRAY && (size_t)op < m->elements;
         op++) {
        redisReply *v = m->element[op];
        breaker_state_t st = breaker_state(c->b[op]);
        if (v->type == REDIS_REPLY_STRING) {
            int64_t at = strtoll(v->str, NULL, 10);
            if (at > wall && st == BREAKER_CLOSED) {
                pthread_mutex_lock(&c->lock);
                c->remote[op] = 1;
                pthread_mutex_unlock(&c->lock);
                breaker_force_open(c->b[op], now + (at - wall), now);
            }
        } else if (st != BREAKER_CLOSED) {
            /* The fleet's breaker closed: the prober deleted the key.  (Not
             * if this breaker has just opened and is about to say so.) */
            pthread_mutex_lock(&c->lock);
            int pending = c->tell_open[op];
            if (!pending) c->remote[op] = 1;
            pthread_mutex_unlock(&c->lock);
            if (!pending) breaker_force_close(c->b[op], now);
        }
    }
    freeReplyObject(m);
}

static void *share_main(void *arg) {
    circuits_t *c = arg;
    pthread_setname_np(pthread_self(), "ow-circuits");  /* top -H, perf */
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        pthread_mutex_unlock(&c->lock);
        share_once(c);
        struct timespec ts;
        timefmt_realtime_after(SYNC_MS, &ts);
        pthread_mutex_lock(&c->lock);
        if (!c->stop) pthread_cond_timedwait(&c->wake, &c->lock, &ts);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- the interface ------------------------------------------------------ */

circuits_t *circuits_new(const config_t *cfg, char *err, size_t errlen) {
    circuits_t *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->cfg = cfg;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->redis_lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    breaker_config_t bc = {cfg->breaker_failure_rate, cfg->breaker_slow_rate,
                           cfg->breaker_slow_ms,      cfg->breaker_window_calls,
                           cfg->breaker_window_ms,    cfg->breaker_min_calls,
                           cfg->breaker_open_ms,      cfg->breaker_half_open_calls};
    for (int op = 0; op < OP_COUNT; op++) {
        c->b[op] = breaker_new(OP_NAMES[op], &bc);
        if (!c->b[op]) {
            snprintf(err, errlen, "out of memory");
            circuits_free(c);
            return NULL;
        }
        breaker_on_transition(c->b[op], on_transition, c);
        show_state(OP_NAMES[op], BREAKER_CLOSED);
    }
    if (cfg->redis_url[0]) {
        c->redis = redisconn_new(cfg->redis_url, "order-worker-breakers", 500, err, errlen);
        if (!c->redis) {
            circuits_free(c);
            return NULL;
        }
        int rc = pthread_create(&c->thread, NULL, share_main, c);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start the breakers' sharing thread: %s",
                     strerror(rc));
            circuits_free(c);
            return NULL;
        }
        c->running = 1;
    }
    return c;
}

void circuits_free(circuits_t *c) {
    if (!c) return;
    if (c->running) {
        pthread_mutex_lock(&c->lock);
        c->stop = 1;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->thread, NULL);
    }
    for (int op = 0; op < OP_COUNT; op++) breaker_free(c->b[op]);
    redisconn_free(c->redis);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->redis_lock);
    pthread_cond_destroy(&c->wake);
    free(c);
}

int circuits_allow(circuits_t *c, circuit_op_t op) {
    breaker_t *b = c->b[op];
    int64_t now = timefmt_mono_ms();
    if (c->redis && breaker_state(b) == BREAKER_OPEN && now >= breaker_open_until(b)) {
        /* A probe is due: one replica of the fleet probes, the others wait
         * for its verdict. */
        char err[256];
        pthread_mutex_lock(&c->redis_lock);
        redisReply *r = redisconn_command(c->redis, err, sizeof(err),
                                          "SET ow:breaker:{%s}:probe %s NX PX %lld",
                                          OP_NAMES[op], c->cfg->replica_id,
                                          (long long)c->cfg->breaker_open_ms);
        pthread_mutex_unlock(&c->redis_lock);
        if (r) {
            int mine = r->type == REDIS_REPLY_STATUS;  /* "OK"; nil: taken */
            freeReplyObject(r);
            if (mine) {
                /* The prober speaks for the fleet: its verdict is shared. */
                pthread_mutex_lock(&c->lock);
                c->remote[op] = 0;
                pthread_mutex_unlock(&c->lock);
            }
            if (!mine) {
                breaker_force_open(b, now + (c->cfg->breaker_open_ms < SYNC_MS * 2
                                                 ? c->cfg->breaker_open_ms
                                                 : SYNC_MS * 2),
                                   now);
                return 0;
            }
        }
        /* Redis unreachable: probe on our own. */
    }
    return breaker_allow(b, now);
}

int circuits_allow_peek(circuits_t *c, circuit_op_t op) {
    if (!c) return 1;
    breaker_t *b = c->b[op];
    return breaker_state(b) != BREAKER_OPEN || timefmt_mono_ms() >= breaker_open_until(b);
}

void circuits_record(circuits_t *c, circuit_op_t op, breaker_outcome_t outcome,
                     int64_t duration_ms) {
    breaker_record(c->b[op], timefmt_mono_ms(), outcome, duration_ms);
    pthread_mutex_lock(&c->lock);
    c->used[op] = 1;
    pthread_mutex_unlock(&c->lock);
}

void circuits_open_count(circuits_t *c, int *open, int *used) {
    *open = *used = 0;
    if (!c) return;
    for (int op = 0; op < OP_COUNT; op++) {
        pthread_mutex_lock(&c->lock);
        int u = c->used[op];
        pthread_mutex_unlock(&c->lock);
        if (!u) continue;
        (*used)++;
        if (breaker_state(c->b[op]) == BREAKER_OPEN) (*open)++;
    }
}

breaker_state_t circuits_state(circuits_t *c, circuit_op_t op) {
    return breaker_state(c->b[op]);
}
