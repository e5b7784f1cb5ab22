/* password.h - passwords: the policy (length, the most common ones), and
 * argon2id hashes through libsodium's crypto_pwhash_str, whose encoded
 * string keeps the parameters ($argon2id$v=19$m=19456,t=2,p=1$...), so they
 * can be raised later and old hashes rehashed at login.  Hashing is slow on
 * purpose (~50 ms, 19 MiB): callers run it on the hashing pool, never on an
 * HTTP worker.  Pure: any thread. */
#ifndef ORDERLY_PASSWORD_H
#define ORDERLY_PASSWORD_H
#include <stddef.h>
#include "lib/limits.h"

typedef struct password_cost {
    unsigned long long iterations; /* argon2 t */
    size_t memory_kib;             /* argon2 m */
} password_cost;

/* 0 when pw[0..len) may be a password: LIMIT_PASSWORD_MIN..MAX characters
 * (UTF-8), valid UTF-8, not one character repeated, not one of the most
 * common passwords (case-insensitive) nor the username; else ORD_EVALIDATION
 * with *why (static text). */
int password_policy(const char *pw, size_t len, const char *username, const char **why);
/* out receives the encoded hash.  0 or ORD_ENOMEM. */
int password_hash(const char *pw, size_t len, const password_cost *c, char out[LIMIT_PASSWORD_HASH_MAX]);
/* 0 when pw matches hash, ORD_EINVAL when not (or the hash is malformed). */
int password_verify(const char *hash, const char *pw, size_t len);
/* 1 when hash was made with other parameters than c (rehash at login). */
int password_needs_rehash(const char *hash, const password_cost *c);

#endif
