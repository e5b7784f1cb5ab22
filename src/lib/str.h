/* str.h - copying a C string into a fixed buffer, and hashing one.
 *
 * str_copy is snprintf(dst, size, "%s", src) without the format machinery
 * (glibc's vfprintf costs ~40 times a memcpy for a short string, and the
 * writer copies a few dozen ids and names per order): it copies at most
 * size - 1 bytes, always terminates when size > 0, and returns strlen(src)
 * so a result >= size means the copy was cut, as with snprintf.  A NULL src
 * copies the empty string.  (strlcpy, which glibc has only from 2.38.)
 */
#ifndef ORDERLY_LIB_STR_H
#define ORDERLY_LIB_STR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline size_t str_copy(char *dst, size_t size, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (size) {
        size_t k = n < size ? n : size - 1;
        if (k) memcpy(dst, src, k);
        dst[k] = '\0';
    }
    return n;
}

/* FNV-1a of s, going on from h (STR_HASH_SEED to start; the result of one
 * string to hash a pair): the slot of a key in the small in-memory tables
 * (price cache, rate limits, rule memo, the batch's order copies). */
#define STR_HASH_SEED 2166136261u
static inline uint32_t str_hash(uint32_t h, const char *s)
{
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

#endif
