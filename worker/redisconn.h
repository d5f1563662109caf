/* redisconn.h -- one Redis connection that connects when needed.
 *
 * Parses REDIS_URL, connects with timeouts, authenticates (user and
 * password, or password), selects the database, names the connection, and
 * after an I/O error or a reply that means "this server is not usable"
 * (READONLY, LOADING, MASTERDOWN, NOAUTH) drops the connection so the next
 * command connects again.  Errors name host:port and never the password.
 * Not thread-safe: one per thread, or guarded by the caller. */
#ifndef REDISCONN_H
#define REDISCONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

typedef struct redisconn redisconn_t;

/* Parses the URL (no connection yet); name shows in CLIENT LIST. */
redisconn_t *redisconn_new(const char *redis_url, const char *name,
                           int timeout_ms, char *err, size_t errlen);
void redisconn_free(redisconn_t *c);

/* Runs a command (hiredis format), connecting first if needed.  Returns the
 * reply (free with freeReplyObject), or NULL with err when the command
 * could not run or Redis answered an error. */
redisReply *redisconn_command(redisconn_t *c, char *err, size_t errlen,
                              const char *fmt, ...);

/* Like redisconn_command, but an error reply is returned to the caller
 * (e.g. to see NOSCRIPT) instead of NULL; NULL only when there is none. */
redisReply *redisconn_command_raw(redisconn_t *c, char *err, size_t errlen,
                                  const char *fmt, ...);

/* Pipelining: several commands sent in one write, their replies read in
 * order, so that N commands cost one round trip.  redisconn_append queues a
 * command (hiredis format), connecting first if needed: 0, or -1 with err
 * (no connection).  Nothing is sent until redisconn_reply, which sends
 * what is queued and returns the next reply in order, error replies
 * included (as redisconn_command_raw), or NULL with err when none can be
 * read: the connection is then dropped, and every reply still due with
 * it.  A caller reads as many replies as it queued; a command run before
 * that (redisconn_command) first drops the connection, so that it never
 * reads a reply meant for another. */
int redisconn_append(redisconn_t *c, char *err, size_t errlen, const char *fmt, ...);
redisReply *redisconn_reply(redisconn_t *c, char *err, size_t errlen);

/* Closes the connection (the next command reconnects). */
void redisconn_drop(redisconn_t *c);

/* "redis host:port" for messages. */
const char *redisconn_where(const redisconn_t *c);

/* Redis's clock (TIME) in ms since the epoch: the clock the Lua scripts
 * decide by.  0, or -1 with err. */
int redisconn_time_ms(redisconn_t *c, int64_t *now, char *err, size_t errlen);

/* The whole number a reply holds (an integer, or a string that is one):
 * 1 with *out, or 0 when it holds none (NULL, nil, other text). */
int redisconn_reply_i64(const redisReply *r, int64_t *out);

#endif
