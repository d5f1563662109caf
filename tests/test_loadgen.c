/* test_loadgen.c -- the benchmark's load generator (bench/loadgen/) without
 * Kafka: its ids, its options, and how its reader counts the outcomes it
 * reads (fills and rejections apart: throughput is judged on fills). */
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "clock.h"
#include "ids.h"
#include "kafka.h"
#include "options.h"
#include "reader.h"
#include "report.h"
#include "run.h"
#include "unit.h"

static run_t RUN; /* large: not on the stack */

/* A load run of 100 s (no warm-up) set up as main would, without Kafka. */
static int setup(run_t *r) {
    char *argv[] = {"ow-loadgen", "--brokers", "127.0.0.1:1", "--rate", "10", "--duration",
                    "100", "--bots", "2", NULL};
    memset(r, 0, sizeof(*r));
    if (options_parse(9, argv, &r->o) != 0) return -1;
    return run_init(r);
}

/* The event of intent seq of run r: a fill-topic event of type, or (type
 * NULL) a rejection with reason. */
static void event(run_t *r, uint32_t seq, const char *type, const char *reason) {
    char id[37], buf[256];
    uint64_t rng = 1;
    ids_make(r->tag, seq, &rng, id);
    if (type)
        snprintf(buf, sizeof(buf), "{\"intent_id\":\"%s\",\"type\":\"%s\"}", id, type);
    else
        snprintf(buf, sizeof(buf), "{\"intent_id\": \"%s\", \"reason\": \"%s\"}", id, reason);
    reader_handle_event(r, buf, strlen(buf), type != NULL, -1);
}

static double section_real(json_t *rep, const char *section, const char *key) {
    return json_number_value(json_object_get(json_object_get(rep, section), key));
}

static void test_ids_round_trip(void) {
    uint64_t rng = 42;
    char id[37], tag_hex[9];
    uint32_t seq = 0;
    ids_make(0x1a2b3c4d, 0x0ABCDEF, &rng, id);
    EXPECT_INT(strlen(id), 36);
    EXPECT_INT(id[14], '4'); /* UUID v4 */
    snprintf(tag_hex, sizeof(tag_hex), "1a2b3c4d");
    EXPECT_INT(ids_parse(tag_hex, id, strlen(id), &seq), 1);
    EXPECT_INT(seq, 0x0ABCDEF);
    EXPECT_INT(ids_parse("00000000", id, strlen(id), &seq), 0);
    EXPECT_INT(ids_parse(tag_hex, "not-an-id", 9, &seq), -1);
    EXPECT_INT(ids_check_tag("1a2b3c4d"), 0);
    EXPECT_INT(ids_check_tag("1a2b3c4g"), -1);
    EXPECT_INT(ids_check_tag("1a2b3c4"), -1);
}

static void test_options_modes(void) {
    options_t o;
    char *ok[] = {"ow-loadgen", "--brokers", "b:1", "--rate", "max", "--count", "5", NULL};
    EXPECT_INT(options_parse(7, ok, &o), 0);
    EXPECT_INT(o.rate == 0, 1);
    EXPECT_INT(o.count, 5);
    EXPECT_INT(o.nsymbols, 8);
    char *no_rate[] = {"ow-loadgen", "--brokers", "b:1", "--duration", "3", NULL};
    EXPECT_INT(options_parse(5, no_rate, &o), -1);
    char *both[] = {"ow-loadgen", "--brokers", "b:1", "--produce-only", "--consume-only", NULL};
    EXPECT_INT(options_parse(5, both, &o), -1);
    char *bad_tag[] = {"ow-loadgen", "--brokers", "b:1", "--consume-only", "--expect", "3",
                       "--tag", "xyz12345", NULL};
    EXPECT_INT(options_parse(8, bad_tag, &o), -1);
    char *symbols[] = {"ow-loadgen", "--brokers", "b:1", "--rate", "5", "--duration", "1",
                       "--symbols", "AAPL,MSFT", NULL};
    EXPECT_INT(options_parse(9, symbols, &o), 0);
    EXPECT_INT(o.nsymbols, 2);
    EXPECT_STR(o.symbols[1], "MSFT");
}

/* Fills, rejections and canceled orders are counted apart; throughput
 * (intents_per_s) counts the fills only; duplicates, other runs' events and
 * unreadable ones count as such and nothing else. */
