/* auth.c - the accounts module's lifecycle (signing keys, the hashing pool,
 * the first admin) and the per-request work: who is calling (a JWT, an API
 * key or the session cookie, checked against a short-lived cache of the
 * users and keys) and the rate limits. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "auth/internal.h"
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"
#include "obs/log.h"

static const char *const role_names[] = {"admin", "operator", "viewer", "customer"};

const char *auth_role_name(int role)
{
    for (int i = 0; i < 4; i++)
        if (role == 1 << i) return role_names[i];
    return NULL;
}

int auth_role_parse(const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (!strcmp(name, role_names[i])) return 1 << i;
    return 0;
}

void auth_hash(const char *token, unsigned char out[AUTH_HASH_BYTES])
{
    crypto_hash_sha256(out, (const unsigned char *)token, strlen(token));
}

void auth_random_token(const char *prefix, char out[AUTH_TOKEN_MAX + 1])
{
    unsigned char r[32];
    randombytes_buf(r, sizeof r);
    size_t n = strlen(prefix);
    memcpy(out, prefix, n);
    sodium_bin2base64(out + n, AUTH_TOKEN_MAX + 1 - n, r, sizeof r, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(r, sizeof r);
}

const auth_config *auth_cfg(const auth *a)
{
    return &a->cfg;
}

const char *auth_dummy_hash(const auth *a)
{
    return a->dummy_hash;
}

int auth_pool_submit(auth *a, void (*fn)(void *), void *arg)
{
    return workpool_submit(a->pool, fn, arg);
}

/* ---- signing keys ---------------------------------------------------------------------- */

static int is_postgres(const char *db)
{
    return !strncmp(db, "postgres://", 11) || !strncmp(db, "postgresql://", 13);
}

/* "<db dir>/<env>.<suffix>" */
static void beside_db(const auth *a, const char *suffix, char *out, size_t len)
{
    char dir[LIMIT_DB_URL_MAX + 1];
    str_copy(dir, sizeof dir, a->db);
    snprintf(out, len, "%s/%s.%s", dirname(dir), a->env, suffix);
}

/* A key written as hex (whitespace around it ignored). */
static int key_from_hex(jwt_key *k, const char *text, const char *where, char *err, size_t errlen)
{
    unsigned char bin[LIMIT_JWT_KEY_BYTES_MAX + 1];
    size_t n = 0;
    const char *end;
    while (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r') text++;
    if (sodium_hex2bin(bin, sizeof bin, text, strlen(text), " \t\r\n", &n, &end) || *end) {
        snprintf(err, errlen, "the JWT key in %s is not hex", where);
        return ORD_ECONFIG;
    }
    int rc = jwt_key_init(k, bin, n);
    sodium_memzero(bin, sizeof bin);
    if (rc) {
        snprintf(err, errlen, "the JWT key in %s has %zu bytes; it needs %d to %d random bytes (hex)", where, n,
                 LIMIT_JWT_KEY_BYTES_MIN, LIMIT_JWT_KEY_BYTES_MAX);
        return ORD_ECONFIG;
    }
    return 0;
}

static int key_from_file(jwt_key *k, const char *path, char *err, size_t errlen)
{
    char text[4 * LIMIT_JWT_KEY_BYTES_MAX];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the JWT key file %s: %s", path, strerror(errno));
        return ORD_EIO;
    }
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    int rc = key_from_hex(k, text, path, err, errlen);
    sodium_memzero(text, sizeof text);
    return rc;
}

/* Writes data to path, created with mode 0600 (fails if it exists), fsync'd. */
static int write_secret(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return ORD_EIO;
    size_t n = strlen(data);
    int rc = write(fd, data, n) == (ssize_t)n && fsync(fd) == 0 ? 0 : ORD_EIO;
    close(fd);
    return rc;
}

