/* jwt.c - see jwt.h. */
#include "auth/jwt.h"
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "lib/err.h"
#include "lib/str.h"

#define SIG_B64_LEN 43 /* 32 bytes, base64url without padding */
#define PAYLOAD_MAX 768

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > JWT_SUB_MAX) return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/@-") == n;
}

static size_t b64url(const void *bin, size_t n, char *out, size_t cap)
{
    if (cap < sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING)) return 0;
    sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(out);
}

static int b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Strict base64url: the alphabet only, no padding, no whitespace, the
 * whole text consumed, canonical trailing bits (libsodium checks them).
 * The alphabet is checked here: libsodium 1.0.18 (Debian 12) decodes every
 * byte >= 0x80 as '_' (63), so 128 spellings of a token would verify
 * (found by tests/fuzz/fuzz_jwt.c). */
static int unb64url(const char *s, size_t n, unsigned char *out, size_t cap, size_t *got)
{
    const char *end = NULL;
    for (size_t i = 0; i < n; i++)
        if (!b64url_char((unsigned char)s[i])) return -1;
    if (sodium_base642bin(out, cap, s, n, NULL, got, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING)) return -1;
    return end == s + n ? 0 : -1;
}

static void hmac(const jwt_key *k, const char *msg, size_t n, unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, k->key, k->len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, n);
    crypto_auth_hmacsha256_final(&st, mac);
}

int jwt_key_init(jwt_key *k, const unsigned char *key, size_t len)
{
    memset(k, 0, sizeof *k);
    if (len < LIMIT_JWT_KEY_BYTES_MIN || len > LIMIT_JWT_KEY_BYTES_MAX) return ORD_EINVAL;
    memcpy(k->key, key, len);
    k->len = len;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, key, len);
    sodium_bin2hex(k->kid, sizeof k->kid, h, JWT_KID_LEN / 2);
    char header[80];
    int n = snprintf(header, sizeof header, "{\"alg\":\"HS256\",\"kid\":\"%s\",\"typ\":\"JWT\"}", k->kid);
    k->header_len = b64url(header, (size_t)n, k->header, sizeof k->header);
    return k->header_len ? 0 : ORD_EINTERNAL;
}

int jwt_sign(const jwt_key *k, const char *iss, const char *aud, const char *sub, int64_t iat, int64_t exp,
             char *out, size_t cap)
{
    if (!name_ok(iss) || !name_ok(aud) || !name_ok(sub)) return ORD_EINVAL;
    char payload[PAYLOAD_MAX];
    int pn = snprintf(payload, sizeof payload,
                      "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld}", iss,
                      aud, sub, (long long)iat, (long long)iat, (long long)exp);
    if (pn < 0 || (size_t)pn >= sizeof payload) return ORD_ETOOBIG;
    size_t need = k->header_len + 1 + sodium_base64_ENCODED_LEN((size_t)pn, sodium_base64_VARIANT_URLSAFE_NO_PADDING) +
                  1 + SIG_B64_LEN + 1;
    if (cap < need) return ORD_ETOOBIG;
    memcpy(out, k->header, k->header_len);
    size_t o = k->header_len;
    out[o++] = '.';
    o += b64url(payload, (size_t)pn, out + o, cap - o);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    hmac(k, out, o, mac);
    out[o++] = '.';
    o += b64url(mac, sizeof mac, out + o, cap - o);
    return (int)o;
}

static int int_claim(const json_t *p, const char *name, int required, int64_t *out)
{
    const json_t *v = json_object_get(p, name);
    if (!v) return required ? -1 : 0;
    if (!json_is_integer(v)) return -1;
    *out = json_integer_value(v);
    return 0;
}

#define FAIL(text)    \
    do {              \
        *why = (text); \
        rc = ORD_EINVAL; \
        goto out;     \
    } while (0)

int jwt_verify(const jwt_key *keys, int nkeys, const char *iss, const char *aud, int64_t now, const char *tok,
               size_t len, jwt_claims *out, const char **why)
{
    int rc = 0;
    json_t *p = NULL;
    *why = "";
    memset(out, 0, sizeof *out);
    if (len == 0) FAIL("empty token");
    if (len > LIMIT_JWT_BYTES_MAX) FAIL("token too long");
    const char *d1 = memchr(tok, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok))) FAIL("not three dot-separated parts");
    /* the header selects the key and pins the algorithm: it is ours or nothing */
    const jwt_key *k = NULL;
    size_t hlen = (size_t)(d1 - tok);
    for (int i = 0; i < nkeys && !k; i++)
        if (hlen == keys[i].header_len && !memcmp(tok, keys[i].header, hlen)) k = &keys[i];
    if (!k) FAIL("header is not one this server issues (algorithm, type or key id)");
    /* the signature, before anything of the payload is read */
    unsigned char sig[crypto_auth_hmacsha256_BYTES], mac[crypto_auth_hmacsha256_BYTES];
    size_t slen = len - (size_t)(d2 + 1 - tok), got = 0;
    if (slen != SIG_B64_LEN || unb64url(d2 + 1, slen, sig, sizeof sig, &got) || got != sizeof sig)
        FAIL("signature is not 32 bytes of strict base64url");
    hmac(k, tok, (size_t)(d2 - tok), mac);
    if (crypto_verify_32(sig, mac)) FAIL("signature does not verify");
    /* the claims */
    unsigned char payload[PAYLOAD_MAX];
    size_t plen = (size_t)(d2 - d1 - 1);
    if (unb64url(d1 + 1, plen, payload, sizeof payload, &got)) FAIL("payload is not strict base64url");
    json_error_t je;
    p = json_loadb((const char *)payload, got, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(p)) FAIL("payload is not a JSON object (or repeats a key)");
    const char *k2;
    json_t *v;
    json_object_foreach(p, k2, v)
    {
        static const char *const known[] = {"iss", "aud", "sub", "iat", "nbf", "exp", "jti", NULL};
        int ok = 0;
        for (const char *const *c = known; *c && !ok; c++) ok = !strcmp(*c, k2);
        if (!ok) FAIL("payload has a claim this server does not issue");
    }
    const char *ti = json_string_value(json_object_get(p, "iss")), *ta = json_string_value(json_object_get(p, "aud"));
    const char *ts = json_string_value(json_object_get(p, "sub"));
    if (!ti || strcmp(ti, iss)) FAIL("wrong issuer");
    if (!ta || strcmp(ta, aud)) FAIL("wrong audience");
    if (!ts || !name_ok(ts)) FAIL("no valid subject");
    out->nbf = INT64_MIN;
    if (int_claim(p, "exp", 1, &out->exp)) FAIL("exp missing or not an integer");
    if (int_claim(p, "iat", 1, &out->iat)) FAIL("iat missing or not an integer");
    if (int_claim(p, "nbf", 0, &out->nbf)) FAIL("nbf not an integer");
    /* exp is the token's: no arithmetic on it (exp + leeway overflows near INT64_MAX) */
    if (out->exp < now - LIMIT_JWT_LEEWAY_S) FAIL("token expired");
    if (out->nbf != INT64_MIN && out->nbf > now + LIMIT_JWT_LEEWAY_S) FAIL("token not valid yet (nbf)");
    if (out->iat > now + LIMIT_JWT_LEEWAY_S) FAIL("token issued in the future (iat)");
    str_copy(out->sub, sizeof out->sub, ts);
out:
    json_decref(p);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}
