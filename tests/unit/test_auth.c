/* test_auth.c - auth/: the JWT signer and verifier (round trip, kid
 * selection, the previous key, what is refused), the password policy and
 * hashes, the rate limiter's buckets, the hashing pool's bound, and the
 * audit rows an erasure renames, also those written after it. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include "auth/auth.h"
#include "auth/internal.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "lib/err.h"
#include "lib/clock.h"
#include "lib/id.h"
#include "lib/limits.h"
#include "lib/workpool.h"
#include "store/store.h"
#include "testutil.h"

static jwt_key k1, k2, other;

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    unsigned char a[32], b[40], c[32];
    memset(a, 1, sizeof a);
    memset(b, 2, sizeof b);
    memset(c, 3, sizeof c);
    cr_assert_eq(jwt_key_init(&k1, a, sizeof a), 0);
    cr_assert_eq(jwt_key_init(&k2, b, sizeof b), 0);
    cr_assert_eq(jwt_key_init(&other, c, sizeof c), 0);
}

TestSuite(jwt, .init = setup);

static int verify(const jwt_key *keys, int n, const char *tok, int64_t now, jwt_claims *cl, const char **why)
{
    return jwt_verify(keys, n, "orderly", "orderly-api", now, tok, strlen(tok), cl, why);
}

Test(jwt, round_trip_and_kid_selection)
{
    char tok[LIMIT_JWT_BYTES_MAX];
    int n = jwt_sign(&k2, "orderly", "orderly-api", "42", 1000, 1900, tok, sizeof tok);
    cr_assert_gt(n, 0);
    jwt_key ring[2] = {k1, k2};
    jwt_claims cl;
    const char *why;
    cr_assert_eq(verify(ring, 2, tok, 1500, &cl, &why), 0, "%s", why);
    cr_expect_str_eq(cl.sub, "42");
    cr_expect_eq(cl.exp, 1900);
    cr_expect_eq(verify(ring, 1, tok, 1500, &cl, &why), ORD_EINVAL, "the key that signed it is gone");
    cr_expect_neq(strncmp(k1.header, k2.header, k1.header_len), 0, "a kid per key");
}

Test(jwt, refusals)
{
    char tok[LIMIT_JWT_BYTES_MAX], bad[LIMIT_JWT_BYTES_MAX + 64];
    jwt_claims cl;
    const char *why;
    jwt_sign(&k1, "orderly", "orderly-api", "7", 1000, 1900, tok, sizeof tok);
    cr_expect_eq(verify(&k1, 1, tok, 1900 + LIMIT_JWT_LEEWAY_S + 1, &cl, &why), ORD_EINVAL, "expired");
    cr_expect(strstr(why, "expired") != NULL, "%s", why);
    cr_expect_eq(verify(&k1, 1, tok, 1900 + LIMIT_JWT_LEEWAY_S, &cl, &why), 0, "leeway: %s", why);
    cr_expect_eq(verify(&k1, 1, tok, 1000 - LIMIT_JWT_LEEWAY_S - 1, &cl, &why), ORD_EINVAL, "issued in the future");
    cr_expect_eq(jwt_verify(&k1, 1, "other", "orderly-api", 1500, tok, strlen(tok), &cl, &why), ORD_EINVAL, "iss");
    cr_expect_eq(jwt_verify(&k1, 1, "orderly", "other", 1500, tok, strlen(tok), &cl, &why), ORD_EINVAL, "aud");
    cr_expect_eq(verify(&other, 1, tok, 1500, &cl, &why), ORD_EINVAL, "another key");
    snprintf(bad, sizeof bad, "%s", tok);
    bad[strlen(bad) - 2] ^= 1; /* a signature bit */
    cr_expect_eq(verify(&k1, 1, bad, 1500, &cl, &why), ORD_EINVAL, "tampered signature");
    snprintf(bad, sizeof bad, "%s=", tok);
    cr_expect_eq(verify(&k1, 1, bad, 1500, &cl, &why), ORD_EINVAL, "padding");
    const char *dot = strrchr(tok, '.');
    snprintf(bad, sizeof bad, "%.*s.", (int)(dot - tok), tok);
    cr_expect_eq(verify(&k1, 1, bad, 1500, &cl, &why), ORD_EINVAL, "no signature");
    snprintf(bad, sizeof bad, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0%s", strchr(tok, '.'));
    cr_expect_eq(verify(&k1, 1, bad, 1500, &cl, &why), ORD_EINVAL, "alg none");
    memset(bad, 'a', LIMIT_JWT_BYTES_MAX + 1);
    bad[LIMIT_JWT_BYTES_MAX + 1] = 0;
    cr_expect_eq(verify(&k1, 1, bad, 1500, &cl, &why), ORD_EINVAL, "too long");
    cr_expect_eq(verify(&k1, 1, "", 1500, &cl, &why), ORD_EINVAL, "empty");
    unsigned char shortkey[31] = {0};
    jwt_key k;
    cr_expect_eq(jwt_key_init(&k, shortkey, sizeof shortkey), ORD_EINVAL, "31 bytes");
}

