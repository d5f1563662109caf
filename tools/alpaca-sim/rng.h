/* rng.h -- the simulator's one source of randomness.
 *
 * Order ids and fault decisions come from a seeded generator so that a run
 * with --seed is repeatable.  The generator has its own lock: request
 * threads draw from it concurrently. */
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
/* Writes a random RFC 4122 version 4 UUID (lower case, with dashes). */
void rng_uuid4(rng_t *r, char out[RNG_UUID_LEN]);

#endif
