/* kafka-dev-broker -- a Kafka development broker in a process of its own.
 *
 * Owns: hosting librdkafka's mock cluster (rdkafka_mock.h, 2.0.2) with the
 * contract's five topics, and publishing its bootstrap address.  Why: the
 * local stack (compose/dev) and the tests need a real Kafka wire endpoint
 * without Docker or a JVM; the mock cluster listens on real TCP sockets, so
 * the worker replicas and the producers connect to it like to any broker.
 *
 * The bootstrap string goes to stdout and, with --bootstrap-file, to a file
 * written as PATH.tmp then renamed (readers never see half a file).  The
 * process runs until SIGTERM/SIGINT/SIGHUP, then destroys the cluster and the
 * handle, removes the bootstrap file (its ports die with us) and exits 0.
 *
 * Fault injection for the tests: SIGUSR1 takes every broker down (its
 * connections are closed and new ones refused; the topics and their data stay),
 * SIGUSR2 brings every broker up again.  Each change is logged to stderr.
 *
 * Signals are blocked before librdkafka starts its threads and collected
 * with sigwait() in main's loop, which then calls the mock API: there is no
 * signal handler (so librdkafka is never called from one) and no global
 * state. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS 64
#define BROKER_COUNT 3

typedef struct options {
    int partitions;
    const char *bootstrap_file;
    const char *topics[MAX_TOPICS];
    int ntopics;
    int user_topics; /* 1 once --topic was given: the list replaces the defaults */
} options_t;

static void usage(FILE *out, const char *prog) {
    fprintf(out,
            "usage: %s [--partitions N] [--topic NAME]... [--bootstrap-file PATH]\n"
            "\n"
            "Hosts librdkafka's mock Kafka cluster (%d brokers on 127.0.0.1, kernel-chosen\n"
            "ports) until SIGTERM or SIGINT, and prints its bootstrap servers on stdout.\n"
            "SIGUSR1 takes every broker down (connections closed and refused), SIGUSR2\n"
            "brings them all up again (fault injection for tests).\n"
            "\n"
            "  --partitions N        partitions per topic (default 6)\n"
            "  --topic NAME          create this topic; repeatable; when given, replaces the\n"
            "                        default list\n"
            "  --bootstrap-file PATH also write the bootstrap servers to PATH (atomically,\n"
            "                        via PATH.tmp + rename); removed again at exit\n"
            "  --help                this text\n"
            "\n"
            "Default topics (each overridable by the environment variable shown):\n"
            "  TOPIC_INTENTS_BOT   orders.intents.bot\n"
            "  TOPIC_INTENTS_USER  orders.intents.user\n"
            "  TOPIC_FILLS         orders.fills\n"
            "  TOPIC_REJECTIONS    orders.rejections\n"
            "  TOPIC_DLQ           orders.dlq\n",
            prog, BROKER_COUNT);
}

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return (v && *v) ? v : fallback;
}

static int add_topic(options_t *o, const char *name) {
    if (!*name) {
        fprintf(stderr, "kafka-dev-broker: empty topic name\n");
        return -1;
    }
    for (int i = 0; i < o->ntopics; i++)
        if (strcmp(o->topics[i], name) == 0)
            return 0; /* duplicates are harmless, create once */
    if (o->ntopics == MAX_TOPICS) {
        fprintf(stderr, "kafka-dev-broker: more than %d topics\n", MAX_TOPICS);
        return -1;
    }
    o->topics[o->ntopics++] = name;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Returns 0 to run, 1 to exit 0 (--help), -1 on a usage error. */
static int parse_args(int argc, char **argv, options_t *o) {
    o->partitions = 6;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, argv[0]);
            return 1;
        }
        if (strcmp(a, "--partitions") == 0 || strcmp(a, "--topic") == 0 ||
            strcmp(a, "--bootstrap-file") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "kafka-dev-broker: %s needs a value\n", a);
                return -1;
            }
            val = argv[++i];
        } else {
            fprintf(stderr, "kafka-dev-broker: unknown argument '%s' (see --help)\n", a);
            return -1;
        }
        if (strcmp(a, "--partitions") == 0) {
            if (parse_int(val, 1, 10000, &o->partitions) != 0) {
                fprintf(stderr, "kafka-dev-broker: --partitions wants 1..10000, got '%s'\n", val);
                return -1;
            }
        } else if (strcmp(a, "--topic") == 0) {
            if (!o->user_topics) {
                o->user_topics = 1;
                o->ntopics = 0;
            }
            if (add_topic(o, val) != 0)
                return -1;
        } else {
            if (!*val) {
                fprintf(stderr, "kafka-dev-broker: empty --bootstrap-file\n");
                return -1;
            }
            o->bootstrap_file = val;
        }
    }
    if (!o->user_topics) {
        static const char *const defaults[][2] = {
            {"TOPIC_INTENTS_BOT", "orders.intents.bot"},
            {"TOPIC_INTENTS_USER", "orders.intents.user"},
            {"TOPIC_FILLS", "orders.fills"},
            {"TOPIC_REJECTIONS", "orders.rejections"},
            {"TOPIC_DLQ", "orders.dlq"},
        };
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
            if (add_topic(o, env_or(defaults[i][0], defaults[i][1])) != 0)
                return -1;
    }
    return 0;
}

