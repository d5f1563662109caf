/* cancelwatch.h -- where, inside one process, a cancel request meets the
 * intent it targets while that intent waits for its token of the shared
 * Alpaca budget (or has not been read from the ledger yet).
 *
 * A cancel request travels in its own lane (intake.c), so it can overtake
 * its target: the target may still be queued behind its key's other
 * intents, or be waiting for a token, when the cancel is read.  The ledger
 * decides (a target marked by a cancel never enters "submitting":
 * ledger_cancel.c); this table only makes it quick: a target that waits
 * for a token is woken when a cancel for it comes, and a target that starts
 * waiting after the cancel was read learns of it before it waits.  Both
 * sides run in this process because a cancel travels on its target's key,
 * hence in its partition.  Thread-safe. */
#ifndef CANCELWATCH_H
#define CANCELWATCH_H

#include <stdatomic.h>

typedef struct cancelwatch cancelwatch_t;

/* Who sent a cancel request, or whose an intent is: a bot's (bot_id set)
 * or a user's own (user_source). */
typedef struct cancelwatch_owner {
    int user_source;
    const char *bot_id, *user_id;
} cancelwatch_owner_t;

cancelwatch_t *cancelwatch_new(void);
void cancelwatch_free(cancelwatch_t *w);

/* A cancel request cancel_id from `by` for target_id was read: the
 * target's wait, if it waits here, ends (its flag is set), and the request
 * is remembered until cancelwatch_forget so that the target learns of it
 * when it comes to wait.  A full table remembers nothing more (the ledger
 * still stops the target, at its turn). */
void cancelwatch_request(cancelwatch_t *w, const char *target_id, const char *cancel_id,
                         const cancelwatch_owner_t *by);
void cancelwatch_forget(cancelwatch_t *w, const char *target_id);

/* The intent target_id of `owner` starts waiting for a token: *flag is set
 * when a cancel request for it is read.  Returns 1 when one was read
 * already, from its owner (cancel_id gets its id: the caller marks the
 * intent in the ledger for it), 0 otherwise.  cancelwatch_leave when the
 * wait is over. */
int cancelwatch_enter(cancelwatch_t *w, const char *target_id, const cancelwatch_owner_t *owner,
                      atomic_int *flag, char cancel_id[40]);
void cancelwatch_leave(cancelwatch_t *w, const char *target_id);

#endif
