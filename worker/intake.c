/* intake.c -- the consumer, the lanes and the offsets (see intake.h).
 *
 * The main thread is the only one that talks to the consumer handle: it
 * polls, hands each message to a lane, stores offsets and serves rebalances.
 * Lanes are threads, each with its own pipeline (its own PostgreSQL, Redis
 * and HTTP connections) and a FIFO of messages.  A message goes to the lane
 * chosen by a hash of its key, so one key is always handled by one lane, in
 * the order of its partition.
 *
 * Offsets: lanes finish messages out of order across keys, so each partition
 * keeps the offsets it has handed out, in order, with a done mark.  The
 * offset stored for commit is one past the longest done prefix: a message is
 * never committed before every message ahead of it in its partition has a
 * durable outcome, so a crash redelivers instead of losing.
 *
 * Rebalances use the cooperative protocol: before revoked partitions are
 * given up, their in-flight messages are finished and their offsets stored
 * (librdkafka commits stored offsets on unassign). */
#include "intake.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "account.h"
#include "admin.h"
#include "budget.h"
#include "trading.h"
#include "fills.h"
#include "log.h"
#include "metrics.h"
#include "redisconn.h"
#include "pipeline.h"
#include "reconcile.h"
#include "publish.h"
#include "timefmt.h"

/* The consumer's group session: a replica that stops answering is replaced
 * after this long. */
#define KAFKA_SESSION_TIMEOUT_MS 10000
/* How long a worker stopped before its first assignment waits for it
 * (await_first_assignment). */
#define AWAIT_ASSIGNMENT_MS(session_ms) (2 * (session_ms) + 2000)

/* ---- offset tracking ----------------------------------------------------- */

typedef struct partition {
    char topic[128];
    int32_t partition;
    int64_t *offsets;       /* handed out, ascending, not yet committed */
    unsigned char *done;
    size_t head, count, cap; /* ring buffer */
    int64_t store;          /* next offset to store, -1 if nothing new */
    int assigned;
    int pending;            /* messages queued or being handled by lanes */
    atomic_int abandon;     /* lanes give up this partition's work: it was
                               revoked and not finished in time, or we stop */
} partition_t;

typedef struct job {
    rd_kafka_message_t *msg;
    partition_t *part;
    intent_source_t source;
    int64_t consumed_mono_ms;
    struct job *next;
} job_t;

/* The queue of one key in a lane: its jobs in partition order. */
typedef struct keyq {
    job_t *first, *last;
    struct keyq *next;      /* in its lane's ring of keys with work */
    struct keyq *hnext;     /* in its lane's hash chain */
    unsigned int hash;
    intent_source_t source;
    size_t key_len;
    char key[];
} keyq_t;

typedef struct ring {
    keyq_t *head, *tail;
} ring_t;

/* A lane serves its keys round-robin, users' keys first: one job of a key,
 * then the next key's, so a bot that floods gets its turn like any other
 * key in the lane, never all the turns, and a user's intent overtakes the
 * bots' queued ones.  One key's jobs still run one at a time, in order.
 * Everything guarded by owner->lock. */
typedef struct lane {
    pthread_t thread;
    struct intake *owner;
    pipeline_t *pipeline;
    ring_t users, bots;     /* keys with work */
    keyq_t **buckets;       /* key -> queue, for dispatch */
    size_t n_buckets, n_keys;
    pthread_cond_t work_cv;
} lane_t;

typedef struct intake {
    const config_t *cfg;
    rd_kafka_t *rk;
    publisher_t *pub;
    pipeline_shared_t shared;  /* what the lanes share */
    follower_t *follower;
    reconciler_t *reconciler;
    lane_t *lanes;
    int n_lanes;
    pthread_mutex_t lock;   /* guards partitions, lane queues, counters */
    pthread_cond_t done_cv; /* a message finished */
    partition_t **parts;
    int n_parts, cap_parts;
    int in_flight;
    int stopping;           /* lanes exit when their queue is empty */
    int paused;             /* consumption paused for back-pressure */
    int session_timeout_ms;   /* the consumer's, as configured */
    atomic_int ever_assigned; /* an assignment arrived (set by the consumer
                                 thread, read by the readiness probe) */
    /* operations (admin.h); the admin thread reads these */
    admin_t *admin;
    redisconn_t *probe_redis;    /* the readiness check's own connection */
    atomic_llong loop_mono_ms;   /* the consumer loop's last turn */
    atomic_int draining;
    pthread_mutex_t stats_lock;  /* guards the fields below */
    int64_t stats_mono_ms;       /* librdkafka's last statistics, 0: none yet */
    int brokers_up, brokers_known;
} intake_t;

static partition_t *part_find(intake_t *k, const char *topic, int32_t partition,
                              int create) {
    for (int i = 0; i < k->n_parts; i++)
        if (k->parts[i]->partition == partition && !strcmp(k->parts[i]->topic, topic))
            return k->parts[i];
    if (!create) return NULL;
    if (k->n_parts == k->cap_parts) {
        int cap = k->cap_parts ? k->cap_parts * 2 : 16;
        partition_t **np = realloc(k->parts, (size_t)cap * sizeof(*np));
        if (!np) return NULL;
        k->parts = np;
        k->cap_parts = cap;
    }
    partition_t *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    snprintf(p->topic, sizeof(p->topic), "%s", topic);
    p->partition = partition;
    p->store = -1;
    atomic_init(&p->abandon, 0);
    k->parts[k->n_parts++] = p;
    return p;
}

