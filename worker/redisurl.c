/* redisurl.c -- parsing of REDIS_URL into host, port, credentials and db.
 *
 * Accepted form: redis://[[user]:password@]host[:port][/db]
 *
 *   redis://127.0.0.1                  host only: port 6379, db 0, no AUTH
 *   redis://:secret@cache:6380/2       AUTH secret, SELECT 2
 *   redis://worker:s%40cret@cache      AUTH worker s@cret (ACL user, Redis 6+)
 *   redis://[::1]:6379                 IPv6 literal in brackets
 *
 * The user and password are percent-decoded.  The userinfo part is split off
 * at the LAST '@', so a password that contains an unencoded '@' or '/' still
 * parses.  rediss:// (TLS) is refused for now: we are not built with TLS and
 * silently falling back to cleartext would send the password in the clear.
 *
 * Error messages describe what is wrong but never echo the userinfo part,
 * which holds the password. */
#include "redisurl.h"

#include <stdio.h>
#include <string.h>

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes src[0..len) into dst (size dstsize, NUL terminated).
 * Returns 0, -1 on a bad escape (or %00), -2 if the result does not fit. */
static int pct_decode(const char *src, size_t len, char *dst, size_t dstsize) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            if (i + 2 >= len) return -1;
            int hi = hexval((unsigned char)src[i + 1]);
            int lo = hexval((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = hi * 16 + lo;
            if (c == 0) return -1;
            i += 2;
        }
        if (o + 1 >= dstsize) return -2;
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return 0;
}

/* Parses a decimal number of at most maxdigits digits from s[0..len).
 * Returns the value, or -1 if empty, not all digits or too long. */
static long parse_decimal(const char *s, size_t len, size_t maxdigits) {
    if (len == 0 || len > maxdigits) return -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int redisurl_parse(const char *url, redis_url_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    out->db = 0;

    if (url == NULL || url[0] == '\0') {
        snprintf(err, errlen, "redis url is empty");
        return -1;
    }
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(err, errlen, "redis url: rediss:// (TLS not supported)");
        return -1;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis url must start with redis://");
        return -1;
    }
    const char *p = url + 8;

    /* userinfo: everything up to the last '@'. */
    const char *at = strrchr(p, '@');
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon == NULL) {
            snprintf(err, errlen,
                     "redis url: credentials must be written user:password@ "
                     "or :password@");
            return -1;
        }
        int rc = pct_decode(p, (size_t)(colon - p), out->user, sizeof(out->user));
        if (rc == -1) {
            snprintf(err, errlen, "redis url: bad percent-escape in user");
            goto fail;
        } else if (rc == -2) {
            snprintf(err, errlen, "redis url: user longer than %zu bytes",
                     sizeof(out->user) - 1);
            goto fail;
        }
        rc = pct_decode(colon + 1, (size_t)(at - colon - 1), out->password,
                        sizeof(out->password));
        if (rc == -1) {
            snprintf(err, errlen, "redis url: bad percent-escape in password");
            goto fail;
        } else if (rc == -2) {
            snprintf(err, errlen, "redis url: password longer than %zu bytes",
                     sizeof(out->password) - 1);
            goto fail;
        }
        if (out->user[0] != '\0' && out->password[0] == '\0') {
            snprintf(err, errlen, "redis url: user given without a password");
            goto fail;
        }
        p = at + 1;
    }

    /* host: [v6] or up to ':' or '/'. */
    const char *hs, *he;
    if (*p == '[') {
        hs = p + 1;
        he = strchr(hs, ']');
        if (he == NULL) {
            snprintf(err, errlen, "redis url: unterminated [ in host");
            goto fail;
        }
        p = he + 1;
    } else {
        hs = p;
        he = p + strcspn(p, ":/?#");
        p = he;
    }
    if (he == hs) {
        snprintf(err, errlen, "redis url: missing host");
        goto fail;
    }
    if ((size_t)(he - hs) >= sizeof(out->host)) {
        snprintf(err, errlen, "redis url: host longer than %zu bytes",
                 sizeof(out->host) - 1);
        goto fail;
    }
    memcpy(out->host, hs, (size_t)(he - hs));
    out->host[he - hs] = '\0';

    if (*p == ':') {
        p++;
        size_t n = strcspn(p, "/?#");
        long port = parse_decimal(p, n, 5);
        if (port < 1 || port > 65535) {
            snprintf(err, errlen, "redis url: port must be 1..65535");
            goto fail;
        }
        out->port = (int)port;
        p += n;
    }

    if (*p == '/') {
        p++;
        size_t n = strcspn(p, "?#");
        if (n > 0) {
            long db = parse_decimal(p, n, 9);
            if (db < 0) {
                snprintf(err, errlen, "redis url: db must be a number >= 0");
                goto fail;
            }
            out->db = (int)db;
        }
        p += n;
    }

    if (*p != '\0') {
        snprintf(err, errlen, "redis url: unexpected text after host/port/db "
                              "(query strings are not supported)");
        goto fail;
    }
    return 0;

fail:
    /* Do not leave a decoded password lying in the caller's struct. */
    memset(out, 0, sizeof(*out));
    return -1;
}
