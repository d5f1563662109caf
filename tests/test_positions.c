/* test_positions.c -- the arithmetic of worker/positions.c (positions.h),
 * without a ledger: the kill switch's "reducing" decision on a scope's
 * figures (positions_reduces) and the comparison of the ledger's figures
 * with the broker's quantity (positions_differ).
 *
 * Quantities are written as decimal text and read with
 * decimal_text_to_nanos, as the ledger's sums are.  Covers sells and buys
 * at, below and above the boundary, open orders of the same side and of the
 * other, flat and short positions, fractional shares, orders of unknown
 * quantity, zero and negative quantities, an unknown side; and for the
 * comparison: agreement, orders in flight on either side, each of the two
 * reads, symbols only one side has, and the difference reported.  Runs on
 * tests/unit.h (`test_positions --list` names the tests). */
#include <string.h>

#include "positions.h"
#include "unit.h"

static decimal_nanos_t n(const char *text) {
    decimal_nanos_t v = 0;
    if (decimal_text_to_nanos(text, &v) < 0) EXPECT_MSG(0, "not a decimal: %s", text);
    return v;
}

/* A row: position qty, open buys, open sells. */
static positions_row_t row(const char *qty, const char *open_buy, const char *open_sell) {
    positions_row_t r;
    memset(&r, 0, sizeof(r));
    strcpy(r.symbol, "AAPL");
    r.qty = n(qty);
    r.open_buy = n(open_buy);
    r.open_sell = n(open_sell);
    return r;
}

static void test_sell_within_long(void) {
    positions_row_t r = row("10", "0", "0");
    EXPECT_INT(positions_reduces(&r, "sell", n("1")), 1);
    EXPECT_INT(positions_reduces(&r, "sell", n("10")), 1);
    EXPECT_INT(positions_reduces(&r, "sell", n("10.000000001")), 0);
    EXPECT_INT(positions_reduces(&r, "sell", n("11")), 0);
}

static void test_sell_counts_open_sells(void) {
    /* 10 held, 6 being sold: 4 more at most. */
    positions_row_t r = row("10", "0", "6");
    EXPECT_INT(positions_reduces(&r, "sell", n("4")), 1);
    EXPECT_INT(positions_reduces(&r, "sell", n("4.5")), 0);
    /* Open buys may never fill: they do not make room. */
    r = row("10", "100", "6");
    EXPECT_INT(positions_reduces(&r, "sell", n("5")), 0);
    /* Everything already being sold. */
    r = row("10", "0", "10");
    EXPECT_INT(positions_reduces(&r, "sell", n("0.000000001")), 0);
}

static void test_sell_when_flat_or_short(void) {
    positions_row_t flat = row("0", "0", "0");
    positions_row_t shrt = row("-5", "0", "0");
    EXPECT_INT(positions_reduces(&flat, "sell", n("1")), 0);
    EXPECT_INT(positions_reduces(&shrt, "sell", n("1")), 0);
}

static void test_buy_within_short(void) {
    positions_row_t r = row("-5", "0", "0");
    EXPECT_INT(positions_reduces(&r, "buy", n("5")), 1);
    EXPECT_INT(positions_reduces(&r, "buy", n("5.1")), 0);
    r = row("-5", "2", "0");
    EXPECT_INT(positions_reduces(&r, "buy", n("3")), 1);
    EXPECT_INT(positions_reduces(&r, "buy", n("4")), 0);
    positions_row_t lng = row("5", "0", "0");
    EXPECT_INT(positions_reduces(&lng, "buy", n("1")), 0);
}

static void test_fractional_shares(void) {
    positions_row_t r = row("0.75", "0", "0.25");
    EXPECT_INT(positions_reduces(&r, "sell", n("0.5")), 1);
    EXPECT_INT(positions_reduces(&r, "sell", n("0.500000001")), 0);
}

static void test_unknown_quantities(void) {
    /* An open notional sell: how much of the position it takes is unknown. */
    positions_row_t r = row("10", "0", "0");
    r.open_sell_unknown = 1;
    EXPECT_INT(positions_reduces(&r, "sell", n("1")), 0);
    /* ... but it does not hold back a buy covering a short. */
    r = row("-10", "0", "0");
    r.open_sell_unknown = 1;
    EXPECT_INT(positions_reduces(&r, "buy", n("1")), 1);
    r.open_buy_unknown = 2;
    EXPECT_INT(positions_reduces(&r, "buy", n("1")), 0);
}

