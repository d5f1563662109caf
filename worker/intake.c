/* intake.c -- the consumer, the lanes and their life (see intake.h).
 *
 * The main thread is the only one that talks to the consumer handle: it
 * polls, hands each message to a lane, stores offsets and serves rebalances.
 * Lanes are threads, each with its own pipeline (its own PostgreSQL, Redis
 * and HTTP connections) and a fair queue of messages per key (keyqueue.h).
 * They come in three pools, so that work waiting for the shared Alpaca
 * budget never holds back work that goes before it (budget.h's order):
 * cancel requests (WORKER_CANCEL_LANES), user intents (WORKER_USER_LANES)
 * and bot intents (WORKER_CONCURRENCY).  Within its pool, a message goes to
 * the lane chosen by a hash of its key, so one key's order intents are
 * always handled by one lane, in the order of their partition; a cancel
 * request overtakes them (pipeline_cancel.c waits for a target that is
 * still ahead of it, queued_before below).
 *
 * Offsets (offsets.h): lanes finish messages out of order across keys, so
 * the offset stored for commit is one past the longest prefix of a
 * partition's messages that are done: a message is never committed before
 * every message ahead of it in its partition has a durable outcome, so a
 * crash redelivers instead of losing.
 *
 * Rebalances use the cooperative protocol: before revoked partitions are
 * given up, their in-flight messages are finished and their offsets stored
 * (librdkafka commits stored offsets on unassign).
 *
 * One lock (intake_t.lock) guards the offsets, the lanes' queues and the
 * counters.  The consumer handle and its settings are consumer.h's; what
 * the admin endpoint reports comes from kafkastats.h (librdkafka's
 * statistics) and readiness.h (the checks).
 *
 * Life: intake_run starts in steps (publisher and what the lanes share,
 * lanes, admin endpoint, consumer, follower, reconciler and position
 * checker), consumes until
 * asked to stop, drains, and tears down with intake_teardown, which frees
 * whatever was made: a step that fails leaves the rest to it. */
#include "intake.h"

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
#include "consumer.h"
#include "fills.h"
#include "fnv.h"
#include "jsonscan.h"
#include "kafkastats.h"
#include "keyqueue.h"
#include "log.h"
#include "metrics.h"
#include "offsets.h"
#include "pipeline.h"
#include "positions_check.h"
#include "publish.h"
#include "readiness.h"
#include "reconcile.h"
#include "redisconn.h"
#include "timefmt.h"
#include "trading.h"

/* How long a worker stopped before its first assignment waits for it
 * (await_first_assignment). */
#define AWAIT_ASSIGNMENT_MS(session_ms) (2 * (session_ms) + 2000)

/* One consumed message on its way through a lane. */
typedef struct job {
    rd_kafka_message_t *msg;
    offsets_part_t *part;
    intent_source_t source;
    int64_t consumed_mono_us;
} job_t;

/* A lane serves its keys round-robin, users' keys first (keyqueue.h): a bot
 * that floods gets its turn like any other key in the lane, never all the
 * turns, and a user's intent overtakes the bots' queued ones. */
typedef struct lane {
    pthread_t thread;
    struct intake *owner;
    pipeline_t *pipeline;
    keyqueue_t *queue;      /* job_t items; guarded by owner->lock */
    pthread_cond_t work_cv;
} lane_t;

typedef struct intake {
    const config_t *cfg;
    rd_kafka_t *rk;
    publisher_t *pub;
    pipeline_shared_t shared;  /* what the lanes share */
    follower_t *follower;
    reconciler_t *reconciler;
    positions_check_t *poscheck;
    lane_t *lanes;
    int n_lanes;            /* made: queue, pipeline and work_cv */
    int lanes_started;      /* of those, threads running */
    pthread_mutex_t lock;   /* guards offsets, lane queues, counters */
    pthread_cond_t done_cv; /* a message finished */
    offsets_t *offsets;
    int in_flight;
    int in_flight_of[2];    /* by intent_source_t: back-pressure is per topic */
    int stopping;           /* lanes exit when their queue is empty */
    int paused_of[2];       /* by intent_source_t: that topic's consumption is
                               paused for back-pressure */
    int session_timeout_ms;   /* the consumer's, as configured */
    atomic_int ever_assigned; /* an assignment arrived (set by the consumer
                                 thread, read by the readiness probe) */
    /* operations (admin.h); the admin thread reads these */
    admin_t *admin;
    redisconn_t *probe_redis;    /* the readiness check's own connection */
    kafkastats_t *stats;
    atomic_llong loop_mono_ms;   /* the consumer loop's last turn */
    atomic_int draining;
} intake_t;

