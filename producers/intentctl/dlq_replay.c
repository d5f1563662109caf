/* dlq_replay.c -- `intentctl dlq replay`: re-publishes chosen DLQ messages
 * (every one, those at given offsets, or those of one reason) byte for
 * byte, with their original key, to the topic they came from (x-dlq-topic)
 * or to --to, adding the header x-dlq-replayed-from, with the idempotent
 * producer; waits for every delivery and reports each message.
 *
 * This file owns the choosing (a visitor of dlq.c's reading, which stops
 * early once every --offset is found), the sending and the report. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dlq.h"

/* Whether m is one the options choose (marking the --offset it is). */
static int replay_chosen(dlq_opts_t *o, const rd_kafka_message_t *m) {
    int chosen = o->all;
    for (int i = 0; i < o->n_offsets; i++)
        if (o->off_part[i] == m->partition && o->off_off[i] == m->offset && !o->off_found[i]) {
            o->off_found[i] = 1;
            o->n_found++;
            chosen = 1;
        }
    if (!chosen && o->reason) {
        rd_kafka_headers_t *h = NULL;
        char *reason = rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR
                           ? dlq_header_dup(h, "x-dlq-reason")
                           : NULL;
        chosen = reason && strcmp(reason, o->reason) == 0;
        free(reason);
    }
    return chosen;
}

int dlq_replay_visit(void *ctx_, const rd_kafka_message_t *m) {
    dlq_ctx_t *ctx = ctx_;
    dlq_opts_t *o = ctx->o;
    if (!replay_chosen(o, m))
        return 0;
    if (ctx->n_recs == ctx->cap_recs) {
        size_t ncap = ctx->cap_recs ? ctx->cap_recs * 2 : 16;
        dlq_rec_t *n = realloc(ctx->recs, ncap * sizeof *n);
        if (!n) {
            fprintf(stderr, "intentctl: out of memory\n");
            return -1;
        }
        ctx->recs = n;
        ctx->cap_recs = ncap;
    }
    dlq_rec_t r;
    if (dlq_rec_from(&r, m) != 0) {
        dlq_rec_free(&r);
        fprintf(stderr, "intentctl: out of memory\n");
        return -1;
    }
    ctx->recs[ctx->n_recs++] = r;
    /* every --offset found: no need to read the rest */
    return o->n_offsets && o->n_found == o->n_offsets ? 1 : 0;
}

static void replay_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    dlq_rec_t *r = m->_private;
    if (!r)
        return;
    r->err = m->err;
    r->delivered = m->err ? -1 : 1;
    r->sent_partition = m->partition;
    r->sent_offset = m->offset;
}

static void replay_report(const common_t *c, const dlq_opts_t *o, const dlq_rec_t *r,
                          const char *status) {
    char from[300];
    snprintf(from, sizeof from, "%s/%d/%" PRId64, c->topic_dlq, (int)r->partition, r->offset);
    int sent = r->delivered == 1;
    const char *why = r->err ? rd_kafka_err2str(r->err) : "no x-dlq-topic header; give --to";
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s, s:i, s:I, s:o, s:o}", "status", status, "from", from,
                              "dlq_partition", (int)r->partition, "dlq_offset",
                              (json_int_t)r->offset, "reason",
                              r->reason ? json_bytes(r->reason, strlen(r->reason)) : json_null(),
                              "topic", r->to ? json_bytes(r->to, strlen(r->to)) : json_null());
        if (sent) {
            json_object_set_new(j, "partition", json_integer(r->sent_partition));
            json_object_set_new(j, "offset", json_integer(r->sent_offset));
        }
        if (r->delivered == -1)
            json_object_set_new(j, "error", json_string(why));
        json_set_bytes(j, "key", r->key, r->key_len, r->has_key);
        json_object_set_new(j, "bytes", json_integer((json_int_t)r->value_len));
        json_print_line(j);
        return;
    }
    if (sent)
        printf("replayed %s -> %s [%d] @%" PRId64 "\n", from, r->to, (int)r->sent_partition,
               r->sent_offset);
    else if (r->delivered == 0)
        printf("would replay %s -> %s (%s, %zu bytes)\n", from, r->to,
               r->reason ? r->reason : "-", r->value_len);
    else
        fprintf(stderr, "intentctl: replay of %s to %s failed: %s\n", from,
                r->to ? r->to : "?", why);
}

