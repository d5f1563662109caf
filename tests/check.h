/* check.h -- the one assertion the C tests share: count, print what failed
 * with its line, and let main() end with "N passed, M failed". */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>

static int passed, failed;

static void check(int ok, const char *what, int line) {
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL line %d: %s\n", line, what);
    }
}
#define CHECK(cond) check((cond), #cond, __LINE__)

#endif