/* Stores every new done-prefix offset (caller holds k->lock). */
static void store_offsets(intake_t *k) {
    for (int i = 0; i < offsets_count(k->offsets); i++) {
        offsets_part_t *p = offsets_at(k->offsets, i);
        int64_t store = offsets_take_store(p);
        if (store < 0) continue;
        const char *topic = offsets_topic(p);
        int32_t partition = offsets_partition(p);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, partition)->offset = store;
        rd_kafka_resp_err_t e = rd_kafka_offsets_store(k->rk, l);
        if (e || l->elems[0].err)
            log_msg(LOG_WARN, "offset_store_failed", NULL, "%s[%d]@%lld: %s", topic,
                    (int)partition, (long long)store,
                    rd_kafka_err2str(e ? e : l->elems[0].err));
        rd_kafka_topic_partition_list_destroy(l);
    }
}

/* Waits up to ms for a message to finish (caller holds k->lock). */
static void wait_done(intake_t *k, long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&k->done_cv, &k->lock, &ts);
}

/* ---- lanes ------------------------------------------------------------------- */

/* The lane's next batch: up to max jobs of distinct keys, waiting for them;
 * a lane out of work first writes its pipeline's deferred bookkeeping.
 * 0 once the intake stops and the lane's queue is empty. */
static int lane_wait(lane_t *lane, job_t **jobs, int max) {
    intake_t *k = lane->owner;
    void *taken[PIPELINE_BATCH_MAX];
    int n;
    for (;;) {
        pthread_mutex_lock(&k->lock);
        n = keyqueue_take(lane->queue, taken, max);
        if (n || !pipeline_has_deferred(lane->pipeline)) break;
        pthread_mutex_unlock(&k->lock);
        pipeline_idle(lane->pipeline);
    }
    while (!n && !k->stopping) {
        pthread_cond_wait(&lane->work_cv, &k->lock);
        n = keyqueue_take(lane->queue, taken, max);
    }
    pthread_mutex_unlock(&k->lock);
    for (int i = 0; i < n; i++) jobs[i] = taken[i];
    return n;
}

/* The message's signature header's value, NULL (and *len 0) for none: a
 * header with a NULL value is a missing signature. */
static const void *message_sig(const rd_kafka_message_t *m, size_t *len) {
    rd_kafka_headers_t *hdrs = NULL;
    const void *sig = NULL;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(hdrs, AUTH_HEADER, &sig, len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        sig = NULL;
    if (!sig) *len = 0;
    return sig;
}

/* The pipeline's view of the batch's messages. */
static void lane_items(job_t **jobs, pipeline_item_t *items, int n) {
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = jobs[i]->msg;
        size_t sig_len = 0;
        const void *sig = message_sig(m, &sig_len);
        items[i] = (pipeline_item_t){
            {rd_kafka_topic_name(m->rkt), m->partition, m->offset, m->key, m->key_len},
            jobs[i]->source, m->payload ? m->payload : "", m->payload ? m->len : 0,
            offsets_abandon_flag(jobs[i]->part), sig, sig_len, 0, -1};
    }
}

/* The batch is handled: each message is finished in its partition's
 * offsets (done when its outcome is recorded), and freed. */
static void lane_finish(lane_t *lane, job_t **jobs, const pipeline_item_t *items, int n) {
    intake_t *k = lane->owner;
    int64_t now = timefmt_mono_us();
    for (int i = 0; i < n; i++)
        if (items[i].rc == 0)
            metrics_observe(M_INTENT_SECONDS, (double)(now - jobs[i]->consumed_mono_us) / 1e6,
                            items[i].from.topic, NULL);
    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < n; i++) {
        /* An abandoned message is not marked done: its offset is never
         * stored, so it is redelivered to whoever owns the partition
         * next. */
        offsets_finish(jobs[i]->part, jobs[i]->msg->offset, items[i].rc == 0);
        k->in_flight--;
        k->in_flight_of[jobs[i]->source]--;
    }
    pthread_cond_broadcast(&k->done_cv);
    pthread_mutex_unlock(&k->lock);
    for (int i = 0; i < n; i++) {
        rd_kafka_message_destroy(jobs[i]->msg);
        free(jobs[i]);
    }
}