static void test_reader_counts_fills_apart(void) {
    run_t *r = &RUN;
    if (setup(r) != 0) UNIT_ABORT("setting up the run failed");
    for (uint32_t s = 0; s < 6; s++) {
        atomic_fetch_or(&r->flags[s], RUN_SENT);
        atomic_fetch_add(&r->sent, 1);
    }
    event(r, 0, "accepted", NULL);
    event(r, 0, "fill", NULL);
    event(r, 1, NULL, "quota_exceeded");
    event(r, 1, NULL, "quota_exceeded"); /* at-least-once: a duplicate */
    event(r, 2, NULL, "risk_limit");
    event(r, 3, "canceled", NULL);
    event(r, 4, "partial_fill", NULL);
    event(r, 4, "fill", NULL);
    event(r, 4, "fill", NULL); /* a duplicate */
    event(r, 9, "fill", NULL); /* never sent: foreign */
    reader_handle_event(r, "{\"type\":\"fill\"}", 15, 1, -1);
    EXPECT_INT(atomic_load(&r->terminal), 5);
    EXPECT_INT(atomic_load(&r->filled), 2);
    EXPECT_INT(atomic_load(&r->rejected), 2);
    EXPECT_INT(atomic_load(&r->accepted), 1);
    EXPECT_INT(atomic_load(&r->partial_fills), 1);
    EXPECT_INT(atomic_load(&r->duplicate_events), 2);
    EXPECT_INT(atomic_load(&r->foreign_events), 1);
    EXPECT_INT(atomic_load(&r->unreadable_events), 1);
    json_t *rep = report_build(r, 0, 0);
    EXPECT_INT(json_integer_value(json_object_get(json_object_get(rep, "throughput"),
                                                  "fills_in_window")), 2);
    EXPECT_NEAR(section_real(rep, "throughput", "intents_per_s"), 0.02, 1e-9);
    EXPECT_NEAR(section_real(rep, "throughput", "rejections_per_s"), 0.02, 1e-9);
    EXPECT_NEAR(section_real(rep, "throughput", "outcomes_per_s"), 0.05, 1e-9);
    EXPECT_INT(section_real(rep, "consumer", "filled"), 2);
    EXPECT_INT(section_real(rep, "consumer", "pending"), 1); /* seq 5 */
    json_t *nf = json_object_get(json_object_get(rep, "consumer"), "non_fill_outcomes");
    EXPECT_INT(json_integer_value(json_object_get(nf, "quota_exceeded")), 1);
    EXPECT_INT(json_integer_value(json_object_get(nf, "risk_limit")), 1);
    EXPECT_INT(json_integer_value(json_object_get(nf, "canceled")), 1);
    json_decref(rep);
    run_free(r);
}

/* A run whose outcomes are all rejections has no throughput. */
static void test_rejections_are_no_throughput(void) {
    run_t *r = &RUN;
    if (setup(r) != 0) UNIT_ABORT("setting up the run failed");
    for (uint32_t s = 0; s < 50; s++) {
        atomic_fetch_or(&r->flags[s], RUN_SENT);
        event(r, s, NULL, "quota_exceeded");
    }
    json_t *rep = report_build(r, 0, 1);
    EXPECT_NEAR(section_real(rep, "throughput", "intents_per_s"), 0, 1e-12);
    EXPECT_NEAR(section_real(rep, "throughput", "rejections_per_s"), 0.5, 1e-9);
    json_decref(rep);
    run_free(r);
}

/* Publication -> accepted and -> fill are measured from the time the
 * intent was produced, each event's hop from its Kafka timestamp; the
 * first fill of each intent goes to --fills-out with its order. */
