/* procstat.h -- the CPU time a server process spends, from /proc
 * (bench/ceiling).
 *
 * A server's cost is its own time and its children's: PostgreSQL's
 * backends are children of the postmaster; Redis forks only to save.  Both
 * are read from /proc/PID/stat (utime and stime, and cutime and cstime for
 * the children it has already reaped), in clock ticks. */
#ifndef CEILING_PROCSTAT_H
#define CEILING_PROCSTAT_H

/* The ticks of pid and of its children, the live ones (each /proc/N/stat
 * whose parent is pid) and the reaped ones; -1 if pid cannot be read. */
long long procstat_tree_ticks(long pid);

/* pid's parent, or -1 if pid cannot be read. */
long procstat_parent(long pid);

/* 1 if pid runs here under a name that starts with name (/proc/PID/comm),
 * else 0. */
int procstat_is(long pid, const char *name);

/* Clock ticks per second (sysconf(_SC_CLK_TCK)). */
long procstat_ticks_per_s(void);

#endif
