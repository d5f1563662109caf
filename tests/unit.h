/* unit.h -- the C tests' one harness: tests registered by name, assertions
 * that print what was expected and what came.
 *
 * A test program lists its tests in a table and hands it to unit_main():
 *
 *     static void test_parse_plain(void) {
 *         EXPECT_INT(decimal_parse("1.5", 3, 0, &d), DECIMAL_OK);
 *         EXPECT_STR(buf, "1.5");
 *     }
 *     static const unit_test_t TESTS[] = {
 *         {"parse_plain", test_parse_plain},
 *         {NULL, NULL}
 *     };
 *     int main(int argc, char **argv) { return unit_main(TESTS, argc, argv); }
 *
 * `prog` runs every test, `prog NAME...` only those (a name that matches none
 * is an error), `prog --list` prints the names.  Each failed assertion prints
 * "FAIL test: file:line: what (expected ..., got ...)"; each test ends with
 * "ok test" or "FAIL test"; the last line is "N passed, M failed" (checks),
 * and the exit status is 1 if any check failed.  Assertions may be made from
 * several threads (the counters are atomic); a test's setup that cannot go
 * on calls UNIT_ABORT, which fails the test and returns from it. */
#ifndef UNIT_H
#define UNIT_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct unit_test {
    const char *name;
    void (*fn)(void);
} unit_test_t;

/* The run's counters and the name of the test running (one test at a time;
 * its threads may assert concurrently). */
typedef struct unit_state {
    atomic_long passed, failed;
    atomic_long test_failed;
    const char *test;
} unit_state_t;

static unit_state_t unit_run_state;

static inline void unit_vfail(const char *file, int line, const char *fmt, va_list ap) {
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    atomic_fetch_add(&unit_run_state.failed, 1);
    atomic_fetch_add(&unit_run_state.test_failed, 1);
    printf("FAIL %s: %s:%d: %s\n", unit_run_state.test ? unit_run_state.test : "-", file, line,
           msg);
    fflush(stdout);
}

__attribute__((format(printf, 4, 5))) static inline int unit_check(int ok, const char *file,
                                                            int line, const char *fmt, ...) {
    if (ok) {
        atomic_fetch_add(&unit_run_state.passed, 1);
        return 1;
    }
    va_list ap;
    va_start(ap, fmt);
    unit_vfail(file, line, fmt, ap);
    va_end(ap);
    return 0;
}

static inline int unit_check_int(intmax_t got, intmax_t want, const char *expr, const char *file,
                          int line) {
    return unit_check(got == want, file, line, "%s (expected %" PRIdMAX ", got %" PRIdMAX ")",
                      expr, want, got);
}

static inline int unit_check_str(const char *got, const char *want, const char *expr, const char *file,
                          int line) {
    int ok = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
    return unit_check(ok, file, line, "%s (expected \"%s\", got \"%s\")", expr,
                      want ? want : "(null)", got ? got : "(null)");
}

static inline int unit_check_double(double got, double want, double tolerance, const char *expr,
                             const char *file, int line) {
    double d = got - want;
    return unit_check(d <= tolerance && -d <= tolerance, file, line,
                      "%s (expected %.9g within %.3g, got %.9g)", expr, want, tolerance, got);
}

/* EXPECT(cond): cond holds.  EXPECT_MSG(cond, fmt, ...): with a message made
 * of the values at hand.  EXPECT_INT / EXPECT_STR / EXPECT_NEAR: equality,
 * printing both values.  Each evaluates to 1 if it held, 0 if not. */
#define EXPECT(cond) unit_check(!!(cond), __FILE__, __LINE__, "%s", #cond)
#define EXPECT_MSG(cond, ...) unit_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define EXPECT_INT(got, want) \
    unit_check_int((intmax_t)(got), (intmax_t)(want), #got " == " #want, __FILE__, __LINE__)
#define EXPECT_STR(got, want) unit_check_str((got), (want), #got " == " #want, __FILE__, __LINE__)
#define EXPECT_NEAR(got, want, tol) \
    unit_check_double((got), (want), (tol), #got " ~ " #want, __FILE__, __LINE__)
/* Fails the test with a message and returns from the test function (only in
 * the test function itself, not in a helper it calls). */
#define UNIT_ABORT(...)                                              \
    do {                                                             \
        unit_check(0, __FILE__, __LINE__, __VA_ARGS__);             \
        return;                                                      \
    } while (0)

static inline int unit_main(const unit_test_t *tests, int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (const unit_test_t *t = tests; t->name; t++) printf("%s\n", t->name);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const unit_test_t *t = tests;
        while (t->name && strcmp(t->name, argv[i]) != 0) t++;
        if (!t->name) {
            fprintf(stderr, "%s: no test named %s (--list names them)\n", argv[0], argv[i]);
            return 2;
        }
    }
    int tests_failed = 0;
    for (const unit_test_t *t = tests; t->name; t++) {
        int wanted = argc == 1;
        for (int i = 1; i < argc && !wanted; i++) wanted = strcmp(t->name, argv[i]) == 0;
        if (!wanted) continue;
        unit_run_state.test = t->name;
        atomic_store(&unit_run_state.test_failed, 0);
        t->fn();
        int bad = atomic_load(&unit_run_state.test_failed) > 0;
        tests_failed += bad;
        printf("%s %s\n", bad ? "FAIL" : "ok  ", t->name);
        fflush(stdout);
    }
    unit_run_state.test = NULL;
    printf("%ld passed, %ld failed\n", atomic_load(&unit_run_state.passed),
           atomic_load(&unit_run_state.failed));
    return tests_failed ? 1 : 0;
}

#endif
