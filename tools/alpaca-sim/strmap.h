/* strmap.h -- a string-keyed hash table for order lookups.
 *
 * Orders are found by id and by client_order_id on every GET; a linear scan
 * would make the simulator slow after a long load test.  Keys are not
 * copied: they must live as long as the entry (they point into the order).
 * Entries are never removed one by one; strmap_clear() forgets them all.
 * Not thread-safe: the order book's lock guards it. */
#ifndef STRMAP_H
#define STRMAP_H

#include <stddef.h>

typedef struct strmap_entry {
    const char *key;
    void *value;
} strmap_entry_t;

typedef struct strmap {
    strmap_entry_t *slots;
    size_t cap;   /* power of two, or 0 */
    size_t count;
} strmap_t;

void strmap_init(strmap_t *m);
void strmap_free(strmap_t *m);
void strmap_clear(strmap_t *m);
/* Returns the value stored for key, or NULL. */
void *strmap_get(const strmap_t *m, const char *key);
/* Stores key -> value (replacing an existing value).  Returns 0, or -1
 * when out of memory. */
int strmap_put(strmap_t *m, const char *key, void *value);

#endif
