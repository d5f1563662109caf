/* rng.h -- the simulator's one source of randomness.
 *
 * Order ids and fault decisions come from a seeded generator so that a run
 * with --seed is repeatable.  The generator has its own lock: request
 * threads draw from it concurrently.  The quote walk, fill sizes and bars
 * draw without state: a hash of the seed and what they are about
 * (rng_hash), so that they repeat whatever the order of requests. */
#ifndef RNG_H
#define RNG_H

#include <pthread.h>
#include <stdint.h>

#define RNG_UUID_LEN 37 /* 36 characters and the NUL */

typedef struct rng {
    pthread_mutex_t lock;
    uint64_t state;
} rng_t;

void rng_init(rng_t *r, uint64_t seed);
void rng_destroy(rng_t *r);
uint64_t rng_next(rng_t *r);
/* Uniform in [0, 1). */
double rng_unit(rng_t *r);
/* A 64-bit mix of three values (splitmix64 finaliser). */
uint64_t rng_hash(uint64_t a, uint64_t b, uint64_t c);
/* FNV-1a of a string, to mix symbols into draws. */
uint64_t rng_hash_text(const char *s);
/* Writes a random RFC 4122 version 4 UUID (lower case, with dashes). */
void rng_uuid4(rng_t *r, char out[RNG_UUID_LEN]);

#endif
