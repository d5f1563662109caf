/* envfile.c -- NAME or NAME_FILE (see envfile.h).
 *
 * Owns the one rule every program follows for a setting given as a file:
 * never both forms at once, at most ENVFILE_MAX bytes, one trailing newline
 * (and a CR before it) dropped, no NUL byte inside.  Why one module: the
 * worker, intentctl and the simulator all take secrets this way, and a
 * difference between them (a newline kept by one) would be a key that works
 * for one program and not for the next. */
#include "envfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_file(const char *name, const char *path, char *buf, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s_FILE: cannot open %s: %s", name, path, strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, ENVFILE_MAX, f);
    int bad = ferror(f), more = !bad && fgetc(f) != EOF;
    fclose(f);
    if (bad || more) {
        snprintf(err, errlen, "%s_FILE: %s %s", name, path,
                 bad ? "cannot be read" : "is over 4096 bytes");
        return -1;
    }
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r') buf[--n] = '\0';
    if (strlen(buf) != n) {
        snprintf(err, errlen, "%s_FILE: %s contains a NUL byte", name, path);
        return -1;
    }
    return 0;
}

int envfile_get(const char *name, char *buf, const char **out, char *err, size_t errlen) {
    char fname[128];
    snprintf(fname, sizeof(fname), "%s_FILE", name);
    const char *v = getenv(name), *path = getenv(fname);
    *out = NULL;
    if (v && !*v) v = NULL;
    if (!path || !*path) {
        *out = v;
        return v != NULL;
    }
    if (v) {
        snprintf(err, errlen, "%s and %s are both set: set one of them", name, fname);
        return -1;
    }
    if (read_file(name, path, buf, err, errlen) < 0) return -1;
    *out = buf[0] ? buf : NULL;
    return *out != NULL;
}

int envfile_is_set(const char *name) {
    char fname[128];
    snprintf(fname, sizeof(fname), "%s_FILE", name);
    const char *v = getenv(name), *path = getenv(fname);
    return (v && *v) || (path && *path);
}
