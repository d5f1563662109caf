/* test_decimal.c -- tests for worker/decimal.c and worker/timefmt.c.
 *
 * A table of decimal texts with the status, canonical text and scale
 * decimal_parse must give, comparisons for decimal_cmp, RFC 3339
 * parsing/formatting cases, the clocks, and the fixed-point (nanos)
 * arithmetic of fills.  Runs on tests/unit.h (`test_decimal --list` names
 * the tests); a failed table row names its input, what was expected and
 * what came. */
#include <string.h>

#include "decimal.h"
#include "timefmt.h"
#include "unit.h"

typedef struct parse_case {
    const char *in;
    int allow_exponent;
    decimal_status_t status;
    const char *text; /* canonical, when DECIMAL_OK */
    int scale;
} parse_case_t;

static const parse_case_t parse_cases[] = {
    /* strings: -?digits[.digits] */
    {"10", 0, DECIMAL_OK, "10", 0},
    {"0.5", 0, DECIMAL_OK, "0.5", 1},
    {"187.25", 0, DECIMAL_OK, "187.25", 2},
    {"1.50", 0, DECIMAL_OK, "1.5", 1},
    {"007", 0, DECIMAL_OK, "7", 0},
    {"00.50", 0, DECIMAL_OK, "0.5", 1},
    {"0", 0, DECIMAL_OK, "0", 0},
    {"0.000", 0, DECIMAL_OK, "0", 0},
    {"-0", 0, DECIMAL_OK, "0", 0},
    {"-2.50", 0, DECIMAL_OK, "-2.5", 1},
    {"100.000", 0, DECIMAL_OK, "100", 0},
    {"0.000000001", 0, DECIMAL_OK, "0.000000001", 9},
    {"123456789.123456789", 0, DECIMAL_OK, "123456789.123456789", 9},
    {"", 0, DECIMAL_SYNTAX, NULL, 0},
    {" 1", 0, DECIMAL_SYNTAX, NULL, 0},
    {"1 ", 0, DECIMAL_SYNTAX, NULL, 0},
    {"1e3", 0, DECIMAL_SYNTAX, NULL, 0},
    {"+1", 0, DECIMAL_SYNTAX, NULL, 0},
    {".5", 0, DECIMAL_SYNTAX, NULL, 0},
    {"1.", 0, DECIMAL_SYNTAX, NULL, 0},
    {"-", 0, DECIMAL_SYNTAX, NULL, 0},
    {"1.2.3", 0, DECIMAL_SYNTAX, NULL, 0},
    {"abc", 0, DECIMAL_SYNTAX, NULL, 0},
    {"1,5", 0, DECIMAL_SYNTAX, NULL, 0},
    {"--1", 0, DECIMAL_SYNTAX, NULL, 0},
    /* numbers: the JSON grammar, exponent shifted exactly */
    {"1e2", 1, DECIMAL_OK, "100", 0},
    {"1E2", 1, DECIMAL_OK, "100", 0},
    {"1e+2", 1, DECIMAL_OK, "100", 0},
    {"1.50", 1, DECIMAL_OK, "1.5", 1},
    {"0.1e1", 1, DECIMAL_OK, "1", 0},
    {"1.5e2", 1, DECIMAL_OK, "150", 0},
    {"12345e-2", 1, DECIMAL_OK, "123.45", 2},
    {"5e-3", 1, DECIMAL_OK, "0.005", 3},
    {"-1.25e1", 1, DECIMAL_OK, "-12.5", 1},
    {"0e999999999999999999", 1, DECIMAL_OK, "0", 0},
    {"0.1", 1, DECIMAL_OK, "0.1", 1},
    {"187.25", 1, DECIMAL_OK, "187.25", 2},
    {"0.30000000000000004", 1, DECIMAL_OK, "0.30000000000000004", 17},
    {"01", 1, DECIMAL_SYNTAX, NULL, 0},
    {"1e", 1, DECIMAL_SYNTAX, NULL, 0},
    {"1e+", 1, DECIMAL_SYNTAX, NULL, 0},
    {".5", 1, DECIMAL_SYNTAX, NULL, 0},
    {"1.", 1, DECIMAL_SYNTAX, NULL, 0},
    {"+1", 1, DECIMAL_SYNTAX, NULL, 0},
    {"1.e2", 1, DECIMAL_SYNTAX, NULL, 0},
    {"1e2.5", 1, DECIMAL_SYNTAX, NULL, 0},
    /* range: the canonical text must fit DECIMAL_MAX_TEXT */
    {"1e46", 1, DECIMAL_OK, "10000000000000000000000000000000000000000000000", 0},
    {"1e47", 1, DECIMAL_RANGE, NULL, 0},
    {"-1e46", 1, DECIMAL_RANGE, NULL, 0},
    {"1e-45", 1, DECIMAL_OK, "0.000000000000000000000000000000000000000000001", 45},
    {"1e-46", 1, DECIMAL_RANGE, NULL, 0},
    {"1e400", 1, DECIMAL_RANGE, NULL, 0},
    {"1e999999999999999999999", 1, DECIMAL_RANGE, NULL, 0},
    {"1e-999999999999999999999", 1, DECIMAL_RANGE, NULL, 0},
    {"123456789012345678901234567890123456789012345678", 0, DECIMAL_RANGE, NULL, 0},
    {"1.000000000000000000000000000000000000000000000000000000000000", 0,
     DECIMAL_OK, "1", 0},
};

