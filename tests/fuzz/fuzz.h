/* fuzz.h -- what every libFuzzer target of tests/fuzz/ shares.
 *
 * Owns the one way a target reports a broken invariant: FUZZ_ASSERT prints
 * the file, line and condition and aborts, which libFuzzer records as a
 * crash with its input (build-fuzz/findings/TARGET/).  Unlike assert() it
 * does not vanish under NDEBUG.  Targets that use jansson also link
 * fuzz_jansson.c (LLVMFuzzerInitialize fixing jansson's hash seed). */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                         \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                       \
            abort();                                                              \
        }                                                                         \
    } while (0)

/* A char array holds a NUL-terminated string. */
#define FUZZ_TERMINATED(arr) FUZZ_ASSERT(memchr((arr), '\0', sizeof(arr)) != NULL)

/* All bytes of a struct are zero: what a failed parse leaves. */
static inline int fuzz_all_zero(const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

#endif