static int part_push(partition_t *p, int64_t offset) {
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        int64_t *o = malloc(cap * sizeof(*o));
        unsigned char *d = malloc(cap);
        if (!o || !d) {
            free(o);
            free(d);
            return -1;
        }
        for (size_t i = 0; i < p->count; i++) {
            o[i] = p->offsets[(p->head + i) % p->cap];
            d[i] = p->done[(p->head + i) % p->cap];
        }
        free(p->offsets);
        free(p->done);
        p->offsets = o;
        p->done = d;
        p->head = 0;
        p->cap = cap;
    }
    size_t at = (p->head + p->count) % p->cap;
    p->offsets[at] = offset;
    p->done[at] = 0;
    p->count++;
    return 0;
}

/* Marks offset done and advances the storable offset past the done prefix. */
static void part_done(partition_t *p, int64_t offset) {
    for (size_t i = 0; i < p->count; i++) {
        size_t at = (p->head + i) % p->cap;
        if (p->offsets[at] == offset && !p->done[at]) {
            p->done[at] = 1;
            break;
        }
    }
    while (p->count > 0 && p->done[p->head]) {
        p->store = p->offsets[p->head] + 1;
        p->head = (p->head + 1) % p->cap;
        p->count--;
    }
}

/* Stores every new done-prefix offset (caller holds k->lock). */
static void store_offsets(intake_t *k) {
    for (int i = 0; i < k->n_parts; i++) {
        partition_t *p = k->parts[i];
        if (p->store < 0 || !p->assigned) continue;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->store;
        rd_kafka_resp_err_t e = rd_kafka_offsets_store(k->rk, l);
        if (e || l->elems[0].err)
            log_msg(LOG_WARN, "offset_store_failed", NULL, "%s[%d]@%lld: %s", p->topic,
                    (int)p->partition, (long long)p->store,
                    rd_kafka_err2str(e ? e : l->elems[0].err));
        rd_kafka_topic_partition_list_destroy(l);
        p->store = -1;
    }
}

/* ---- per-key queues of a lane ------------------------------------------------ */

