/* pqmsg.c -- libpq's messages as one line (see pqmsg.h).
 *
 * Owns the one rule for turning a libpq error into text the worker logs or
 * returns: prefixed with what was being done, on one line.  Why a module:
 * the ledger, the views of the ledger and the operators' statements each
 * did it with a copy of the same loop. */
#include "pqmsg.h"

#include <stdio.h>
#include <string.h>

void pqmsg_line(char *out, size_t len, const char *what, const char *msg) {
    if (len == 0) return;
    snprintf(out, len, "%s: %s", what, msg && *msg ? msg : "failed");
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\t') *c = ' ';
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == ' ') out[--n] = '\0';
}

void pqmsg_ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}
