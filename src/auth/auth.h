/* auth.h - accounts and access: users with roles, passwords (argon2id),
 * access tokens (HS256 JWTs, auth/jwt.h), refresh tokens (opaque, stored
 * hashed, rotated, revoked by family), API keys (stored hashed), rate
 * limits and the audit log.  The HTTP layer decides who may call a route
 * (one table beside the route table, http/api.c); this module answers who
 * is calling and keeps the rows.
 *
 * THREAD SAFETY.  auth_authenticate and the rate limits run on HTTP workers
 * (a mutex-guarded cache of users and keys, read on the calling thread's
 * reader when stale); *_tx functions run inside a unit (writer thread);
 * password work runs on the hashing pool (auth_pool_submit).
 */
#ifndef ORDERLY_AUTH_H
#define ORDERLY_AUTH_H
#include <jansson.h>
#include <stdint.h>
#include "auth/password.h"
#include "lib/limits.h"
#include "store/store.h"

typedef struct auth auth;

/* ---- roles --------------------------------------------------------------------- */

enum { ROLE_ADMIN = 1, ROLE_OPERATOR = 2, ROLE_VIEWER = 4, ROLE_CUSTOMER = 8 };
#define ROLES_STAFF (ROLE_ADMIN | ROLE_OPERATOR | ROLE_VIEWER)
#define ROLES_ALL (ROLES_STAFF | ROLE_CUSTOMER)
/* "admin", "operator", "viewer", "customer"; NULL for anything else. */
const char *auth_role_name(int role);
/* The ROLE_* bit of a name, 0 when it is none. */
int auth_role_parse(const char *name);

/* ---- who is calling ---------------------------------------------------------------- */

typedef enum { PRINCIPAL_ANONYMOUS = 0, PRINCIPAL_USER, PRINCIPAL_KEY } principal_kind;

#define AUTH_KEY_ID_LEN 20 /* "key_" + 16 hex */
typedef struct auth_principal {
    principal_kind kind;
    int role;                                /* one ROLE_* bit; 0 anonymous */
    int64_t user_id;                         /* PRINCIPAL_USER */
    char name[LIMIT_EMAIL_MAX + 8];          /* the username, "key:<id>", "anonymous" (an attempted login name) */
    char key_id[AUTH_KEY_ID_LEN + 1];        /* PRINCIPAL_KEY */
    char customer_id[LIMIT_ORDER_CUSTOMER_BYTES_MAX + 1]; /* a customer's orders carry this */
    int cookie;                              /* authenticated by the session cookie */
} auth_principal;

typedef struct auth_config {
    int enabled;
    const char *env;               /* for the key file and bootstrap file names */
    const char *db;                /* the database (SQLite path or postgres:// URL) */
    const char *key_file;          /* "" = ORDERLY_JWT_KEY, else <db dir>/<env>.jwt-key (created) */
    const char *previous_key_file; /* "" = ORDERLY_JWT_PREVIOUS_KEY or none */
    const char *issuer, *audience;
    int access_ttl_s, refresh_ttl_s;
    password_cost cost;
    int hash_threads, hash_queue;
    int login_attempts;            /* per minute, per account and per address */
    int rate_per_s, rate_burst;    /* per client address and per principal; 0 = no limit */
} auth_config;

/* Loads the signing keys (a key shorter than LIMIT_JWT_KEY_BYTES_MIN refuses
 * to start: ORD_ECONFIG with err), starts the hashing pool.  0, ORD_ECONFIG,
 * ORD_EIO, ORD_ENOMEM. */
int auth_open(store *st, const auth_config *cfg, auth **out, char *err, size_t errlen);
void auth_close(auth *a);
/* With no user at all, creates "admin" with ORDERLY_ADMIN_PASSWORD, or a
 * random password printed once on stderr and written (mode 0600) to
 * <db dir>/<env>.admin-password.  Blocking.  0 or an error (err set). */