static unsigned int bytes_hash(const void *key, size_t len, unsigned int h) {
    const unsigned char *s = key;
    for (size_t i = 0; i < len; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

static void ring_push(ring_t *r, keyq_t *q) {
    q->next = NULL;
    if (r->tail) r->tail->next = q;
    else r->head = q;
    r->tail = q;
}

static keyq_t *ring_pop(ring_t *r) {
    keyq_t *q = r->head;
    if (q) {
        r->head = q->next;
        if (!r->head) r->tail = NULL;
    }
    return q;
}

static int lane_grow(lane_t *l) {
    size_t n = l->n_buckets ? l->n_buckets * 2 : 64;
    keyq_t **b = calloc(n, sizeof(*b));
    if (!b) return -1;
    for (size_t i = 0; i < l->n_buckets; i++)
        for (keyq_t *q = l->buckets[i], *next; q; q = next) {
            next = q->hnext;
            q->hnext = b[q->hash % n];
            b[q->hash % n] = q;
        }
    free(l->buckets);
    l->buckets = b;
    l->n_buckets = n;
    return 0;
}

/* Appends a job to its key's queue, creating the queue (and putting the key
 * in its ring) when the key had no work.  -1 without memory. */
static int lane_add(lane_t *l, job_t *j, const void *key, size_t key_len) {
    unsigned int h = bytes_hash(key, key_len, 2166136261u ^ (unsigned int)j->source);
    if (l->n_keys >= l->n_buckets && lane_grow(l) < 0) return -1;
    keyq_t **slot = &l->buckets[h % l->n_buckets], *q = *slot;
    while (q && !(q->hash == h && q->source == j->source && q->key_len == key_len &&
                  !memcmp(q->key, key, key_len)))
        q = q->hnext;
    if (!q) {
        q = calloc(1, sizeof(*q) + key_len);
        if (!q) return -1;
        q->hash = h;
        q->source = j->source;
        q->key_len = key_len;
        memcpy(q->key, key, key_len);
        q->hnext = *slot;
        *slot = q;
        l->n_keys++;
        ring_push(j->source == INTENT_SOURCE_USER ? &l->users : &l->bots, q);
    }
    j->next = NULL;
    if (q->last) q->last->next = j;
    else q->first = j;
    q->last = j;
    return 0;
}

/* The next job: the head key of the users' ring, else of the bots'.  The
 * key goes to `held` if it has more (the caller puts it back at the end of
 * its ring with lane_release: until then no second job of that key can be
 * taken), else it is forgotten. */
static job_t *lane_next(lane_t *l, ring_t *held) {
    ring_t *r = l->users.head ? &l->users : &l->bots;
    keyq_t *q = ring_pop(r);
    if (!q) return NULL;
    job_t *j = q->first;
    q->first = j->next;
    if (q->first) {
        ring_push(held, q);
        return j;
    }
    keyq_t **p = &l->buckets[q->hash % l->n_buckets];
    while (*p != q) p = &(*p)->hnext;
    *p = q->hnext;
    l->n_keys--;
    free(q);
    return j;
}

/* Puts the keys lane_next held back at the end of their rings. */
static void lane_release(lane_t *l, ring_t *held) {
    for (keyq_t *q; (q = ring_pop(held));)
        ring_push(q->source == INTENT_SOURCE_USER ? &l->users : &l->bots, q);
}

/* Up to max jobs, each of a different key (caller holds the lock). */
static int lane_take(lane_t *l, job_t **out, int max) {
    ring_t held = {NULL, NULL};
    int n = 0;
    while (n < max && (out[n] = lane_next(l, &held))) n++;
    lane_release(l, &held);
    return n;
}

/* ---- lanes ------------------------------------------------------------------- */

static void *lane_main(void *arg) {
    lane_t *lane = arg;
    intake_t *k = lane->owner;
    job_t *jobs[PIPELINE_BATCH_MAX];
    pipeline_item_t items[PIPELINE_BATCH_MAX];
    int max = k->cfg->batch_max < PIPELINE_BATCH_MAX ? k->cfg->batch_max : PIPELINE_BATCH_MAX;
    for (;;) {
        pthread_mutex_lock(&k->lock);
        int n = lane_take(lane, jobs, max);
        if (!n && pipeline_has_deferred(lane->pipeline)) {
            /* Out of work: write the deferred bookkeeping before waiting. */
            pthread_mutex_unlock(&k->lock);
            pipeline_idle(lane->pipeline);
            continue;
        }
        while (!n && !k->stopping) {
            pthread_cond_wait(&lane->work_cv, &k->lock);
            n = lane_take(lane, jobs, max);
        }
        pthread_mutex_unlock(&k->lock);
        if (!n) break;

        for (int i = 0; i < n; i++) {
            rd_kafka_message_t *m = jobs[i]->msg;
            rd_kafka_headers_t *hdrs = NULL;
            const void *sig = NULL;
            size_t sig_len = 0;
            if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                rd_kafka_header_get_last(hdrs, AUTH_HEADER, &sig, &sig_len) !=
                    RD_KAFKA_RESP_ERR_NO_ERROR)
                sig = NULL;
            items[i] = (pipeline_item_t){
                {rd_kafka_topic_name(m->rkt), m->partition, m->offset, m->key, m->key_len},
                jobs[i]->source, m->payload ? m->payload : "", m->payload ? m->len : 0,
                &jobs[i]->part->abandon, sig, sig_len, 0, -1};
            /* A header with a NULL value is a missing signature. */
            if (!sig) items[i].sig_len = 0;
        }
        pipeline_handle_many(lane->pipeline, items, n);

        int64_t now = timefmt_mono_ms();
        for (int i = 0; i < n; i++)
            if (items[i].rc == 0)
                metrics_observe(M_INTENT_SECONDS,
                                (double)(now - jobs[i]->consumed_mono_ms) / 1000.0,
                                items[i].from.topic, NULL);
        pthread_mutex_lock(&k->lock);
        for (int i = 0; i < n; i++) {
            /* An abandoned message is not marked done: its offset is never
             * stored, so it is redelivered to whoever owns the partition
             * next. */
            if (items[i].rc == 0) part_done(jobs[i]->part, jobs[i]->msg->offset);
            jobs[i]->part->pending--;
            k->in_flight--;
        }
        pthread_cond_broadcast(&k->done_cv);
        pthread_mutex_unlock(&k->lock);
        for (int i = 0; i < n; i++) {
            rd_kafka_message_destroy(jobs[i]->msg);
            free(jobs[i]);
        }
    }
    return NULL;
}

static unsigned int key_hash(const rd_kafka_message_t *m) {
    /* FNV-1a of the key; messages without a key stay in partition order. */
    unsigned int h = 2166136261u;
    if (m->key && m->key_len) {
        const unsigned char *s = m->key;
        for (size_t i = 0; i < m->key_len; i++) h = (h ^ s[i]) * 16777619u;
    } else {
        h = (h ^ (unsigned int)m->partition) * 16777619u;
    }
    return h;
}

static void dispatch(intake_t *k, rd_kafka_message_t *m) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    intent_source_t source =
        !strcmp(topic, k->cfg->topic_user) ? INTENT_SOURCE_USER : INTENT_SOURCE_BOT;
    job_t *j = calloc(1, sizeof(*j));
    /* Messages without a key keep their partition's order: they share one
     * queue per partition. */
    char nokey[16];
    int nokey_len = snprintf(nokey, sizeof(nokey), "#%d", (int)m->partition);
    const void *key = m->key && m->key_len ? m->key : nokey;
    size_t key_len = m->key && m->key_len ? m->key_len : (size_t)nokey_len;
    pthread_mutex_lock(&k->lock);
    partition_t *p = part_find(k, topic, m->partition, 1);
    lane_t *lane = &k->lanes[key_hash(m) % (unsigned)k->n_lanes];
    if (j) {
        j->msg = m;
        j->part = p;
        j->source = source;
        j->consumed_mono_ms = timefmt_mono_ms();
    }
    if (!j || !p || part_push(p, m->offset) < 0 || lane_add(lane, j, key, key_len) < 0) {
        pthread_mutex_unlock(&k->lock);
        /* Without memory nothing safe can be done: not storing the offset
         * and leaving lets the group redeliver it. */
        log_msg(LOG_ERROR, "out_of_memory", NULL, "cannot queue a message; exiting");
        abort();
    }
    p->pending++;
    k->in_flight++;
    pthread_cond_signal(&lane->work_cv);
    pthread_mutex_unlock(&k->lock);
    metrics_add(M_INTENTS_CONSUMED, 1, topic, NULL);
}