static void *lane_main(void *arg) {
    lane_t *lane = arg;
    const config_t *cfg = lane->owner->cfg;
    char name[16];
    snprintf(name, sizeof(name), "ow-lane-%d", (int)(lane - lane->owner->lanes));
    pthread_setname_np(pthread_self(), name);  /* top -H, perf */
    job_t *jobs[PIPELINE_BATCH_MAX];
    pipeline_item_t items[PIPELINE_BATCH_MAX];
    int max = cfg->batch_max < PIPELINE_BATCH_MAX ? cfg->batch_max : PIPELINE_BATCH_MAX;
    for (int n; (n = lane_wait(lane, jobs, max)) > 0;) {
        for (int i = 0; i < n; i++)
            metrics_stage("intake", "lane_wait", jobs[i]->consumed_mono_us, 1);
        lane_items(jobs, items, n);
        pipeline_handle_many(lane->pipeline, items, n);
        lane_finish(lane, jobs, items, n);
    }
    return NULL;
}

static unsigned int key_hash_of(const void *key, size_t key_len, int32_t partition) {
    /* FNV-1a of the key; messages without a key stay in partition order. */
    if (key && key_len) return fnv1a(FNV1A_BASIS, key, key_len);
    return fnv1a_mix(FNV1A_BASIS, (uint32_t)partition);
}

static unsigned int key_hash(const rd_kafka_message_t *m) {
    return key_hash_of(m->key, m->key_len, m->partition);
}

/* The kafka_in stage: from the message's creation time (the producer's
 * clock, in milliseconds) to its consumption here.  On one machine it is
 * the producer's linger, the broker and this consumer's fetch wait; across
 * machines it includes their clocks' difference, so it is observed only
 * when the timestamp is the producer's and not in the future. */
static void observe_kafka_in(const rd_kafka_message_t *m) {
    rd_kafka_timestamp_type_t type;
    int64_t created = rd_kafka_message_timestamp(m, &type);
    int64_t ms = timefmt_now_ms() - created;
    if (type == RD_KAFKA_TIMESTAMP_CREATE_TIME && created > 0 && ms >= 0)
        metrics_observe(M_STAGE_SECONDS, (double)ms / 1000.0, "intake", "kafka_in");
}

/* Whether the message's JSON object has a top-level member key whose
 * value is exactly value (both as JSON text, quotes included), after a
 * quick look for value's bytes (most messages are not what is sought).
 * Anything unreadable has none. */
static int member_is(const rd_kafka_message_t *m, const char *key, const char *value) {
    size_t klen = strlen(key), vlen = strlen(value);
    if (!m->payload || !memmem(m->payload, m->len, value, vlen)) return 0;
    const char *s = m->payload;
    jsonscan_t sc;
    int is = 0;
    if (jsonscan_object(s, m->len, &sc) == 0)
        for (size_t i = 0; i < sc.n; i++) {
            const jsonscan_member_t *e = &sc.m[i];
            if (e->key_len == klen && !memcmp(s + e->key_off, key, klen))
                is = e->val_len == vlen && !memcmp(s + e->val_off, value, vlen);
        }
    jsonscan_free(&sc);
    return is;
}

/* Whether the message is a cancel request: its "action" is "cancel". */
static int is_cancel(const rd_kafka_message_t *m) {
    return member_is(m, "\"action\"", "\"cancel\"");
}

/* The lane of an order intent (cancel: a cancel request) of source with
 * the key's hash h: its pool's lane for its key. */
static lane_t *lane_of(intake_t *k, int cancel, intent_source_t source, unsigned int h) {
    int first = 0, n = k->cfg->cancel_lanes;
    if (!cancel) {
        first = n;
        n = k->cfg->user_lanes;
        if (source == INTENT_SOURCE_BOT) {
            first += n;
            n = k->cfg->concurrency;
        }
    }
    return &k->lanes[first + (int)(h % (unsigned)n)];
}

static intent_source_t source_of(const intake_t *k, const char *topic) {
    return !strcmp(topic, k->cfg->topic_user) ? INTENT_SOURCE_USER : INTENT_SOURCE_BOT;
}

/* The key a message is queued under: its Kafka key, or for a message
 * without one its partition's ("#3"), so that those keep their order. */
static const void *queue_key(const void *key, size_t key_len, int32_t partition,
                             char nokey[16], size_t *len) {
    if (key && key_len) {
        *len = key_len;
        return key;
    }
    *len = (size_t)snprintf(nokey, 16, "#%d", (int)partition);
    return nokey;
}

/* keyqueue_find's match: the queued job is the message of intent ctx. */
static int job_is_intent(const void *item, void *ctx) {
    char quoted[48];
    snprintf(quoted, sizeof(quoted), "\"%s\"", (const char *)ctx);
    return member_is(((const job_t *)item)->msg, "\"intent_id\"", quoted);
}

