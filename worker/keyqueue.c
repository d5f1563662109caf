/* keyqueue.c -- a lane's fair per-key queue (see keyqueue.h).
 *
 * Each key with work has a queue of its items (a linked list, oldest
 * first), found through a hash table (FNV-1a of the key, seeded with its
 * class; chained; doubled once there are as many keys as buckets) and
 * linked into the ring of its class.  A key exists only while it has work:
 * it is made by the push that finds none, and forgotten when its last item
 * is taken.
 *
 * Taking a batch pops the head key of the users' ring (or the bots', when
 * the users' is empty) once per item.  A key that still has items is held
 * aside until the batch is complete and only then put back at the end of
 * its ring: while it is held, no second item of it can be taken, which is
 * what keeps one key's items one at a time and in order across the lanes'
 * batches. */
#include "keyqueue.h"

#include <stdlib.h>
#include <string.h>

#include "fnv.h"

typedef struct node {
    void *item;
    struct node *next;
} node_t;

/* The queue of one key. */
typedef struct keyq {
    node_t *first, *last;
    struct keyq *next;      /* in its ring, or in the held list of a take */
    struct keyq *hnext;     /* in its hash chain */
    unsigned int hash;
    keyqueue_class_t cls;
    size_t key_len;
    unsigned char key[];
} keyq_t;

typedef struct ring {
    keyq_t *head, *tail;
} ring_t;

struct keyqueue {
    ring_t rings[2];        /* indexed by keyqueue_class_t */
    keyq_t **buckets;
    size_t n_buckets, n_keys, n_items;
};

keyqueue_t *keyqueue_new(void) { return calloc(1, sizeof(keyqueue_t)); }

void keyqueue_free(keyqueue_t *q) {
    if (!q) return;
    for (size_t b = 0; b < q->n_buckets; b++)
        for (keyq_t *k = q->buckets[b], *knext; k; k = knext) {
            knext = k->hnext;
            for (node_t *n = k->first, *nnext; n; n = nnext) {
                nnext = n->next;
                free(n);
            }
            free(k);
        }
    free(q->buckets);
    free(q);
}

static unsigned int key_hash(keyqueue_class_t cls, const void *key, size_t len) {
    return fnv1a(FNV1A_BASIS ^ (uint32_t)cls, key, len);
}

static void ring_push(ring_t *r, keyq_t *k) {
    k->next = NULL;
    if (r->tail) r->tail->next = k;
    else r->head = k;
    r->tail = k;
}

static keyq_t *ring_pop(ring_t *r) {
    keyq_t *k = r->head;
    if (k) {
        r->head = k->next;
        if (!r->head) r->tail = NULL;
    }
    return k;
}

static int buckets_grow(keyqueue_t *q) {
    size_t n = q->n_buckets ? q->n_buckets * 2 : 64;
    keyq_t **b = calloc(n, sizeof(*b));
    if (!b) return -1;
    for (size_t i = 0; i < q->n_buckets; i++)
        for (keyq_t *k = q->buckets[i], *next; k; k = next) {
            next = k->hnext;
            k->hnext = b[k->hash % n];
            b[k->hash % n] = k;
        }
    free(q->buckets);
    q->buckets = b;
    q->n_buckets = n;
    return 0;
}

/* The queue of the key in its hash chain, or NULL when it has no work. */
static keyq_t *key_lookup(const keyqueue_t *q, unsigned int h, keyqueue_class_t cls,
                          const void *key, size_t len) {
    if (!q->n_buckets) return NULL;
    keyq_t *k = q->buckets[h % q->n_buckets];
    while (k && !(k->hash == h && k->cls == cls && k->key_len == len &&
                  (len == 0 || !memcmp(k->key, key, len))))
        k = k->hnext;
    return k;
}

/* The queue of the key, made (with no items, in its ring) when it has
 * none; NULL without memory. */
static keyq_t *key_find(keyqueue_t *q, keyqueue_class_t cls, const void *key, size_t len) {
    unsigned int h = key_hash(cls, key, len);
    if (q->n_keys >= q->n_buckets && buckets_grow(q) < 0) return NULL;
    keyq_t *k = key_lookup(q, h, cls, key, len);
    if (k) return k;
    keyq_t **slot = &q->buckets[h % q->n_buckets];
    k = calloc(1, sizeof(*k) + len);
    if (!k) return NULL;
    k->hash = h;
    k->cls = cls;
    k->key_len = len;
    if (len) memcpy(k->key, key, len);
    k->hnext = *slot;
    *slot = k;
    q->n_keys++;
    ring_push(&q->rings[cls], k);
    return k;
}

int keyqueue_push(keyqueue_t *q, keyqueue_class_t cls, const void *key, size_t len,
                  void *item) {
    /* The node first: a key is never made without work. */
    node_t *n = calloc(1, sizeof(*n));
    if (!n) return -1;
    keyq_t *k = key_find(q, cls, key, len);
    if (!k) {
        free(n);
        return -1;
    }
    n->item = item;
    if (k->last) k->last->next = n;
    else k->first = n;
    k->last = n;
    q->n_items++;
    return 0;
}

/* Removes a key without work from its hash chain and frees it. */
static void key_forget(keyqueue_t *q, keyq_t *k) {
    keyq_t **p = &q->buckets[k->hash % q->n_buckets];
    while (*p != k) p = &(*p)->hnext;
    *p = k->hnext;
    q->n_keys--;
    free(k);
}

/* The oldest item of the head key (users' first); the key goes to held if
 * it has more, else it is forgotten.  NULL when no key has work. */
static void *take_one(keyqueue_t *q, ring_t *held) {
    ring_t *r = q->rings[KEYQUEUE_USERS].head ? &q->rings[KEYQUEUE_USERS]
                                              : &q->rings[KEYQUEUE_BOTS];
    keyq_t *k = ring_pop(r);
    if (!k) return NULL;
    node_t *n = k->first;
    void *item = n->item;
    k->first = n->next;
    if (!k->first) k->last = NULL;
    free(n);
    q->n_items--;
    if (k->first) ring_push(held, k);
    else key_forget(q, k);
    return item;
}

int keyqueue_take(keyqueue_t *q, void **out, int max) {
    ring_t held = {NULL, NULL};
    int n = 0;
    while (n < max && (out[n] = take_one(q, &held))) n++;
    for (keyq_t *k; (k = ring_pop(&held));) ring_push(&q->rings[k->cls], k);
    return n;
}

void *keyqueue_find(const keyqueue_t *q, keyqueue_class_t cls, const void *key, size_t len,
                    int (*match)(const void *item, void *ctx), void *ctx) {
    keyq_t *k = key_lookup(q, key_hash(cls, key, len), cls, key, len);
    for (node_t *n = k ? k->first : NULL; n; n = n->next)
        if (match(n->item, ctx)) return n->item;
    return NULL;
}

size_t keyqueue_items(const keyqueue_t *q) { return q->n_items; }

size_t keyqueue_keys(const keyqueue_t *q) { return q->n_keys; }
