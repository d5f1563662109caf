/* envfile.h -- one setting's value from the environment: NAME, or the
 * content of the file that NAME_FILE names (how Docker Compose, Swarm and
 * Kubernetes hand secrets to a process).
 *
 * Shared by the worker's settings (config.c), intentctl and the simulator,
 * so that every program of the project reads a secret the same way.  The
 * file's content is never printed, only its path. */
#ifndef ENVFILE_H
#define ENVFILE_H

#include <stddef.h>

/* The largest file NAME_FILE may name. */
#define ENVFILE_MAX 4096

/* Looks NAME and NAME_FILE up.  Returns 1 with *out set (pointing into the
 * environment, or into buf, which must hold ENVFILE_MAX + 1 bytes: the
 * file's content without one trailing newline), 0 when neither is set or the
 * value is empty, -1 with err (both set, file unreadable, too large, holds
 * a NUL byte).  Wipe buf after use when the value is a secret. */
int envfile_get(const char *name, char *buf, const char **out, char *err, size_t errlen);

/* True when NAME or NAME_FILE is set to something non-empty. */
int envfile_is_set(const char *name);

#endif
