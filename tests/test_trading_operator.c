/* test_trading_operator.c -- the kill switch's operators' side (trading.c:
 * trading_set, trading_list, trading_history) and the operator's
 * statements (pgadmin.c), against the test stack's PostgreSQL: writes with
 * ADMIN_DATABASE_URL (else DATABASE_URL), as intentctl does, and a
 * replica's view (trading_start) reads with DATABASE_URL, so the writer and
 * the reader are checked against each other.
 *
 * Only user and bot states are set (never global: that would halt the
 * stack), with ids that carry the pid and the time, and each is set back to
 * active before its test ends. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgadmin.h"
#include "stack.h"
#include "trading.h"
#include "unit.h"

static PGconn *db;
static char tag[48];   /* unique per run */

static void id_of(char *out, size_t n, const char *what) { snprintf(out, n, "t-%s-%s", what, tag); }

/* The row of scope/id in rows, or NULL. */
static const trading_row_t *find_row(const trading_rows_t *rows, const char *scope,
                                     const char *id) {
    for (size_t i = 0; i < rows->n; i++)
        if (!strcmp(rows->rows[i].scope, scope) && !strcmp(rows->rows[i].id, id))
            return &rows->rows[i];
    return NULL;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
static int is_utc_ms(const char *at) {
    return strlen(at) == 24 && at[4] == '-' && at[10] == 'T' && at[19] == '.' && at[23] == 'Z';
}

/* Sets scope/id to `to` and checks it worked; 0 or -1. */
static int set(const char *scope, const char *id, trading_state_t to, const char *reason) {
    trading_row_t row;
    pgadmin_err_t e;
    if (!EXPECT_MSG(trading_set(db, scope, id, to, reason, "tester@host", &row, &e) == 0,
                    "trading_set %s %s: %s", scope, id, e.msg))
        return -1;
    trading_row_free(&row);
    return 0;
}

static void test_set_records_previous_and_history(void) {
    char bot[64];
    id_of(bot, sizeof bot, "bot");
    trading_row_t row;
    pgadmin_err_t e;
    if (trading_set(db, "bot", bot, TRADING_HALTED, "runaway", "tester@host", &row, &e) != 0)
        UNIT_ABORT("trading_set: %s", e.msg);
    EXPECT_STR(row.scope, "bot");
    EXPECT_STR(row.id, bot);
    EXPECT_STR(row.state, "halted");
    EXPECT_STR(row.previous, "active");
    EXPECT_STR(row.reason, "runaway");
    EXPECT_STR(row.by, "tester@host");
    EXPECT_MSG(is_utc_ms(row.at), "at '%s' is not UTC to the ms", row.at);
    trading_row_free(&row);
    if (trading_set(db, "bot", bot, TRADING_REDUCING, NULL, "other@host", &row, &e) != 0)
        UNIT_ABORT("trading_set: %s", e.msg);
    EXPECT_STR(row.previous, "halted");
    EXPECT(row.reason == NULL);
    trading_row_free(&row);

    trading_rows_t h;
    if (trading_history(db, 2, &h, &e) != 0)
        UNIT_ABORT("trading_history: %s", e.msg);
    EXPECT_INT(h.n, 2);
    if (h.n == 2) { /* newest first, each with what it changed from */
        EXPECT_STR(h.rows[0].id, bot);
        EXPECT_STR(h.rows[0].state, "reducing");
        EXPECT_STR(h.rows[0].previous, "halted");
        EXPECT_STR(h.rows[0].by, "other@host");
        EXPECT(h.rows[0].reason == NULL);
        EXPECT_STR(h.rows[1].state, "halted");
        EXPECT_STR(h.rows[1].previous, "active");
        EXPECT_STR(h.rows[1].reason, "runaway");
        EXPECT_MSG(is_utc_ms(h.rows[1].at), "at '%s'", h.rows[1].at);
    }
    trading_rows_free(&h);
    set("bot", bot, TRADING_ACTIVE, "test over");
}

static void test_list_shows_what_restricts(void) {
    char user[64], bot[64];
    id_of(user, sizeof user, "user");
    id_of(bot, sizeof bot, "listbot");
    if (set("user", user, TRADING_HALTED, "list me") < 0 ||
        set("bot", bot, TRADING_ACTIVE, NULL) < 0)
        return;
    trading_rows_t rows;
    pgadmin_err_t e;
    if (trading_list(db, 0, &rows, &e) != 0)
        UNIT_ABORT("trading_list: %s", e.msg);
    const trading_row_t *u = find_row(&rows, "user", user);
    EXPECT_MSG(u != NULL, "the halted user %s is listed", user);
    if (u) {
        EXPECT_STR(u->state, "halted");
        EXPECT_STR(u->reason, "list me");
        EXPECT_STR(u->by, "tester@host");
        EXPECT_STR(u->previous, "");
    }
    EXPECT_MSG(find_row(&rows, "bot", bot) == NULL, "an active bot is not listed");
    trading_rows_free(&rows);

    if (trading_list(db, 1, &rows, &e) != 0)
        UNIT_ABORT("trading_list --all: %s", e.msg);
    const trading_row_t *b = find_row(&rows, "bot", bot);
    EXPECT_MSG(b && !strcmp(b->state, "active"), "--all lists the active bot");
    /* global first, then users, then bots */
    int rank = 0, sorted = 1;
    for (size_t i = 0; i < rows.n; i++) {
        const char *scope = rows.rows[i].scope;
        int r = !strcmp(scope, "global") ? 0 : !strcmp(scope, "user") ? 1 : 2;
        sorted &= r >= rank;
        rank = r;
    }
    EXPECT_MSG(sorted, "rows come global, users, bots");
    trading_rows_free(&rows);
    set("user", user, TRADING_ACTIVE, NULL);
}

/* Polls the view until bot's state is want (2 s at most). */
static trading_state_t wait_state(trading_t *t, const char *bot, trading_state_t want,
                                  const char **scope) {
    trading_state_t s = TRADING_ACTIVE;
    for (int i = 0; i < 40; i++) {
        s = trading_state_for(t, "t-someone", bot, scope);
        if (s == want)
            break;
        usleep(50 * 1000);
    }
    return s;
}

static void test_replicas_obey_a_set(void) {
    config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        UNIT_ABORT("out of memory");
    snprintf(cfg->database_url, sizeof cfg->database_url, "%s", getenv("DATABASE_URL"));
    cfg->trading_refresh_ms = 50;
    char err[512], bot[64];
    trading_t *t = trading_start(cfg, err, sizeof err);
    if (!t) {
        free(cfg);
        UNIT_ABORT("trading_start: %s", err);
    }
    id_of(bot, sizeof bot, "viewbot");
    const char *scope = NULL;
    if (set("bot", bot, TRADING_HALTED, "seen by the view") == 0) {
        EXPECT_INT(wait_state(t, bot, TRADING_HALTED, &scope), TRADING_HALTED);
        EXPECT_STR(scope, "bot");
        set("bot", bot, TRADING_REDUCING, NULL);
        EXPECT_INT(wait_state(t, bot, TRADING_REDUCING, &scope), TRADING_REDUCING);
        set("bot", bot, TRADING_ACTIVE, NULL);
        EXPECT_INT(wait_state(t, bot, TRADING_ACTIVE, &scope), TRADING_ACTIVE);
    }
    trading_stop(t);
    free(cfg);
}

static void test_set_refuses_bad_scope(void) {
    trading_row_t row;
    pgadmin_err_t e;
    EXPECT_INT(trading_set(db, "global", "someone", TRADING_HALTED, NULL, "t", &row, &e), -1);
    EXPECT(e.msg[0] != '\0');
    EXPECT_INT(trading_set(db, "planet", "p1", TRADING_HALTED, NULL, "t", &row, &e), -1);
    EXPECT_INT(trading_set(db, "bot", "", TRADING_HALTED, NULL, "t", &row, &e), -1);
}

/* A statement refused inside the transaction leaves nothing behind: no
 * state, no history row, and the connection usable. */
static void test_set_is_all_or_nothing(void) {
    char bot[64];
    id_of(bot, sizeof bot, "rollback");
    trading_row_t row;
    pgadmin_err_t e;
    /* Not UTF-8: PostgreSQL refuses the reason at the first INSERT. */
    EXPECT_INT(trading_set(db, "bot", bot, TRADING_HALTED, "bad \xff reason", "t", &row, &e), -1);
    EXPECT_MSG(strstr(e.msg, "write trading_states: ") == e.msg, "msg '%s'", e.msg);
    const char *p[] = {bot};
    PGresult *r = PQexecParams(db,
                               "SELECT (SELECT count(*) FROM trading_states WHERE id = $1),"
                               " (SELECT count(*) FROM trading_state_changes WHERE id = $1)",
                               1, NULL, p, NULL, NULL, 0);
    EXPECT_INT(PQresultStatus(r), PGRES_TUPLES_OK);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        EXPECT_STR(PQgetvalue(r, 0, 0), "0");
        EXPECT_STR(PQgetvalue(r, 0, 1), "0");
    }
    PQclear(r);
}

