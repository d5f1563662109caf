/* main.c -- order-worker's entry point: commands, configuration and signals.
 *
 *   order-worker [run]     consume intents until SIGTERM (the default)
 *   order-worker migrate   apply the ledger migrations and exit
 *   order-worker --help    list commands and every setting with its default
 *
 * A missing or malformed setting stops the worker here, before anything
 * connects, with a message that names the setting. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "intake.h"
#include "ledger.h"
#include "log.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: order-worker [run | migrate | --help]\n"
            "\n"
            "  run       consume order intents from Kafka and execute them (default)\n"
            "  migrate   apply the ledger's SQL migrations to DATABASE_URL and exit\n"
            "\n"
            "SIGTERM or SIGINT: finish in-flight intents (up to WORKER_DRAIN_MS, then\n"
            "leave them for redelivery), commit offsets, leave the group, exit 0.\n\n");
    config_print_help(out);
}

static int cmd_migrate(const config_t *cfg) {
    char err[512];
    ledger_t *l = ledger_connect(cfg->database_url, cfg->replica_id, err, sizeof(err));
    if (!l) {
        log_msg(LOG_ERROR, "migrate_failed", NULL, "%s", err);
        return 1;
    }
    int rc = ledger_migrate(l, err, sizeof(err));
    if (rc < 0) log_msg(LOG_ERROR, "migrate_failed", NULL, "%s", err);
    else log_msg(LOG_INFO, "migrated", NULL, "ledger schema is up to date");
    ledger_close(l);
    return rc < 0 ? 1 : 0;
}

static int cmd_run(const config_t *cfg) {
    char err[512];
    /* Refuse to start on a ledger without the schema: nothing may be acted
     * on that the ledger cannot record. */
    ledger_t *l = ledger_connect(cfg->database_url, cfg->replica_id, err, sizeof(err));
    if (!l || ledger_check_schema(l, err, sizeof(err)) < 0) {
        log_msg(LOG_ERROR, "start_failed", NULL, "%s", err);
        ledger_close(l);
        return 1;
    }
    ledger_close(l);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return intake_run(cfg, &stop_requested, cfg->drain_ms);
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "run";
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "run") && strcmp(cmd, "migrate")) {
        fprintf(stderr, "order-worker: unknown command \"%s\"\n\n", cmd);
        usage(stderr);
        return 2;
    }
    config_t cfg;
    char err[512];
    if (!strcmp(cmd, "migrate")) {
        /* Migrations need the ledger only. */
        const char *url = getenv("DATABASE_URL");
        if (!url || !*url) {
            fprintf(stderr, "order-worker: configuration: DATABASE_URL is not set\n");
            return 2;
        }
        memset(&cfg, 0, sizeof(cfg));
        snprintf(cfg.database_url, sizeof(cfg.database_url), "%s", url);
        snprintf(cfg.replica_id, sizeof(cfg.replica_id), "migrate");
        log_init("migrate", LOG_INFO);
        return cmd_migrate(&cfg);
    }
    if (config_load(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "order-worker: configuration: %s\n", err);
        return 2;
    }
    log_init(cfg.replica_id, cfg.log_level);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmd_run(&cfg);
    curl_global_cleanup();
    return rc;
}