/* ---- rebalances -------------------------------------------------------------- */

/* Sets or clears the abandon flag of the listed partitions (caller holds
 * k->lock). */
static void mark_abandon(intake_t *k, rd_kafka_topic_partition_list_t *parts, int value) {
    for (int i = 0; i < parts->cnt; i++) {
        partition_t *p = part_find(k, parts->elems[i].topic, parts->elems[i].partition, 0);
        if (p) atomic_store(&p->abandon, value);
    }
}

static int partitions_pending(intake_t *k, rd_kafka_topic_partition_list_t *parts) {
    int n = 0;
    for (int i = 0; i < parts->cnt; i++) {
        partition_t *p = part_find(k, parts->elems[i].topic, parts->elems[i].partition, 0);
        if (p) n += p->pending;
    }
    return n;
}

/* Before revoked partitions are given up: lets lanes finish their messages
 * (storing offsets as they complete) for up to drain_ms, then abandons the
 * rest, which is never marked done, so its offsets are never stored and the
 * next owner redelivers it.  Returns once no lane holds a message of these
 * partitions, so that the commit on unassign is exact. */
static void drain_partitions(intake_t *k, rd_kafka_topic_partition_list_t *parts) {
    int64_t deadline = timefmt_mono_ms() + k->cfg->drain_ms;
    pthread_mutex_lock(&k->lock);
    for (;;) {
        store_offsets(k);
        int pending = partitions_pending(k, parts);
        if (pending == 0) break;
        if (timefmt_mono_ms() >= deadline) {
            log_msg(LOG_WARN, "revocation_abandoning", NULL,
                    "%d message(s) of revoked partitions unfinished after %lld ms; "
                    "leaving them for redelivery",
                    pending, (long long)k->cfg->drain_ms);
            mark_abandon(k, parts, 1);
            deadline = INT64_MAX;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&k->done_cv, &k->lock, &ts);
    }
    store_offsets(k);
    for (int i = 0; i < parts->cnt; i++) {
        partition_t *p = part_find(k, parts->elems[i].topic, parts->elems[i].partition, 0);
        if (!p) continue;
        p->assigned = 0;
        /* Abandoned offsets are forgotten: the next owner starts at the
         * committed offset and redelivers them. */
        p->count = 0;
        p->head = 0;
        p->store = -1;
    }
    pthread_mutex_unlock(&k->lock);
}

