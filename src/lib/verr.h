/* verr.h - validation errors: the {field, message} list of a 422 answer
 * (design.md: every problem of a request at once).
 *
 * Field paths and messages may echo client input (unknown keys, bad
 * values): they are cut to fit and scrubbed to valid UTF-8, so an error can
 * never be lost on the way into JSON.  If an entry cannot be built at all
 * (out of memory) a placeholder (JSON true) takes its place: the list is
 * never left empty by a failure, so a request with errors is never taken
 * for a valid one.  verr_count() counts both. */
#ifndef ORDERLY_VERR_H
#define ORDERLY_VERR_H
#include <jansson.h>

#define VERR_FIELD_MAX 256   /* a field path's bytes; longer ones are cut */
#define VERR_MESSAGE_MAX 256 /* a message's bytes; longer ones are cut */

/* Appends {field, message} (printf-style message) to the array errors. */
void verr_add(json_t *errors, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds "unknown field" for every key of obj not in allowed (NULL-ended);
 * the field is prefix + key. */
void verr_reject_unknown(json_t *errors, const json_t *obj, const char *prefix, const char *const *allowed);
/* Entries in errors (placeholders included). */
size_t verr_count(const json_t *errors);

#endif