typedef struct cmp_case {
    const char *a, *b;
    int want;
} cmp_case_t;

static const cmp_case_t cmp_cases[] = {
    {"1", "1.0", 0},       {"1", "2", -1},        {"10", "9", 1},
    {"0.5", "0.50", 0},    {"0.5", "0.45", 1},    {"0.05", "0.5", -1},
    {"-1", "1", -1},       {"-2", "-1", -1},      {"-0.5", "-0.25", -1},
    {"0", "-0", 0},        {"0", "0.0001", -1},   {"187.25", "187.251", -1},
    {"100", "99.999", 1},  {"-0.1", "0", -1},
};

typedef struct time_case {
    const char *in;
    int ok;
    long long ms;
} time_case_t;

static const time_case_t time_cases[] = {
    {"1970-01-01T00:00:00Z", 1, 0LL},
    {"2026-11-23T13:21:25Z", 1, 1795440085000LL},
    {"2026-11-23t13:21:25z", 1, 1795440085000LL},
    {"2026-11-23T08:21:25-05:00", 1, 1795440085000LL},
    {"2026-11-23T14:51:25+01:30", 1, 1795440085000LL},
    {"2026-11-23T13:21:25.123Z", 1, 1795440085123LL},
    {"2026-11-23T13:21:25.1Z", 1, 1795440085100LL},
    {"2026-11-23T13:21:25.123456789Z", 1, 1795440085123LL},
    {"2026-11-23T13:21:25-00:00", 1, 1795440085000LL},
    {"2024-02-29T00:00:00Z", 1, 1709164800000LL},
    {"2000-02-29T00:00:00Z", 1, 951782400000LL},
    {"1969-12-31T23:59:59.999Z", 1, -1LL},
    {"2026-02-30T00:00:00Z", 0, 0},
    {"2100-02-29T00:00:00Z", 0, 0},
    {"2026-13-01T00:00:00Z", 0, 0},
    {"2026-00-01T00:00:00Z", 0, 0},
    {"2026-01-00T00:00:00Z", 0, 0},
    {"2026-11-23T24:00:00Z", 0, 0},
    {"2026-11-23T23:60:00Z", 0, 0},
    {"2026-11-23T23:59:60Z", 0, 0},
    {"2026-11-23T13:21:25", 0, 0},
    {"2026-11-23 13:21:25Z", 0, 0},
    {"2026-11-23T13:21Z", 0, 0},
    {"2026-11-23T13:21:25.Z", 0, 0},
    {"2026-11-23T13:21:25+0500", 0, 0},
    {"2026-11-23T13:21:25+24:00", 0, 0},
    {"2026-11-23T13:21:25Z ", 0, 0},
    {"26-11-23T13:21:25Z", 0, 0},
    {"2026-11-23", 0, 0},
    {"", 0, 0},
};

typedef struct format_case {
    long long ms;
    const char *want;
} format_case_t;

static const format_case_t format_cases[] = {
    {0LL, "1970-01-01T00:00:00.000Z"},
    {1795440085123LL, "2026-11-23T13:21:25.123Z"},
    {1709164800000LL, "2024-02-29T00:00:00.000Z"},
    {-1LL, "1969-12-31T23:59:59.999Z"},
    {253402300799999LL, "9999-12-31T23:59:59.999Z"},
};