static int load_keys(auth *a, char *err, size_t errlen)
{
    const char *env = getenv("ORDERLY_JWT_KEY");
    int rc;
    if (a->cfg.key_file[0]) {
        rc = key_from_file(&a->keys[0], a->cfg.key_file, err, errlen);
    } else if (env && *env) {
        rc = key_from_hex(&a->keys[0], env, "ORDERLY_JWT_KEY", err, errlen);
    } else if (is_postgres(a->db)) {
        snprintf(err, errlen, "set auth.keyFile or ORDERLY_JWT_KEY: the nodes sharing a PostgreSQL database must "
                              "sign with the same key");
        return ORD_ECONFIG;
    } else {
        char path[LIMIT_DB_URL_MAX + 32];
        beside_db(a, "jwt-key", path, sizeof path);
        if (access(path, F_OK) != 0) { /* first start: a new key, kept beside the database */
            unsigned char bin[32];
            char hex[2 * sizeof bin + 2];
            randombytes_buf(bin, sizeof bin);
            sodium_bin2hex(hex, sizeof hex, bin, sizeof bin);
            strcat(hex, "\n");
            rc = write_secret(path, hex);
            sodium_memzero(bin, sizeof bin);
            sodium_memzero(hex, sizeof hex);
            if (rc) {
                snprintf(err, errlen, "cannot create the JWT key file %s: %s", path, strerror(errno));
                return rc;
            }
            log_info("auth", "JWT signing key created", "file", path, NULL);
        }
        rc = key_from_file(&a->keys[0], path, err, errlen);
    }
    if (rc) return rc;
    a->nkeys = 1;
    const char *prev = getenv("ORDERLY_JWT_PREVIOUS_KEY");
    if (a->cfg.previous_key_file[0])
        rc = key_from_file(&a->keys[1], a->cfg.previous_key_file, err, errlen);
    else if (prev && *prev)
        rc = key_from_hex(&a->keys[1], prev, "ORDERLY_JWT_PREVIOUS_KEY", err, errlen);
    else
        return 0;
    if (!rc) a->nkeys = 2;
    return rc;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void accounts_signal(void *arg, int64_t key, uint32_t times);

int auth_open(store *st, const auth_config *cfg, auth **out, char *err, size_t errlen)
{
    if (errlen) err[0] = 0;
    auth *a = calloc(1, sizeof *a);
    if (!a) return ORD_ENOMEM;
    int rc = 0;
    a->st = st;
    a->cfg = *cfg;
    str_copy(a->env, sizeof a->env, cfg->env ? cfg->env : "");
    str_copy(a->db, sizeof a->db, cfg->db ? cfg->db : "");
    str_copy(a->issuer, sizeof a->issuer, cfg->issuer ? cfg->issuer : "orderly");
    str_copy(a->audience, sizeof a->audience, cfg->audience ? cfg->audience : "orderly-api");
    a->cfg.env = a->env;
    a->cfg.db = a->db;
    a->cfg.issuer = a->issuer;
    a->cfg.audience = a->audience;
    if (!a->cfg.key_file) a->cfg.key_file = "";
    if (!a->cfg.previous_key_file) a->cfg.previous_key_file = "";
    pthread_mutex_init(&a->mu, NULL);
    double per_min = (double)cfg->login_attempts / 60.0;
    a->rl_login_addr = ratelimit_new(per_min, cfg->login_attempts);
    a->rl_login_account = ratelimit_new(per_min, cfg->login_attempts);
    if (cfg->rate_per_s > 0) {
        a->rl_addr = ratelimit_new(cfg->rate_per_s, cfg->rate_burst);
        a->rl_principal = ratelimit_new(cfg->rate_per_s, cfg->rate_burst);
        if (!a->rl_addr || !a->rl_principal) rc = ORD_ENOMEM;
    }
    if (!rc && (!a->rl_login_addr || !a->rl_login_account)) rc = ORD_ENOMEM;
    if (!rc && cfg->enabled) rc = load_keys(a, err, errlen);
    if (!rc) rc = workpool_new(cfg->hash_threads, cfg->hash_queue, &a->pool);
    if (!rc) { /* the dummy: the cost of a real verify for an unknown user */
        char pw[AUTH_TOKEN_MAX + 1];
        auth_random_token("", pw);
        rc = password_hash(pw, strlen(pw), &a->cfg.cost, a->dummy_hash);
    }
    if (!rc && st) rc = store_signal_on(st, STORE_TOPIC_ACCOUNTS, accounts_signal, a);
    if (rc) {
        if (!err[0]) str_copy(err, errlen, err_msg(rc));
        auth_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void auth_close(auth *a)
{
    if (!a) return;
    if (a->st) store_signal_off(a->st, STORE_TOPIC_ACCOUNTS, accounts_signal, a);
    workpool_free(a->pool);
    ratelimit_free(a->rl_addr);
    ratelimit_free(a->rl_principal);
    ratelimit_free(a->rl_login_addr);
    ratelimit_free(a->rl_login_account);
    pthread_mutex_destroy(&a->mu);
    sodium_memzero(a->keys, sizeof a->keys);
    free(a);
}

/* ---- bootstrap ---------------------------------------------------------------------------- */

struct boot {
    auth *a;
    auth_user u;
    int created;
};

static int boot_unit(store_conn *tx, void *arg)
{
    struct boot *b = arg;
    store_stmt *st = store_prep(tx, ST_USER_COUNT);
    int rc = store_step(st);
    int64_t n = rc == STORE_ROW ? store_col_i64(st, 0) : -1;
    store_reset(st);
    if (rc < 0) return rc;
    if (n != 0) return 0; /* someone has accounts already (another node, a restart) */
    b->created = 1;
    int irc = auth_user_insert_tx(tx, b->a, &b->u);
    if (irc == ORD_EEXISTS) { /* another node starting at the same time made it */
        b->created = 0;
        return 0;
    }
    return irc;
}

int auth_bootstrap(auth *a, char *err, size_t errlen)
{
    if (!a->cfg.enabled) return 0;
    store_conn *c = store_reader(a->st);
    if (!c) return ORD_ESTORE;
    store_stmt *st = store_prep(c, ST_USER_COUNT);
    int rc = store_step(st);
    int64_t n = rc == STORE_ROW ? store_col_i64(st, 0) : -1;
    store_reset(st);
    if (rc < 0) return rc;
    if (n > 0) return 0;
    const char *given = getenv("ORDERLY_ADMIN_PASSWORD");
    char pw[AUTH_TOKEN_MAX + 1];
    const char *why;
    if (given && *given) {
        if (password_policy(given, strlen(given), "admin", &why)) {
            snprintf(err, errlen, "ORDERLY_ADMIN_PASSWORD %s", why);
            return ORD_ECONFIG;
        }
        str_copy(pw, sizeof pw, given);
    } else {
        auth_random_token("", pw);
        pw[24] = 0; /* 24 base64url characters: 144 random bits */
    }
    struct boot b = {.a = a};
    snprintf(b.u.username, sizeof b.u.username, "admin");
    b.u.role = ROLE_ADMIN;
    b.u.active = 1;
    if ((rc = password_hash(pw, strlen(pw), &a->cfg.cost, b.u.hash)) || (rc = store_run(a->st, boot_unit, &b))) {
        sodium_memzero(pw, sizeof pw);
        snprintf(err, errlen, "cannot create the first admin: %s", err_msg(rc));
        return rc;
    }
    if (b.created && !(given && *given)) {
        char path[LIMIT_DB_URL_MAX + 32] = "";
        if (!is_postgres(a->db)) {
            beside_db(a, "admin-password", path, sizeof path);
            char line[AUTH_TOKEN_MAX + 2];
            snprintf(line, sizeof line, "%s\n", pw);
            unlink(path); /* a file of an earlier, deleted database */
            if (write_secret(path, line)) path[0] = 0;
            sodium_memzero(line, sizeof line);
        }
        /* printed once, on the terminal of whoever started the server; never logged */
        fprintf(stderr, "orderly: created the first user \"admin\" with password %s%s%s\n", pw,
                path[0] ? " (also in " : "", path[0] ? path : "");
        if (path[0]) fprintf(stderr, "orderly: the file is mode 0600; delete it once you have the password\n");
    }
    if (b.created) log_info("auth", "first admin created", "user", "admin", NULL);
    sodium_memzero(pw, sizeof pw);
    return 0;
}

/* ---- the cache of users and keys -------------------------------------------------------------- */

#define CACHE_MASK (LIMIT_AUTH_CACHE_ENTRIES - 1)

void auth_forget_user(auth *a, int64_t id)
{
    pthread_mutex_lock(&a->mu);
    cached_user *c = &a->users[(uint64_t)id & CACHE_MASK];
    if (c->id == id) c->used = 0;
    pthread_mutex_unlock(&a->mu);
}

void auth_forget_keys(auth *a)
{
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < LIMIT_AUTH_CACHE_ENTRIES; i++) a->keyc[i].used = 0;
    pthread_mutex_unlock(&a->mu);
}

/* Another node changed an account (key: the user id), the API keys (0), or
 * anything (-1, signals maybe missed): this node's caches forget it at
 * once instead of within LIMIT_AUTH_CACHE_MS. */
static void accounts_signal(void *arg, int64_t key, uint32_t times)
{
    auth *a = arg;
    (void)times;
    if (key > 0) {
        auth_forget_user(a, key);
        return;
    }
    auth_forget_keys(a);
    if (key < 0) {
        pthread_mutex_lock(&a->mu);
        for (int i = 0; i < LIMIT_AUTH_CACHE_ENTRIES; i++) a->users[i].used = 0;
        pthread_mutex_unlock(&a->mu);
    }
}

/* The user id, as the cache or the database knows it now. */
static int user_now(auth *a, int64_t id, cached_user *out)
{
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&a->mu);
    cached_user *c = &a->users[(uint64_t)id & CACHE_MASK];
    int hit = c->used && c->id == id && now - c->fetched_ms < LIMIT_AUTH_CACHE_MS;
    if (hit) *out = *c;
    pthread_mutex_unlock(&a->mu);
    if (hit) return out->active ? 0 : ORD_ENOTFOUND;
    store_conn *rd = store_reader(a->st);
    if (!rd) return ORD_ESTORE;
    auth_user u;
    int rc = auth_user_get(rd, id, &u);
    if (rc && rc != ORD_ENOTFOUND) return rc;
    cached_user fresh = {.id = id, .fetched_ms = now, .used = 1, .active = rc == 0 && u.active};
    if (rc == 0) {
        fresh.role = u.role;
        str_copy(fresh.name, sizeof fresh.name, u.username);
        str_copy(fresh.customer_id, sizeof fresh.customer_id, u.customer_id[0] ? u.customer_id : u.username);
    }
    pthread_mutex_lock(&a->mu);
    a->users[(uint64_t)id & CACHE_MASK] = fresh;
    pthread_mutex_unlock(&a->mu);
    *out = fresh;
    return fresh.active ? 0 : ORD_ENOTFOUND;
}

static int key_now(auth *a, const char *key, cached_key *out)
{
    unsigned char h[AUTH_HASH_BYTES];
    auth_hash(key, h);
    int64_t now = clock_mono_ms();
    uint32_t slot;
    memcpy(&slot, h, sizeof slot);
    slot &= CACHE_MASK;
    pthread_mutex_lock(&a->mu);
    cached_key *c = &a->keyc[slot];
    int hit = c->used && !memcmp(c->hash, h, sizeof h) && now - c->fetched_ms < LIMIT_AUTH_CACHE_MS;
    if (hit) *out = *c;
    pthread_mutex_unlock(&a->mu);
    if (!hit) {
        store_conn *rd = store_reader(a->st);
        if (!rd) return ORD_ESTORE;
        cached_key fresh = {.fetched_ms = now, .used = 1};
        memcpy(fresh.hash, h, sizeof h);
        store_stmt *st = store_prep(rd, ST_APIKEY_BY_HASH);
        store_bind_blob(st, 1, h, sizeof h);
        int rc = store_step(st);
        if (rc < 0) return rc;
        if (rc == STORE_ROW) {
            fresh.found = 1;
            str_copy(fresh.id, sizeof fresh.id, store_col_text(st, 0, NULL));
            fresh.role = auth_role_parse(store_col_text(st, 2, NULL));
            fresh.expires_ms = store_col_is_null(st, 3) ? 0 : store_col_i64(st, 3);
            fresh.revoked = !store_col_is_null(st, 4);
        }
        store_reset(st);
        pthread_mutex_lock(&a->mu);
        a->keyc[slot] = fresh;
        pthread_mutex_unlock(&a->mu);
        *out = fresh;
    }
    if (!out->found || out->revoked) return ORD_ENOTFOUND;
    if (out->expires_ms && clock_wall_ms() >= out->expires_ms) return ORD_ETIMEOUT;
    return 0;
}

/* ---- who is calling --------------------------------------------------------------------------- */

static int from_jwt(auth *a, const char *tok, auth_principal *p, const char **why)
{
    jwt_claims cl;
    if (jwt_verify(a->keys, a->nkeys, a->issuer, a->audience, clock_wall_ms() / 1000, tok, strlen(tok), &cl, why))
        return ORD_EINVAL;
    char *end;
    long long id = strtoll(cl.sub, &end, 10);
    if (*end || id <= 0) {
        *why = "subject is not a user";
        return ORD_EINVAL;
    }
    cached_user u;
    int rc = user_now(a, id, &u);
    if (rc == ORD_ENOTFOUND) {
        *why = "the user is disabled or deleted";
        return ORD_EINVAL;
    }
    if (rc) return rc;
    p->kind = PRINCIPAL_USER;
    p->role = u.role;
    p->user_id = id;
    str_copy(p->name, sizeof p->name, u.name);
    if (u.role == ROLE_CUSTOMER) str_copy(p->customer_id, sizeof p->customer_id, u.customer_id);
    return 0;
}

int auth_authenticate(auth *a, const char *authorization, const char *cookie, auth_principal *p, const char **why)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "anonymous");
    *why = "";
    if (authorization) {
        if (strncasecmp(authorization, "Bearer ", 7) || !authorization[7]) {
            *why = "the Authorization header must be \"Bearer <token>\"";
            return ORD_EINVAL;
        }
        const char *tok = authorization + 7;
        if (!strncmp(tok, "oak_", 4)) {
            cached_key k;
            int rc = strlen(tok) > AUTH_TOKEN_MAX ? ORD_ENOTFOUND : key_now(a, tok, &k);
            if (rc == ORD_ENOTFOUND || rc == ORD_ETIMEOUT) {
                *why = rc == ORD_ETIMEOUT ? "the API key has expired" : "unknown or revoked API key";
                return ORD_EINVAL;
            }
            if (rc) return rc;
            p->kind = PRINCIPAL_KEY;
            p->role = k.role;
            str_copy(p->key_id, sizeof p->key_id, k.id);
            snprintf(p->name, sizeof p->name, "key:%s", k.id);
            return 0;
        }
        return from_jwt(a, tok, p, why);
    }
    if (cookie && *cookie) {
        int rc = from_jwt(a, cookie, p, why);
        if (!rc) p->cookie = 1;
        return rc;
    }
    return ORD_ENOTFOUND;
}

/* ---- rate limits ------------------------------------------------------------------------------- */

int auth_rate_address(auth *a, const char *addr)
{
    return a->rl_addr ? ratelimit_take(a->rl_addr, addr, clock_mono_ms()) : 0;
}

int auth_rate_principal(auth *a, const auth_principal *p)
{
    return a->rl_principal && p->kind != PRINCIPAL_ANONYMOUS ? ratelimit_take(a->rl_principal, p->name, clock_mono_ms())
                                                               : 0;
}

int auth_rate_login_check(auth *a, const char *addr, const char *account)
{
    int64_t now = clock_mono_ms();
    int w1 = ratelimit_peek(a->rl_login_addr, addr, now);
    int w2 = ratelimit_peek(a->rl_login_account, account, now);
    return w1 > w2 ? w1 : w2;
}

void auth_rate_login_failed(auth *a, const char *addr, const char *account)
{
    int64_t now = clock_mono_ms();
    ratelimit_take(a->rl_login_addr, addr, now);
    ratelimit_take(a->rl_login_account, account, now);
}