Test(password, policy_and_hash)
{
    const char *why;
    cr_expect_eq(password_policy("short", 5, NULL, &why), ORD_EVALIDATION);
    cr_expect_eq(password_policy("abcdefghijk", 11, NULL, &why), ORD_EVALIDATION, "11");
    cr_expect_eq(password_policy("abcdefghijkm", 12, NULL, &why), 0, "12: %s", why);
    cr_expect_eq(password_policy("Password1234", 12, NULL, &why), ORD_EVALIDATION, "common, any case");
    cr_expect_eq(password_policy("zzzzzzzzzzzzzz", 14, NULL, &why), ORD_EVALIDATION, "repeated");
    cr_expect_eq(password_policy("carol-the-user", 14, "carol-the-user", &why), ORD_EVALIDATION, "username");
    /* 12 characters of 2 bytes each count as 12 */
    cr_expect_eq(password_policy("\xc3\xa9\xc3\xa8\xc3\xa9\xc3\xa8\xc3\xa9\xc3\xa8\xc3\xa9\xc3\xa8\xc3\xa9\xc3\xa8\xc3\xa9\xc3"
                                 "\xa8",
                                 24, NULL, &why),
                 0, "%s", why);
    cr_expect_eq(password_policy("abc\xffxyzxyzxyz", 13, NULL, &why), ORD_EVALIDATION, "not UTF-8");
    password_cost c = {LIMIT_ARGON2_ITERATIONS_MIN, LIMIT_ARGON2_MEMORY_KIB_MIN};
    char h[LIMIT_PASSWORD_HASH_MAX];
    cr_assert_eq(password_hash("a good password", 15, &c, h), 0);
    cr_expect(!strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31), "%s", h);
    cr_expect_eq(password_verify(h, "a good password", 15), 0);
    cr_expect_eq(password_verify(h, "a good passworD", 15), ORD_EINVAL);
    cr_expect_eq(password_needs_rehash(h, &c), 0);
    password_cost more = {3, LIMIT_ARGON2_MEMORY_KIB_MIN};
    cr_expect_eq(password_needs_rehash(h, &more), 1, "raised parameters: rehash at login");
}

Test(ratelimit, buckets)
{
    ratelimit *rl = ratelimit_new(1.0, 3);
    cr_assert_neq(rl, NULL);
    for (int i = 0; i < 3; i++) cr_expect_eq(ratelimit_take(rl, "a", 1000), 0, "burst %d", i);
    cr_expect_eq(ratelimit_take(rl, "a", 1000), 1, "empty: wait 1 s");
    cr_expect_eq(ratelimit_take(rl, "b", 1000), 0, "another key has its own bucket");
    cr_expect_eq(ratelimit_peek(rl, "a", 1500), 1, "half a token");
    cr_expect_eq(ratelimit_take(rl, "a", 2000), 0, "refilled");
    cr_expect_eq(ratelimit_peek(rl, "a", 2000), 1, "peek takes nothing, but there is none");
    ratelimit_free(rl);
}

