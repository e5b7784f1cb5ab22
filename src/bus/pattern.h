/* pattern.h - EventBridge event patterns: compile a pattern once, match many events.
 *
 * A pattern is a JSON object that mirrors the event; every leaf is an array of
 * allowed values or operators (prefix, suffix, equals-ignore-case, wildcard,
 * anything-but, numeric, exists, cidr) and objects may hold "$or" branches.
 * Semantics follow AWS EventBridge / aws/event-ruler; pattern.c lists the
 * choices made where the documentation is silent.
 */
#ifndef ORDERLY_BUS_PATTERN_H
#define ORDERLY_BUS_PATTERN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct pattern pattern;

/* ---- Compiling ------------------------------------------------------- */

/* Compiles the pattern object pat into a new *out, which the caller owns and
 * releases with pattern_free().  pat is only read during the call; nothing of
 * it is kept.
 *
 * Returns 0, or:
 *   ORD_EVALIDATION  the pattern is invalid: not an object, an empty object or
 *                    leaf array, a leaf that is not an array, an unknown
 *                    operator, an operator with a wrong value, nesting deeper
 *                    than LIMIT_PATTERN_DEPTH_MAX, or compact JSON text longer
 *                    than LIMIT_PATTERN_BYTES_MAX;
 *   ORD_ENOMEM       out of memory.
 * On failure *out is NULL and, when err is not NULL, err receives a
 * NUL-terminated message of at most errlen bytes that names where the problem
 * is, e.g. `detail.amount[0]: numeric: expected a number after ">"`.
 * Any thread may call it. */
int pattern_compile(const json_t *pat, pattern **out, char *err, size_t errlen);

/* As pattern_compile() for the JSON text json[0..len) (no NUL needed).
 * Also returns ORD_EJSON for malformed JSON or duplicate keys (err gives line,
 * column and byte offset), and ORD_EVALIDATION when len exceeds
 * LIMIT_PATTERN_BYTES_MAX. */
int pattern_compile_str(const char *json, size_t len, pattern **out, char *err, size_t errlen);

/* 1 if the key_len bytes at key are one of the operator names event-ruler
 * reserves ("prefix", "numeric", ...): a "$or" whose branches use one as a
 * key is an ordinary field (pattern.c, SEMANTIC CHOICES). */
bool pattern_key_is_reserved(const char *key, size_t key_len);

/* 1 if p looks at nothing but the top-level members named by the nkeys
 * keys (every field of it and of its "$or" branches is a leaf under one of
 * them): p then matches an event exactly when it matches the object of just
 * those members of the event. */
int pattern_uses_only(const pattern *p, const char *const *keys, size_t nkeys);

/* ---- Matching -------------------------------------------------------- */

/* 1 if event (normally a whole EventBridge envelope object) matches p, else 0.
 * A non-object event matches only patterns that require fields to be absent.
 * Does not allocate.  p is read only, so many threads may match against the
 * same compiled pattern at once; event must not change during the call. */
int pattern_match(const pattern *p, const json_t *event);

/* ---- Releasing ------------------------------------------------------- */

/* Frees p and everything it owns.  NULL is allowed. */
void pattern_free(pattern *p);

#endif