/* fixed point: text -> nanos -> canonical text */
static const struct {
    const char *in, *out;
} nanos_cases[] = {
    {"0", "0"}, {"1", "1"}, {"0.5", "0.5"}, {"187.25", "187.25"},
    {"0.000000001", "0.000000001"}, {"-2.5", "-2.5"},
    {"123456789.123456789", "123456789.123456789"},
    {"1.0000000004", "1"}, {"1.0000000005", "1.000000001"},
    {"105.8988475", "105.8988475"}, {"", "0"},
};

/* Too large for nanos: refused, never wrapped around (a 31-digit integer
 * overflowed the scaling to 1e-9; tests/fuzz/fuzz_decimal). */
static const char *const nanos_too_big[] = {
    "2910000000000000000000000000000", "2.91e30", "1e30",
    "-9999999999999999999999999999999.5", "12345678901234567890123456789012345678",
};

/* the price of the last fill, from two cumulative states */
static const struct {
    const char *q1, *a1, *q2, *a2, *price;
} fill_cases[] = {
    {"0", "", "10", "189.12", "189.12"},          /* first fill */
    {"10", "100", "30", "110", "115"},            /* 10@100 then 20@115 */
    {"3", "189.1", "4", "189.115", "189.16"},     /* 1 share at 189.16 */
    {"0.5", "10", "1.5", "10.1", "10.15"},
    {"1", "1", "4", "1.5", "1.666666667"},        /* rounds half up */
};

