/* timefmt.c -- RFC 3339 timestamps and the clocks, in milliseconds.
 *
 * Owns the strict reading of the timestamps clients send (created_at,
 * expires_at) and the one format the worker writes.  Calendar arithmetic is
 * done here with the civil-date algorithms (days from 1970-01-01 for a
 * proleptic Gregorian date and back), so neither timegm() nor the TZ
 * environment is touched: safe from any thread. */
#include <stdio.h>
#include <time.h>

#include "timefmt.h"

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Reads exactly n digits at s[*i]; -1 if they are not all digits. */
static int read_digits(const char *s, size_t len, size_t *i, int n) {
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (*i >= len || !is_digit(s[*i])) return -1;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
    }
    return v;
}

static int expect(const char *s, size_t len, size_t *i, char c) {
    if (*i >= len || s[*i] != c) return -1;
    (*i)++;
    return 0;
}

static int is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    if (m == 2 && is_leap(y)) return 29;
    return days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* date-time = full-date "T" full-time (RFC 3339 section 5.6).  Leap seconds
 * (":60") are refused: POSIX time cannot name them and no client needs one. */
int timefmt_parse_rfc3339(const char *s, size_t len, int64_t *ms_out) {
    size_t i = 0;
    int year, mon, day, hour, min, sec, frac_ms = 0, off = 0;

    if ((year = read_digits(s, len, &i, 4)) < 0 || expect(s, len, &i, '-') ||
        (mon = read_digits(s, len, &i, 2)) < 0 || expect(s, len, &i, '-') ||
        (day = read_digits(s, len, &i, 2)) < 0)
        return -1;
    if (i >= len || (s[i] != 'T' && s[i] != 't')) return -1;
    i++;
    if ((hour = read_digits(s, len, &i, 2)) < 0 || expect(s, len, &i, ':') ||
        (min = read_digits(s, len, &i, 2)) < 0 || expect(s, len, &i, ':') ||
        (sec = read_digits(s, len, &i, 2)) < 0)
        return -1;
    if (i < len && s[i] == '.') {
        int ndig = 0;
        i++;
        while (i < len && is_digit(s[i])) {
            if (ndig < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
            ndig++;
            i++;
        }
        if (ndig == 0) return -1;
        for (; ndig < 3; ndig++) frac_ms *= 10;
    }
    if (i >= len) return -1;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1, oh, om;
        i++;
        if ((oh = read_digits(s, len, &i, 2)) < 0 ||
            expect(s, len, &i, ':') || (om = read_digits(s, len, &i, 2)) < 0)
            return -1;
        if (oh > 23 || om > 59) return -1;
        off = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (i != len) return -1;
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
        return -1;
    if (hour > 23 || min > 59 || sec > 59) return -1;

    *ms_out = ((days_from_civil(year, mon, day) * 86400 + hour * 3600 +
                min * 60 + sec - (int64_t)off * 60) * 1000) + frac_ms;
    return 0;
}

void timefmt_format_rfc3339(int64_t ms, char *buf, size_t buflen) {
    int64_t days = ms / 86400000, rem = ms % 86400000, y;
    int m, d;

    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, buflen, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
             (long long)y, m, d, (int)(rem / 3600000),
             (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
             (int)(rem % 1000));
}

int64_t timefmt_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t timefmt_mono_ms(void) { return timefmt_mono_us() / 1000; }

int64_t timefmt_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void timefmt_realtime_after(int64_t ms, struct timespec *out) {
    clock_gettime(CLOCK_REALTIME, out);
    out->tv_sec += (time_t)(ms / 1000);
    out->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (out->tv_nsec >= 1000000000L) {
        out->tv_sec++;
        out->tv_nsec -= 1000000000L;
    }
}
