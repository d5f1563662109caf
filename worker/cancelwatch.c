/* cancelwatch.c -- cancels meeting their waiting targets in one process
 * (see cancelwatch.h).
 *
 * A small table under one lock: an entry per cancel request read and not
 * yet finished, and per intent waiting for a token.  Both are few at a
 * time (a lane has at most one intent waiting; cancels are rare next to
 * orders), so a fixed array searched from end to end is enough and never
 * allocates while the lanes run. */
#include "cancelwatch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_SLOTS 512

typedef struct slot {
    char target[40];          /* "" when free */
    char cancel[40];          /* the request's id; "" if none read yet */
    int user_source;          /* the request's sender */
    char bot_id[68], user_id[68];
    atomic_int *flag;         /* the target's, while it waits; else NULL */
} slot_t;

struct cancelwatch {
    pthread_mutex_t lock;
    slot_t slots[WATCH_SLOTS];
};

cancelwatch_t *cancelwatch_new(void) {
    cancelwatch_t *w = calloc(1, sizeof(*w));
    if (w) pthread_mutex_init(&w->lock, NULL);
    return w;
}

void cancelwatch_free(cancelwatch_t *w) {
    if (!w) return;
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* The slot of target, or (with make) a free one claimed for it; NULL if
 * none.  Caller holds the lock. */
static slot_t *slot_of(cancelwatch_t *w, const char *target, int make) {
    slot_t *free_slot = NULL;
    for (int i = 0; i < WATCH_SLOTS; i++) {
        slot_t *s = &w->slots[i];
        if (!s->target[0]) {
            if (!free_slot) free_slot = s;
        } else if (!strcmp(s->target, target)) {
            return s;
        }
    }
    if (!make || !free_slot) return NULL;
    snprintf(free_slot->target, sizeof(free_slot->target), "%s", target);
    return free_slot;
}

/* Frees s once nobody needs it. */
static void release(slot_t *s) {
    if (!s->cancel[0] && !s->flag) memset(s, 0, sizeof(*s));
}

static int same_owner(const slot_t *s, const cancelwatch_owner_t *o) {
    if (s->user_source != o->user_source) return 0;
    if (o->user_source) return !strcmp(s->user_id, o->user_id ? o->user_id : "");
    return !strcmp(s->bot_id, o->bot_id ? o->bot_id : "");
}

void cancelwatch_request(cancelwatch_t *w, const char *target_id, const char *cancel_id,
                         const cancelwatch_owner_t *by) {
    pthread_mutex_lock(&w->lock);
    slot_t *s = slot_of(w, target_id, 1);
    if (s && !s->cancel[0]) {
        snprintf(s->cancel, sizeof(s->cancel), "%s", cancel_id);
        s->user_source = by->user_source;
        snprintf(s->bot_id, sizeof(s->bot_id), "%s", by->bot_id ? by->bot_id : "");
        snprintf(s->user_id, sizeof(s->user_id), "%s", by->user_id ? by->user_id : "");
    }
    /* The waiting target checks the owner itself when it wakes (the
     * ledger's mark was made by a request that checked it). */
    if (s && s->flag) atomic_store(s->flag, 1);
    pthread_mutex_unlock(&w->lock);
}

void cancelwatch_forget(cancelwatch_t *w, const char *target_id) {
    pthread_mutex_lock(&w->lock);
    slot_t *s = slot_of(w, target_id, 0);
    if (s) {
        s->cancel[0] = '\0';
        release(s);
    }
    pthread_mutex_unlock(&w->lock);
}

int cancelwatch_enter(cancelwatch_t *w, const char *target_id, const cancelwatch_owner_t *owner,
                      atomic_int *flag, char cancel_id[40]) {
    int known = 0;
    cancel_id[0] = '\0';
    pthread_mutex_lock(&w->lock);
    slot_t *s = slot_of(w, target_id, 1);
    if (s) {
        s->flag = flag;
        if (s->cancel[0] && same_owner(s, owner)) {
            snprintf(cancel_id, 40, "%s", s->cancel);
            known = 1;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return known;
}

void cancelwatch_leave(cancelwatch_t *w, const char *target_id) {
    pthread_mutex_lock(&w->lock);
    slot_t *s = slot_of(w, target_id, 0);
    if (s) {
        s->flag = NULL;
        release(s);
    }
    pthread_mutex_unlock(&w->lock);
}
