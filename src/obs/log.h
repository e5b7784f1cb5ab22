/* log.h - structured JSON logs on stderr, one object per line.
 *
 * Every line has ts, level, msg, env and component; callers add correlation
 * fields (requestId, eventId, orderId, queue, ...) as key/value pairs ending in
 * NULL.  A key that starts with '#' takes an int64_t value (the '#' is not
 * printed); any other key takes a NUL-terminated string (NULL value -> null).
 *
 *     log_info("queue", "moved to DLQ", "queue", name, "#receiveCount", (int64_t)n, NULL);
 *
 * THREAD SAFETY: any thread; each line is written with one write(2).
 * Secrets are never passed here.
 */
#ifndef ORDERLY_LOG_H
#define ORDERLY_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level;

/* Sets the environment name printed on every line and the minimum level. */
void log_setup(const char *env, log_level min);
/* Parses "debug|info|warn|error|off"; returns the level or -1. */
int log_level_parse(const char *s);
int log_enabled(log_level lvl);

void log_emit(log_level lvl, const char *component, const char *msg, ...);

#define log_debug(comp, ...) log_emit(LOG_DEBUG, comp, __VA_ARGS__)
#define log_info(comp, ...)  log_emit(LOG_INFO, comp, __VA_ARGS__)
#define log_warn(comp, ...)  log_emit(LOG_WARN, comp, __VA_ARGS__)
#define log_error(comp, ...) log_emit(LOG_ERROR, comp, __VA_ARGS__)

#endif
