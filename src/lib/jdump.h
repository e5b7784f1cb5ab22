/* jdump.h - compact JSON text of a jansson value, for the hot paths (event
 * envelopes: four per order).  The same text json_dumps(v, JSON_COMPACT)
 * gives - members in insertion order, UTF-8 kept as is, only '"', '\' and
 * control characters escaped, reals as jansson writes them - at a fraction
 * of its cost: runs of plain characters are copied, not written one by one
 * through a callback.
 *
 * THREAD SAFETY: none needed; v is only read.
 */
#ifndef ORDERLY_JDUMP_H
#define ORDERLY_JDUMP_H
#include <jansson.h>
#include <stddef.h>

/* The text of v (any JSON value), malloc'd and NUL-terminated, its length
 * in *len (may be NULL).  NULL when out of memory, for a real that is not a
 * finite number, or past 4 x LIMIT_JSON_DEPTH_MAX levels of nesting (inputs
 * are held to LIMIT_JSON_DEPTH_MAX; what we wrap them in adds a few). */
char *jdump(const json_t *v, size_t *len);

/* One member of an object written by jdump_members: a string value (str,
 * NUL-terminated; like the key, written as valid UTF-8 - an invalid byte
 * becomes '?', a sequence cut at the end is dropped) when str is not NULL,
 * else JSON text written as it is (raw) when raw is not NULL, else the
 * value val. */
typedef struct jdump_member {
    const char *key;
    const char *str;
    const char *raw;
    const json_t *val;
} jdump_member;

/* The text jdump gives for an object with these n members in this order,
 * without building the object (the event envelope: bus.c).  NULL as for
 * jdump. */
char *jdump_members(const jdump_member *m, size_t n, size_t *len);

#endif
