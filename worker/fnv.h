/* fnv.h -- FNV-1a (32 bits), the hash of the worker's in-memory tables:
 * intake's choice of lane per key, keyqueue's buckets, settled's slots.
 * Fast on short keys, and the same on every replica and every run (a
 * key's lane must not change between two messages of it). */
#ifndef FNV_H
#define FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_BASIS 2166136261u
#define FNV1A_PRIME 16777619u

/* h with one more value mixed in. */
static inline uint32_t fnv1a_mix(uint32_t h, uint32_t v) {
    return (h ^ v) * FNV1A_PRIME;
}

/* h with len bytes mixed in, one at a time (start from FNV1A_BASIS). */
static inline uint32_t fnv1a(uint32_t h, const void *data, size_t len) {
    const unsigned char *s = data;
    for (size_t i = 0; i < len; i++) h = fnv1a_mix(h, s[i]);
    return h;
}

#endif
