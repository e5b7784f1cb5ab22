/* internal.h - what the files of src/auth/ share. */
#ifndef ORDERLY_AUTH_INTERNAL_H
#define ORDERLY_AUTH_INTERNAL_H
#include <pthread.h>
#include "auth/auth.h"
#include "auth/jwt.h"
#include "auth/ratelimit.h"
#include "lib/workpool.h"

#define AUTH_HASH_BYTES 32 /* SHA-256 of refresh tokens and API keys */

/* A remembered user or API key (LIMIT_AUTH_CACHE_MS). */
typedef struct cached_user {
    int64_t id, fetched_ms;
    int used, role, active;
    char name[LIMIT_USERNAME_MAX + 1];
    char customer_id[LIMIT_ORDER_CUSTOMER_BYTES_MAX + 1];
} cached_user;

typedef struct cached_key {
    unsigned char hash[AUTH_HASH_BYTES];
    int64_t fetched_ms, expires_ms;
    int used, found, role, revoked;
    char id[AUTH_KEY_ID_LEN + 1];
} cached_key;

struct auth {
    store *st;
    auth_config cfg;
    char env[LIMIT_ENV_NAME_MAX + 1], db[LIMIT_DB_URL_MAX + 1];
    char issuer[64], audience[64];
    jwt_key keys[2]; /* [0] signs; [1] (previous) still verifies */
    int nkeys;
    workpool *pool;
    ratelimit *rl_addr, *rl_principal, *rl_login_addr, *rl_login_account;
    char dummy_hash[LIMIT_PASSWORD_HASH_MAX];
    pthread_mutex_t mu; /* the caches */
    cached_user users[LIMIT_AUTH_CACHE_ENTRIES];
    cached_key keyc[LIMIT_AUTH_CACHE_ENTRIES];
};

/* SHA-256 of a token or key. */
void auth_hash(const char *token, unsigned char out[AUTH_HASH_BYTES]);
/* "<prefix><43 base64url characters of 32 random bytes>". */
void auth_random_token(const char *prefix, char out[AUTH_TOKEN_MAX + 1]);
/* Forgets a cached user / key (after a change commits, or at once). */
void auth_forget_user(auth *a, int64_t id);
void auth_forget_keys(auth *a);

#endif