int auth_bootstrap(auth *a, char *err, size_t errlen);
const auth_config *auth_cfg(const auth *a);

/* Credentials of a request: the Authorization header ("Bearer <JWT or API
 * key>") and the session cookie's value (NULL when absent).  0 with *p a
 * user or key; ORD_ENOTFOUND when none was presented (*p anonymous);
 * ORD_EINVAL when presented but not valid - malformed, expired, revoked,
 * a disabled or deleted user - with *why. */
int auth_authenticate(auth *a, const char *authorization, const char *cookie, auth_principal *p, const char **why);
/* Rate limits: 0, or the seconds to wait (Retry-After). */
int auth_rate_address(auth *a, const char *addr);
int auth_rate_principal(auth *a, const auth_principal *p);
/* Sign-ins: failed attempts are counted per account and per address; once
 * either has auth.loginAttemptsPerMinute within a minute, every attempt -
 * the right password too - waits.  check: 0 or the seconds to wait;
 * failed: counts a failed attempt. */
int auth_rate_login_check(auth *a, const char *addr, const char *account);
void auth_rate_login_failed(auth *a, const char *addr, const char *account);

/* ---- tokens -------------------------------------------------------------------------- */

#define AUTH_TOKEN_MAX 64 /* refresh tokens and API keys: a prefix and 43 base64url characters */
/* A signed access token for a user (JWT, auth_cfg()->access_ttl_s). */
int auth_access_token(auth *a, int64_t user_id, char *out, size_t cap);
/* Inside a unit: a new refresh token of family (NULL: a new login). */
int auth_refresh_new_tx(store_conn *tx, auth *a, int64_t user_id, const char *family, char token[AUTH_TOKEN_MAX + 1]);
typedef enum { REFRESH_OK, REFRESH_INVALID, REFRESH_REUSED } refresh_outcome;
/* Inside a unit: exchanges token for a new one of its family (*fresh, and
 * *user_id).  A token used before revokes its whole family (REFRESH_REUSED:
 * the unit must commit so the revocation holds); unknown, expired, revoked
 * or of an inactive user: REFRESH_INVALID.  Store errors are returned. */
int auth_refresh_rotate_tx(store_conn *tx, auth *a, const char *token, refresh_outcome *outcome, int64_t *user_id,
                           char fresh[AUTH_TOKEN_MAX + 1]);
/* Inside a unit: revokes token's family (logout); unknown tokens are fine. */
int auth_refresh_revoke_tx(store_conn *tx, auth *a, const char *token);

/* ---- password work --------------------------------------------------------------------- */

/* Runs fn(arg) on the hashing pool: 0, or ORD_EBUSY when it is full (503). */
int auth_pool_submit(auth *a, void (*fn)(void *), void *arg);
/* A hash of a random password with the current cost: verified against
 * when the user does not exist, so unknown user and wrong password take
 * the same time. */
const char *auth_dummy_hash(const auth *a);

/* ---- users -------------------------------------------------------------------------------- */

typedef struct auth_user {
    int64_t id;
    char username[LIMIT_USERNAME_MAX + 1];
    char email[LIMIT_EMAIL_MAX + 1];         /* "" = none */
    int role;
    int active;
    char customer_id[LIMIT_ORDER_CUSTOMER_BYTES_MAX + 1]; /* customers; "" = none */
    char hash[LIMIT_PASSWORD_HASH_MAX];
    int64_t created_ms, updated_ms, last_login_ms;
} auth_user;

/* 0, ORD_ENOTFOUND or a store error; any connection. */
int auth_user_get(store_conn *c, int64_t id, auth_user *u);
int auth_user_by_login(store_conn *c, const char *name, auth_user *u);
/* Inside a unit: inserts u (u->id set); ORD_EEXISTS for a taken username
 * or email. */
int auth_user_insert_tx(store_conn *tx, auth *a, auth_user *u);
/* Inside a unit: email, role, status, customerId; disabling revokes the
 * user's refresh tokens.  ORD_ENOTFOUND, ORD_EEXISTS (email taken). */
