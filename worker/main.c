/* main.c -- order-worker's entry point: commands, configuration and signals.
 *
 *   order-worker [run]     consume intents until SIGTERM (the default)
 *   order-worker migrate   apply the ledger migrations and exit
 *   order-worker quote SYMBOL [--repeat N] [--interval-ms MS]
 *                          the latest quote as the worker sees it: through
 *                          the quote breaker and the Redis cache, one JSON
 *                          line per attempt
 *   order-worker --help    list commands and every setting with its default
 *
 * A missing or malformed setting stops the worker here, before anything
 * connects, with a message that names the setting. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <time.h>

#include "circuits.h"
#include "config.h"
#include "intake.h"
#include "market.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: order-worker [run | migrate | quote SYMBOL [--repeat N] [--interval-ms MS] | --help]\n"
            "\n"
            "  run       consume order intents from Kafka and execute them (default)\n"
            "  migrate   apply the ledger's SQL migrations to DATABASE_URL and exit\n"
            "  quote     print the latest quote of SYMBOL as the worker sees it (through\n"
            "            the quote circuit breaker and the Redis cache), one JSON line\n"
            "            per attempt; exit 1 if the last attempt had none\n"
            "\n"
            "SIGTERM or SIGINT: finish in-flight intents (up to WORKER_DRAIN_MS, then\n"
            "leave them for redelivery), commit offsets, leave the group, exit 0.\n\n");
    config_print_help(out);
}

/* Migrates through ADMIN_DATABASE_URL (the ledger's owner) when it is set,
 * then grants the role of DATABASE_URL what the worker needs; without it,
 * through DATABASE_URL alone (one role for everything). */
static int cmd_migrate(const config_t *cfg) {
    char err[512], owner[128] = "", worker[128] = "";
    int split = cfg->admin_database_url[0] != '\0';
    ledger_t *l = ledger_connect(split ? cfg->admin_database_url : cfg->database_url,
                                 cfg->replica_id, err, sizeof(err));
    ledger_t *w = NULL;
    int rc = l ? ledger_migrate(l, err, sizeof(err)) : -1;
    if (rc == 0 && split) {
        w = ledger_connect(cfg->database_url, cfg->replica_id, err, sizeof(err));
        rc = w && ledger_role(w, worker, sizeof(worker), err, sizeof(err)) == 0 &&
                     ledger_role(l, owner, sizeof(owner), err, sizeof(err)) == 0
                 ? 0 : -1;
        if (rc == 0 && strcmp(owner, worker) == 0) {
            snprintf(err, sizeof(err), "ADMIN_DATABASE_URL and DATABASE_URL log in as the same "
                     "role (%s): give the worker a role of its own, or leave "
                     "ADMIN_DATABASE_URL unset", worker);
            rc = -1;
        }
        if (rc == 0) rc = ledger_grant_worker(l, worker, err, sizeof(err));
    }
    if (rc < 0) log_msg(LOG_ERROR, "migrate_failed", NULL, "%s", err);
    else if (split)
        log_msg(LOG_INFO, "migrated", NULL, "ledger schema is up to date; role %s may do what "
                "the worker needs", worker);
    else log_msg(LOG_INFO, "migrated", NULL, "ledger schema is up to date");
    ledger_close(w);
    ledger_close(l);
    return rc < 0 ? 1 : 0;
}

static int cmd_run(const config_t *cfg) {
    char err[512];
    /* The handlers come first: a SIGTERM during the start, too, ends the
     * worker through its own exit path (everything freed), not by the
     * signal's default action. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Refuse to start on a ledger without the schema: nothing may be acted
     * on that the ledger cannot record. */
    ledger_t *l = ledger_connect(cfg->database_url, cfg->replica_id, err, sizeof(err));
    if (!l || ledger_check_schema(l, err, sizeof(err)) < 0) {
        log_msg(LOG_ERROR, "start_failed", NULL, "%s", err);
        ledger_close(l);
        return 1;
    }
    ledger_close(l);
    if (stop_requested) return 0;
    return intake_run(cfg, &stop_requested, cfg->drain_ms);
}