static void test_pgadmin_errors_are_one_line(void) {
    pgadmin_err_t e;
    PGresult *r = pgadmin_exec(db, "SELECT * FROM t_no_such_table", 0, NULL, PGRES_TUPLES_OK,
                               "probe", &e);
    EXPECT(r == NULL);
    EXPECT_INT(e.missing_table, 1);
    EXPECT_MSG(strncmp(e.msg, "probe: ", 7) == 0 && strchr(e.msg, '\n') == NULL &&
                   strstr(e.msg, "t_no_such_table") != NULL,
               "msg '%s'", e.msg);
    EXPECT_INT(pgadmin_cmd(db, "SELEC 1", 0, NULL, "typo", &e), -1);
    EXPECT_INT(e.missing_table, 0);
    pgadmin_fail(&e, "what", NULL);
    EXPECT_STR(e.msg, "what: failed");
    pgadmin_fail(&e, "what", "ERROR:  x\nLINE 1:\ty\n");
    EXPECT_STR(e.msg, "what: ERROR:  x LINE 1: y");
}

static const unit_test_t TESTS[] = {
    {"set_records_previous_and_history", test_set_records_previous_and_history},
    {"list_shows_what_restricts", test_list_shows_what_restricts},
    {"replicas_obey_a_set", test_replicas_obey_a_set},
    {"set_refuses_bad_scope", test_set_refuses_bad_scope},
    {"set_is_all_or_nothing", test_set_is_all_or_nothing},
    {"pgadmin_errors_are_one_line", test_pgadmin_errors_are_one_line},
    {NULL, NULL}};

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0)
        return unit_main(TESTS, argc, argv);
    db = stack_ledger();
    if (!db)
        return 1;
    stack_tag(tag, sizeof tag);
    int rc = unit_main(TESTS, argc, argv);
    PQfinish(db);
    return rc;
}
