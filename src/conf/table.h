/* table.h - key tables: the machinery behind the configuration (redis
 * static_configs[]).
 *
 * A conf_key describes one scalar: its dotted path inside the JSON object it
 * lives in, type, bounds, default, environment variable, flag and help, and
 * where it is stored in the struct the table describes.  config.c and
 * queue_attrs.c own tables; the functions here read values from JSON or from
 * strings (environment, flags) into a struct, write a struct back out as JSON
 * and print a table for --help.  Unknown keys are errors.
 *
 * Errors: ORD_ECONFIG with one line in err (no trailing newline) that names
 * the key's full path, the expected type and the bounds.
 * THREAD SAFETY: no global state; any thread.
 */
#ifndef ORDERLY_CONF_TABLE_H
#define ORDERLY_CONF_TABLE_H

#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

#define CONF_PATH_MAX 256 /* a key path in messages: "queues[12].attributes.DelaySeconds" */

/* CONF_DURATION: an int of seconds, written as 90, "90", "90s", "5m", "2h"
 * or "off" (= 0); printed as "90s", "5m", "2h" or "off". */
typedef enum { CONF_INT, CONF_STRING, CONF_BOOL, CONF_LEVEL, CONF_DURATION } conf_type;

typedef struct conf_key {
    const char *path;            /* "http.threads", relative to its object */
    conf_type type;
    int min, max;                /* INT, DURATION: value range; STRING: length range in bytes */
    int def;                     /* INT, DURATION, BOOL, LEVEL (a log_level) default */
    const char *def_str;         /* STRING default; NULL: required; "<env>" is replaced
                                    by the environment name once it is known */
    const char *env;             /* environment variable, or NULL */
    const char *flag;            /* long option without "--", or NULL */
    const char *help;
    size_t offset;               /* of the value in the described struct: int, bool,
                                    log_level or char[size] */
    size_t size;                 /* STRING: bytes of the char array, > max */
    int (*valid)(const char *s); /* STRING: 1 when s has the right syntax; NULL = any */
    const char *syntax;          /* what valid() accepts, for messages and help */
    const char *metavar;         /* the flag's value in --help ("HOST:PORT"); NULL = path */
} conf_key;

/* Rows of a table describing struct type T (designated initializers, so
 * fields added later default to 0/NULL). */
#define CONF_INT_KEY(T, member, p, lo, hi, d, ...)                                       \
    {.path = (p), .type = CONF_INT, .min = (lo), .max = (hi), .def = (d),                  \
     .offset = offsetof(T, member), __VA_ARGS__}
#define CONF_DURATION_KEY(T, member, p, lo, hi, d, ...)                                  \
    {.path = (p), .type = CONF_DURATION, .min = (lo), .max = (hi), .def = (d),             \
     .offset = offsetof(T, member), __VA_ARGS__}
#define CONF_BOOL_KEY(T, member, p, d, ...)                                              \
    {.path = (p), .type = CONF_BOOL, .min = 0, .max = 1, .def = (d),                       \
     .offset = offsetof(T, member), __VA_ARGS__}
#define CONF_LEVEL_KEY(T, member, p, d, ...)                                             \
    {.path = (p), .type = CONF_LEVEL, .def = (d), .offset = offsetof(T, member), __VA_ARGS__}
#define CONF_STRING_KEY(T, member, p, lo, hi, dstr, ...)                                 \
    {.path = (p), .type = CONF_STRING, .min = (lo), .max = (hi), .def_str = (dstr),        \
     .offset = offsetof(T, member), .size = sizeof(((T *)0)->member), __VA_ARGS__}

/* Flags for conf_key_from_json / conf_table_apply. */
#define CONF_STRINGLY 1u /* also accept INT as a decimal string and BOOL as "true"/"false"
                            (SQS sends attribute values as strings) */

/* ---- Lookup and defaults --------------------------------------------- */
const conf_key *conf_key_find(const conf_key *t, size_t n, const char *path);
/* Stores every default; STRING keys that are required or whose default
 * contains "<env>" are set to "". */
void conf_table_defaults(const conf_key *t, size_t n, void *base);
/* Replaces "" in STRING keys whose default contains "<env>" by that default
 * with env substituted.  ORD_ECONFIG when the result does not fit. */
int conf_table_expand(const conf_key *t, size_t n, void *base, const char *env, char *err,
                      size_t errlen);

/* ---- Reading values --------------------------------------------------- */
/* One value.  path is the full path for messages ("queues[0].name"). */
int conf_key_from_json(const conf_key *k, const json_t *v, unsigned flags, const char *path,
                       void *base, char *err, size_t errlen);
/* One value given as text (environment variable, flag); source names it in
 * messages ("environment variable ORDERLY_LISTEN", "--listen"). */
int conf_key_from_string(const conf_key *k, const char *s, const char *path, const char *source,
                         void *base, char *err, size_t errlen);
/* Every member of obj, recursing into nested objects ("http": {...}).  prefix
 * is obj's own path for messages ("" at the top, "functions[2]").  Members
 * named in skip (NULL-terminated, top level of obj only) are left to the
 * caller.  Stops at the first error. */
int conf_table_apply(const conf_key *t, size_t n, const json_t *obj, const char *prefix,
                     unsigned flags, const char *const *skip, void *base, char *err,
                     size_t errlen);
/* ORD_ECONFIG "missing required key" for the first required STRING still "". */
int conf_table_required(const conf_key *t, size_t n, const void *base, const char *prefix,
                        char *err, size_t errlen);

/* ---- Writing ---------------------------------------------------------- */
/* Adds every key of the table to obj (nested objects for dotted paths).
 * 0 or ORD_ENOMEM. */
int conf_table_to_json(const conf_key *t, size_t n, const void *base, json_t *obj);
/* Prints two lines per key: prefix+path (type, range, default; env, flag), then help. */
void conf_table_print(const conf_key *t, size_t n, const char *prefix, FILE *out);

/* ---- Helpers shared by the conf module -------------------------------- */
/* Strict decimal: optional '-', digits, nothing else; 0 or -1. */
int conf_parse_ll(const char *s, long long *out);
/* A duration in seconds: 1..LIMIT_DURATION_DIGITS_MAX digits with an
 * optional unit s, m or h ("90", "90s", "5m", "2h"), or "off" (0).  No
 * sign, space or fraction.  0 or -1. */
int conf_parse_duration(const char *s, long long *out);
/* Formats seconds as conf_parse_duration reads them back: "off" for 0,
 * else "Nh", "Nm" or "Ns" (the largest exact unit).  Returns buf. */
char *conf_fmt_duration(long long v, char *buf, size_t len);
/* Writes prefix.key (or key when prefix is empty) into buf, cut to fit. */
void conf_path_join(char *buf, size_t len, const char *prefix, const char *key);
/* printf into err, control characters replaced so it stays one line;
 * returns ORD_ECONFIG. */
int conf_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "debug", "info", "warn", "error" for LOG_DEBUG..LOG_ERROR. */
const char *conf_level_name(int level);

#endif
