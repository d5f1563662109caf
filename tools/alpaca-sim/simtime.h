/* simtime.h -- the simulator's wall clock and Alpaca's time text.
 *
 * Alpaca prints times as RFC 3339 in UTC with micro- or nanoseconds
 * (orders, accounts, quotes) or whole seconds (bars, the clock), and
 * accepts them as query parameters (after/until, start/end), where a bare
 * date is allowed too.
 *
 * Why not worker/timefmt.c (prefix timefmt_): the worker keeps times in
 * milliseconds and reads only strict RFC 3339 date-times (a 'T', a zone,
 * no leap second, a real day of the month), because it validates what
 * clients send.  The simulator stands in for Alpaca's looser reading
 * ("2024-03-01", a space for the 'T', ":60", "02-31" rolled over as
 * timegm() does) and prints microseconds and nanoseconds; changing either
 * side would change what it accepts or prints.  What is the same is shared:
 * the monotonic clock of the rate windows and fault outages is the
 * worker's timefmt_mono_ms() (worker/timefmt.c is linked in). */
#ifndef SIMTIME_H
#define SIMTIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SIMTIME_LEN 40

/* Microseconds since the epoch (wall clock). */
int64_t simtime_now_us(void);
/* "2021-03-16T18:38:01.942282Z" */
char *simtime_rfc3339_us(char *buf, size_t len, int64_t us);
/* "2022-04-12T17:16:36.390749849Z" from the wall clock now. */
char *simtime_rfc3339_now_ns(char *buf, size_t len);
/* "2024-03-04T14:30:00Z" (whole seconds). */
char *simtime_rfc3339_s(char *buf, size_t len, time_t t);
/* Parses "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"
 * into microseconds since the epoch.  Returns 0 or -1. */
int simtime_parse(const char *s, int64_t *us);

#endif
