/* strmap.c -- open addressing hash table, FNV-1a, linear probing
 * (see strmap.h). */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t strmap_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void strmap_init(strmap_t *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->count = 0;
}

void strmap_free(strmap_t *m)
{
    free(m->slots);
    strmap_init(m);
}

void strmap_clear(strmap_t *m)
{
    if (m->slots)
        memset(m->slots, 0, m->cap * sizeof(*m->slots));
    m->count = 0;
}

void *strmap_get(const strmap_t *m, const char *key)
{
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = strmap_hash(key) & mask;; i = (i + 1) & mask) {
        if (m->slots[i].key == NULL)
            return NULL;
        if (strcmp(m->slots[i].key, key) == 0)
            return m->slots[i].value;
    }
}

static void strmap_insert(strmap_entry_t *slots, size_t cap, const char *key,
                          void *value, size_t *count)
{
    size_t mask = cap - 1;
    for (size_t i = strmap_hash(key) & mask;; i = (i + 1) & mask) {
        if (slots[i].key == NULL) {
            slots[i].key = key;
            slots[i].value = value;
            (*count)++;
            return;
        }
        if (strcmp(slots[i].key, key) == 0) {
            slots[i].value = value;
            return;
        }
    }
}

int strmap_put(strmap_t *m, const char *key, void *value)
{
    if ((m->count + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        strmap_entry_t *ns = calloc(ncap, sizeof(*ns));
        if (ns == NULL)
            return -1;
        size_t ncount = 0;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slots[i].key)
                strmap_insert(ns, ncap, m->slots[i].key, m->slots[i].value, &ncount);
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
        m->count = ncount;
    }
    strmap_insert(m->slots, m->cap, key, value, &m->count);
    return 0;
}
