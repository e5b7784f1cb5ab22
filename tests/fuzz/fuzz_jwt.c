/* fuzz_jwt.c - the JWT verifier of the accounts issue (auth/jwt.c).
 *
 * The first byte picks the mode, the rest is its input:
 *   0  a token as a client sends it, verified against two keys;
 *   1  a payload that the target signs itself with one of the keys (HS256
 *      over our header), so the claim checks behind the signature are
 *      reached - the part a forger cannot reach, and a key holder's bug;
 *   2  fields for jwt_sign (subject, iat, exp): sign, then verify.
 *
 * Invariants: the verifier answers 0 or ORD_EINVAL with a reason, and on
 * failure leaves no claims behind; for a signed payload it accepts exactly
 * when an independent reading of jwt.h's rules accepts (a JSON object
 * without duplicate keys, only the claims we issue, our iss and aud, a
 * subject of 1-63 of [A-Za-z0-9._:/@-], integer exp and iat, an integer nbf
 * if any, exp/nbf/iat within the leeway of now - computed without overflow),
 * with the same claims; changing any one byte of an accepted token makes it
 * fail; a token jwt_sign issues verifies, with its claims, until it expires.
 */
#include "auth/jwt.h"
#include "fuzz.h"
#include <sodium.h>
#include <stdio.h>

#define ISS "orderly"
#define AUD "orderly-api"
#define NOW 1800000000LL

static jwt_key keys[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    CHECK(sodium_init() >= 0);
    unsigned char k0[32], k1[64];
    for (size_t i = 0; i < sizeof k0; i++)
        k0[i] = (unsigned char)(i * 7 + 1);
    for (size_t i = 0; i < sizeof k1; i++)
        k1[i] = (unsigned char)(255 - i);
    CHECK(jwt_key_init(&keys[0], k0, sizeof k0) == 0);
    CHECK(jwt_key_init(&keys[1], k1, sizeof k1) == 0);
    return 0;
}

static int verify(const char *tok, size_t len, int64_t now, jwt_claims *c)
{
    const char *why = NULL;
    int rc = jwt_verify(keys, 2, ISS, AUD, now, tok, len, c, &why);
    CHECK(rc == 0 || rc == ORD_EINVAL);
    CHECK(why != NULL);
    if (rc) {
        CHECK(why[0] != 0);
        jwt_claims zero;
        memset(&zero, 0, sizeof zero);
        CHECK(!memcmp(c, &zero, sizeof zero));
    }
    return rc;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= JWT_SUB_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/@-") == n;
}

/* jwt.h's claim rules, read independently: 1 when payload is acceptable at
 * now, with *want its claims. */
static int claims_ok(const uint8_t *payload, size_t n, int64_t now, jwt_claims *want)
{
    json_error_t je;
    json_t *p = json_loadb((const char *)payload, n, JSON_REJECT_DUPLICATES, &je);
    int ok = json_is_object(p);
    const char *k;
    json_t *v;
    if (ok) json_object_foreach(p, k, v)
        {
            static const char *const known[] = {"iss", "aud", "sub", "iat",
                                                "nbf", "exp", "jti", NULL};
            int hit = 0;
            for (const char *const *c = known; *c; c++)
                hit |= !strcmp(*c, k);
            ok &= hit;
        }
    const json_t *iss = json_object_get(p, "iss"), *aud = json_object_get(p, "aud"),
                 *sub = json_object_get(p, "sub");
    const json_t *exp = json_object_get(p, "exp"), *iat = json_object_get(p, "iat"),
                 *nbf = json_object_get(p, "nbf");
    ok = ok && json_is_string(iss) && !strcmp(json_string_value(iss), ISS) && json_is_string(aud) &&
         !strcmp(json_string_value(aud), AUD) && json_is_string(sub) &&
         name_ok(json_string_value(sub)) && json_is_integer(exp) && json_is_integer(iat) &&
         (!nbf || json_is_integer(nbf));
    if (ok) { /* in 128 bits: no overflow whatever the token says */
        __int128 t = now, leeway = LIMIT_JWT_LEEWAY_S;
        ok = t <= (__int128)json_integer_value(exp) + leeway &&
             (__int128)json_integer_value(iat) <= t + leeway &&
             (!nbf || (__int128)json_integer_value(nbf) <= t + leeway);
    }
    if (ok) {
        memset(want, 0, sizeof *want);
        snprintf(want->sub, sizeof want->sub, "%s", json_string_value(sub));
        want->exp = json_integer_value(exp);
        want->iat = json_integer_value(iat);
        want->nbf = nbf ? json_integer_value(nbf) : INT64_MIN;
    }
    json_decref(p);
    return ok;
}

