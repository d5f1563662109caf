/* clock.c -- the load generator's clocks (see clock.h).
 *
 * Owns: reading CLOCK_MONOTONIC and CLOCK_REALTIME in microseconds, sleeping
 * until a monotonic deadline.  Why: the pacing and the windows need a clock that never jumps,
 * the latency needs the wall clock the worker compares created_at with; one
 * place keeps the two apart. */
#include "clock.h"

#include <time.h>

int64_t clock_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_real_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void clock_sleep_until_mono_us(int64_t t) {
    struct timespec ts = {(time_t)(t / 1000000), (long)(t % 1000000) * 1000};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}