/* Reports each --offset that is not on the DLQ; how many. */
static int report_not_found(const common_t *c, const dlq_opts_t *o) {
    int missing = 0;
    for (int i = 0; i < o->n_offsets; i++) {
        if (o->off_found[i])
            continue;
        missing++;
        char from[300];
        snprintf(from, sizeof from, "%s/%d/%" PRId64, c->topic_dlq, (int)o->off_part[i],
                 o->off_off[i]);
        if (o->json)
            json_print_line(json_pack("{s:s, s:s, s:i, s:I}", "status", "not_found", "from",
                                      from, "dlq_partition", (int)o->off_part[i],
                                      "dlq_offset", (json_int_t)o->off_off[i]));
        else
            fprintf(stderr, "intentctl: no message at %s\n", from);
    }
    return missing;
}

/* Produces every chosen message not failed already (no destination),
 * retrying while the local queue is full. */
static void replay_produce(const common_t *c, rd_kafka_t *rk, dlq_ctx_t *ctx) {
    for (size_t i = 0; i < ctx->n_recs; i++) {
        dlq_rec_t *r = &ctx->recs[i];
        if (r->delivered)
            continue;
        char from[300];
        snprintf(from, sizeof from, "%s/%d/%" PRId64, c->topic_dlq, (int)r->partition, r->offset);
        for (;;) {
            rd_kafka_headers_t *h = rd_kafka_headers_new(1);
            rd_kafka_header_add(h, "x-dlq-replayed-from", -1, from, -1);
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(r->to),
                RD_KAFKA_V_KEY((r->has_key ? r->key : NULL), r->key_len),
                RD_KAFKA_V_VALUE(r->value, r->value_len), RD_KAFKA_V_HEADERS(h),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            rd_kafka_headers_destroy(h); /* still ours when producev fails */
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 100);
                continue;
            }
            r->err = e;
            r->delivered = -1;
            break;
        }
        rd_kafka_poll(rk, 0);
    }
}

/* Sends and waits; then reports each.  How many failed, or -1 with *rc
 * when no producer could be made. */
static int replay_send(const common_t *c, dlq_ctx_t *ctx, int *rc) {
    int64_t msg_timeout_ms;
    rd_kafka_t *rk = producer_new(c, replay_dr_cb, NULL, &msg_timeout_ms, rc);
    if (!rk)
        return -1;
    replay_produce(c, rk, ctx);
    producer_drain(rk, msg_timeout_ms, "message(s)");
    rd_kafka_destroy(rk);
    int failed = 0;
    for (size_t i = 0; i < ctx->n_recs; i++) {
        dlq_rec_t *r = &ctx->recs[i];
        if (r->delivered == 0) { /* purged: no report came */
            r->delivered = -1;
            r->err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        }
        replay_report(c, ctx->o, r, r->delivered == 1 ? "sent" : "failed");
        failed += r->delivered != 1;
    }
    return failed;
}

int dlq_replay(const common_t *c, dlq_ctx_t *ctx) {
    dlq_opts_t *o = ctx->o;
    int failed = report_not_found(c, o);
    if (ctx->n_recs == 0) {
        if (!o->n_offsets)
            fprintf(stderr, "intentctl: no DLQ message matched\n");
        return EXIT_REFUSED;
    }
    for (size_t i = 0; i < ctx->n_recs; i++) {
        dlq_rec_t *r = &ctx->recs[i];
        r->to = o->to ? o->to : r->topic;
        if (!r->to || !*r->to)
            r->delivered = -1;
    }
    if (o->dry_run) {
        for (size_t i = 0; i < ctx->n_recs; i++) {
            replay_report(c, o, &ctx->recs[i], ctx->recs[i].delivered ? "failed" : "dry_run");
            failed += ctx->recs[i].delivered != 0;
        }
        return failed ? EXIT_REFUSED : EXIT_OK_;
    }
    int rc;
    int sent_failed = replay_send(c, ctx, &rc);
    if (sent_failed < 0)
        return rc;
    return failed + sent_failed ? EXIT_REFUSED : EXIT_OK_;
}