static void set_assigned(intake_t *k, rd_kafka_topic_partition_list_t *parts) {
    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < parts->cnt; i++) {
        partition_t *p = part_find(k, parts->elems[i].topic, parts->elems[i].partition, 1);
        if (p) {
            p->assigned = 1;
            atomic_store(&p->abandon, 0);
        }
    }
    pthread_mutex_unlock(&k->lock);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    intake_t *k = opaque;
    int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_msg(LOG_INFO, "partitions_assigned", NULL, "%d partition(s)", parts->cnt);
        atomic_store(&k->ever_assigned, 1);
        set_assigned(k, parts);
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) {
                log_msg(LOG_ERROR, "assign_failed", NULL, "%s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            rd_kafka_assign(rk, parts);
        }
        /* A pause belongs to this process, not to the partition: newly
         * assigned partitions join the current back-pressure state. */
        if (k->paused) rd_kafka_pause_partitions(rk, parts);
        else rd_kafka_resume_partitions(rk, parts);
        return;
    }
    log_msg(LOG_INFO, "partitions_revoked", NULL, "%d partition(s)%s", parts->cnt,
            err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "" : " (lost)");
    drain_partitions(k, parts);
    if (cooperative) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e) {
            log_msg(LOG_ERROR, "unassign_failed", NULL, "%s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

/* librdkafka 2.0.2 aborts in rd_kafka_destroy ("Assertion `assignor_state'
 * failed", librdkafka #4312, fixed in 2.3.0) when the consumer was given the
 * cooperative-sticky protocol by a JoinGroup answer but had no SyncGroup
 * answer yet: the assignor's state is created by the first assignment.  A
 * worker stopped in that window (it has a member id but no assignment came)
 * keeps serving the group until its first assignment arrives before it
 * closes the consumer.  The wait is bounded by two session timeouts: a
 * rebalance waits up to one for a member that died without leaving, and a
 * second may be needed when the first went to that member's eviction.
 * Messages polled meanwhile are not taken: their offsets are not stored. */
static void await_first_assignment(intake_t *k) {
    char *member = rd_kafka_memberid(k->rk);
    int joined = member && member[0];
    if (member) rd_kafka_mem_free(k->rk, member);
    if (!joined || atomic_load(&k->ever_assigned)) return;
    log_msg(LOG_INFO, "awaiting_assignment", NULL,
            "joined the group but no assignment yet; waiting for it before leaving");
    int64_t deadline = timefmt_mono_ms() + AWAIT_ASSIGNMENT_MS(k->session_timeout_ms);
    while (!atomic_load(&k->ever_assigned) && timefmt_mono_ms() < deadline) {
        atomic_store(&k->loop_mono_ms, timefmt_mono_ms());
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 100);
        if (m) rd_kafka_message_destroy(m);
    }
    if (!atomic_load(&k->ever_assigned))
        log_msg(LOG_WARN, "assignment_missing", NULL,
                "no assignment within %d ms; leaving the group anyway",
                AWAIT_ASSIGNMENT_MS(k->session_timeout_ms));
}

/* ---- back-pressure -------------------------------------------------------- */

static void set_paused(intake_t *k, int pause, int in_flight, const char *why) {
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(k->rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (pause) rd_kafka_pause_partitions(k->rk, a);
    else rd_kafka_resume_partitions(k->rk, a);
    rd_kafka_topic_partition_list_destroy(a);
    k->paused = pause;
    log_msg(LOG_INFO, pause ? "consumption_paused" : "consumption_resumed", NULL,
            "%s%s%d message(s) in flight (limit %d)", why, *why ? "; " : "", in_flight,
            k->cfg->max_in_flight);
}

/* ---- operations: statistics, gauges, probes --------------------------------- */

/* librdkafka's statistics (every KAFKA_STATS_INTERVAL_MS, on the consumer
 * thread): the consumer lag of each partition this replica fetches, and how
 * many brokers are up, for /readyz. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    intake_t *k = opaque;
    json_t *root = json_loadb(json, len, 0, NULL);
    if (!root) return 0;
    int up = 0, known = 0;
    const char *name;
    json_t *b, *t;
    json_object_foreach(json_object_get(root, "brokers"), name, b) {
        /* Connections to brokers (and the group coordinator's); bootstrap
         * entries without a node id and internal queues aside. */
        const char *source = json_string_value(json_object_get(b, "source"));
        if (!source || !strcmp(source, "internal") ||
            json_integer_value(json_object_get(b, "nodeid")) < 0)
            continue;
        known++;
        const char *state = json_string_value(json_object_get(b, "state"));
        if (state && !strcmp(state, "UP")) up++;
    }
    metrics_clear(M_CONSUMER_LAG);
    const char *topic;
    json_object_foreach(json_object_get(root, "topics"), topic, t) {
        const char *pid;
        json_t *p;
        json_object_foreach(json_object_get(t, "partitions"), pid, p) {
            if (pid[0] == '-' || !json_is_true(json_object_get(p, "desired"))) continue;
            /* consumer_lag is -1 until the group has committed an offset for
             * the partition; the consumer then starts at the low watermark
             * (auto.offset.reset=earliest), so everything from there is lag. */
            long long lag = json_integer_value(json_object_get(p, "consumer_lag"));
            long long hi = json_integer_value(json_object_get(p, "hi_offset"));
            long long lo = json_integer_value(json_object_get(p, "lo_offset"));
            long long committed = json_integer_value(json_object_get(p, "committed_offset"));
            if (lag < 0 && committed < 0 && hi >= 0 && lo >= 0) lag = hi - lo;
            if (lag >= 0) metrics_set(M_CONSUMER_LAG, (double)lag, topic, pid);
        }
    }
    json_decref(root);
    pthread_mutex_lock(&k->stats_lock);
    k->stats_mono_ms = timefmt_mono_ms();
    k->brokers_up = up;
    k->brokers_known = known;
    pthread_mutex_unlock(&k->stats_lock);
    return 0;  /* json is librdkafka's to free */
}

/* The gauges of the consumer (caller holds k->lock). */
static void update_gauges(intake_t *k) {
    int assigned = 0;
    for (int i = 0; i < k->n_parts; i++) assigned += k->parts[i]->assigned;
    metrics_set(M_IN_FLIGHT, k->in_flight, NULL, NULL);
    metrics_set(M_PARTITIONS_ASSIGNED, assigned, NULL, NULL);
    metrics_set(M_PARTITIONS_PAUSED, k->paused ? assigned : 0, NULL, NULL);
}

static void probe_live(intake_t *k, admin_report_t *r) {
    /* The loop turns every 100 ms; a rebalance may hold it for a drain. */
    int64_t age = timefmt_mono_ms() - atomic_load(&k->loop_mono_ms);
    int64_t limit = k->cfg->drain_ms + 30000;
    admin_report_add(r, "consumer_loop", age <= limit, "last turn %lld ms ago (limit %lld)",
                     (long long)age, (long long)limit);
}

