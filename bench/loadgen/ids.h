/* ids.h -- the intent ids of a load generator run (bench/loadgen).
 *
 * tttttttt-ssss-4sss-Vrrr-rrrrrrrrrrrr: a UUID v4 whose first 8 hex digits
 * are the run's tag and whose next 7 (around the version nibble) are the
 * intent's sequence number; the rest is random.  Matching an event to an
 * intent is a prefix compare plus a hex decode. */
#ifndef LOADGEN_IDS_H
#define LOADGEN_IDS_H

#include <stddef.h>
#include <stdint.h>

#define IDS_SEQ_MAX 0x0FFFFFFFu /* 7 hex digits */

/* The next number of the xorshift64* generator of state *s (never 0). */
uint64_t ids_rng_next(uint64_t *s);

/* A seed for ids_rng_next: getrandom(2), else the clock and the pid. */
uint64_t ids_rng_seed(void);

/* The id of intent seq of the run tagged tag into out (36 chars + NUL). */
void ids_make(uint32_t tag, uint32_t seq, uint64_t *rng, char out[37]);

/* 1 and *seq if the id at p (len bytes) is one of the run tagged tag_hex
 * (8 hex digits), 0 if another run's, -1 if not an id at all. */
int ids_parse(const char *tag_hex, const char *p, size_t len, uint32_t *seq);

/* 0 if s is exactly 8 hex digits (a run tag), -1 otherwise. */
int ids_check_tag(const char *s);

#endif
