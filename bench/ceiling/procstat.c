/* procstat.c -- the CPU time a server process spends (see procstat.h).
 *
 * Owns: reading /proc/PID/stat.  Why: bench/run.sh reads the same fields
 * (stack_ticks), but a run of ow-ceiling must be measured by itself, over
 * exactly its own window, on whatever machine the server runs on. */
#include "procstat.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The fields of /proc/pid/stat after the command: [0] state, [1] ppid, [11]
 * utime, [12] stime, [13] cutime, [14] cstime.  0, or -1. */
static int read_stat(long pid, long long f[15]) {
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *fp = fopen(path, "r");
    if (!fp) return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');  /* the command may hold spaces and ')' */
    if (!p || p[1] != ' ') return -1;
    p += 2;
    for (int i = 0; i < 15; i++) {
        while (*p == ' ') p++;
        if (!*p) return -1;
        f[i] = i == 0 ? 0 : strtoll(p, &p, 10);  /* the state is a letter */
        if (i == 0) p++;
    }
    return 0;
}

long procstat_parent(long pid) {
    long long f[15];
    return read_stat(pid, f) < 0 ? -1 : (long)f[1];
}

long long procstat_tree_ticks(long pid) {
    long long f[15];
    if (read_stat(pid, f) < 0) return -1;
    long long t = f[11] + f[12] + f[13] + f[14];
    DIR *d = opendir("/proc");
    if (!d) return t;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        long kid = strtol(e->d_name, NULL, 10);
        long long k[15];
        /* A child that ended meanwhile is in f[13..14] once reaped. */
        if (read_stat(kid, k) == 0 && k[1] == pid) t += k[11] + k[12];
    }
    closedir(d);
    return t;
}

int procstat_is(long pid, const char *name) {
    char path[64], comm[64] = "";
    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    int ok = fgets(comm, sizeof(comm), fp) != NULL;
    fclose(fp);
    return ok && !strncmp(comm, name, strlen(name));
}

long procstat_ticks_per_s(void) {
    long t = sysconf(_SC_CLK_TCK);
    return t > 0 ? t : 100;
}
