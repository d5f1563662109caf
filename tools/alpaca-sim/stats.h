/* stats.h -- request counters for GET /_sim/stats.
 *
 * Counters are C11 atomics: every request thread bumps them without a lock.
 * The order book and the rate limiter keep their own counters (book.c,
 * ratelimit.c); control.c puts them all into one JSON object.
 *   requests_total   every /v2 request received (trading and data API)
 *   responses_429    requests refused by the rate limiter (injected faults
 *                    with error_status 429 are counted in fault_errors) */
#ifndef STATS_H
#define STATS_H

#include <jansson.h>
#include <stdatomic.h>

typedef struct stats {
    atomic_ullong requests_total;
    atomic_ullong trading_requests;
    atomic_ullong data_requests;
    atomic_ullong order_posts;       /* POST /v2/orders received (placements and probes) */
    atomic_ullong order_posts_now;   /* POST /v2/orders being answered right now */
    atomic_ullong order_posts_peak;  /* most of them at once since the reset */
    atomic_ullong control_requests;
    atomic_ullong responses_2xx;
    atomic_ullong responses_4xx;
    atomic_ullong responses_5xx;
    atomic_ullong responses_401;
    atomic_ullong responses_429;
    atomic_ullong fault_errors;
    atomic_ullong fault_outage_errors;
    atomic_ullong fault_hangs;
    atomic_ullong fault_drops;
    atomic_llong hanging_now;
} stats_t;

void stats_reset(stats_t *s);
/* Counts the status of an answered /v2 request. */
void stats_count_status(stats_t *s, int status);
/* Adds the counters to obj. */
void stats_add_json(stats_t *s, json_t *obj);

#endif
