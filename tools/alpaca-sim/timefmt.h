/* timefmt.h -- clocks and RFC 3339 text for the simulator.
 *
 * Alpaca prints times as RFC 3339 in UTC with micro- or nanoseconds and
 * accepts them as query parameters (after/until).  Rate windows use the
 * monotonic clock so that a wall-clock step cannot open or close them. */
#ifndef SIM_TIMEFMT_H
#define SIM_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_LEN 40

/* Microseconds since the epoch (wall clock). */
int64_t timefmt_now_us(void);
/* Milliseconds of the monotonic clock. */
int64_t timefmt_mono_ms(void);
/* "2021-03-16T18:38:01.942282Z" */
char *timefmt_rfc3339_us(char *buf, size_t len, int64_t us);
/* "2022-04-12T17:16:36.390749849Z" from the wall clock now. */
char *timefmt_rfc3339_now_ns(char *buf, size_t len);
/* Parses "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"
 * into microseconds since the epoch.  Returns 0 or -1. */
int timefmt_parse(const char *s, int64_t *us);

#endif