/* Copies what the pipeline needs of m into c (pipeline.h); -1 without
 * memory. */
static int copy_message(const rd_kafka_message_t *m, intent_source_t source,
                        pipeline_copy_t *c) {
    memset(c, 0, sizeof(*c));
    snprintf(c->topic, sizeof(c->topic), "%s", rd_kafka_topic_name(m->rkt));
    size_t sig_len = 0;
    const void *sig = message_sig(m, &sig_len);
    c->bytes = malloc(m->len + 1);
    c->key = malloc(m->key_len + 1);
    c->sig = malloc(sig ? sig_len + 1 : 1);
    if (!c->bytes || !c->key || !c->sig) {
        pipeline_copy_free(c);
        return -1;
    }
    if (m->len) memcpy(c->bytes, m->payload, m->len);
    if (m->key_len) memcpy(c->key, m->key, m->key_len);
    if (sig) memcpy(c->sig, sig, sig_len);
    c->item = (pipeline_item_t){{c->topic, m->partition, m->offset, m->key ? c->key : NULL,
                                 m->key_len},
                                source, c->bytes, m->len, NULL, sig ? c->sig : NULL,
                                sig ? sig_len : 0, 0, -1};
    return 0;
}

/* pipeline_shared_t.find_queued: the order intent target_id, queued under
 * the same key as the cancel request `from` (in its order intents' lane),
 * copied into *out.  1 found, 0 not, -1 without memory. */
static int find_queued(void *ctx, const origin_t *from, const char *target_id,
                       pipeline_copy_t *out) {
    intake_t *k = ctx;
    intent_source_t source = source_of(k, from->topic);
    char nokey[16];
    size_t len;
    const void *key = queue_key(from->key, from->key_len, from->partition, nokey, &len);
    lane_t *lane = lane_of(k, 0, source, key_hash_of(from->key, from->key_len, from->partition));
    keyqueue_class_t cls = source == INTENT_SOURCE_USER ? KEYQUEUE_USERS : KEYQUEUE_BOTS;
    int rc = 0;
    pthread_mutex_lock(&k->lock);
    job_t *j = keyqueue_find(lane->queue, cls, key, len, job_is_intent, (void *)target_id);
    if (j) rc = copy_message(j->msg, j->source, out) < 0 ? -1 : 1;
    pthread_mutex_unlock(&k->lock);
    return rc;
}

/* pipeline_shared_t.queued_before: a message before `from` in its
 * partition is still queued or in a lane here. */
static int queued_before(void *ctx, const origin_t *from) {
    intake_t *k = ctx;
    pthread_mutex_lock(&k->lock);
    offsets_part_t *p = offsets_part(k->offsets, from->topic, from->partition, 0);
    int ahead = p && offsets_pending_before(p, from->offset);
    pthread_mutex_unlock(&k->lock);
    return ahead;
}

static void dispatch(intake_t *k, rd_kafka_message_t *m) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    intent_source_t source = source_of(k, topic);
    lane_t *lane = lane_of(k, is_cancel(m), source, key_hash(m));
    job_t *j = calloc(1, sizeof(*j));
    char nokey[16];
    size_t key_len;
    const void *key = queue_key(m->key, m->key_len, m->partition, nokey, &key_len);
    keyqueue_class_t cls = source == INTENT_SOURCE_USER ? KEYQUEUE_USERS : KEYQUEUE_BOTS;
    pthread_mutex_lock(&k->lock);
    offsets_part_t *p = offsets_part(k->offsets, topic, m->partition, 1);
    if (j) {
        j->msg = m;
        j->part = p;
        j->source = source;
        j->consumed_mono_us = timefmt_mono_us();
    }
    if (!j || !p || offsets_push(p, m->offset) < 0 ||
        keyqueue_push(lane->queue, cls, key, key_len, j) < 0) {
        pthread_mutex_unlock(&k->lock);
        /* Without memory nothing safe can be done: not storing the offset
         * and leaving lets the group redeliver it. */
        log_msg(LOG_ERROR, "out_of_memory", NULL, "cannot queue a message; exiting");
        abort();
    }
    k->in_flight++;
    k->in_flight_of[source]++;
    pthread_cond_signal(&lane->work_cv);
    pthread_mutex_unlock(&k->lock);
    metrics_add(M_INTENTS_CONSUMED, 1, topic, NULL);
    observe_kafka_in(m);
}

/* The topic of a source (intent_source_t). */
static const char *topic_of(const intake_t *k, int src) {
    return src == INTENT_SOURCE_USER ? k->cfg->topic_user : k->cfg->topic_bot;
}

