/* ids.c -- the intent ids of a load generator run (see ids.h).
 *
 * Owns: making an intent's id from the run's tag and its sequence number,
 * and reading them back from an event's intent_id.  Why: the reader must
 * match every event to an intent of this run at the rate the workers
 * publish, with no hash of strings: the per-intent state is then a table
 * indexed by the sequence number. */
#include "ids.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint64_t ids_rng_next(uint64_t *s) { /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

uint64_t ids_rng_seed(void) {
    uint64_t s = 0;
    if (getrandom(&s, sizeof(s), 0) == sizeof(s) && s != 0) return s;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000) ^
           ((uint64_t)getpid() << 40) ^ 0x9E3779B97F4A7C15ULL;
}

void ids_make(uint32_t tag, uint32_t seq, uint64_t *rng, char out[37]) {
    uint64_t a = ids_rng_next(rng), b = ids_rng_next(rng);
    static const char variant[] = "89ab";
    snprintf(out, 37, "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32 "-%c%03" PRIx64 "-%012" PRIx64,
             tag, (seq >> 12) & 0xFFFF, seq & 0xFFF, variant[a & 3], (uint64_t)((a >> 2) & 0xFFF),
             (uint64_t)(b & 0xFFFFFFFFFFFFULL));
}

static int ids_hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int ids_parse(const char *tag_hex, const char *p, size_t len, uint32_t *seq) {
    if (len < 36 || p[8] != '-' || p[13] != '-' || p[18] != '-') return -1;
    if (strncasecmp(p, tag_hex, 8) != 0) return 0;
    uint32_t s = 0;
    const int pos[] = {9, 10, 11, 12, 15, 16, 17};
    for (int i = 0; i < 7; i++) {
        int v = ids_hex_value(p[pos[i]]);
        if (v < 0) return -1;
        s = (s << 4) | (uint32_t)v;
    }
    *seq = s;
    return 1;
}

int ids_check_tag(const char *s) {
    if (strlen(s) != 8) return -1;
    for (int i = 0; i < 8; i++)
        if (ids_hex_value(s[i]) < 0) return -1;
    return 0;
}