static void test_latencies_and_fills_out(void) {
    run_t *r = &RUN;
    if (setup(r) != 0) UNIT_ABORT("setting up the run failed");
    char path[] = "/tmp/test_loadgen.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || !(r->fills_out = fdopen(fd, "w"))) UNIT_ABORT("cannot create %s", path);
    atomic_fetch_or(&r->flags[0], RUN_SENT);
    atomic_fetch_add(&r->sent, 1);
    int64_t now = clock_real_us();
    r->start_real_ms = now / 1000 - 100;  /* the run started 100 ms ago, */
    r->sent_real_us[0] = now - 30000;     /* the intent was produced 30 ms ago */
    char id[37], buf[256];
    uint64_t rng = 1;
    ids_make(r->tag, 0, &rng, id);
    snprintf(buf, sizeof(buf), "{\"intent_id\":\"%s\",\"type\":\"accepted\"}", id);
    reader_handle_event(r, buf, strlen(buf), 1, now / 1000 - 20);
    snprintf(buf, sizeof(buf),
             "{\"intent_id\":\"%s\",\"type\":\"fill\",\"order_id\":\"ord-1\"}", id);
    reader_handle_event(r, buf, strlen(buf), 1, now / 1000 - 5);
    reader_handle_event(r, buf, strlen(buf), 1, now / 1000 - 5); /* a duplicate */
    json_t *rep = report_build(r, 0, 1);
    EXPECT_INT(section_real(rep, "latency_created_to_accepted", "n"), 1);
    EXPECT_MSG(section_real(rep, "latency_created_to_accepted", "p50_ms") >= 30 &&
                   section_real(rep, "latency_created_to_accepted", "p50_ms") < 1000,
               "publication -> accepted %.3f ms", section_real(rep, "latency_created_to_accepted",
                                                               "p50_ms"));
    EXPECT_INT(section_real(rep, "latency_created_to_fill", "n"), 1);
    EXPECT_MSG(section_real(rep, "result_hop_accepted", "p50_ms") >= 20 &&
                   section_real(rep, "result_hop_accepted", "p50_ms") < 1000,
               "accepted hop %.3f ms", section_real(rep, "result_hop_accepted", "p50_ms"));
    EXPECT_MSG(section_real(rep, "result_hop_fill", "p50_ms") >= 5 &&
                   section_real(rep, "result_hop_fill", "p50_ms") <
                       section_real(rep, "result_hop_accepted", "p50_ms"),
               "fill hop %.3f ms", section_real(rep, "result_hop_fill", "p50_ms"));
    json_decref(rep);
    run_free(r);  /* closes fills_out */
    FILE *f = fopen(path, "r");
    char line[128] = "";
    long long n = 0;
    if (f && fgets(line, sizeof(line), f)) n++;
    while (f && fgets(buf, sizeof(buf), f)) n++;
    if (f) fclose(f);
    unlink(path);
    EXPECT_INT(n, 1);
    EXPECT_INT(strncmp(line, "ord-1\t", 6), 0);
}

/* Its clients read KAFKA_CONSUMER_<PROPERTY> / KAFKA_PRODUCER_<PROPERTY>
 * as the worker does: applied over its own defaults, refused when unknown
 * or protected. */
static void test_kafka_properties_by_name(void) {
    const char *const props[][2] = {{"linger.ms", "5"}};
    char v[64];
    size_t vl = sizeof(v);
    setenv("KAFKA_PRODUCER_LINGER_MS", "0", 1);
    rd_kafka_conf_t *c = kafka_conf_new("127.0.0.1:1", CONFIG_KAFKA_PRODUCER, props, 1);
    EXPECT(c != NULL);
    if (c && rd_kafka_conf_get(c, "linger.ms", v, &vl) == RD_KAFKA_CONF_OK)
        EXPECT_STR(v, "0");
    if (c) rd_kafka_conf_destroy(c);
    unsetenv("KAFKA_PRODUCER_LINGER_MS");
    setenv("KAFKA_CONSUMER_NO_SUCH_PROPERTY", "1", 1);
    c = kafka_conf_new("127.0.0.1:1", CONFIG_KAFKA_CONSUMER, NULL, 0);
    EXPECT(c == NULL);
    if (c) rd_kafka_conf_destroy(c);
    unsetenv("KAFKA_CONSUMER_NO_SUCH_PROPERTY");
    setenv("KAFKA_CONSUMER_ENABLE_AUTO_OFFSET_STORE", "true", 1);
    c = kafka_conf_new("127.0.0.1:1", CONFIG_KAFKA_CONSUMER, NULL, 0);
    EXPECT(c == NULL);
    if (c) rd_kafka_conf_destroy(c);
    unsetenv("KAFKA_CONSUMER_ENABLE_AUTO_OFFSET_STORE");
}

static const unit_test_t TESTS[] = {
    {"kafka_properties_by_name", test_kafka_properties_by_name},
    {"latencies_and_fills_out", test_latencies_and_fills_out},
    {"ids_round_trip", test_ids_round_trip},
    {"options_modes", test_options_modes},
    {"reader_counts_fills_apart", test_reader_counts_fills_apart},
    {"rejections_are_no_throughput", test_rejections_are_no_throughput},
    {NULL, NULL},
};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
