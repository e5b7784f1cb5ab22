/* jwt.h - access tokens: JSON Web Tokens signed with HS256, and nothing
 * else.  The verifier does not choose anything from the token: the header
 * must be byte for byte the one header we issue ({"alg":"HS256","kid":K,
 * "typ":"JWT"}, base64url), which pins the algorithm and selects the key by
 * kid; the signature is HMAC-SHA256 compared in constant time; base64url is
 * strict (no padding, no other alphabet, no whitespace, canonical trailing
 * bits); the payload is a JSON object without duplicate keys whose iss and
 * aud equal ours, whose exp (required), iat (required) and nbf (optional)
 * are integers checked with a leeway; a size limit.  (libjwt's history -
 * a non-constant-time compare, alg:none paths, algorithm confusion - is why
 * it is small and pinned.)  Pure: no globals, any thread.
 */
#ifndef ORDERLY_JWT_H
#define ORDERLY_JWT_H
#include <stddef.h>
#include <stdint.h>
#include "lib/limits.h"

#define JWT_KID_LEN 16 /* hex of the first 8 bytes of SHA-256(key) */
#define JWT_SUB_MAX 63

typedef struct jwt_key {
    char kid[JWT_KID_LEN + 1];
    unsigned char key[LIMIT_JWT_KEY_BYTES_MAX];
    size_t len;
    char header[96]; /* the base64url header tokens signed with this key carry */
    size_t header_len;
} jwt_key;

typedef struct jwt_claims {
    char sub[JWT_SUB_MAX + 1];
    int64_t iat, nbf, exp;
} jwt_claims;

/* A key of len bytes (LIMIT_JWT_KEY_BYTES_MIN..MAX): 0 or ORD_EINVAL. */
int jwt_key_init(jwt_key *k, const unsigned char *key, size_t len);
/* Signs {iss, aud, sub, iat, nbf = iat, exp} into out (NUL-terminated).
 * iss, aud and sub are 1..63 of [A-Za-z0-9._:/@-].  Returns the length, or
 * ORD_EINVAL / ORD_ETOOBIG. */
int jwt_sign(const jwt_key *k, const char *iss, const char *aud, const char *sub, int64_t iat, int64_t exp,
             char *out, size_t cap);
/* Verifies tok[0..len) against keys[0..nkeys) at time now (seconds).
 * 0 with *out filled, or ORD_EINVAL with *why naming the defect (static
 * text, for logs and the WWW-Authenticate error_description). */
int jwt_verify(const jwt_key *keys, int nkeys, const char *iss, const char *aud, int64_t now, const char *tok,
               size_t len, jwt_claims *out, const char **why);

#endif
