/* state.c -- the kill switch from the command line: `intentctl halt`,
 * `reduce` and `resume` set the trading state of everyone, a user or a bot
 * (trading_set), `intentctl trading` lists the states in force or their
 * history (trading_list, trading_history).  `intentctl cancel` and
 * `intentctl halt --cancel-open` also cancel the open orders of the scope
 * (ledger_operator_cancel: the halt, the marks and their audit row in one
 * transaction).
 *
 * The states, their tables and the transaction that keeps each change
 * with its history row belong to worker/trading.c, the cancel marks to
 * worker/ledger_cancel.c; this file parses, names the operator, and
 * prints. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "intentctl.h"
#include "ledger.h"
#include "operator.h"
#include "trading.h"

void state_help(FILE *out) {
    fprintf(out,
"usage: intentctl halt|reduce|resume (--global | --user ID | --bot ID) [--reason TEXT]\n"
"       intentctl halt --cancel-open (--global | --user ID | --bot ID) [--reason TEXT]\n"
"       intentctl cancel (--global | --user ID | --bot ID | --intent ID) [--reason TEXT]\n"
"\n"
"The kill switch.  Sets the trading state of everyone (--global), of one user\n"
"or of one bot in the ledger (table trading_states, with a row in\n"
"trading_state_changes saying who, why and when, in one transaction):\n"
"  halt     every intent that falls under it is rejected trading_halted\n"
"  reduce   only orders that shrink an existing position pass: a sell of at\n"
"           most the long quantity, a buy of at most the short quantity, less\n"
"           the orders of its side already open; the position is the one of\n"
"           the scope set, from the ledger: the bot's own orders for --bot,\n"
"           the user's (its bots' too) for --user, the account's for --global\n"
"           (intentctl positions shows them)\n"
"  resume   back to active\n"
"The strictest state that applies to an intent wins (a resumed bot of a\n"
"halted user stays halted).  Every replica re-reads the states every\n"
"TRADING_REFRESH_MS (500 ms by default): a change is obeyed within a second.\n"
"\n"
"A halt leaves the orders already at the broker working.  halt --cancel-open\n"
"also cancels every open order of the scope, and cancel does that without\n"
"halting: in the transaction of the halt, each open order intent is marked\n"
"for cancel (a row in operator_cancels says who, why, when and how many);\n"
"the worker then asks the broker to cancel those at the broker, and each ends\n"
"with a canceled event whose cancel_reason is operator (or its fill, if it\n"
"filled first); those not yet at the broker are never sent.  Orders already\n"
"being canceled (by a cancel request or an earlier cancel) are left as they\n"
"are: running it twice marks nothing more.\n"
"\n"
"  --global              all trading\n"
"  --user ID             one user (its user intents and its bots' intents)\n"
"  --bot ID              one bot\n"
"  --intent ID           cancel only: that order intent\n"
"  --cancel-open         halt only: also cancel the scope's open orders\n"
"  --reason TEXT         why (kept in the ledger and logged by the workers)\n"
"  --json                print the new state as one JSON object\n"
"  -h, --help            this text\n"
"\n"
"Needs DATABASE_URL.  Prints the new state, e.g. 'bot b1: halted (was active)',\n"
"and how many open orders are being canceled, e.g. 'bot b1: halted (was\n"
"active); 3 open orders being canceled'.\n"
"Exit: 0 set; 1 the ledger refused or cannot be reached; 2 usage.\n");
}

void trading_help(FILE *out) {
    fprintf(out,
"usage: intentctl trading [--all] [--history N] [--json]\n"
"\n"
"Lists the trading states in force (halted and reducing; no row means\n"
"active), strictest scope first, from the ledger (DATABASE_URL).\n"
"  --all                 also the rows set back to active\n"
"  --history N           instead, the last N changes (who, why, when), newest\n"
"                        first\n"
"  --json                one JSON object per row\n"
"  -h, --help            this text\n"
"Exit: 0 listed; 1 the ledger cannot be read; 2 usage.\n");
}

/* ------------------------------------------------ halt, reduce, resume */

typedef struct state_opts {
    const char *scope, *id, *reason;
    int json;
    int cancel_open;  /* halt --cancel-open */
} state_opts_t;

/* The options into o (--intent for cancel only, --cancel-open for halt
 * only).  -1 to go on, else the exit code. */