static int same_claims(const jwt_claims *a, const jwt_claims *b)
{
    return !strcmp(a->sub, b->sub) && a->exp == b->exp && a->iat == b->iat && a->nbf == b->nbf;
}

/* An accepted token with any one byte changed is refused. */
static void tamper(const char *tok, size_t len, size_t at, uint8_t x, int64_t now)
{
    char *t = malloc(len);
    CHECK(t != NULL);
    memcpy(t, tok, len);
    t[at % len] ^= (char)(x ? x : 1);
    jwt_claims c;
    if (verify(t, len, now, &c) != ORD_EINVAL)
        fprintf(stderr, "accepted with byte %zu changed from '%c' to '%c':\n  %.*s\n  %.*s\n", at % len,
                tok[at % len], t[at % len], (int)len, tok, (int)len, t);
    CHECK(verify(t, len, now, &c) == ORD_EINVAL);
    free(t);
}

/* Mode 1: sign the payload bytes with keys[which] and verify. */
static void signed_payload(const uint8_t *payload, size_t n, int which, uint8_t flip)
{
    const jwt_key *k = &keys[which];
    size_t cap = k->header_len + 2 +
                 sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 64;
    char *tok = malloc(cap);
    CHECK(tok != NULL);
    memcpy(tok, k->header, k->header_len);
    size_t o = k->header_len;
    tok[o++] = '.';
    sodium_bin2base64(tok + o, cap - o, payload, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    o += strlen(tok + o);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, k->key, k->len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, o);
    crypto_auth_hmacsha256_final(&st, mac);
    tok[o++] = '.';
    sodium_bin2base64(tok + o, cap - o, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    o += strlen(tok + o);

    jwt_claims got, want;
    int rc = verify(tok, o, NOW, &got);
    int expect = o <= LIMIT_JWT_BYTES_MAX && claims_ok(payload, n, NOW, &want);
    if ((rc == 0) != expect)
        fprintf(stderr, "verifier says %s, the rules say %s: %.*s\n", rc ? "no" : "yes",
                expect ? "yes" : "no", (int)n, (const char *)payload);
    CHECK((rc == 0) == expect);
    if (rc == 0) {
        CHECK(same_claims(&got, &want));
        tamper(tok, o, (size_t)flip * 7919u, flip, NOW);
    }
    free(tok);
}

/* Mode 2: sub NUL iat(8 bytes) exp(8 bytes). */
static void sign_verify(const uint8_t *d, size_t n)
{
    const uint8_t *nul = memchr(d, 0, n);
    if (!nul || (size_t)(d + n - nul - 1) < 16) return;
    char sub[256];
    size_t sl = (size_t)(nul - d);
    if (sl >= sizeof sub) return;
    memcpy(sub, d, sl);
    sub[sl] = 0;
    int64_t iat, exp;
    memcpy(&iat, nul + 1, 8);
    memcpy(&exp, nul + 9, 8);
    iat = NOW + iat % 100000000; /* a server clock: within about three years of NOW */
    char tok[LIMIT_JWT_BYTES_MAX + 1];
    int len = jwt_sign(&keys[(nul[1] & 1)], ISS, AUD, sub, iat, exp, tok, sizeof tok);
    CHECK(len > 0 || len == ORD_EINVAL);
    CHECK((len > 0) == name_ok(sub));
    if (len < 0) return;
    CHECK((size_t)len == strlen(tok) && len <= LIMIT_JWT_BYTES_MAX);
    jwt_claims c;
    int rc = verify(tok, (size_t)len, iat, &c);
    __int128 t = iat;
    CHECK((rc == 0) == (t <= (__int128)exp + LIMIT_JWT_LEEWAY_S));
    if (rc == 0) {
        CHECK(!strcmp(c.sub, sub) && c.iat == iat && c.nbf == iat && c.exp == exp);
        tamper(tok, (size_t)len, (size_t)exp, (uint8_t)iat, iat);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    jwt_claims c;
    switch (data[0] % 3) {
    case 0:
        verify((const char *)d, n, NOW, &c);
        break;
    case 1:
        if (n >= 1 && n <= 768) signed_payload(d + 1, n - 1, d[0] & 1, d[0]);
        break;
    default:
        sign_verify(d, n);
        break;
    }
    return 0;
}