/* The partitions of parts on topic, a new list (NULL without memory). */
static rd_kafka_topic_partition_list_t *topic_parts(const rd_kafka_topic_partition_list_t *parts,
                                                     const char *topic) {
    rd_kafka_topic_partition_list_t *of = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; of && i < parts->cnt; i++)
        if (!strcmp(parts->elems[i].topic, topic))
            rd_kafka_topic_partition_list_add(of, topic, parts->elems[i].partition);
    return of;
}

/* ---- rebalances -------------------------------------------------------------- */

/* Messages of the listed partitions still queued or in a lane (caller
 * holds k->lock). */
static int pending_of(intake_t *k, rd_kafka_topic_partition_list_t *parts) {
    int n = 0;
    for (int i = 0; i < parts->cnt; i++) {
        offsets_part_t *p =
            offsets_part(k->offsets, parts->elems[i].topic, parts->elems[i].partition, 0);
        if (p) n += offsets_pending(p);
    }
    return n;
}

/* Abandons, or with revoke gives up, the listed partitions (caller holds
 * k->lock). */
static void release_partitions(intake_t *k, rd_kafka_topic_partition_list_t *parts,
                               int revoke) {
    for (int i = 0; i < parts->cnt; i++) {
        offsets_part_t *p =
            offsets_part(k->offsets, parts->elems[i].topic, parts->elems[i].partition, 0);
        if (p && revoke) offsets_revoke(p);
        else if (p) offsets_abandon(p);
    }
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
        int pending = pending_of(k, parts);
        if (pending == 0) break;
        if (timefmt_mono_ms() >= deadline) {
            log_msg(LOG_WARN, "revocation_abandoning", NULL,
                    "%d message(s) of revoked partitions unfinished after %lld ms; "
                    "leaving them for redelivery",
                    pending, (long long)k->cfg->drain_ms);
            release_partitions(k, parts, 0);
            deadline = INT64_MAX;
        }
        wait_done(k, 100);
    }
    store_offsets(k);
    /* Abandoned offsets are forgotten: the next owner starts at the
     * committed offset and redelivers them. */
    release_partitions(k, parts, 1);
    pthread_mutex_unlock(&k->lock);
}

static void set_assigned(intake_t *k, rd_kafka_topic_partition_list_t *parts) {
    pthread_mutex_lock(&k->lock);
    for (int i = 0; i < parts->cnt; i++) {
        offsets_part_t *p =
            offsets_part(k->offsets, parts->elems[i].topic, parts->elems[i].partition, 1);
        if (p) offsets_assign(p);
    }
    pthread_mutex_unlock(&k->lock);
}

