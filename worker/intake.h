/* intake.h -- the consumer: from Kafka partitions to lanes and back to
 * committed offsets.
 *
 * One consumer-group member per process reads both intent topics and hands
 * each message to a lane chosen by its key, so intents with the same key run
 * in order and different keys run in parallel.  An offset is stored only when
 * every message before it in its partition has a durable outcome. */
#ifndef INTAKE_H
#define INTAKE_H

#include <signal.h>
#include "config.h"

/* Runs until *stop becomes non-zero (SIGTERM), then drains: in-flight
 * intents finish (up to drain_ms, after which they are abandoned for
 * redelivery), offsets are committed and the group is left.  Returns the
 * process exit status. */
int intake_run(const config_t *cfg, const volatile sig_atomic_t *stop,
               int64_t drain_ms);

#endif
