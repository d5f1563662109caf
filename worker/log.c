/* log.c -- one JSON object per line on stderr, or text for a person at a
 * terminal (see log.h).
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
static int as_text = 0;

void log_init(const char *replica, int level, int format) {
    snprintf(replica_name, sizeof(replica_name), "%s", replica);
    min_level = level;
    as_text = format == LOG_FORMAT_TEXT || (format == LOG_FORMAT_AUTO && isatty(STDERR_FILENO));
}

static void write_line(char *line, size_t n) {
    line[n] = '\n';  /* replaces the NUL; written with explicit length */
    ssize_t w = write(STDERR_FILENO, line, n + 1);
    (void)w;
    line[n] = '\0';
}

/* "2026-11-23T16:20:01.123Z WARN  worker-1 breaker_opened: circuit breaker
 * OPENED for place_order" with " [intent <id>]" when there is one. */
static void log_text(const char *now, const char *level, const char *event,
                     const char *intent_id, const char *msg) {
    char line[1536];
    int n = snprintf(line, sizeof(line) - 1, "%s %-5s %s %s: %s%s%s%s", now, level,
                     replica_name, event, msg, intent_id ? " [intent " : "",
                     intent_id ? intent_id : "", intent_id ? "]" : "");
    if (n < 0) return;
    if ((size_t)n > sizeof(line) - 2) n = (int)sizeof(line) - 2;
    for (int i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
    write_line(line, (size_t)n);
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
    const char *lname = names[level < 0 ? 0 : level > 3 ? 3 : level];
    if (as_text) {
        log_text(now, lname, event, intent_id, msg);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(now));
    json_object_set_new(o, "level", json_string(lname));
    json_object_set_new(o, "replica", json_string(replica_name));
    json_object_set_new(o, "event", json_string(event));
    if (intent_id) json_object_set_new(o, "intent_id", json_string(intent_id));
    json_t *m = json_string(msg);
    json_object_set_new(o, "msg", m ? m : json_string("(message not UTF-8)"));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!line) return;
    write_line(line, strlen(line));
    free(line);
}

void log_kafka(const struct rd_kafka_s *rk, int level, const char *facility,
               const char *message) {
    (void)rk;
    /* syslog levels: 0-3 errors, 4 warning, 5-6 notice/info, 7 debug */
    int ours = level <= 3 ? LOG_ERROR : level == 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
    log_msg(ours, "kafka", NULL, "%s: %s", facility, message);
}
