/* log.h -- structured logging: one JSON object per line on stderr.
 *
 * Fields: time, level, replica, event, and intent_id where there is one,
 * then the message.  Never pass a secret to these functions. */
#ifndef LOG_H
#define LOG_H

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Sets the replica name and the minimum level; call once before threads start. */
void log_init(const char *replica, int min_level);

/* event: a short machine name ("intent_rejected"); intent_id may be NULL. */
void log_msg(int level, const char *event, const char *intent_id,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
