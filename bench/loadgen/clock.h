/* clock.h -- the load generator's clocks (bench/loadgen).
 *
 * Microseconds of CLOCK_MONOTONIC (pacing, the steady window, read-back
 * times) and of CLOCK_REALTIME (created_at and the latency against it);
 * created_at is formatted by the worker's own timefmt_format_rfc3339. */
#ifndef LOADGEN_CLOCK_H
#define LOADGEN_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in microseconds. */
int64_t clock_mono_us(void);

/* CLOCK_REALTIME in microseconds since the epoch. */
int64_t clock_real_us(void);

/* Sleeps until CLOCK_MONOTONIC reaches t (us); returns early on a signal
 * (the caller re-checks what it waits for). */
void clock_sleep_until_mono_us(int64_t t);

#endif
