/* origin.h -- where a consumed message came from (topic, partition, offset,
 * key).  Shared by the stages that record or forward the original message. */
#ifndef ORIGIN_H
#define ORIGIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct origin {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *key;     /* may be NULL; not NUL-terminated: use key_len */
    size_t key_len;
} origin_t;

#endif
