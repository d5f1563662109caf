/* ratelimit.h -- Alpaca's per-key request limit, as a sliding log.
 *
 * Each API key (the APCA-API-KEY-ID header, "" when absent) has a log of
 * the times of its accepted trading API requests.  A request is accepted
 * when fewer than `limit` requests were accepted in the last period_ms;
 * otherwise it is answered 429 and NOT logged (a refused request does not
 * use the budget, so a client that backs off recovers after one period).
 * The log is a ring of `limit` entries, which is all a window can hold.
 *
 * max_in_period is exact: the window ending at each accepted request is
 * the only place the count can rise, and it is counted there.  The market
 * data API (/v2/stocks/...) has its own limit at Alpaca and is not counted.
 * Thread-safe (own lock). */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

#define RATELIMIT_MAX_KEYS 256

typedef struct ratelimit_key ratelimit_key_t;

typedef struct ratelimit {
    pthread_mutex_t lock;
    int limit;
    int64_t period_ms;
    ratelimit_key_t *keys;
    int nkeys;
    int max_in_period;       /* over all keys */
    uint64_t accepted;
    uint64_t refused;
} ratelimit_t;

typedef struct ratelimit_info {
    int limit;
    int remaining;
    int64_t reset_epoch_s;   /* when the oldest counted request leaves the window */
} ratelimit_info_t;

void ratelimit_init(ratelimit_t *rl, int limit, int64_t period_ms);
void ratelimit_destroy(ratelimit_t *rl);
/* Forgets every log and counter. */
void ratelimit_reset(ratelimit_t *rl);
/* Counts a request of key at monotonic time now_ms.  Returns 1 if it is
 * accepted, 0 if it must be answered 429, -1 when out of memory.  info
 * gets the values of the X-Ratelimit-* headers. */
int ratelimit_take(ratelimit_t *rl, const char *key, int64_t now_ms, ratelimit_info_t *info);
int ratelimit_max_in_period(ratelimit_t *rl);

#endif
