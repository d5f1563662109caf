/* redisurl.h -- parse REDIS_URL (redis://[[user]:password@]host[:port][/db]). */
#ifndef REDISURL_H
#define REDISURL_H

#include <stddef.h>

typedef struct redis_url {
    char host[256];
    int port;           /* default 6379 */
    char user[128];     /* empty: no ACL user (AUTH password only) */
    char password[256]; /* empty: no AUTH */
    int db;             /* default 0 */
} redis_url_t;

/* Returns 0, or -1 with err saying what is malformed (never echoing the password). */
int redisurl_parse(const char *url, redis_url_t *out, char *err, size_t errlen);

#endif