static void probe_ready(intake_t *k, admin_report_t *r) {
    const config_t *cfg = k->cfg;
    if (atomic_load(&k->draining)) admin_report_add(r, "stopping", 0, "draining before exit");

    pthread_mutex_lock(&k->stats_lock);
    int64_t at = k->stats_mono_ms;
    int up = k->brokers_up, known = k->brokers_known;
    pthread_mutex_unlock(&k->stats_lock);
    int64_t age = timefmt_mono_ms() - at;
    if (at == 0 && atomic_load(&k->ever_assigned))
        /* The group's answer came through a broker: connected, even before
         * the first statistics (KAFKA_STATS_INTERVAL_MS after the start). */
        admin_report_add(r, "kafka", 1, "group assignment received; no statistics yet");
    else if (at == 0)
        admin_report_add(r, "kafka", 0, "no statistics from librdkafka yet");
    else if (age > 3 * cfg->kafka_stats_ms + 1000)
        admin_report_add(r, "kafka", 0, "statistics are %lld ms old", (long long)age);
    else
        admin_report_add(r, "kafka", up > 0, "%d of %d broker connection(s) up", up, known);

    /* The group gave this replica its first assignment (possibly empty: a
     * group with more replicas than partitions); before that it consumes
     * nothing, and an orchestrator starting replicas in turn should wait. */
    pthread_mutex_lock(&k->lock);
    int assigned = 0;
    for (int i = 0; i < k->n_parts; i++) assigned += k->parts[i]->assigned;
    pthread_mutex_unlock(&k->lock);
    if (atomic_load(&k->ever_assigned))
        admin_report_add(r, "consumer", 1, "in group %s, %d partition(s) assigned",
                         cfg->kafka_group_id, assigned);
    else
        admin_report_add(r, "consumer", 0, "waiting for the group's first assignment");

    /* PQping needs no credentials and sends none. */
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {cfg->database_url, "2", NULL};
    PGPing ping = PQpingParams(keys, vals, 1);
    int ledger_down = atomic_load(&k->shared.ledger_down);
    admin_report_add(r, "postgres", ping == PQPING_OK && !ledger_down, "%s%s",
                     ping == PQPING_OK       ? "accepting connections"
                     : ping == PQPING_REJECT ? "rejecting connections"
                     : ping == PQPING_NO_ATTEMPT ? "bad connection parameters"
                                                 : "no response",
                     ledger_down ? "; the ledger's last statement failed" : "");

    char err[256] = "";
    redisReply *rep = k->probe_redis ? redisconn_command(k->probe_redis, err, sizeof(err), "PING")
                                     : NULL;
    int redis_ok = rep != NULL;
    if (rep) freeReplyObject(rep);
    int required = cfg->quota_down_mode == 2; /* QUOTA_REDIS_DOWN_MODE=closed */
    admin_report_add(r, "redis", redis_ok || !required, "%s%s",
                     redis_ok ? "PONG" : err[0] ? err : "unreachable",
                     redis_ok   ? ""
                     : required ? " (QUOTA_REDIS_DOWN_MODE=closed: required)"
                                : " (QUOTA_REDIS_DOWN_MODE=local: quotas kept locally)");

    int open = 0, used = 0;
    circuits_open_count(k->shared.circuits, &open, &used);
    admin_report_add(r, "breakers", used == 0 || open < used,
                     "%d of the %d breakers that have seen calls are open", open, used);
}

static void probe(void *ud, admin_probe_t which, admin_report_t *r) {
    if (which == ADMIN_PROBE_LIVE) probe_live(ud, r);
    else probe_ready(ud, r);
}

/* ---- setup and the main loop --------------------------------------------- */

