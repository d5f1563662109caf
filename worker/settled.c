/* settled.c -- the orders this replica has just seen end (see settled.h).
 *
 * A direct-mapped table: an id's hash picks its one slot, which keeps the
 * whole id, so a lookup compares strings and can only miss, never confuse
 * two orders.  A collision overwrites the older entry.  SETTLED_SLOTS ids
 * cover the few milliseconds between a placement's answer and its stream
 * events many times over, at any rate this machine reaches.  One mutex:
 * the lanes add a batch at a time, the follower looks up per event. */
#include "settled.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fnv.h"

#define SETTLED_SLOTS 16384   /* a power of two */
#define SETTLED_ID_MAX 64     /* alpaca_order_t.client_order_id */

struct settled {
    pthread_mutex_t lock;
    char ids[SETTLED_SLOTS][SETTLED_ID_MAX];
};

settled_t *settled_new(void) {
    settled_t *s = calloc(1, sizeof(*s));
    if (s) pthread_mutex_init(&s->lock, NULL);
    return s;
}

void settled_free(settled_t *s) {
    if (!s) return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static size_t slot_of(const char *id) {
    return fnv1a(FNV1A_BASIS, id, strlen(id)) & (SETTLED_SLOTS - 1);
}

void settled_add(settled_t *s, const char *client_order_id) {
    size_t n = strlen(client_order_id);
    if (!s || n == 0 || n >= SETTLED_ID_MAX) return;
    size_t i = slot_of(client_order_id);
    pthread_mutex_lock(&s->lock);
    memcpy(s->ids[i], client_order_id, n + 1);
    pthread_mutex_unlock(&s->lock);
}

int settled_has(settled_t *s, const char *client_order_id) {
    if (!s || !client_order_id[0]) return 0;
    size_t i = slot_of(client_order_id);
    pthread_mutex_lock(&s->lock);
    int found = strcmp(s->ids[i], client_order_id) == 0;
    pthread_mutex_unlock(&s->lock);
    return found;
}