static int state_parse(int argc, char **argv, const char *cmd, state_opts_t *o) {
    enum { O_GLOBAL = 4000, O_USER, O_BOT, O_INTENT, O_CANCEL_OPEN, O_REASON, O_JSON };
    static const struct option longopts[] = {
        {"global", no_argument, NULL, O_GLOBAL},
        {"user", required_argument, NULL, O_USER},
        {"bot", required_argument, NULL, O_BOT},
        {"intent", required_argument, NULL, O_INTENT},
        {"cancel-open", no_argument, NULL, O_CANCEL_OPEN},
        {"reason", required_argument, NULL, O_REASON},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int cancel = !strcmp(cmd, "cancel"), scopes = 0, opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': state_help(stdout); return EXIT_OK_;
        case O_GLOBAL: o->scope = "global"; o->id = ""; scopes++; break;
        case O_USER: o->scope = "user"; o->id = optarg; scopes++; break;
        case O_BOT: o->scope = "bot"; o->id = optarg; scopes++; break;
        case O_INTENT:
            if (!cancel) return usage_error(cmd, "--intent is an option of cancel only");
            o->scope = "intent"; o->id = optarg; scopes++;
            break;
        case O_CANCEL_OPEN:
            if (strcmp(cmd, "halt") != 0)
                return usage_error(cmd, "--cancel-open is an option of halt only");
            o->cancel_open = 1;
            break;
        case O_REASON: o->reason = optarg; break;
        case O_JSON: o->json = 1; break;
        default: return usage_hint(cmd);
        }
    }
    if (optind < argc)
        return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (scopes != 1 && cancel)
        return usage_error(cmd, "say whose orders: exactly one of --global, --user ID, --bot ID, "
                                "--intent ID");
    if (scopes != 1)
        return usage_error(cmd, "say whose trading: exactly one of --global, --user ID, --bot ID");
    if (*o->id && !valid_subject_id(o->id))
        return usage_error(cmd, "'%s' is not an id (1 to 64 characters of A-Z a-z 0-9 . _ -)",
                           o->id);
    if (o->reason && strlen(o->reason) > 1000)
        return usage_error(cmd, "--reason is longer than 1000 characters");
    return -1;
}

/* The state as set: "bot b1: halted (was active); reason: ...; by ... at
 * ...", or one JSON object. */
static void print_set(const trading_row_t *r, int json) {
    if (json) {
        json_print_line(json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "scope", r->scope,
                                  "id", r->id, "state", r->state, "previous", r->previous,
                                  "reason", r->reason ? json_bytes(r->reason, strlen(r->reason))
                                                      : json_null(),
                                  "updated_by", r->by, "updated_at", r->at));
        return;
    }
    if (*r->id)
        printf("%s %s: %s (was %s)", r->scope, r->id, r->state, r->previous);
    else
        printf("global: %s (was %s)", r->state, r->previous);
    if (r->reason)
        printf("; reason: %s", r->reason);
    printf("; by %s at %s\n", r->by, r->at);
}

/* An operator's cancel as done: "bot b1: halted (was active); 3 open orders
 * being canceled; reason: ...; by ... at ...", or one JSON object. */
static void print_cancel(const state_opts_t *o, const ledger_opcancel_result_t *r,
                         const char *by) {
    const trading_row_t *h = o->cancel_open ? &r->halt : NULL;
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:o, s:s, s:s}", "scope", o->scope, "id",
                              o->id, "canceling", (int)r->marked, "operator_cancel_id",
                              r->cancel_id, "reason",
                              o->reason ? json_bytes(o->reason, strlen(o->reason)) : json_null(),
                              "requested_by", by, "requested_at", r->at);
        if (h) {
            json_object_set_new(j, "state", json_string(h->state));
            json_object_set_new(j, "previous", json_string(h->previous));
        }
        json_print_line(j);
        return;
    }
    if (*o->id)
        printf("%s %s: ", o->scope, o->id);
    else
        printf("global: ");
    if (h)
        printf("%s (was %s); ", h->state, h->previous);
    printf("%ld open order%s being canceled", r->marked, r->marked == 1 ? "" : "s");
    if (r->marked == 0 && !strcmp(o->scope, "intent"))
        printf(" (unknown, ended, or already being canceled)");
    if (o->reason)
        printf("; reason: %s", o->reason);
    printf("; by %s at %s\n", by, r->at);
}

/* halt --cancel-open and cancel: ledger_operator_cancel on db. */
static int run_cancel(PGconn *db, const state_opts_t *o) {
    char by[320];
    operator_name(by, sizeof by);
    ledger_opcancel_t req = {o->scope, o->id, o->cancel_open, o->reason, by};
    ledger_opcancel_result_t res;
    pgadmin_err_t e;
    if (ledger_operator_cancel(db, &req, &res, &e) < 0) {
        ledger_error(&e);
        return EXIT_REFUSED;
    }
    print_cancel(o, &res, by);
    trading_row_free(&res.halt);
    return EXIT_OK_;
}

