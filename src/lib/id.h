/* id.h - identifiers: UUID v4 from libsodium's CSPRNG, random 64-bit tokens. */
#ifndef ORDERLY_ID_H
#define ORDERLY_ID_H
#include <stdint.h>

#define ID_UUID_LEN 36 /* without the terminating NUL */

/* Must be called once before any other id_ function (calls sodium_init). */
int id_init(void);
/* Writes a lowercase UUID v4 and a NUL into out[37]. */
void id_uuid(char out[ID_UUID_LEN + 1]);
/* A time-ordered UUID v7 (RFC 9562): 48-bit Unix ms, then random bits.
 * For keys of indexed tables: inserts land at the right edge of the B-tree
 * instead of on a random page. */
void id_uuid7(char out[ID_UUID_LEN + 1]);
/* A random nonzero 63-bit value. */
int64_t id_token(void);
/* 1 when s is a syntactically valid UUID (any version). */
int id_is_uuid(const char *s);

#endif
