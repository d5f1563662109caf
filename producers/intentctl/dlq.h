/* dlq.h -- what `dlq list` (dlq.c) and `dlq replay` (dlq_replay.c) share:
 * a DLQ message as read, the options, and the replay's two steps. */
#ifndef INTENTCTL_DLQ_H
#define INTENTCTL_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "common.h"

/* One DLQ message, copied out of librdkafka's. */
typedef struct dlq_rec {
    int32_t partition;          /* on the DLQ */
    int64_t offset;
    int64_t timestamp;          /* -1: none */
    char *reason, *topic, *detail, *opart, *ooff; /* headers; NULL if absent */
    void *key, *value;
    size_t key_len, value_len;
    int has_key;
    /* replay */
    const char *to;             /* where it goes */
    int delivered;              /* 0 pending, 1 ok, -1 failed */
    rd_kafka_resp_err_t err;
    int32_t sent_partition;
    int64_t sent_offset;
} dlq_rec_t;

#define MAX_DLQ_OFFSETS 256

typedef struct dlq_opts {
    int json, all, dry_run;
    const char *reason, *to;
    int64_t timeout_ms;
    int32_t off_part[MAX_DLQ_OFFSETS];
    int64_t off_off[MAX_DLQ_OFFSETS];
    int off_found[MAX_DLQ_OFFSETS];
    int n_offsets, n_found;
} dlq_opts_t;

typedef struct dlq_ctx {
    const common_t *c;
    dlq_opts_t *o;
    int64_t listed;
    dlq_rec_t *recs;            /* replay: the chosen messages */
    size_t n_recs, cap_recs;
} dlq_ctx_t;

/* The value of header name (malloc'd), or NULL if absent. */
char *dlq_header_dup(rd_kafka_headers_t *h, const char *name);

/* Copies m into r: 0, or -1 out of memory (free r anyway). */
int dlq_rec_from(dlq_rec_t *r, const rd_kafka_message_t *m);
void dlq_rec_free(dlq_rec_t *r);

/* Sets name (valid UTF-8) or name_b64 (anything else); null if absent. */
void json_set_bytes(json_t *obj, const char *name, const void *p, size_t n, int present);

/* dlq replay, step one: a visitor of the DLQ's messages (dlq.c reads
 * them) keeping the chosen ones in ctx.  0 to go on, 1 once every --offset
 * is found, -1 out of memory. */
int dlq_replay_visit(void *ctx, const rd_kafka_message_t *m);

/* Step two: sends what was chosen (or says what would be sent) and reports
 * each; the exit code. */
int dlq_replay(const common_t *c, dlq_ctx_t *ctx);

#endif
