/* password.c - see password.h. */
#include "auth/password.h"
#include <ctype.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>
#include "lib/err.h"
#include "lib/utf8.h"

/* The most common passwords of 12 characters or more (from public breach
 * corpora): a short list on purpose; the length rule does most of the work. */
static const char *const common[] = {
    "123456789012", "1234567890123", "12345678901234", "123456789012345", "1234567890qwerty",
    "000000000000", "111111111111", "123123123123", "password1234", "password12345", "password123456",
    "password123!", "passwordpassword", "passw0rd1234", "p@ssw0rd1234", "qwertyuiop12", "qwerty123456",
    "qwertyuiopasdfgh", "qwertyuiopasdfghjkl", "1q2w3e4r5t6y", "1q2w3e4r5t6y7u8i", "zaq12wsxcde3",
    "qazwsxedcrfv", "asdfghjkl123", "asdfghjklzxc", "iloveyou1234", "iloveyouiloveyou", "letmein12345",
    "letmeinletmein", "welcome12345", "welcome123456", "administrator", "administrator1", "changeme1234",
    "changemenow!", "trustno1trustno1", "football1234", "baseball1234", "superman1234", "princess1234",
    "sunshine1234", "monkey123456", "dragon123456", "abc123456789", "abcdefghijkl", "abcd1234abcd",
    "aaaaaaaaaaaa", "starwars1234", "whatever1234", "computer1234", "internet1234", "orderly12345",
    "orderlyadmin", "admin1234567", "adminadmin12", "secret123456", "master123456", "shadow123456",
    NULL,
};

int password_policy(const char *pw, size_t len, const char *username, const char **why)
{
    if (utf8_valid_prefix(pw, len) != len || memchr(pw, 0, len)) {
        *why = "must be valid UTF-8 text";
        return ORD_EVALIDATION;
    }
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) chars += ((unsigned char)pw[i] & 0xc0) != 0x80;
    if (chars < LIMIT_PASSWORD_MIN || chars > LIMIT_PASSWORD_MAX) {
        *why = "must be 12 to 256 characters";
        return ORD_EVALIDATION;
    }
    size_t same = 1;
    while (same < len && pw[same] == pw[0]) same++;
    if (same == len) {
        *why = "must not be one character repeated";
        return ORD_EVALIDATION;
    }
    for (const char *const *c = common; *c; c++)
        if (strlen(*c) == len && !strncasecmp(*c, pw, len)) {
            *why = "is one of the most common passwords";
            return ORD_EVALIDATION;
        }
    if (username && strlen(username) == len && !strncasecmp(username, pw, len)) {
        *why = "must not be the username";
        return ORD_EVALIDATION;
    }
    return 0;
}

int password_hash(const char *pw, size_t len, const password_cost *c, char out[LIMIT_PASSWORD_HASH_MAX])
{
    _Static_assert(crypto_pwhash_STRBYTES <= LIMIT_PASSWORD_HASH_MAX, "hash buffer");
    if (crypto_pwhash_str_alg(out, pw, len, c->iterations, c->memory_kib * 1024, crypto_pwhash_ALG_ARGON2ID13))
        return ORD_ENOMEM;
    return 0;
}

int password_verify(const char *hash, const char *pw, size_t len)
{
    return crypto_pwhash_str_verify(hash, pw, len) == 0 ? 0 : ORD_EINVAL;
}

int password_needs_rehash(const char *hash, const password_cost *c)
{
    return crypto_pwhash_str_needs_rehash(hash, c->iterations, c->memory_kib * 1024) != 0;
}
