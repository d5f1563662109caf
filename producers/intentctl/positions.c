/* positions.c -- `intentctl positions`: what the ledger says a bot, a user
 * or the whole account holds, per symbol, with the orders still open
 * (positions_list).
 *
 * The sums, the tables they come from and what counts as open belong to
 * worker/positions.c; this file parses, connects with the operator's role
 * and prints. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "intentctl.h"
#include "operator.h"
#include "positions.h"

void positions_help(FILE *out) {
    fprintf(out,
"usage: intentctl positions [--bot ID | --user ID] [--json]\n"
"\n"
"Positions from the ledger (DATABASE_URL): per symbol, what the worker's\n"
"filled orders come to (buys less sells: negative is short), and what is not\n"
"filled yet of the orders still open (accepted, being placed, or past the\n"
"kill switch's reducing check).  Symbols with nothing held or open are left\n"
"out.  These are the positions the kill switch's `reduce` measures against.\n"
"  (none)       the account: every order the worker placed\n"
"  --bot ID     one bot's orders\n"
"  --user ID    one user's: its user intents and its bots' intents\n"
"  --json       one JSON object per symbol: scope, id, symbol, qty, open_buy,\n"
"               open_sell, open_buy_notional, open_sell_notional (open orders\n"
"               whose quantity is not known yet, not in open_buy/open_sell)\n"
"  -h, --help   this text\n"
"\n"
"Alpaca's account may hold more than the ledger says: positions the worker did\n"
"not create (orders placed by hand) are not in it.  The workers compare the\n"
"two every POSITION_CHECK_MS (gauge order_worker_position_mismatch).\n"
"Exit: 0 listed; 1 the ledger cannot be read; 2 usage.\n");
}

/* The options into *scope and *id.  -1 to go on, else the exit code. */
static int positions_parse(int argc, char **argv, positions_scope_t *scope, const char **id,
                           int *json) {
    enum { O_BOT = 4300, O_USER, O_JSON };
    static const struct option longopts[] = {
        {"bot", required_argument, NULL, O_BOT},
        {"user", required_argument, NULL, O_USER},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int scopes = 0, opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h': positions_help(stdout); return EXIT_OK_;
        case O_BOT: *scope = POSITIONS_BOT; *id = optarg; scopes++; break;
        case O_USER: *scope = POSITIONS_USER; *id = optarg; scopes++; break;
        case O_JSON: *json = 1; break;
        default: return usage_hint("positions");
        }
    }
    if (optind < argc)
        return usage_error("positions", "unexpected argument '%s'", argv[optind]);
    if (scopes > 1)
        return usage_error("positions", "one of --bot ID or --user ID at most");
    if (scopes && !valid_subject_id(*id))
        return usage_error("positions",
                           "'%s' is not an id (1 to 64 characters of A-Z a-z 0-9 . _ -)", *id);
    return -1;
}

#define POSITIONS_FORMAT "%-15s  %20s  %20s  %20s\n"

/* An open quantity, with the orders of unknown quantity after it. */
static const char *open_text(decimal_nanos_t v, long unknown, char *buf, size_t len) {
    decimal_t d;
    decimal_from_nanos(v, &d);
    if (unknown) snprintf(buf, len, "%s +%ld notional", d.text, unknown);
    else snprintf(buf, len, "%s", d.text);
    return buf;
}

static void print_row(positions_scope_t scope, const char *id, const positions_row_t *r,
                      int json) {
    decimal_t q, b, s;
    decimal_from_nanos(r->qty, &q);
    decimal_from_nanos(r->open_buy, &b);
    decimal_from_nanos(r->open_sell, &s);
    if (json) {
        json_print_line(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "scope",
                                  positions_scope_name(scope), "id", id, "symbol", r->symbol,
                                  "qty", q.text, "open_buy", b.text, "open_sell", s.text,
                                  "open_buy_notional", (json_int_t)r->open_buy_unknown,
                                  "open_sell_notional", (json_int_t)r->open_sell_unknown));
        return;
    }
    char ob[80], os[80];
    printf(POSITIONS_FORMAT, r->symbol, q.text,
           open_text(r->open_buy, r->open_buy_unknown, ob, sizeof ob),
           open_text(r->open_sell, r->open_sell_unknown, os, sizeof os));
}

int cmd_positions(common_t *c, int argc, char **argv) {
    (void)c;
    positions_scope_t scope = POSITIONS_ACCOUNT;
    const char *id = "";
    int json = 0;
    int rc = positions_parse(argc, argv, &scope, &id, &json);
    if (rc >= 0)
        return rc;
    PGconn *db = operator_connect("positions", &rc);
    if (!db)
        return rc;
    positions_t p;
    pgadmin_err_t e;
    if (positions_list(db, scope, id, &p, &e) < 0) {
        ledger_error(&e);
        PQfinish(db);
        return EXIT_REFUSED;
    }
    char whose[96];
    if (scope == POSITIONS_ACCOUNT) snprintf(whose, sizeof whose, "the account");
    else snprintf(whose, sizeof whose, "%s %s", positions_scope_name(scope), id);
    if (!json && p.n == 0)
        printf("%s: no position and no open order in the ledger\n", whose);
    else if (!json)
        printf("%s, from the ledger:\n" POSITIONS_FORMAT, whose, "SYMBOL", "POSITION",
               "OPEN_BUY", "OPEN_SELL");
    for (size_t i = 0; i < p.n; i++)
        print_row(scope, id, &p.rows[i], json);
    positions_free(&p);
    PQfinish(db);
    return EXIT_OK_;
}