static int conf_set(rd_kafka_conf_t *c, const char *key, const char *val) {
    char e[256];
    if (rd_kafka_conf_set(c, key, val, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        log_msg(LOG_ERROR, "config_invalid", NULL, "kafka setting %s: %s", key, e);
        return -1;
    }
    return 0;
}

static rd_kafka_t *consumer_new(intake_t *k) {
    const config_t *cfg = k->cfg;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char session_ms[24];
    snprintf(session_ms, sizeof(session_ms), "%d", KAFKA_SESSION_TIMEOUT_MS);
    char client_id[160];
    snprintf(client_id, sizeof(client_id), "order-worker-%s", cfg->replica_id);
    if (conf_set(c, "bootstrap.servers", cfg->kafka_brokers) < 0 ||
        conf_set(c, "group.id", cfg->kafka_group_id) < 0 ||
        conf_set(c, "client.id", client_id) < 0 ||
        conf_set(c, "enable.auto.offset.store", "false") < 0 ||
        conf_set(c, "enable.auto.commit", "true") < 0 ||
        conf_set(c, "auto.commit.interval.ms", "1000") < 0 ||
        conf_set(c, "auto.offset.reset", "earliest") < 0 ||
        conf_set(c, "partition.assignment.strategy", "cooperative-sticky") < 0 ||
        conf_set(c, "session.timeout.ms", session_ms) < 0 ||
        conf_set(c, "max.poll.interval.ms", "300000") < 0 ||
        conf_set(c, "heartbeat.interval.ms", "1000") < 0) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    char stats_ms[24], err[512] = "";
    snprintf(stats_ms, sizeof(stats_ms), "%lld", (long long)cfg->kafka_stats_ms);
    /* Then what the configuration adds and overrides: security settings and
     * KAFKA_CONSUMER_<PROPERTY> (the local stack's fetch.wait.max.ms, ...). */
    if (conf_set(c, "statistics.interval.ms", stats_ms) < 0 ||
        config_kafka_apply(cfg, CONFIG_KAFKA_CONSUMER, c, err, sizeof(err)) < 0) {
        if (err[0]) log_msg(LOG_ERROR, "config_invalid", NULL, "%s", err);
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    /* The session timeout in force bounds the wait for a first assignment. */
    size_t len = sizeof(session_ms);
    k->session_timeout_ms = KAFKA_SESSION_TIMEOUT_MS;
    if (rd_kafka_conf_get(c, "session.timeout.ms", session_ms, &len) == RD_KAFKA_CONF_OK)
        k->session_timeout_ms = atoi(session_ms);
    rd_kafka_conf_set_stats_cb(c, on_stats);
    rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    rd_kafka_conf_set_log_cb(c, log_kafka);
    rd_kafka_conf_set_opaque(c, k);
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof(e));
    if (!rk) {
        log_msg(LOG_ERROR, "kafka_failed", NULL, "consumer: %s", e);
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static void intake_free(intake_t *k) {
    for (int i = 0; i < k->n_lanes; i++) {
        pipeline_free(k->lanes[i].pipeline);
        pthread_cond_destroy(&k->lanes[i].work_cv);
        free(k->lanes[i].buckets);  /* empty: lanes drain before they end */
    }
    free(k->lanes);
    account_gate_free(k->shared.gate);
    circuits_free(k->shared.circuits);
    budget_free(k->shared.budget);
    trading_stop(k->shared.trading);
    auth_stop(k->shared.auth);
    for (int i = 0; i < k->n_parts; i++) {
        free(k->parts[i]->offsets);
        free(k->parts[i]->done);
        free(k->parts[i]);
    }
    free(k->parts);
    redisconn_free(k->probe_redis);
    pthread_mutex_destroy(&k->lock);
    pthread_mutex_destroy(&k->stats_lock);
    pthread_cond_destroy(&k->done_cv);
}

int intake_run(const config_t *cfg, const volatile sig_atomic_t *stop,
               int64_t drain_ms) {
    intake_t k;
    memset(&k, 0, sizeof(k));
    k.cfg = cfg;
    pthread_mutex_init(&k.lock, NULL);
    pthread_mutex_init(&k.stats_lock, NULL);
    pthread_cond_init(&k.done_cv, NULL);
    atomic_init(&k.loop_mono_ms, timefmt_mono_ms());
    atomic_init(&k.draining, 0);
    atomic_init(&k.ever_assigned, 0);
    char err[512];
    k.pub = publish_new(cfg, err, sizeof(err));
    if (!k.pub) {
        log_msg(LOG_ERROR, "kafka_failed", NULL, "%s", err);
        intake_free(&k);
        return 1;
    }
    k.shared.pub = k.pub;
    k.shared.gate = account_gate_new(cfg);
    atomic_init(&k.shared.ledger_down, 0);
    k.shared.circuits = circuits_new(cfg, err, sizeof(err));
    if (k.shared.gate && k.shared.circuits)
        k.shared.budget = budget_new(cfg, err, sizeof(err));
    if (k.shared.budget) k.shared.trading = trading_start(cfg, err, sizeof(err));
    if (k.shared.trading) k.shared.auth = auth_start(cfg, err, sizeof(err));
    if (!k.shared.gate || !k.shared.circuits || !k.shared.budget || !k.shared.trading ||
        !k.shared.auth) {
        log_msg(LOG_ERROR, "start_failed", NULL, "%s", k.shared.gate ? err : "out of memory");
        intake_free(&k);
        publish_free(k.pub);
        return 1;
    }
    k.n_lanes = cfg->concurrency;
    k.lanes = calloc((size_t)k.n_lanes, sizeof(*k.lanes));
    for (int i = 0; i < k.n_lanes; i++) {
        k.lanes[i].owner = &k;
        pthread_cond_init(&k.lanes[i].work_cv, NULL);
        k.lanes[i].pipeline = pipeline_new(cfg, &k.shared, err, sizeof(err));
        if (!k.lanes[i].pipeline) {
            log_msg(LOG_ERROR, "start_failed", NULL, "%s", err);
            k.n_lanes = i + 1;
            intake_free(&k);
            publish_free(k.pub);
            return 1;
        }
    }
    /* The admin endpoint starts once what it reports on exists.  A port
     * that cannot be had stops the worker: two replicas on one port would
     * leave one of them invisible to monitoring. */
    k.probe_redis = redisconn_new(cfg->redis_url, "order-worker-readyz", 1000, err, sizeof(err));
    if (k.probe_redis) k.admin = admin_start(cfg, probe, &k, err, sizeof(err));
    if (!k.probe_redis || (!k.admin && err[0])) {
        log_msg(LOG_ERROR, "start_failed", NULL, "admin endpoint: %s", err);
        intake_free(&k);
        publish_free(k.pub);
        return 1;
    }
    k.rk = consumer_new(&k);
    if (!k.rk) {
        admin_stop(k.admin);
        intake_free(&k);
        publish_free(k.pub);
        return 1;
    }
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(topics, cfg->topic_bot, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics, cfg->topic_user, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k.rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        log_msg(LOG_ERROR, "kafka_failed", NULL, "subscribe: %s", rd_kafka_err2str(e));
        admin_stop(k.admin);
        rd_kafka_destroy(k.rk);
        intake_free(&k);
        publish_free(k.pub);
        return 1;
    }
    for (int i = 0; i < k.n_lanes; i++)
        pthread_create(&k.lanes[i].thread, NULL, lane_main, &k.lanes[i]);
    k.follower = fills_start(cfg, k.pub, k.shared.circuits, k.shared.budget, err, sizeof(err));
    if (!k.follower) log_msg(LOG_ERROR, "start_failed", NULL, "follower: %s", err);
    k.reconciler = reconcile_start(cfg, &k.shared, err, sizeof(err));
    if (!k.reconciler) log_msg(LOG_ERROR, "start_failed", NULL, "reconciler: %s", err);
    log_msg(LOG_INFO, "worker_started", NULL, "consuming %s and %s as group %s with %d lanes",
            cfg->topic_bot, cfg->topic_user, cfg->kafka_group_id, k.n_lanes);

    while (!*stop) {
        atomic_store(&k.loop_mono_ms, timefmt_mono_ms());
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k.rk, 100);
        if (m) {
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    log_msg(LOG_WARN, "kafka_error", NULL, "%s", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
            } else {
                dispatch(&k, m);
            }
        }
        pthread_mutex_lock(&k.lock);
        store_offsets(&k);
        update_gauges(&k);
        int in_flight = k.in_flight;
        pthread_mutex_unlock(&k.lock);
        /* Back-pressure: stop taking intents while too many are held, while
         * the ledger is down (nothing may be acted on without it), or while
         * the broker's order circuit is open (intents wait, not fail). */
        const char *why = NULL;
        if (in_flight >= cfg->max_in_flight) why = "too many intents in flight";
        else if (atomic_load(&k.shared.ledger_down)) why = "the ledger (PostgreSQL) is unreachable";
        else if (!circuits_allow_peek(k.shared.circuits, OP_PLACE))
            why = "the circuit breaker for place_order is open";
        if (!k.paused && why) set_paused(&k, 1, in_flight, why);
        else if (k.paused && !why && in_flight <= cfg->max_in_flight / 2)
            set_paused(&k, 0, in_flight, "");
    }

    /* Drain: let lanes finish what they hold, up to drain_ms. */
    atomic_store(&k.draining, 1);
    log_msg(LOG_INFO, "worker_draining", NULL, "stop requested; finishing in-flight intents");
    int64_t deadline = timefmt_mono_ms() + drain_ms;
    pthread_mutex_lock(&k.lock);
    k.stopping = 1;
    for (int i = 0; i < k.n_lanes; i++) pthread_cond_signal(&k.lanes[i].work_cv);
    while (k.in_flight > 0) {
        store_offsets(&k);
        if (timefmt_mono_ms() >= deadline) {
            log_msg(LOG_WARN, "worker_abandoning", NULL,
                    "%d intent(s) unfinished after %lld ms; leaving them for redelivery",
                    k.in_flight, (long long)drain_ms);
            for (int i = 0; i < k.n_parts; i++) atomic_store(&k.parts[i]->abandon, 1);
            deadline = INT64_MAX;
        }
        pthread_mutex_unlock(&k.lock);
        /* Keep serving the consumer (heartbeats, rebalances) while waiting. */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k.rk, 50);
        if (m) rd_kafka_message_destroy(m);  /* not taken: redelivered later */
        pthread_mutex_lock(&k.lock);
    }
    store_offsets(&k);
    pthread_mutex_unlock(&k.lock);
    for (int i = 0; i < k.n_lanes; i++) pthread_join(k.lanes[i].thread, NULL);
    fills_stop(k.follower);
    reconcile_stop(k.reconciler);

    await_first_assignment(&k);
    /* Commits the stored offsets and leaves the group. */
    e = rd_kafka_consumer_close(k.rk);
    if (e) log_msg(LOG_WARN, "kafka_close_failed", NULL, "%s", rd_kafka_err2str(e));
    admin_stop(k.admin);
    rd_kafka_destroy(k.rk);
    publish_free(k.pub);
    intake_free(&k);
    log_msg(LOG_INFO, "worker_stopped", NULL, "offsets committed; left the group");
    return 0;
}
