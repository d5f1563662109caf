/* keyqueue.h -- a lane's fair queue of work, per message key.
 *
 * Items (a lane's messages) are queued per key, in the order they come;
 * keys with work are served round-robin, one item of a key per turn, every
 * users' key before any bots' key.  A batch takes at most one item per key,
 * so one key's items are handled one at a time, in order, and a key with
 * many items gets its turn like any other, never all the turns.  Not
 * thread-safe: the caller holds its own lock around every call. */
#ifndef KEYQUEUE_H
#define KEYQUEUE_H

#include <stddef.h>

typedef struct keyqueue keyqueue_t;

/* The two classes of keys: every key of KEYQUEUE_USERS with work is served
 * before any of KEYQUEUE_BOTS.  The same key bytes in the two classes are
 * two keys. */
typedef enum { KEYQUEUE_USERS = 0, KEYQUEUE_BOTS = 1 } keyqueue_class_t;

/* An empty queue; NULL without memory. */
keyqueue_t *keyqueue_new(void);
/* Frees the queue and what it holds of its own; the items still queued are
 * the caller's (empty the queue first). */
void keyqueue_free(keyqueue_t *q);

/* Appends item to the queue of the key (len bytes; may be 0), which joins
 * the end of its class's ring when it had no work.  0, or -1 without memory
 * (nothing queued). */
int keyqueue_push(keyqueue_t *q, keyqueue_class_t cls, const void *key, size_t len,
                  void *item);

/* Takes up to max items into out, each the oldest of a different key, in
 * turn: the keys at the head of the users' ring, then of the bots'.  A key
 * with more items goes back to the end of its ring once the batch is taken
 * (so not twice in one batch), a key without is forgotten.  Returns how
 * many were taken (0 when empty). */
int keyqueue_take(keyqueue_t *q, void **out, int max);

/* The first item queued for the key for which match(item, ctx) is
 * non-zero, left where it is; NULL if none. */
void *keyqueue_find(const keyqueue_t *q, keyqueue_class_t cls, const void *key, size_t len,
                    int (*match)(const void *item, void *ctx), void *ctx);

/* Items queued, and keys with work. */
size_t keyqueue_items(const keyqueue_t *q);
size_t keyqueue_keys(const keyqueue_t *q);

#endif