static void on_assign(intake_t *k, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                      int cooperative) {
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
    /* A pause belongs to this process and topic, not to the partition:
     * newly assigned partitions join their topic's back-pressure state. */
    for (int src = 0; src < 2; src++) {
        rd_kafka_topic_partition_list_t *of = topic_parts(parts, topic_of(k, src));
        if (!of) continue;
        if (k->paused_of[src]) rd_kafka_pause_partitions(rk, of);
        else rd_kafka_resume_partitions(rk, of);
        rd_kafka_topic_partition_list_destroy(of);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    intake_t *k = opaque;
    int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(k, rk, parts, cooperative);
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

/* Back-pressure is per topic: a flood of bot intents that fills a replica
 * pauses the bot topic, never the users' (their intents go on to their own
 * lanes and first in the budget).  Cancel requests travel on their target's
 * topic: one published behind more than WORKER_MAX_IN_FLIGHT intents of
 * this replica waits for them to be taken. */

static void set_paused(intake_t *k, int src, int pause, int in_flight, const char *why) {
    rd_kafka_topic_partition_list_t *a = NULL, *of;
    if (rd_kafka_assignment(k->rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    of = topic_parts(a, topic_of(k, src));
    rd_kafka_topic_partition_list_destroy(a);
    if (!of) return;
    if (pause) rd_kafka_pause_partitions(k->rk, of);
    else rd_kafka_resume_partitions(k->rk, of);
    rd_kafka_topic_partition_list_destroy(of);
    k->paused_of[src] = pause;
    log_msg(LOG_INFO, pause ? "consumption_paused" : "consumption_resumed", NULL,
            "%s: %s%s%d message(s) of it in flight (limit %d)", topic_of(k, src), why,
            *why ? "; " : "", in_flight, k->cfg->max_in_flight);
}

/* Stops taking a topic's intents while too many of them are held, and
 * every topic's while the ledger is down (nothing may be acted on without
 * it) or the broker's order circuit is open (intents wait, not fail);
 * takes them again once none holds and at most half the limit is in
 * flight. */
static void back_pressure(intake_t *k, const int in_flight_of[2]) {
    const char *all = NULL;
    if (atomic_load(&k->shared.ledger_down)) all = "the ledger (PostgreSQL) is unreachable";
    else if (!circuits_allow_peek(k->shared.circuits, OP_PLACE))
        all = "the circuit breaker for place_order is open";
    for (int src = 0; src < 2; src++) {
        const char *why = in_flight_of[src] >= k->cfg->max_in_flight
                              ? "too many intents in flight" : all;
        if (!k->paused_of[src] && why) set_paused(k, src, 1, in_flight_of[src], why);
        else if (k->paused_of[src] && !why && in_flight_of[src] <= k->cfg->max_in_flight / 2)
            set_paused(k, src, 0, in_flight_of[src], "");
    }
}

/* ---- operations: statistics, gauges, probes --------------------------------- */

/* librdkafka's statistics, on the consumer thread (kafkastats.h). */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    intake_t *k = opaque;
    kafkastats_update(k->stats, json, len);
    return 0;  /* json is librdkafka's to free */
}

/* The gauges of the consumer (caller holds k->lock). */
static void update_gauges(intake_t *k) {
    int assigned = offsets_assigned(k->offsets);
    metrics_set(M_IN_FLIGHT, k->in_flight, NULL, NULL);
    metrics_set(M_PARTITIONS_ASSIGNED, assigned, NULL, NULL);
    int paused = 0;
    for (int i = 0; i < offsets_count(k->offsets); i++) {
        offsets_part_t *p = offsets_at(k->offsets, i);
        int src = !strcmp(offsets_topic(p), k->cfg->topic_user) ? INTENT_SOURCE_USER
                                                                  : INTENT_SOURCE_BOT;
        paused += offsets_is_assigned(p) && k->paused_of[src];
    }
    metrics_set(M_PARTITIONS_PAUSED, paused, NULL, NULL);
}

/* The admin endpoint's probe, on its thread: a snapshot for readiness.h. */
static void probe(void *ud, admin_probe_t which, admin_report_t *r) {
    intake_t *k = ud;
    readiness_state_t s;
    memset(&s, 0, sizeof(s));
    s.loop_age_ms = timefmt_mono_ms() - atomic_load(&k->loop_mono_ms);
    if (which == ADMIN_PROBE_LIVE) {
        readiness_check_live(k->cfg, &s, r);
        return;
    }
    s.draining = atomic_load(&k->draining);
    s.ever_assigned = atomic_load(&k->ever_assigned);
    kafkastats_read(k->stats, &s.stats_at_mono_ms, &s.brokers_up, &s.brokers_known);
    pthread_mutex_lock(&k->lock);
    s.assigned = offsets_assigned(k->offsets);
    pthread_mutex_unlock(&k->lock);
    s.ledger_down = atomic_load(&k->shared.ledger_down);
    s.redis = k->probe_redis;
    s.circuits = k->shared.circuits;
    readiness_check_ready(k->cfg, &s, r);
}

/* ---- setup, in steps: each returns -1 (logged) on failure -------------------- */

static int start_base(intake_t *k, const config_t *cfg) {
    memset(k, 0, sizeof(*k));
    k->cfg = cfg;
    pthread_mutex_init(&k->lock, NULL);
    pthread_cond_init(&k->done_cv, NULL);
    atomic_init(&k->loop_mono_ms, timefmt_mono_ms());
    atomic_init(&k->draining, 0);
    atomic_init(&k->ever_assigned, 0);
    atomic_init(&k->shared.ledger_down, 0);
    k->offsets = offsets_new();
    k->stats = kafkastats_new();
    if (k->offsets && k->stats) return 0;
    log_msg(LOG_ERROR, "start_failed", NULL, "out of memory");
    return -1;
}

/* The publisher and what the lanes share. */
static int start_shared(intake_t *k) {
    const config_t *cfg = k->cfg;
    char err[512];
    k->pub = publish_new(cfg, err, sizeof(err));
    if (!k->pub) {
        log_msg(LOG_ERROR, "kafka_failed", NULL, "%s", err);
        return -1;
    }
    pipeline_shared_t *s = &k->shared;
    s->pub = k->pub;
    s->gate = account_gate_new(cfg);
    s->circuits = circuits_new(cfg, err, sizeof(err));
    if (s->gate && s->circuits) s->budget = budget_new(cfg, err, sizeof(err));
    if (s->budget) s->trading = trading_start(cfg, err, sizeof(err));
    if (s->trading) s->auth = auth_start(cfg, err, sizeof(err));
    s->watch = cancelwatch_new();
    s->settled = settled_new();
    s->queued_before = queued_before;
    s->find_queued = find_queued;
    s->queued_ctx = k;
    if (s->gate && s->circuits && s->budget && s->trading && s->auth && s->watch && s->settled)
        return 0;
    log_msg(LOG_ERROR, "start_failed", NULL, "%s", s->gate ? err : "out of memory");
    return -1;
}

/* The lanes, each with its queue and pipeline, then their threads. */
static int start_lanes(intake_t *k) {
    const config_t *cfg = k->cfg;
    char err[512] = "out of memory";
    int total = cfg->cancel_lanes + cfg->user_lanes + cfg->concurrency;
    k->lanes = calloc((size_t)total, sizeof(*k->lanes));
    if (!k->lanes) {
        log_msg(LOG_ERROR, "start_failed", NULL, "%s", err);
        return -1;
    }
    for (int i = 0; i < total; i++) {
        lane_t *l = &k->lanes[i];
        l->owner = k;
        pthread_cond_init(&l->work_cv, NULL);
        k->n_lanes = i + 1;
        l->queue = keyqueue_new();
        if (l->queue) l->pipeline = pipeline_new(cfg, &k->shared, err, sizeof(err));
        if (!l->pipeline) {
            log_msg(LOG_ERROR, "start_failed", NULL, "%s", err);
            return -1;
        }
    }
    for (int i = 0; i < k->n_lanes; i++) {
        int rc = pthread_create(&k->lanes[i].thread, NULL, lane_main, &k->lanes[i]);
        if (rc != 0) {
            log_msg(LOG_ERROR, "start_failed", NULL, "cannot start lane %d of %d: %s", i + 1,
                    k->n_lanes, strerror(rc));
            return -1;
        }
        k->lanes_started = i + 1;
    }
    return 0;
}

/* The admin endpoint starts once what it reports on exists.  A port that
 * cannot be had stops the worker: two replicas on one port would leave one
 * of them invisible to monitoring. */
static int start_admin(intake_t *k) {
    char err[512];
    k->probe_redis =
        redisconn_new(k->cfg->redis_url, "order-worker-readyz", 1000, err, sizeof(err));
    if (k->probe_redis) k->admin = admin_start(k->cfg, probe, k, err, sizeof(err));
    if (k->probe_redis && (k->admin || !err[0])) return 0;
    log_msg(LOG_ERROR, "start_failed", NULL, "admin endpoint: %s", err);
    return -1;
}

static int start_consumer(intake_t *k) {
    consumer_callbacks_t cb = {on_rebalance, on_stats, k};
    k->rk = consumer_new(k->cfg, &cb, &k->session_timeout_ms);
    return k->rk ? consumer_subscribe(k->rk, k->cfg) : -1;
}

/* The follower, the reconciler and the position checker: without them
 * intents are still taken (their failure is logged, not fatal). */
static void start_helpers(intake_t *k) {
    char err[512];
    k->follower = fills_start(k->cfg, k->pub, k->shared.circuits, k->shared.budget,
                              k->shared.settled, err, sizeof(err));
    if (!k->follower) log_msg(LOG_ERROR, "start_failed", NULL, "follower: %s", err);
    k->reconciler = reconcile_start(k->cfg, &k->shared, err, sizeof(err));
    if (!k->reconciler) log_msg(LOG_ERROR, "start_failed", NULL, "reconciler: %s", err);
    k->poscheck = positions_check_start(k->cfg, k->shared.circuits, k->shared.budget, err,
                                        sizeof(err));
    if (!k->poscheck) log_msg(LOG_ERROR, "start_failed", NULL, "position checker: %s", err);
}

/* ---- running and stopping ------------------------------------------------------ */

static void consume(intake_t *k, const volatile sig_atomic_t *stop) {
    while (!*stop) {
        atomic_store(&k->loop_mono_ms, timefmt_mono_ms());
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 100);
        if (m && m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_msg(LOG_WARN, "kafka_error", NULL, "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        } else if (m) {
            dispatch(k, m);
        }
        pthread_mutex_lock(&k->lock);
        store_offsets(k);
        update_gauges(k);
        int in_flight_of[2] = {k->in_flight_of[0], k->in_flight_of[1]};
        pthread_mutex_unlock(&k->lock);
        back_pressure(k, in_flight_of);
    }
}

/* Drain: lets the lanes finish what they hold, up to drain_ms, storing
 * offsets as messages finish; then abandons the rest for redelivery. */
static void drain(intake_t *k, int64_t drain_ms) {
    atomic_store(&k->draining, 1);
    log_msg(LOG_INFO, "worker_draining", NULL, "stop requested; finishing in-flight intents");
    int64_t deadline = timefmt_mono_ms() + drain_ms;
    pthread_mutex_lock(&k->lock);
    k->stopping = 1;
    for (int i = 0; i < k->n_lanes; i++) pthread_cond_signal(&k->lanes[i].work_cv);
    while (k->in_flight > 0) {
        store_offsets(k);
        if (timefmt_mono_ms() >= deadline) {
            log_msg(LOG_WARN, "worker_abandoning", NULL,
                    "%d intent(s) unfinished after %lld ms; leaving them for redelivery",
                    k->in_flight, (long long)drain_ms);
            offsets_abandon_all(k->offsets);
            deadline = INT64_MAX;
        }
        pthread_mutex_unlock(&k->lock);
        /* Keep serving the consumer (heartbeats, rebalances) while waiting. */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 50);
        if (m) rd_kafka_message_destroy(m);  /* not taken: redelivered later */
        pthread_mutex_lock(&k->lock);
    }
    store_offsets(k);
    pthread_mutex_unlock(&k->lock);
}

/* Lets the lane threads run out of work and joins them. */
static void stop_lanes(intake_t *k) {
    pthread_mutex_lock(&k->lock);
    k->stopping = 1;
    for (int i = 0; i < k->lanes_started; i++) pthread_cond_signal(&k->lanes[i].work_cv);
    pthread_mutex_unlock(&k->lock);
    for (int i = 0; i < k->lanes_started; i++) pthread_join(k->lanes[i].thread, NULL);
    k->lanes_started = 0;
}

/* After the drain: the lanes, follower, reconciler and position checker
 * end, then the consumer commits the stored offsets and leaves the group. */
static void finish(intake_t *k, int64_t drain_ms) {
    drain(k, drain_ms);
    stop_lanes(k);
    fills_stop(k->follower);
    k->follower = NULL;
    reconcile_stop(k->reconciler);
    k->reconciler = NULL;
    positions_check_stop(k->poscheck);
    k->poscheck = NULL;
    await_first_assignment(k);
    rd_kafka_resp_err_t e = rd_kafka_consumer_close(k->rk);
    if (e) log_msg(LOG_WARN, "kafka_close_failed", NULL, "%s", rd_kafka_err2str(e));
}

/* Frees whatever the setup made, whichever step it got to. */
static void intake_teardown(intake_t *k) {
    stop_lanes(k);
    fills_stop(k->follower);
    reconcile_stop(k->reconciler);
    positions_check_stop(k->poscheck);
    admin_stop(k->admin);
    if (k->rk) rd_kafka_destroy(k->rk);
    for (int i = 0; i < k->n_lanes; i++) {
        pipeline_free(k->lanes[i].pipeline);
        keyqueue_free(k->lanes[i].queue);  /* empty: lanes drain before they end */
        pthread_cond_destroy(&k->lanes[i].work_cv);
    }
    free(k->lanes);
    account_gate_free(k->shared.gate);
    circuits_free(k->shared.circuits);
    budget_free(k->shared.budget);
    trading_stop(k->shared.trading);
    auth_stop(k->shared.auth);
    cancelwatch_free(k->shared.watch);
    settled_free(k->shared.settled);
    publish_free(k->pub);
    offsets_free(k->offsets);
    kafkastats_free(k->stats);
    redisconn_free(k->probe_redis);
    pthread_mutex_destroy(&k->lock);
    pthread_cond_destroy(&k->done_cv);
}

int intake_run(const config_t *cfg, const volatile sig_atomic_t *stop,
               int64_t drain_ms) {
    intake_t k;
    if (start_base(&k, cfg) < 0 || start_shared(&k) < 0 || start_lanes(&k) < 0 ||
        start_admin(&k) < 0 || start_consumer(&k) < 0) {
        intake_teardown(&k);
        return 1;
    }
    start_helpers(&k);
    log_msg(LOG_INFO, "worker_started", NULL,
            "consuming %s and %s as group %s with %d lanes (%d for cancels, %d for users, "
            "%d for bots)",
            cfg->topic_bot, cfg->topic_user, cfg->kafka_group_id, k.n_lanes, cfg->cancel_lanes,
            cfg->user_lanes, cfg->concurrency);
    consume(&k, stop);
    finish(&k, drain_ms);
    intake_teardown(&k);
    log_msg(LOG_INFO, "worker_stopped", NULL, "offsets committed; left the group");
    return 0;
}
