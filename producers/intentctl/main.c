/* main.c -- intentctl: the command-line producer, observer and operator's
 * tool for order-worker.  This file owns the dispatch: the global options,
 * the table of commands, and the main help.
 *
 * The commands, one file each (intentctl.h): `send` (build intents from
 * flags or read them as JSON lines, check every one with the worker's own
 * validator before it leaves, publish with the idempotent producer and
 * report each delivery), `tail` (read the result topics by plain partition
 * assignment, never joining a consumer group, with the stop conditions
 * scripts need), `dlq` (list the dead-letter topic, re-publish chosen
 * messages byte for byte).  Modelled on kcat: small and exact.
 *
 * And the operator's commands: the kill switch (`halt`, `cancel`, `reduce`,
 * `resume`, `trading`), the positions it measures against (`positions`), the quotas
 * (`quota`) and who may sign intents (`bot`).  They live here because an
 * operator already has intentctl and the stack's environment; the state
 * they show and change belongs to the worker's modules (trading.h,
 * positions.h, quota.h, budget.h, auth.h), which alone know its tables and
 * keys.
 *
 * Exit codes: common.h.  All state lives in structs passed down from
 * main(); the only static is the sig_atomic_t flag set by the
 * SIGINT/SIGTERM handler of `tail`. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "intentctl.h"

typedef struct command {
    const char *name;
    int (*run)(common_t *c, int argc, char **argv);
    void (*help)(FILE *out);
} command_t;

static const command_t COMMANDS[] = {
    {"send", cmd_send, send_help},
    {"tail", cmd_tail, tail_help},
    {"dlq", cmd_dlq, dlq_help},
    {"halt", cmd_halt, state_help},
    {"cancel", cmd_cancel, state_help},
    {"reduce", cmd_reduce, state_help},
    {"resume", cmd_resume, state_help},
    {"trading", cmd_trading, trading_help},
    {"positions", cmd_positions, positions_help},
    {"quota", cmd_quota, quota_help},
    {"bot", cmd_bot, bot_help},
    {NULL, NULL, NULL}};

static const command_t *find_command(const char *name) {
    for (const command_t *cmd = COMMANDS; cmd->name; cmd++)
        if (strcmp(cmd->name, name) == 0)
            return cmd;
    return NULL;
}

static void main_help(FILE *out) {
    fprintf(out,
"usage: intentctl [global options] COMMAND [options]\n"
"\n"
"Sends order intents to order-worker and watches what becomes of them.\n"
"\n"
"Commands:\n"
"  send     check and publish intents (from flags, --stdin JSON lines, or --raw)\n"
"  tail     print result events from orders.fills, orders.rejections, orders.dlq\n"
"  dlq      the dead-letter topic: dlq list [--json] [--reason R];\n"
"           dlq replay (--all | --offset P:O ... | --reason R) [--to T] [--dry-run]\n"
"\n"
"Operator commands (the kill switch and positions need DATABASE_URL, quotas\n"
"REDIS_URL):\n"
"  halt     halt trading: --global, --user ID or --bot ID [--reason TEXT];\n"
"           --cancel-open: also cancel the open orders of that scope\n"
"  cancel   cancel the open orders of --global, --user ID, --bot ID or\n"
"           --intent ID, without halting [--reason TEXT]\n"
"  reduce   only orders that shrink the position of that scope, in the ledger\n"
"           (same options)\n"
"  resume   active again (same options)\n"
"  trading  list the halted and reducing states (--history N: the changes)\n"
"  positions  per symbol, from the ledger: the account's, or --bot ID's or\n"
"           --user ID's position and open orders [--json]\n"
"  quota    show a quota: quota bot ID | user ID | alpaca [--json];\n"
"           override one: quota set bot|user ID LIMIT, quota unset bot|user ID\n"
"  bot      who may sign intents: bot add|rotate|revoke|bind|unbind|list\n"
"  help [COMMAND]\n"
"\n"
"Global options (also accepted after the command):\n"
"  -b, --brokers LIST       bootstrap servers (default: $KAFKA_BROKERS)\n"
"  -X name=value            a librdkafka property, repeatable\n"
"  --connect-timeout MS     how long to wait for Kafka at start (default 10000)\n"
"  -h, --help               this text; 'intentctl COMMAND --help' for a command\n"
"\n"
"Topics come from the environment, defaults per the contract:\n"
"  TOPIC_INTENTS_BOT (orders.intents.bot), TOPIC_INTENTS_USER (orders.intents.user),\n"
"  TOPIC_FILLS (orders.fills), TOPIC_REJECTIONS (orders.rejections), TOPIC_DLQ (orders.dlq).\n"
"INTENT_MAX_AGE_MS (default 60000) is used, like the worker, to warn about stale intents.\n"
"\n"
"Examples:\n"
"  intentctl send --bot b1 --user u1 --symbol AAPL --side buy --qty 1\n"
"  intentctl send --user u1 --symbol MSFT --side sell --type limit --qty 2 --limit 410.5\n"
"  intentctl send --stdin < intents.jsonl\n"
"  printf 'not json\\n' | intentctl send --raw --key b1\n"
"  intentctl tail --from-beginning --json --until-terminal 3 --timeout 30000\n"
"  intentctl dlq list --reason not_json; intentctl dlq replay --offset 0:12 --dry-run\n"
"  intentctl halt --bot b1 --reason 'runaway strategy'; intentctl resume --bot b1\n"
"  intentctl halt --cancel-open --user u1; intentctl cancel --intent ID\n"
"  intentctl reduce --bot b1; intentctl positions --bot b1\n"
"  intentctl quota bot b1 --json\n"
"\n"
"Exit: 0 ok; 1 refused, failed or condition not met; 2 usage; 3 Kafka error.\n");
}

/* intentctl help [COMMAND]. */
static int help_command(int argc, char **argv) {
    if (argc < 2) {
        main_help(stdout);
        return EXIT_OK_;
    }
    const command_t *cmd = find_command(argv[1]);
    if (!cmd)
        return usage_error(NULL, "no such command '%s'", argv[1]);
    cmd->help(stdout);
    return EXIT_OK_;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    common_t c;
    common_init(&c);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int opt;
    while ((opt = getopt_long(argc, argv, "+hb:X:", longopts, NULL)) != -1) {
        int r = common_opt(&c, opt, optarg, NULL);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        if (opt == 'h') {
            main_help(stdout);
            return EXIT_OK_;
        }
        return usage_hint(NULL);
    }
    if (optind >= argc)
        return usage_error(NULL, "no command given (send, tail, dlq, halt, cancel, reduce, "
                                 "resume, trading, positions, quota, bot)");
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    if (strcmp(sub_argv[0], "help") == 0)
        return help_command(sub_argc, sub_argv);
    const command_t *cmd = find_command(sub_argv[0]);
    if (!cmd)
        return usage_error(NULL, "no such command '%s'", sub_argv[0]);
    char prog[32]; /* getopt's messages name the command */
    snprintf(prog, sizeof prog, "intentctl %s", cmd->name);
    sub_argv[0] = prog;
    return cmd->run(&c, sub_argc, sub_argv);
}