static void test_bad_quantities_and_sides(void) {
    positions_row_t r = row("10", "0", "0");
    EXPECT_INT(positions_reduces(&r, "sell", 0), 0);
    EXPECT_INT(positions_reduces(&r, "sell", -n("1")), 0);
    EXPECT_INT(positions_reduces(&r, "short", n("1")), 0);
    EXPECT_INT(positions_reduces(&r, "", n("1")), 0);
}

static void test_differ_agrees(void) {
    positions_row_t r = row("10", "0", "0");
    decimal_nanos_t d = 1;
    EXPECT_INT(positions_differ(&r, &r, n("10"), &d), 0);
    EXPECT(d == 0);
    /* Nothing anywhere. */
    d = 1;
    EXPECT_INT(positions_differ(NULL, NULL, 0, &d), 0);
    EXPECT(d == 0);
}

static void test_differ_orders_in_flight(void) {
    /* 10 held, a buy of 5 and a sell of 3 open: the broker may hold 7..15. */
    positions_row_t r = row("10", "5", "3");
    decimal_nanos_t d;
    EXPECT_INT(positions_differ(&r, &r, n("7"), &d), 0);
    EXPECT_INT(positions_differ(&r, &r, n("15"), &d), 0);
    EXPECT_INT(positions_differ(&r, &r, n("12.5"), &d), 0);
    EXPECT_INT(positions_differ(&r, &r, n("15.000000001"), &d), 1);
    EXPECT(d == n("5.000000001"));
    EXPECT_INT(positions_differ(&r, &r, n("6"), &d), 1);
    EXPECT(d == -n("4"));
    /* A notional buy in flight: no upper bound. */
    r.open_buy_unknown = 1;
    EXPECT_INT(positions_differ(&r, &r, n("1000"), &d), 0);
    EXPECT_INT(positions_differ(&r, &r, n("6"), &d), 1);
}

static void test_differ_either_read(void) {
    /* Before the broker's read: 10, nothing open; after: 12 (a buy of 2
     * placed and filled in between). */
    positions_row_t a = row("10", "0", "0"), b = row("12", "0", "0");
    decimal_nanos_t d;
    EXPECT_INT(positions_differ(&a, &b, n("10"), &d), 0);
    EXPECT_INT(positions_differ(&a, &b, n("12"), &d), 0);
    EXPECT_INT(positions_differ(&a, &b, n("11"), &d), 1);
    EXPECT(d == -n("1"));
    /* The difference is against the later read. */
    EXPECT_INT(positions_differ(&a, &b, n("20"), &d), 1);
    EXPECT(d == n("8"));
}

static void test_differ_one_side_only(void) {
    decimal_nanos_t d;
    /* Shares bought by hand: the ledger has nothing of the symbol. */
    EXPECT_INT(positions_differ(NULL, NULL, n("3"), &d), 1);
    EXPECT(d == n("3"));
    /* A short placed by hand. */
    EXPECT_INT(positions_differ(NULL, NULL, -n("2"), &d), 1);
    EXPECT(d == -n("2"));
    /* Sold by hand: the broker has no position left. */
    positions_row_t r = row("4", "0", "0");
    EXPECT_INT(positions_differ(&r, &r, 0, &d), 1);
    EXPECT(d == -n("4"));
    /* Only the later read has the symbol. */
    EXPECT_INT(positions_differ(NULL, &r, n("4"), &d), 0);
}

static const unit_test_t TESTS[] = {
    {"sell_within_long", test_sell_within_long},
    {"sell_counts_open_sells", test_sell_counts_open_sells},
    {"sell_when_flat_or_short", test_sell_when_flat_or_short},
    {"buy_within_short", test_buy_within_short},
    {"fractional_shares", test_fractional_shares},
    {"unknown_quantities", test_unknown_quantities},
    {"bad_quantities_and_sides", test_bad_quantities_and_sides},
    {"differ_agrees", test_differ_agrees},
    {"differ_orders_in_flight", test_differ_orders_in_flight},
    {"differ_either_read", test_differ_either_read},
    {"differ_one_side_only", test_differ_one_side_only},
    {NULL, NULL},
};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