int auth_user_update_tx(store_conn *tx, auth *a, const auth_user *u);
/* Inside a unit: a new password hash; revoke_sessions also revokes the
 * user's refresh tokens (a password change, not a rehash at login). */
int auth_user_password_tx(store_conn *tx, auth *a, int64_t id, const char *hash, int revoke_sessions);
/* Inside a unit: deletes the user and its refresh tokens.  ORD_ENOTFOUND. */
int auth_user_delete_tx(store_conn *tx, auth *a, int64_t id);
int auth_user_logged_in_tx(store_conn *tx, int64_t id);
/* Inside a unit: the username becomes name (erasure).  0 or a store error. */
int auth_user_rename_tx(store_conn *tx, auth *a, int64_t id, const char *name);
/* Active admins now (the last one may not be disabled, demoted or deleted). */
int auth_active_admins(store_conn *c, int64_t *n);
/* {id, username, email?, role, status, customerId?, createdAt, lastLoginAt?} */
json_t *auth_user_json(const auth_user *u);
/* {users: [...], nextCursor?}: by id after `after`; limit 1..LIMIT_LIST_PAGE_MAX. */
int auth_users_list(auth *a, int64_t after, int limit, json_t **out);
/* The users of a customer (GDPR), fn once each; any connection. */
int auth_users_of_customer(store_conn *c, const char *customer_id, void (*fn)(void *arg, const auth_user *u),
                           void *arg);

/* ---- API keys ------------------------------------------------------------------------------ */

/* Inside a unit: a new key (role one of the staff roles; expires_ms 0 =
 * never), its id and the key itself (shown once; only its hash is kept). */
int auth_key_create_tx(store_conn *tx, auth *a, const char *name, int role, int64_t expires_ms, const char *by,
                       char id[AUTH_KEY_ID_LEN + 1], char key[AUTH_TOKEN_MAX + 1]);
/* {keys: [{id, name, role, createdAt, expiresAt?, revokedAt?, createdBy}]} */
int auth_keys_list(auth *a, json_t **out);
/* Inside a unit: ORD_ENOTFOUND when there is no such live key. */
int auth_key_revoke_tx(store_conn *tx, auth *a, const char *id);

/* ---- the audit log --------------------------------------------------------------------------- */

typedef struct audit_entry {
    const auth_principal *p;
    const char *method, *route, *target; /* target may be NULL */
    int status;
    const char *ip, *request_id;
    const char *detail;                  /* JSON text or NULL */
} audit_entry;

/* Inside a unit: one audit row (in the unit of the change it records). */
int auth_audit_tx(store_conn *tx, const audit_entry *e);
/* {entries: [...], nextCursor?}, newest first; principal/target NULL = any. */
int auth_audit_list(auth *a, const char *principal, const char *target, int64_t from_ms, int64_t to_ms,
                    const char *cursor, int limit, json_t **out);
/* The audit rows whose principal or target is one of names (at most max
 * each), appended to arr; reader. */
int auth_audit_about(auth *a, const char *const *names, int n, int max, json_t *arr);
/* Inside a unit: audit rows naming old (principal or target) name new
 * (erasure); old is remembered (as its SHA-256) for LIMIT_AUDIT_ERASED_KEEP_MS. */
int auth_audit_rename_tx(store_conn *tx, const char *old, const char *neu);
/* Inside a unit: an audit row written after its request was answered (a
 * staff read, a refused change): a principal or target an erasure renamed
 * meanwhile is written as its pseudonym. */
int auth_audit_late_tx(store_conn *tx, const audit_entry *e);
/* Deletes audit rows older than days, and erased names past their keep,
 * in bounded chunks.  Blocking. */
int auth_audit_sweep(auth *a, int days, int64_t *deleted);
/* Deletes expired refresh tokens, in bounded chunks.  Blocking. */
int auth_refresh_sweep(auth *a, int64_t *deleted);

#endif