static atomic_int ran;
static void slow_job(void *arg)
{
    (void)arg;
    usleep(100 * 1000);
    atomic_fetch_add(&ran, 1);
}

Test(workpool, a_full_queue_refuses_at_once)
{
    workpool *wp;
    cr_assert_eq(workpool_new(1, 2, &wp), 0);
    int ok = 0, busy = 0;
    for (int i = 0; i < 6; i++) {
        int rc = workpool_submit(wp, slow_job, NULL);
        if (rc == 0) ok++;
        else if (rc == ORD_EBUSY) busy++;
    }
    cr_expect(ok >= 2 && ok <= 3, "ok %d", ok);
    cr_expect_eq(ok + busy, 6);
    workpool_free(wp);
    cr_expect_eq(atomic_load(&ran), ok, "every accepted job ran");
}

/* Found by tests/fuzz/fuzz_jwt.c: the expiry check computed exp + leeway, a
 * signed overflow (undefined behaviour; with wrapping, a token that never
 * expires was refused as expired) for exp near INT64_MAX.  Only a key holder
 * can sign such a token, but the check must be defined for every exp. */
Test(jwt, exp_at_the_ends_of_int64)
{
    char tok[LIMIT_JWT_BYTES_MAX];
    jwt_claims cl;
    const char *why;
    cr_assert_gt(jwt_sign(&k1, "orderly", "orderly-api", "7", 1000, INT64_MAX, tok, sizeof tok), 0);
    cr_expect_eq(verify(&k1, 1, tok, 1500, &cl, &why), 0, "exp = INT64_MAX has not expired: %s", why);
    cr_expect_eq(cl.exp, INT64_MAX);
    cr_assert_gt(jwt_sign(&k1, "orderly", "orderly-api", "7", 1000, INT64_MIN, tok, sizeof tok), 0);
    cr_expect_eq(verify(&k1, 1, tok, 1500, &cl, &why), ORD_EINVAL, "exp = INT64_MIN has");
    cr_expect(strstr(why, "expired") != NULL, "%s", why);
}

/* Found by tests/fuzz/fuzz_jwt.c: libsodium 1.0.18 decodes any byte >= 0x80
 * as base64url '_', so a token with a '_' replaced by such a byte verified
 * (128 spellings of one token).  The verifier checks the alphabet itself. */
Test(jwt, only_the_base64url_alphabet)
{
    char tok[LIMIT_JWT_BYTES_MAX], sub[16];
    jwt_claims cl;
    const char *why;
    int tested = 0;
    for (int i = 0; i < 200 && tested < 20; i++) {
        snprintf(sub, sizeof sub, "u%d", i);
        int n = jwt_sign(&k1, "orderly", "orderly-api", sub, 1000, 1900, tok, sizeof tok);
        cr_assert_gt(n, 0);
        char *under = strchr(strchr(tok, '.'), '_'); /* in the payload or the signature */
        if (!under) continue;
        cr_assert_eq(verify(&k1, 1, tok, 1500, &cl, &why), 0, "%s", why);
        for (int c = 0x80; c <= 0xff; c += 0x3f) {
            *under = (char)c;
            cr_expect_eq(verify(&k1, 1, tok, 1500, &cl, &why), ORD_EINVAL, "'_' at %d as byte 0x%02x: %s",
                         (int)(under - tok), c, tok);
        }
        tested++;
    }
    cr_assert_gt(tested, 0, "some token has a '_' after its header");
}

/* ---- the audit log and an erasure ----------------------------------------------------------- */

static store *ast;

static void audit_setup(void)
{
    cr_assert(sodium_init() >= 0);
    id_init();
    store_opts o = {.path = test_db_path("audit.db"), .pending_max = 1000, .batch_max = 64};
    cr_assert_eq(store_open(&ast, &o), 0);
}

static void audit_teardown(void)
{
    store_close(ast);
}

TestSuite(audit, .init = audit_setup, .fini = audit_teardown, .timeout = 60);

