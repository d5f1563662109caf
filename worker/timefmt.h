/* timefmt.h -- RFC 3339 timestamps and the wall clock, in milliseconds. */
#ifndef TIMEFMT_H
#define TIMEFMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Parses an RFC 3339 date-time ("2026-11-23T13:21:25Z",
 * "2026-11-23T08:21:25.123456-05:00"); returns 0 and milliseconds since the
 * epoch (UTC), or -1 if the text is not RFC 3339. */
int timefmt_parse_rfc3339(const char *s, size_t len, int64_t *ms_out);

/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (at least 32 bytes). */
void timefmt_format_rfc3339(int64_t ms, char *buf, size_t buflen);

/* Wall-clock milliseconds since the epoch. */
int64_t timefmt_now_ms(void);

/* Monotonic milliseconds, for timeouts and intervals. */
int64_t timefmt_mono_ms(void);

/* Monotonic microseconds, for timing the stages of the pipeline. */
int64_t timefmt_mono_us(void);

/* The wall clock (CLOCK_REALTIME) ms from now, as pthread_cond_timedwait
 * wants its deadline. */
void timefmt_realtime_after(int64_t ms, struct timespec *out);

#endif