/* rounding to a number of places */
static const struct {
    const char *in;
    int places;
    const char *out;
} round_cases[] = {
    {"120.230000001", 4, "120.23"}, {"415.469998665", 4, "415.47"},
    {"1.66665", 4, "1.6667"}, {"1.66664", 4, "1.6666"}, {"-2.00005", 4, "-2.0001"},
    {"0.5", 0, "1"}, {"7", 2, "7"}, {"0.123456789", 9, "0.123456789"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_parse(void) {
    for (size_t i = 0; i < COUNT(parse_cases); i++) {
        const parse_case_t *c = &parse_cases[i];
        decimal_t d;
        memset(&d, 0, sizeof(d));
        decimal_status_t st = decimal_parse(c->in, strlen(c->in), c->allow_exponent, &d);
        int ok = st == c->status;
        if (ok && st == DECIMAL_OK)
            ok = strcmp(d.text, c->text) == 0 && d.scale == c->scale &&
                 d.negative == (c->text[0] == '-') && d.zero == (strcmp(c->text, "0") == 0);
        EXPECT_MSG(ok,
                   "parse \"%s\" (exp=%d): expected status %d text \"%s\" scale %d, got status"
                   " %d text \"%s\" scale %d negative %d zero %d",
                   c->in, c->allow_exponent, (int)c->status, c->text ? c->text : "", c->scale,
                   (int)st, st == DECIMAL_OK ? d.text : "", d.scale, d.negative, d.zero);
    }
}

/* Length-bounded: bytes after len are not read. */
static void test_parse_respects_len(void) {
    decimal_t d;
    if (EXPECT_INT(decimal_parse("12.5xyz", 4, 0, &d), DECIMAL_OK)) EXPECT_STR(d.text, "12.5");
}

static void test_cmp(void) {
    for (size_t i = 0; i < COUNT(cmp_cases); i++) {
        const cmp_case_t *c = &cmp_cases[i];
        decimal_t a, b;
        if (decimal_parse(c->a, strlen(c->a), 0, &a) != DECIMAL_OK ||
            decimal_parse(c->b, strlen(c->b), 0, &b) != DECIMAL_OK) {
            EXPECT_MSG(0, "cmp %s %s: a side does not parse", c->a, c->b);
            continue;
        }
        int got = decimal_cmp(&a, &b), rev = decimal_cmp(&b, &a);
        EXPECT_MSG(got == c->want && rev == -c->want,
                   "cmp %s %s (expected %d / %d, got %d / %d)", c->a, c->b, c->want, -c->want,
                   got, rev);
    }
}

static void test_time_parse(void) {
    for (size_t i = 0; i < COUNT(time_cases); i++) {
        const time_case_t *c = &time_cases[i];
        int64_t ms = 0;
        int rc = timefmt_parse_rfc3339(c->in, strlen(c->in), &ms);
        EXPECT_MSG((rc == 0) == c->ok && (!c->ok || ms == c->ms),
                   "time \"%s\" (expected ok %d ms %lld, got rc %d ms %lld)", c->in, c->ok,
                   c->ms, rc, (long long)ms);
    }
}

/* Formats, and reads the text back to the same instant. */
static void test_time_format(void) {
    for (size_t i = 0; i < COUNT(format_cases); i++) {
        const format_case_t *c = &format_cases[i];
        char buf[32];
        int64_t back = 0;
        timefmt_format_rfc3339(c->ms, buf, sizeof(buf));
        int rc = timefmt_parse_rfc3339(buf, strlen(buf), &back);
        EXPECT_MSG(strcmp(buf, c->want) == 0 && rc == 0 && back == c->ms,
                   "format %lld (expected \"%s\" read back as %lld, got \"%s\" read back as"
                   " %lld, rc %d)",
                   c->ms, c->want, c->ms, buf, (long long)back, rc);
    }
}

/* Clocks: wall clock is after 2024, monotonic does not go back. */
static void test_clocks(void) {
    int64_t now = timefmt_now_ms(), m1 = timefmt_mono_ms(), m2 = timefmt_mono_ms();
    EXPECT_MSG(now > 1704067200000LL, "wall clock %lld is after 2024-01-01", (long long)now);
    EXPECT_MSG(m2 >= m1, "monotonic clock %lld then %lld does not go back", (long long)m1,
               (long long)m2);
    EXPECT_MSG(m1 > 0, "monotonic clock %lld is positive", (long long)m1);
}

static void test_nanos_round_trip(void) {
    for (size_t i = 0; i < COUNT(nanos_cases); i++) {
        decimal_nanos_t v;
        decimal_t d;
        int ok = decimal_text_to_nanos(nanos_cases[i].in, &v) == 0;
        if (ok) decimal_from_nanos(v, &d);
        EXPECT_MSG(ok && !strcmp(d.text, nanos_cases[i].out),
                   "nanos round trip \"%s\" (expected \"%s\", got \"%s\")", nanos_cases[i].in,
                   nanos_cases[i].out, ok ? d.text : "(error)");
    }
}

static void test_nanos_range(void) {
    decimal_nanos_t v;
    int rc = decimal_text_to_nanos("abc", &v);
    EXPECT_MSG(rc < 0, "nanos of \"abc\" refused (got rc %d)", rc);
    for (size_t i = 0; i < COUNT(nanos_too_big); i++) {
        rc = decimal_text_to_nanos(nanos_too_big[i], &v);
        EXPECT_MSG(rc < 0, "nanos of \"%s\" refused (got rc %d)", nanos_too_big[i], rc);
    }
    if (EXPECT_INT(decimal_text_to_nanos("99999999999999999999.999999999", &v), 0)) {
        decimal_t d;
        decimal_from_nanos(v, &d);
        EXPECT_MSG(v > 0, "nanos of 20 integer digits are positive (got %s)", d.text);
    }
}

static void test_fill_price(void) {
    for (size_t i = 0; i < COUNT(fill_cases); i++) {
        decimal_nanos_t q1, a1, q2, a2;
        decimal_text_to_nanos(fill_cases[i].q1, &q1);
        decimal_text_to_nanos(fill_cases[i].a1, &a1);
        decimal_text_to_nanos(fill_cases[i].q2, &q2);
        decimal_text_to_nanos(fill_cases[i].a2, &a2);
        decimal_t d;
        decimal_from_nanos(decimal_fill_price(q1, a1, q2, a2), &d);
        EXPECT_MSG(!strcmp(d.text, fill_cases[i].price),
                   "fill price %s@%s -> %s@%s (expected %s, got %s)", fill_cases[i].q1,
                   fill_cases[i].a1, fill_cases[i].q2, fill_cases[i].a2, fill_cases[i].price,
                   d.text);
    }
}

static void test_nanos_round(void) {
    for (size_t i = 0; i < COUNT(round_cases); i++) {
        decimal_nanos_t v;
        decimal_t d;
        decimal_text_to_nanos(round_cases[i].in, &v);
        decimal_from_nanos(decimal_nanos_round(v, round_cases[i].places), &d);
        EXPECT_MSG(!strcmp(d.text, round_cases[i].out), "round %s to %d (expected %s, got %s)",
                   round_cases[i].in, round_cases[i].places, round_cases[i].out, d.text);
    }
}

static const unit_test_t TESTS[] = {
    {"parse", test_parse},
    {"parse_respects_len", test_parse_respects_len},
    {"cmp", test_cmp},
    {"time_parse", test_time_parse},
    {"time_format", test_time_format},
    {"clocks", test_clocks},
    {"nanos_round_trip", test_nanos_round_trip},
    {"nanos_range", test_nanos_range},
    {"fill_price", test_fill_price},
    {"nanos_round", test_nanos_round},
    {NULL, NULL},
};

int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
