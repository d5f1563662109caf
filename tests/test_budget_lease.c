/* test_budget_lease.c -- unit tests of worker/budget_lease.c, the blocks of
 * tokens of the shared Alpaca budget leased to one replica.
 *
 * What is checked: how long a block may be spent and the ceiling below
 * which blocks are granted, for the periods and limits the suite and a
 * deployment use; the size asked for (one token per call when blocks
 * cannot be granted); a block's tokens handed out one by one, none after
 * its time or once it is ended (a 429), and exactly its unspent ones
 * returned, once; and, over a long random run, that the log a replica
 * writes (each block's tokens, less those returned) never counts fewer
 * calls than were made, and counts exactly those once every block has
 * ended and its return has been made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget_lease.h"
#include "unit.h"

static void test_lease_ms(void) {
    EXPECT_INT(budget_lease_ms(60000), 1000);  /* a minute: a second */
    EXPECT_INT(budget_lease_ms(86400000), 1000);
    EXPECT_INT(budget_lease_ms(6000), 300);    /* the suite's scaled minute */
    EXPECT_INT(budget_lease_ms(2000), 100);
    EXPECT_INT(budget_lease_ms(100), 5);       /* RATE_PERIOD_MS's least */
    EXPECT_INT(budget_lease_ms(10), 1);
}

static void test_ceiling_and_size(void) {
    /* 200 calls, 10 % reserve: bots may use 180, blocks up to 90. */
    EXPECT_INT(budget_lease_ceiling(180), 90);
    EXPECT_INT(budget_lease_ceiling(9), 4);    /* 10 calls: the tight budget */
    EXPECT_INT(budget_lease_ceiling(1), 0);
    EXPECT_INT(budget_lease_ceiling(0), 0);
    EXPECT_INT(budget_lease_size(8, 90), 8);
    EXPECT_INT(budget_lease_size(8, 8), 8);
    EXPECT_INT(budget_lease_size(8, 7), 1);    /* could never be granted */
    EXPECT_INT(budget_lease_size(8, 4), 1);
    EXPECT_INT(budget_lease_size(1, 90), 1);   /* the setting turns blocks off */
    EXPECT_INT(budget_lease_size(0, 90), 1);
    EXPECT_INT(budget_lease_size(2, 90), 2);
}

static void test_block_spent(void) {
    budget_lease_t l;
    const char *id = NULL;
    int from = 0, to = 0;
    memset(&l, 0, sizeof(l));
    EXPECT_INT(budget_lease_take(&l, 0), 0);   /* none held */
    budget_lease_start(&l, "r1:7", 8, 1000, 300);
    EXPECT_INT(l.taken, 1);                    /* the asker's */
    for (int i = 0; i < 7; i++) EXPECT_INT(budget_lease_take(&l, 1000 + 40 * i), 1);
    EXPECT_INT(budget_lease_take(&l, 1290), 0);  /* spent */
    EXPECT_INT(budget_lease_expire(&l, 1300), 0);
    EXPECT_INT(budget_lease_returning(&l, &id, &from, &to), 0);
}

static void test_block_expires(void) {
    budget_lease_t l;
    const char *id = NULL;
    int from = 0, to = 0;
    memset(&l, 0, sizeof(l));
    budget_lease_start(&l, "r1:9", 8, 1000, 300);
    EXPECT_INT(budget_lease_take(&l, 1100), 1);
    EXPECT_INT(budget_lease_take(&l, 1299), 1);  /* the last ms of the block */
    EXPECT_INT(budget_lease_expire(&l, 1299), 0);
    EXPECT_INT(budget_lease_take(&l, 1300), 0);  /* its time is up: it ends */
    EXPECT_INT(budget_lease_returning(&l, &id, &from, &to), 5);
    EXPECT_STR(id, "r1:9");
    EXPECT_INT(from, 4);
    EXPECT_INT(to, 8);
    EXPECT_INT(budget_lease_take(&l, 1301), 0);
    EXPECT_INT(budget_lease_returning(&l, &id, &from, &to), 5);  /* until returned */
    budget_lease_returned(&l);
    EXPECT_INT(budget_lease_returning(&l, &id, &from, &to), 0);
}

static void test_block_ended(void) {
    budget_lease_t l;
    const char *id = NULL;
    int from = 0, to = 0;
    memset(&l, 0, sizeof(l));
    EXPECT_INT(budget_lease_end(&l), 0);       /* none held: nothing */
    budget_lease_start(&l, "r2:1", 4, 0, 1000);
    EXPECT_INT(budget_lease_take(&l, 10), 1);
    EXPECT_INT(budget_lease_end(&l), 2);       /* a 429: the two unspent go back */
    EXPECT_INT(budget_lease_take(&l, 20), 0);
    EXPECT_INT(budget_lease_returning(&l, &id, &from, &to), 2);
    EXPECT_INT(from, 3);
    EXPECT_INT(to, 4);
    /* A second block ending before the first return was made: its unspent
     * tokens stay counted (safe); the first return is kept whole. */
    budget_lease_start(&l, "r2:2", 4, 100, 1000);
    EXPECT_INT(budget_lease_end(&l), 0);
    EXPECT_INT(budget_lease_returning(&l, &id, &from, &to), 2);
    EXPECT_STR(id, "r2:1");
}

/* The log of one replica as the script keeps it: every block adds its
 * tokens, each return takes its range out.  Random asks, takes, waits and
 * 429s; at every step the log holds at least the calls made, and no token
 * is taken at or after its block's time; at the end, with every block
 * ended and returned, it holds exactly the calls made. */
static void test_log_never_undercounts(void) {
    budget_lease_t l;
    memset(&l, 0, sizeof(l));
    unsigned int seed = 21;
    long long log = 0, calls = 0, returned = 0, blocks = 0;
    int64_t now = 0, expires = 0;
    int late = 0, under = 0;
    for (int step = 0; step < 100000; step++) {
        int op = rand_r(&seed) % 10;
        now += rand_r(&seed) % 60;
        if (op < 6) {  /* a call: a token of the block, or a script call */
            if (budget_lease_take(&l, now)) {
                late += now >= expires;
                calls++;
                continue;
            }
            const char *id;
            int from, to, n = budget_lease_returning(&l, &id, &from, &to);
            log -= n;
            returned += n;
            budget_lease_returned(&l);
            char bid[32];
            snprintf(bid, sizeof(bid), "r:%d", step);
            int size = 2 + rand_r(&seed) % 7;
            budget_lease_start(&l, bid, size, now, 300);
            expires = now + 300;
            log += size;
            blocks++;
            calls++;  /* the asker's token */
        } else if (op == 9) {
            budget_lease_end(&l);  /* a 429 */
        }
        under += log < calls;
    }
    budget_lease_end(&l);
    const char *id;
    int from, to;
    log -= budget_lease_returning(&l, &id, &from, &to);
    budget_lease_returned(&l);
    printf("  %lld blocks, %lld calls, %lld tokens returned\n", blocks, calls, returned);
    EXPECT_INT(late, 0);
    EXPECT_INT(under, 0);
    EXPECT_MSG(returned > 0, "some tokens were returned (%lld)", returned);
    EXPECT_INT(log, calls);
}

static const unit_test_t TESTS[] = {
    {"lease_ms", test_lease_ms},
    {"ceiling_and_size", test_ceiling_and_size},
    {"block_spent", test_block_spent},
    {"block_expires", test_block_expires},
    {"block_ended", test_block_ended},
    {"log_never_undercounts", test_log_never_undercounts},
    {NULL, NULL}};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
