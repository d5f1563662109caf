/* partitions.c -- reading topics by plain assignment (see partitions.h).
 *
 * `tail` and `dlq` read result topics without joining a consumer group, so
 * they never take partitions from the workers' consumers or anyone else's,
 * and never move a committed offset.  This file owns what that takes:
 * the throwaway consumer, the partitions of each topic and where each ended
 * when the command started (so "read to the end" means the end as of the
 * start), and the assignment. */
#include "partitions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timefmt.h"

rd_kafka_t *reader_new(const common_t *c, const char *kind, int eof, int *rc) {
    char group[64], uuid[37];
    uuid_v4(uuid);
    snprintf(group, sizeof group, "intentctl-%s-%s", kind, uuid);
    const char *settings[] = {"group.id", group, "enable.auto.commit", "false",
                              "enable.auto.offset.store", "false", NULL, NULL, NULL};
    if (eof) {
        settings[6] = "enable.partition.eof";
        settings[7] = "true";
    }
    *rc = EXIT_USAGE;
    rd_kafka_conf_t *conf = make_conf(c, CONFIG_KAFKA_CONSUMER, settings);
    if (!conf)
        return NULL;
    char err[512];
    *rc = EXIT_KAFKA;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "intentctl: %s\n", err);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    if (check_connection(rk, c) != 0) {
        reader_close(rk);
        return NULL;
    }
    *rc = EXIT_OK_;
    return rk;
}

void reader_close(rd_kafka_t *rk) {
    if (!rk)
        return;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* The metadata of one topic, waiting (up to the connect timeout) while it
 * is still being created.  NULL after saying why. */
static const struct rd_kafka_metadata *topic_metadata(rd_kafka_t *rk, const common_t *c,
                                                      const char *name) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
    if (!rkt) {
        fprintf(stderr, "intentctl: topic %s: %s\n", name,
                rd_kafka_err2str(rd_kafka_last_error()));
        return NULL;
    }
    int64_t deadline = timefmt_mono_ms() + c->connect_timeout_ms;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;
    for (;;) {
        int64_t left = deadline - timefmt_mono_ms();
        err = rd_kafka_metadata(rk, 0, rkt, &md, (int)(left > 0 ? left : 1));
        if (!err && md->topic_cnt == 1 && md->topics[0].err)
            err = md->topics[0].err;
        if (!err || timefmt_mono_ms() >= deadline || err == RD_KAFKA_RESP_ERR__TRANSPORT)
            break;
        if (md) {
            rd_kafka_metadata_destroy(md);
            md = NULL;
        }
        usleep(200 * 1000);
    }
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1) {
        fprintf(stderr, "intentctl: topic %s at %s: %s\n", name, c->brokers,
                rd_kafka_err2str(err ? err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        if (md)
            rd_kafka_metadata_destroy(md);
        return NULL;
    }
    return md;
}

/* Appends the topic's partitions to ps.  0, or -1. */
static int parts_add_topic(rd_kafka_t *rk, const common_t *c, const char *name, parts_t *ps,
                           int *cap) {
    const struct rd_kafka_metadata *md = topic_metadata(rk, c, name);
    if (!md)
        return -1;
    int np = md->topics[0].partition_cnt;
    if (ps->n + np > *cap) {
        *cap = (ps->n + np) * 2;
        part_state_t *p = realloc(ps->p, (size_t)*cap * sizeof *p);
        if (!p) {
            rd_kafka_metadata_destroy(md);
            return -1;
        }
        ps->p = p;
    }
    for (int i = 0; i < np; i++) {
        part_state_t *p = &ps->p[ps->n++];
        p->topic = name;
        p->partition = md->topics[0].partitions[i].id;
        p->done = 0;
        p->end = 0;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

int parts_load(rd_kafka_t *rk, const common_t *c, const char *const *topics, int n_topics,
               int from_beginning, parts_t *ps) {
    int cap = 0;
    for (int t = 0; t < n_topics; t++)
        if (parts_add_topic(rk, c, topics[t], ps, &cap) != 0)
            return -1;
    for (int i = 0; i < ps->n; i++) {
        part_state_t *p = &ps->p[i];
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, p->topic, p->partition, &lo, &hi, (int)c->connect_timeout_ms);
        if (err) {
            fprintf(stderr, "intentctl: offsets of %s [%d]: %s\n", p->topic,
                    (int)p->partition, rd_kafka_err2str(err));
            return -1;
        }
        p->end = hi;
        /* empty, or starting at the end: nothing to read for -e */
        if (lo >= hi || !from_beginning)
            parts_mark_done(ps, p);
    }
    return 0;
}

int parts_assign(rd_kafka_t *rk, const parts_t *ps, int from_beginning, int unread_only) {
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(ps->n);
    for (int i = 0; i < ps->n; i++)
        if (!unread_only || !ps->p[i].done)
            rd_kafka_topic_partition_list_add(list, ps->p[i].topic, ps->p[i].partition)->offset =
                from_beginning ? RD_KAFKA_OFFSET_BEGINNING : ps->p[i].end;
    rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (aerr) {
        fprintf(stderr, "intentctl: assign: %s\n", rd_kafka_err2str(aerr));
        return -1;
    }
    return 0;
}

part_state_t *parts_find(parts_t *ps, const rd_kafka_message_t *m) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    for (int i = 0; i < ps->n; i++)
        if (ps->p[i].partition == m->partition && strcmp(ps->p[i].topic, topic) == 0)
            return &ps->p[i];
    return NULL;
}

void parts_mark_done(parts_t *ps, part_state_t *p) {
    if (p->done)
        return;
    p->done = 1;
    ps->n_done++;
}

void parts_free(parts_t *ps) {
    free(ps->p);
    memset(ps, 0, sizeof *ps);
}
