/* ratelimit.c -- sliding-log rate limit per API key (see ratelimit.h). */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "simtime.h"

struct ratelimit_key {
    char *key;
    int64_t *ring;       /* times (monotonic ms) of accepted requests */
    int head;            /* oldest entry */
    int count;
    ratelimit_key_t *next;
};

void ratelimit_init(ratelimit_t *rl, int limit, int64_t period_ms)
{
    pthread_mutex_init(&rl->lock, NULL);
    rl->limit = limit;
    rl->period_ms = period_ms;
    rl->keys = NULL;
    rl->nkeys = 0;
    rl->max_in_period = 0;
    rl->accepted = 0;
    rl->refused = 0;
}

static void ratelimit_free_keys(ratelimit_t *rl)
{
    ratelimit_key_t *k = rl->keys;
    while (k) {
        ratelimit_key_t *next = k->next;
        free(k->key);
        free(k->ring);
        free(k);
        k = next;
    }
    rl->keys = NULL;
    rl->nkeys = 0;
}

void ratelimit_destroy(ratelimit_t *rl)
{
    ratelimit_free_keys(rl);
    pthread_mutex_destroy(&rl->lock);
}

void ratelimit_reset(ratelimit_t *rl)
{
    pthread_mutex_lock(&rl->lock);
    ratelimit_free_keys(rl);
    rl->max_in_period = 0;
    rl->accepted = 0;
    rl->refused = 0;
    pthread_mutex_unlock(&rl->lock);
}

static ratelimit_key_t *ratelimit_find(ratelimit_t *rl, const char *key)
{
    /* Past RATELIMIT_MAX_KEYS distinct keys, the rest share the "" log, so
     * that a client inventing keys cannot make the table grow forever. */
    if (rl->nkeys >= RATELIMIT_MAX_KEYS)
        key = "";
    for (ratelimit_key_t *k = rl->keys; k; k = k->next)
        if (strcmp(k->key, key) == 0)
            return k;
    ratelimit_key_t *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    k->key = strdup(key);
    k->ring = calloc((size_t)rl->limit, sizeof(*k->ring));
    if (k->key == NULL || k->ring == NULL) {
        free(k->key);
        free(k->ring);
        free(k);
        return NULL;
    }
    k->next = rl->keys;
    rl->keys = k;
    rl->nkeys++;
    return k;
}

int ratelimit_take(ratelimit_t *rl, const char *key, int64_t now_ms, ratelimit_info_t *info)
{
    pthread_mutex_lock(&rl->lock);
    ratelimit_key_t *k = ratelimit_find(rl, key);
    if (k == NULL) {
        pthread_mutex_unlock(&rl->lock);
        return -1;
    }
    /* Entries at or before now - period are out of the window. */
    while (k->count > 0 && k->ring[k->head] <= now_ms - rl->period_ms) {
        k->head = (k->head + 1) % rl->limit;
        k->count--;
    }
    int accepted = k->count < rl->limit;
    if (accepted) {
        k->ring[(k->head + k->count) % rl->limit] = now_ms;
        k->count++;
        rl->accepted++;
        if (k->count > rl->max_in_period)
            rl->max_in_period = k->count;
    } else {
        rl->refused++;
    }
    int64_t oldest = k->ring[k->head];
    info->limit = rl->limit;
    info->remaining = rl->limit - k->count;
    int64_t wait_ms = oldest + rl->period_ms - now_ms;
    int64_t wall_ms = simtime_now_us() / 1000 + wait_ms;
    info->reset_epoch_s = (wall_ms + 999) / 1000;
    pthread_mutex_unlock(&rl->lock);
    return accepted;
}

int ratelimit_max_in_period(ratelimit_t *rl)
{
    pthread_mutex_lock(&rl->lock);
    int m = rl->max_in_period;
    pthread_mutex_unlock(&rl->lock);
    return m;
}