/* Writes text + newline to path via path.tmp and rename(2). */
static int write_file_atomically(const char *path, const char *text) {
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        fprintf(stderr, "kafka-dev-broker: path too long: %s\n", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "kafka-dev-broker: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    int ok = fprintf(f, "%s\n", text) >= 0;
    ok = (fflush(f) == 0) && ok;
    ok = (fsync(fileno(f)) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "kafka-dev-broker: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Takes every broker of the cluster down (up == 0) or up (up == 1), logging
 * the change.  Broker ids of the mock cluster are 1..BROKER_COUNT.  Called
 * from main's loop, never from a signal handler. */
static void set_brokers(rd_kafka_mock_cluster_t *mcl, int up) {
    int failed = 0;
    for (int32_t id = 1; id <= BROKER_COUNT; id++) {
        rd_kafka_resp_err_t err =
            up ? rd_kafka_mock_broker_set_up(mcl, id) : rd_kafka_mock_broker_set_down(mcl, id);
        if (err) {
            fprintf(stderr, "kafka-dev-broker: broker %d: cannot set %s: %s\n", (int)id,
                    up ? "up" : "down", rd_kafka_err2str(err));
            failed = 1;
        }
    }
    fprintf(stderr, "kafka-dev-broker: %s: all %d brokers %s%s\n", up ? "SIGUSR2" : "SIGUSR1",
            BROKER_COUNT, up ? "up (accepting connections)" : "down (connections closed and refused)",
            failed ? " (with errors, see above)" : "");
}

/* Blocks the signals main collects (stop, and SIGUSR1/2 for the brokers)
 * in the calling thread before librdkafka creates threads: they inherit the
 * mask.  0, or -1 (said). */
static int block_signals(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0) {
        fprintf(stderr, "kafka-dev-broker: cannot block signals\n");
        return -1;
    }
    return 0;
}

/* The handle that hosts the mock cluster, or NULL (said). */
static rd_kafka_t *new_handle(void) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* log_level 4 (warning): the handle itself never connects anywhere, so
     * its "no bootstrap.servers configured" notice is only noise. */
    if (rd_kafka_conf_set(conf, "client.id", "kafka-dev-broker", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka-dev-broker: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "kafka-dev-broker: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf); /* not taken over on failure */
    }
    return rk;
}

/* The mock cluster with every topic of opt, or NULL (said; nothing left). */
static rd_kafka_mock_cluster_t *new_cluster(rd_kafka_t *rk, const options_t *opt) {
    rd_kafka_mock_cluster_t *mcl = rd_kafka_mock_cluster_new(rk, BROKER_COUNT);
    if (!mcl) {
        fprintf(stderr, "kafka-dev-broker: cannot create the mock cluster\n");
        return NULL;
    }
    for (int i = 0; i < opt->ntopics; i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mcl, opt->topics[i], opt->partitions, 1);
        if (err) {
            fprintf(stderr, "kafka-dev-broker: topic %s: %s\n", opt->topics[i],
                    rd_kafka_err2str(err));
            rd_kafka_mock_cluster_destroy(mcl);
            return NULL;
        }
    }
    return mcl;
}

/* Publishes the bootstrap servers: the file (if asked; *wrote_file set),
 * stdout, and a line on stderr.  0, or -1 (said). */
static int announce(rd_kafka_mock_cluster_t *mcl, const options_t *opt, int *wrote_file) {
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mcl);
    if (opt->bootstrap_file) {
        if (write_file_atomically(opt->bootstrap_file, bootstraps) != 0)
            return -1;
        *wrote_file = 1;
    }
    printf("%s\n", bootstraps);
    fflush(stdout);
    fprintf(stderr, "kafka-dev-broker: %d brokers at %s; topics:", BROKER_COUNT, bootstraps);
    for (int i = 0; i < opt->ntopics; i++)
        fprintf(stderr, " %s", opt->topics[i]);
    fprintf(stderr, " (%d partitions each)\n", opt->partitions);
    return 0;
}

/* Collects the signals of set until a stop signal: SIGUSR1/SIGUSR2 take the
 * brokers down/up.  0 on a stop signal, -1 if sigwait fails. */
static int serve(rd_kafka_mock_cluster_t *mcl, const sigset_t *set) {
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0) {
            fprintf(stderr, "kafka-dev-broker: sigwait failed\n");
            return -1;
        }
        if (sig == SIGUSR1 || sig == SIGUSR2) {
            set_brokers(mcl, sig == SIGUSR2);
            continue;
        }
        fprintf(stderr, "kafka-dev-broker: %s, shutting down\n", strsignal(sig));
        return 0;
    }
}

int main(int argc, char **argv) {
    options_t opt = {0};
    int rc = parse_args(argc, argv, &opt);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    sigset_t signals;
    if (block_signals(&signals) != 0)
        return 1;
    rd_kafka_t *rk = new_handle();
    if (!rk)
        return 1;
    int status = 1, wrote_file = 0;
    rd_kafka_mock_cluster_t *mcl = new_cluster(rk, &opt);
    if (mcl && announce(mcl, &opt, &wrote_file) == 0 && serve(mcl, &signals) == 0)
        status = 0;
    if (wrote_file && unlink(opt.bootstrap_file) != 0 && errno != ENOENT)
        fprintf(stderr, "kafka-dev-broker: cannot remove %s: %s\n", opt.bootstrap_file,
                strerror(errno));
    if (mcl)
        rd_kafka_mock_cluster_destroy(mcl);
    rd_kafka_destroy(rk);
    return status;
}
