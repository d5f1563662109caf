/* simtime.c -- the wall clock and Alpaca's RFC 3339 text (see simtime.h for
 * why this is not worker/timefmt.c). */
#include "simtime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t simtime_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *simtime_rfc3339_us(char *buf, size_t len, int64_t us)
{
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(us % 1000000));
    return buf;
}

char *simtime_rfc3339_s(char *buf, size_t len, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

char *simtime_rfc3339_now_ns(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec);
    return buf;
}

static int simtime_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int simtime_parse(const char *s, int64_t *us)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int y, mo, d, h = 0, mi = 0, sec = 0;
    size_t n = strlen(s);
    if (n < 10 || s[4] != '-' || s[7] != '-' || simtime_digits(s, 4, &y) ||
        simtime_digits(s + 5, 2, &mo) || simtime_digits(s + 8, 2, &d))
        return -1;
    int64_t frac_us = 0, offset_s = 0;
    const char *p = s + 10;
    if (*p != '\0') {
        if ((*p != 'T' && *p != 't' && *p != ' ') || strlen(p) < 9 || p[3] != ':' ||
            p[6] != ':' || simtime_digits(p + 1, 2, &h) ||
            simtime_digits(p + 4, 2, &mi) || simtime_digits(p + 7, 2, &sec))
            return -1;
        p += 9;
        if (*p == '.') {
            p++;
            int nd = 0;
            while (*p >= '0' && *p <= '9') {
                if (nd < 6)
                    frac_us = frac_us * 10 + (*p - '0');
                nd++;
                p++;
            }
            if (nd == 0)
                return -1;
            for (; nd < 6; nd++)
                frac_us *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (strlen(p) < 6 || p[3] != ':' || simtime_digits(p + 1, 2, &oh) ||
                simtime_digits(p + 4, 2, &om))
                return -1;
            offset_s = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
            p += 6;
        } else {
            return -1;
        }
        if (*p != '\0')
            return -1;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *us = ((int64_t)t - offset_s) * 1000000 + frac_us;
    return 0;
}