static int cmd_state(int argc, char **argv, const char *cmd, trading_state_t to) {
    state_opts_t o = {NULL, "", NULL, 0, 0};
    int rc = state_parse(argc, argv, cmd, &o);
    if (rc >= 0)
        return rc;
    PGconn *db = operator_connect(cmd, &rc);
    if (!db)
        return rc;
    if (o.cancel_open || !strcmp(cmd, "cancel")) {
        rc = run_cancel(db, &o);
        PQfinish(db);
        return rc;
    }
    char by[320];
    operator_name(by, sizeof by);
    trading_row_t row;
    pgadmin_err_t e;
    if (trading_set(db, o.scope, o.id, to, o.reason, by, &row, &e) == 0) {
        print_set(&row, o.json);
        trading_row_free(&row);
        rc = EXIT_OK_;
    } else {
        ledger_error(&e);
        rc = EXIT_REFUSED;
    }
    PQfinish(db);
    return rc;
}

int cmd_halt(common_t *c, int argc, char **argv) {
    (void)c;
    return cmd_state(argc, argv, "halt", TRADING_HALTED);
}

int cmd_cancel(common_t *c, int argc, char **argv) {
    (void)c;
    return cmd_state(argc, argv, "cancel", TRADING_ACTIVE);
}

int cmd_reduce(common_t *c, int argc, char **argv) {
    (void)c;
    return cmd_state(argc, argv, "reduce", TRADING_REDUCING);
}

int cmd_resume(common_t *c, int argc, char **argv) {
    (void)c;
    return cmd_state(argc, argv, "resume", TRADING_ACTIVE);
}

/* ------------------------------------------------------------ trading */

#define TRADING_FORMAT "%-6s  %-24s  %-18s  %-24s  %-20s  %s\n"

/* One state (history 0) or change (history 1), as a table row or JSON. */
static void print_trading_row(const trading_row_t *r, int history, int json) {
    if (json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}", "scope", r->scope, "id", r->id,
                              "state", r->state, "reason",
                              r->reason ? json_bytes(r->reason, strlen(r->reason)) : json_null(),
                              "updated_by", json_bytes(r->by, strlen(r->by)),
                              history ? "changed_at" : "updated_at", r->at);
        if (history)
            json_object_set_new(j, "previous", json_string(r->previous));
        json_print_line(j);
        return;
    }
    char change[40];
    if (history)
        snprintf(change, sizeof change, "%s->%s", r->previous, r->state);
    else
        snprintf(change, sizeof change, "%s", r->state);
    printf(TRADING_FORMAT, r->scope, *r->id ? r->id : "-", change, r->at, *r->by ? r->by : "-",
           r->reason ? r->reason : "-");
}

/* --all, --history N, --json into the arguments.  -1 to go on, else the
 * exit code. */
static int trading_parse(int argc, char **argv, int *all, int64_t *history, int *json) {
    enum { O_ALL = 4100, O_HISTORY, O_JSON };
    static const struct option longopts[] = {
        {"all", no_argument, NULL, O_ALL},
        {"history", required_argument, NULL, O_HISTORY},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': trading_help(stdout); return EXIT_OK_;
        case O_ALL: *all = 1; break;
        case O_JSON: *json = 1; break;
        case O_HISTORY:
            if (parse_i64(optarg, history) != 0 || *history < 1 || *history > 100000)
                return usage_error("trading", "--history wants a count 1..100000, got '%s'",
                                   optarg);
            break;
        default: return usage_hint("trading");
        }
    }
    if (optind < argc)
        return usage_error("trading", "unexpected argument '%s'", argv[optind]);
    return -1;
}

int cmd_trading(common_t *c, int argc, char **argv) {
    (void)c;
    int all = 0, json = 0;
    int64_t history = -1;
    int rc = trading_parse(argc, argv, &all, &history, &json);
    if (rc >= 0)
        return rc;
    PGconn *db = operator_connect("trading", &rc);
    if (!db)
        return rc;
    trading_rows_t rows;
    pgadmin_err_t e;
    int read = history > 0 ? trading_history(db, history, &rows, &e)
                           : trading_list(db, all, &rows, &e);
    if (read < 0) {
        ledger_error(&e);
        PQfinish(db);
        return EXIT_REFUSED;
    }
    if (!json && rows.n == 0 && history < 0)
        printf("trading is active everywhere (no halted or reducing state)\n");
    else if (!json)
        printf(TRADING_FORMAT, "SCOPE", "ID", history > 0 ? "CHANGE" : "STATE",
               history > 0 ? "AT" : "SINCE", "BY", "REASON");
    for (size_t i = 0; i < rows.n; i++)
        print_trading_row(&rows.rows[i], history > 0, json);
    trading_rows_free(&rows);
    PQfinish(db);
    return EXIT_OK_;
}
