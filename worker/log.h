/* log.h -- structured logging on stderr: one JSON object per line, or
 * readable text lines when stderr is a terminal (LOG_FORMAT).
 *
 * Fields: time, level, replica, event, and intent_id where there is one,
 * then the message.  Never pass a secret to these functions. */
#ifndef LOG_H
#define LOG_H

enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };
enum { LOG_FORMAT_AUTO = 0, LOG_FORMAT_JSON = 1, LOG_FORMAT_TEXT = 2 };

/* Sets the replica name, the minimum level and the format (AUTO: text when
 * stderr is a terminal, JSON otherwise); call once before threads start. */
void log_init(const char *replica, int min_level, int format);

/* event: a short machine name ("intent_rejected"); intent_id may be NULL. */
void log_msg(int level, const char *event, const char *intent_id,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* librdkafka's log callback (rd_kafka_conf_set_log_cb): its lines become
 * JSON lines like every other, with event "kafka". */
struct rd_kafka_s;
void log_kafka(const struct rd_kafka_s *rk, int level, const char *facility,
               const char *message);

#endif
