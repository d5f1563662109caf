/* log.c -- one JSON object per line on stderr (see log.h).
 *
 * The replica name and level are set once before any thread starts and only
 * read afterwards; each line is formatted into a local buffer and written
 * with a single write(2), so lines from different threads never interleave. */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timefmt.h"

static char replica_name[128] = "order-worker";
static int min_level = LOG_INFO;

void log_init(const char *replica, int level) {
    snprintf(replica_name, sizeof(replica_name), "%s", replica);
    min_level = level;
}

void log_msg(int level, const char *event, const char *intent_id,
             const char *fmt, ...) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < min_level) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    char now[40];
    timefmt_format_rfc3339(timefmt_now_ms(), now, sizeof(now));
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(now));
    json_object_set_new(o, "level", json_string(names[level < 0 ? 0 : level > 3 ? 3 : level]));
    json_object_set_new(o, "replica", json_string(replica_name));
    json_object_set_new(o, "event", json_string(event));
    if (intent_id) json_object_set_new(o, "intent_id", json_string(intent_id));
    json_t *m = json_string(msg);
    json_object_set_new(o, "msg", m ? m : json_string("(message not UTF-8)"));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!line) return;
    size_t n = strlen(line);
    line[n] = '\n';  /* replaces the NUL; written with explicit length */
    ssize_t w = write(STDERR_FILENO, line, n + 1);
    (void)w;
    line[n] = '\0';
    free(line);
}

void log_kafka(const struct rd_kafka_s *rk, int level, const char *facility,
               const char *message) {
    (void)rk;
    /* syslog levels: 0-3 errors, 4 warning, 5-6 notice/info, 7 debug */
    int ours = level <= 3 ? LOG_ERROR : level == 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
    log_msg(ours, "kafka", NULL, "%s: %s", facility, message);
}