struct row {
    const char *who, *target, *pseudonym;
    int late;
    int64_t forget_at; /* a remembered name that expired: 0 none */
};

static int row_unit(store_conn *tx, void *arg)
{
    struct row *r = arg;
    if (r->pseudonym) return auth_audit_rename_tx(tx, r->who, r->pseudonym);
    if (r->forget_at) {
        unsigned char h[AUTH_HASH_BYTES];
        auth_hash(r->who, h);
        store_stmt *st = store_prep(tx, ST_AUDIT_ERASED_PUT);
        store_bind_blob(st, 1, h, sizeof h);
        store_bind_str(st, 2, "erased-expired");
        store_bind_i64(st, 3, r->forget_at);
        return store_exec(st);
    }
    auth_principal p = {.kind = PRINCIPAL_USER, .role = ROLE_CUSTOMER};
    snprintf(p.name, sizeof p.name, "%s", r->who);
    audit_entry e = {&p, "GET", "/api/customers/{id}/export", r->target, 200, "127.0.0.1", "rid", NULL};
    return r->late ? auth_audit_late_tx(tx, &e) : auth_audit_tx(tx, &e);
}

/* principal and target of every row, oldest first, as "who>target" */
static int rows(char out[][64], int max)
{
    store_conn *c = store_reader(ast);
    cr_assert(c);
    store_stmt *st = store_prep(c, ST_AUDIT_LIST);
    store_bind_null(st, 1);
    store_bind_null(st, 2);
    store_bind_i64(st, 3, 0);
    store_bind_i64(st, 4, INT64_MAX);
    store_bind_i64(st, 5, INT64_MAX);
    store_bind_i64(st, 6, max);
    int n = 0, rc;
    while ((rc = store_step(st)) == STORE_ROW && n < max) {
        snprintf(out[n], 64, "%s>%s", store_col_text(st, 2, NULL),
                 store_col_is_null(st, 7) ? "" : store_col_text(st, 7, NULL));
        n++;
    }
    store_reset(st);
    cr_assert_geq(rc, 0);
    return n; /* newest first */
}

/* An audit row written after the answer of a request made before an
 * erasure (a staff read, a refused change) lands after the erasure: it
 * names the pseudonym, not the erased name; another name stays; a
 * remembered name past its keep is not used. */
Test(audit, a_late_row_after_an_erasure_names_the_pseudonym)
{
    struct row before = {"alice", "alice", NULL, 0, 0}, erase = {"alice", NULL, "erased-0123456789abcdef", 0, 0},
               late = {"alice", "alice", NULL, 1, 0}, late_staff = {"admin", "alice", NULL, 1, 0},
               bob = {"bob", "ord-1", NULL, 1, 0}, expired = {"carol", NULL, NULL, 0, clock_wall_ms() - 1},
               late_carol = {"carol", "carol", NULL, 1, 0};
    cr_assert_eq(store_run(ast, row_unit, &before), 0);
    cr_assert_eq(store_run(ast, row_unit, &erase), 0);
    cr_assert_eq(store_run(ast, row_unit, &late), 0);
    cr_assert_eq(store_run(ast, row_unit, &late_staff), 0);
    cr_assert_eq(store_run(ast, row_unit, &bob), 0);
    cr_assert_eq(store_run(ast, row_unit, &expired), 0);
    cr_assert_eq(store_run(ast, row_unit, &late_carol), 0);
    char r[8][64];
    cr_assert_eq(rows(r, 8), 5);
    cr_expect_str_eq(r[4], "erased-0123456789abcdef>erased-0123456789abcdef", "renamed by the erasure");
    cr_expect_str_eq(r[3], "erased-0123456789abcdef>erased-0123456789abcdef", "written after it: the pseudonym");
    cr_expect_str_eq(r[2], "admin>erased-0123456789abcdef", "a staff read about the erased name");
    cr_expect_str_eq(r[1], "bob>ord-1", "another name stays");
    cr_expect_str_eq(r[0], "carol>carol", "a name no longer remembered stays");
}
