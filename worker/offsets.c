/* offsets.c -- the offset tracker of a consumer (see offsets.h).
 *
 * Lanes finish messages out of order across keys, so each partition keeps
 * the offsets it has handed out, ascending, with a done mark, in a ring
 * that doubles when full (64 to start with).  A finished message is marked
 * done; then the done prefix is dropped from the head of the ring and the
 * storable position moves to one past its last offset.  An offset that is
 * never marked done (abandoned: the partition was revoked, or the worker
 * stops, before its message had an outcome) holds the position where it
 * is: nothing after the gap is stored, so the group redelivers from the gap
 * and no message is ever committed without a durable outcome.
 *
 * The table of partitions is a plain array of pointers: a consumer has a
 * few dozen partitions at most, and lookups happen once per message. */
#include "offsets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFFSETS_RING_START 64

struct offsets_part {
    char topic[128];
    int32_t partition;
    int64_t *offsets;        /* handed out, ascending, not yet dropped */
    unsigned char *done;
    size_t head, count, cap; /* the ring */
    int64_t store;           /* next offset to store, -1 if nothing new */
    int assigned;
    int pending;             /* handed out, not finished */
    atomic_int abandon;
};

struct offsets {
    offsets_part_t **parts;
    int n, cap;
};

offsets_t *offsets_new(void) { return calloc(1, sizeof(offsets_t)); }

void offsets_free(offsets_t *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) {
        free(t->parts[i]->offsets);
        free(t->parts[i]->done);
        free(t->parts[i]);
    }
    free(t->parts);
    free(t);
}

offsets_part_t *offsets_part(offsets_t *t, const char *topic, int32_t partition, int create) {
    for (int i = 0; i < t->n; i++)
        if (t->parts[i]->partition == partition && !strcmp(t->parts[i]->topic, topic))
            return t->parts[i];
    if (!create) return NULL;
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        offsets_part_t **np = realloc(t->parts, (size_t)cap * sizeof(*np));
        if (!np) return NULL;
        t->parts = np;
        t->cap = cap;
    }
    offsets_part_t *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    snprintf(p->topic, sizeof(p->topic), "%s", topic);
    p->partition = partition;
    p->store = -1;
    atomic_init(&p->abandon, 0);
    t->parts[t->n++] = p;
    return p;
}

int offsets_count(const offsets_t *t) { return t->n; }

offsets_part_t *offsets_at(offsets_t *t, int i) { return t->parts[i]; }

const char *offsets_topic(const offsets_part_t *p) { return p->topic; }

int32_t offsets_partition(const offsets_part_t *p) { return p->partition; }

void offsets_assign(offsets_part_t *p) {
    p->assigned = 1;
    atomic_store(&p->abandon, 0);
}

int offsets_assigned(const offsets_t *t) {
    int n = 0;
    for (int i = 0; i < t->n; i++) n += t->parts[i]->assigned;
    return n;
}

/* Doubles the ring, unrolling it to start at index 0. */
static int ring_grow(offsets_part_t *p) {
    size_t cap = p->cap ? p->cap * 2 : OFFSETS_RING_START;
    int64_t *o = malloc(cap * sizeof(*o));
    unsigned char *d = malloc(cap);
    if (!o || !d) {
        free(o);
        free(d);
        return -1;
    }
    for (size_t i = 0; i < p->count; i++) {
        o[i] = p->offsets[(p->head + i) % p->cap];
        d[i] = p->done[(p->head + i) % p->cap];
    }
    free(p->offsets);
    free(p->done);
    p->offsets = o;
    p->done = d;
    p->head = 0;
    p->cap = cap;
    return 0;
}

int offsets_push(offsets_part_t *p, int64_t offset) {
    if (p->count == p->cap && ring_grow(p) < 0) return -1;
    size_t at = (p->head + p->count) % p->cap;
    p->offsets[at] = offset;
    p->done[at] = 0;
    p->count++;
    p->pending++;
    return 0;
}

/* Marks offset done and moves the storable position past the done prefix. */
static void mark_done(offsets_part_t *p, int64_t offset) {
    for (size_t i = 0; i < p->count; i++) {
        size_t at = (p->head + i) % p->cap;
        if (p->offsets[at] == offset && !p->done[at]) {
            p->done[at] = 1;
            break;
        }
    }
    while (p->count > 0 && p->done[p->head]) {
        p->store = p->offsets[p->head] + 1;
        p->head = (p->head + 1) % p->cap;
        p->count--;
    }
}

void offsets_finish(offsets_part_t *p, int64_t offset, int ok) {
    if (ok) mark_done(p, offset);
    p->pending--;
}

int offsets_pending(const offsets_part_t *p) { return p->pending; }

int offsets_is_assigned(const offsets_part_t *p) { return p->assigned; }

/* The ring's head is its oldest unfinished offset (a finished prefix is
 * dropped as soon as it forms). */
int offsets_pending_before(const offsets_part_t *p, int64_t offset) {
    return p->count > 0 && p->offsets[p->head] < offset;
}

int64_t offsets_take_store(offsets_part_t *p) {
    if (p->store < 0 || !p->assigned) return -1;
    int64_t s = p->store;
    p->store = -1;
    return s;
}

void offsets_abandon(offsets_part_t *p) { atomic_store(&p->abandon, 1); }

void offsets_abandon_all(offsets_t *t) {
    for (int i = 0; i < t->n; i++) offsets_abandon(t->parts[i]);
}

const atomic_int *offsets_abandon_flag(const offsets_part_t *p) { return &p->abandon; }

void offsets_revoke(offsets_part_t *p) {
    p->assigned = 0;
    p->count = 0;
    p->head = 0;
    p->store = -1;
}
