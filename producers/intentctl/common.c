/* common.c -- the pieces every intentctl command shares (see common.h).
 *
 * Owns the global options and how a Kafka client is configured: the
 * brokers, the command's settings, the worker's own KAFKA_SECURITY_PROTOCOL,
 * KAFKA_SASL_* and KAFKA_SSL_* settings (read by config.c exactly as the
 * worker reads them, so intentctl connects wherever a replica does), and -X
 * last.  Also the usage errors every command prints the same way, and the
 * idempotent producer that `send` and `dlq replay` both publish with. */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>


#include "config.h"
#include "timefmt.h"

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return (v && *v) ? v : fallback;
}

int parse_i64(const char *s, int64_t *out) {
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

void common_init(common_t *c) {
    memset(c, 0, sizeof *c);
    c->brokers = env_or("KAFKA_BROKERS", NULL);
    c->topic_bot = env_or("TOPIC_INTENTS_BOT", "orders.intents.bot");
    c->topic_user = env_or("TOPIC_INTENTS_USER", "orders.intents.user");
    c->topic_fills = env_or("TOPIC_FILLS", "orders.fills");
    c->topic_rej = env_or("TOPIC_REJECTIONS", "orders.rejections");
    c->topic_dlq = env_or("TOPIC_DLQ", "orders.dlq");
    c->connect_timeout_ms = 10000;
    int64_t age = 60000;
    const char *a = getenv("INTENT_MAX_AGE_MS");
    if (a && *a && parse_i64(a, &age) != 0)
        age = 60000;
    c->max_age_ms = age;
}

int usage_hint(const char *cmd) {
    fprintf(stderr, "Try 'intentctl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

int usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "intentctl: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return usage_hint(cmd);
}

int common_opt(common_t *c, int opt, const char *arg, const char *cmd) {
    switch (opt) {
    case 'b':
        c->brokers = arg;
        return 1;
    case 'X':
        if (!strchr(arg, '=') || arg[0] == '=') {
            usage_error(cmd, "-X wants name=value, got '%s'", arg);
            return -1;
        }
        if (c->n_props == MAX_PROPS) {
            usage_error(cmd, "too many -X properties");
            return -1;
        }
        c->props[c->n_props++] = arg;
        return 1;
    case OPT_CONNECT_TIMEOUT:
        if (parse_i64(arg, &c->connect_timeout_ms) != 0 || c->connect_timeout_ms <= 0) {
            usage_error(cmd, "--connect-timeout wants milliseconds > 0, got '%s'", arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value) {
    char err[512];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "intentctl: %s\n", err);
        return -1;
    }
    return 0;
}

/* What the worker's configuration adds to a client (config_kafka_apply):
 * the KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_* settings
 * (NAME_FILE too), then KAFKA_CONSUMER_<PROPERTY> or KAFKA_PRODUCER_<PROPERTY>;
 * -1 after saying why. */
static int conf_configured(rd_kafka_conf_t *conf, config_kafka_client_t client) {
    char err[512];
    if (config_kafka_apply_env(client, conf, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "intentctl: %s\n", err);
    return -1;
}

rd_kafka_conf_t *make_conf(const common_t *c, config_kafka_client_t client,
                           const char *const *settings) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_set(conf, "bootstrap.servers", c->brokers) ||
        conf_set(conf, "client.id", "intentctl") ||
        conf_set(conf, "log.connection.close", "false"))
        goto fail;
    for (int i = 0; settings && settings[i]; i += 2)
        if (conf_set(conf, settings[i], settings[i + 1]))
            goto fail;
    /* Before -X, which may override them. */
    if (conf_configured(conf, client) < 0)
        goto fail;
    for (int i = 0; i < c->n_props; i++) {
        const char *eq = strchr(c->props[i], '=');
        char name[256];
        size_t n = (size_t)(eq - c->props[i]);
        if (n >= sizeof name) {
            fprintf(stderr, "intentctl: property name too long: %s\n", c->props[i]);
            goto fail;
        }
        memcpy(name, c->props[i], n);
        name[n] = '\0';
        if (conf_set(conf, name, eq + 1))
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int check_connection(rd_kafka_t *rk, const common_t *c) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, (int)c->connect_timeout_ms);
    if (err) {
        fprintf(stderr, "intentctl: cannot reach Kafka at %s: %s\n", c->brokers,
                rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

rd_kafka_t *producer_new(const common_t *c, delivery_fn dr, void *opaque,
                         int64_t *msg_timeout_ms, int *rc) {
    static const char *const settings[] = {"enable.idempotence", "true",
                                           "message.timeout.ms", "30000", NULL};
    *msg_timeout_ms = 30000;
    *rc = EXIT_USAGE;
    rd_kafka_conf_t *conf = make_conf(c, CONFIG_KAFKA_PRODUCER, settings);
    if (!conf)
        return NULL;
    char val[64];
    size_t vlen = sizeof val;
    if (rd_kafka_conf_get(conf, "message.timeout.ms", val, &vlen) == RD_KAFKA_CONF_OK)
        parse_i64(val, msg_timeout_ms);
    rd_kafka_conf_set_dr_msg_cb(conf, dr);
    rd_kafka_conf_set_opaque(conf, opaque);
    char err[512];
    *rc = EXIT_KAFKA;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "intentctl: %s\n", err);
        return NULL;
    }
    if (check_connection(rk, c) != 0) {
        rd_kafka_destroy(rk);
        return NULL;
    }
    *rc = EXIT_OK_;
    return rk;
}

int producer_drain(rd_kafka_t *rk, int64_t msg_timeout_ms, const char *noun) {
    int64_t deadline = timefmt_mono_ms() + msg_timeout_ms + 10000;
    while (rd_kafka_outq_len(rk) > 0 && timefmt_mono_ms() < deadline)
        rd_kafka_flush(rk, 500);
    if (rd_kafka_outq_len(rk) == 0)
        return 0;
    fprintf(stderr, "intentctl: %d %s still undelivered; giving up\n", rd_kafka_outq_len(rk),
            noun);
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk, 1000);
    return 1;
}

/* The length of the valid UTF-8 sequence at s[0..n), or 0 if none is. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char b = s[0];
    size_t len = 0;
    if (b < 0x80)
        len = 1;
    else if (b >= 0xC2 && b <= 0xDF)
        len = 2;
    else if (b >= 0xE0 && b <= 0xEF)
        len = 3;
    else if (b >= 0xF0 && b <= 0xF4)
        len = 4;
    if (len == 0 || len > n)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    if (len >= 3) {
        unsigned char b1 = s[1];
        if ((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 >= 0xA0) ||
            (b == 0xF0 && b1 < 0x90) || (b == 0xF4 && b1 >= 0x90))
            return 0;
    }
    return len;
}

json_t *json_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    json_t *j = json_stringn((const char *)s, n);
    if (j)
        return j;
    char *buf = malloc(n * 3 + 1);
    if (!buf)
        return json_string("");
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq(s + i, n - i);
        if (len) {
            memcpy(buf + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(buf + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += 1;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j ? j : json_string("");
}

void json_print_line(json_t *j) {
    json_dumpf(j, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(j);
}

void uuid_v4(char out[37]) {
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("intentctl: getrandom");
            exit(EXIT_REFUSED);
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
}
