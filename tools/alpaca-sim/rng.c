/* rng.c -- seeded splitmix64 generator, stateless hashes and UUID v4 text
 * (see rng.h). */
#include "rng.h"

#include <stdio.h>

void rng_init(rng_t *r, uint64_t seed)
{
    pthread_mutex_init(&r->lock, NULL);
    r->state = seed;
}

void rng_destroy(rng_t *r)
{
    pthread_mutex_destroy(&r->lock);
}

uint64_t rng_next(rng_t *r)
{
    pthread_mutex_lock(&r->lock);
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    pthread_mutex_unlock(&r->lock);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t rng_hash(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t z = a ^ (b * 0x9e3779b97f4a7c15ULL) ^ (c * 0xc2b2ae3d27d4eb4fULL);
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void rng_uuid4(rng_t *r, char out[RNG_UUID_LEN])
{
    uint64_t hi = rng_next(r), lo = rng_next(r);
    hi = (hi & ~0xf000ULL) | 0x4000ULL;                 /* version 4 */
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; /* variant */
    snprintf(out, RNG_UUID_LEN, "%08x-%04x-%04x-%04x-%012llx",
             (unsigned)(hi >> 32), (unsigned)((hi >> 16) & 0xffff),
             (unsigned)(hi & 0xffff), (unsigned)(lo >> 48),
             (unsigned long long)(lo & 0xffffffffffffULL));
}
