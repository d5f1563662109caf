/* kafka.c -- librdkafka helpers of the load generator (see kafka.h).
 *
 * Owns: the configuration both clients start from, setting a property with a
 * message on failure, and learning a topic's partition count.  Why: the producer (which connects
 * and learns the intent topics before the clock starts) and the reader
 * (which assigns every partition of the result topics) both need them. */
#include "kafka.h"

#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

/* Sets k = v on c; -1 (said on stderr) if librdkafka refuses it. */
static int kafka_set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char e[256];
    if (rd_kafka_conf_set(c, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "ow-loadgen: %s: %s\n", k, e);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *kafka_conf_new(const char *brokers, config_kafka_client_t client,
                                const char *const props[][2], size_t n) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int bad = kafka_set(c, "bootstrap.servers", brokers) < 0 ||
              kafka_set(c, "client.id", "ow-loadgen") < 0;
    for (size_t i = 0; i < n && !bad; i++) bad = kafka_set(c, props[i][0], props[i][1]) < 0;
    char e[512];
    if (!bad && config_kafka_apply_env(client, c, e, sizeof(e)) < 0) {
        fprintf(stderr, "ow-loadgen: %s\n", e);
        bad = 1;
    }
    if (bad) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    return c;
}

int kafka_partitions(rd_kafka_t *rk, const char *topic) {
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    if (!t) return -1;
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    for (int attempt = 0; attempt < 20 && n < 0; attempt++) {
        if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (md->topic_cnt == 1 && !md->topics[0].err) n = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        if (n < 0) usleep(250000);
    }
    rd_kafka_topic_destroy(t);
    return n;
}