static int cmd_quote(const config_t *cfg, int argc, char **argv) {
    const char *symbol = NULL;
    long repeat = 1, interval = 500;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atol(argv[++i]);
        else if (!strcmp(argv[i], "--interval-ms") && i + 1 < argc) interval = atol(argv[++i]);
        else if (argv[i][0] != '-' && !symbol) symbol = argv[i];
        else {
            fprintf(stderr, "order-worker quote: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if (!symbol || repeat < 1 || interval < 0) {
        fprintf(stderr, "usage: order-worker quote SYMBOL [--repeat N] [--interval-ms MS]\n");
        return 2;
    }
    char err[512];
    circuits_t *circuits = circuits_new(cfg, err, sizeof(err));
    alpaca_t *client = alpaca_new(cfg);
    market_t *m = circuits && client ? market_new(cfg, client, err, sizeof(err)) : NULL;
    if (!m) {
        fprintf(stderr, "order-worker quote: %s\n", err);
        market_free(m);
        alpaca_free(client);
        circuits_free(circuits);
        return 1;
    }
    alpaca_set_circuits(client, circuits);
    /* Give the breaker sharing one round, so a fleet-wide open breaker is
     * known before the first attempt. */
    struct timespec settle = {0, 600000000L};
    nanosleep(&settle, NULL);
    int rc = 0;
    for (long i = 0; i < repeat; i++) {
        if (i > 0) {
            struct timespec ts = {interval / 1000, (interval % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        market_quote_t q;
        json_t *o = json_object();
        json_object_set_new(o, "symbol", json_string(symbol));
        if (market_quote(m, symbol, &q, err, sizeof(err)) == 0) {
            json_object_set_new(o, "bid", json_string(q.q.bid));
            json_object_set_new(o, "ask", json_string(q.q.ask));
            json_object_set_new(o, "t", json_string(q.q.t));
            json_object_set_new(o, "source", json_string(q.from_cache ? "cache" : "alpaca"));
            json_object_set_new(o, "stale", json_boolean(q.stale));
            json_object_set_new(o, "age_ms", json_integer(q.age_ms));
            rc = 0;
        } else {
            json_object_set_new(o, "error", json_string(err));
            rc = 1;
        }
        json_object_set_new(o, "breaker",
                            json_string(breaker_state_name(circuits_state(circuits, OP_QUOTE))));
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", line ? line : "{}");
        fflush(stdout);
        free(line);
        json_decref(o);
    }
    market_free(m);
    alpaca_free(client);
    circuits_free(circuits);
    return rc;
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "run";
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "run") && strcmp(cmd, "migrate") && strcmp(cmd, "quote")) {
        fprintf(stderr, "order-worker: unknown command \"%s\"\n\n", cmd);
        usage(stderr);
        return 2;
    }
    config_t cfg;
    char err[512];
    if (!strcmp(cmd, "migrate")) {
        /* Migrations need the ledger only. */
        if (config_load_ledger(&cfg, err, sizeof(err)) < 0) {
            fprintf(stderr, "order-worker: configuration: %s\n", err);
            return 2;
        }
        snprintf(cfg.replica_id, sizeof(cfg.replica_id), "migrate");
        log_init("migrate", LOG_INFO, LOG_FORMAT_AUTO);
        return cmd_migrate(&cfg);
    }
    if (config_load(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "order-worker: configuration: %s\n", err);
        return 2;
    }
    log_init(cfg.replica_id, cfg.log_level, cfg.log_format);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = !strcmp(cmd, "quote") ? cmd_quote(&cfg, argc, argv) : cmd_run(&cfg);
    curl_global_cleanup();
    metrics_free();
    return rc;
}
