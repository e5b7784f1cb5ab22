/* tokens.c - what a client holds: access tokens (signed JWTs), refresh
 * tokens (opaque "ort_..." strings; only their SHA-256 is stored; rotated on
 * use, a reused one revokes its family) and API keys ("oak_...", stored
 * hashed, with a role and an optional expiry). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "auth/internal.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "lib/str.h"
#include "obs/log.h"

int auth_access_token(auth *a, int64_t user_id, char *out, size_t cap)
{
    char sub[24];
    snprintf(sub, sizeof sub, "%lld", (long long)user_id);
    int64_t now = clock_wall_ms() / 1000;
    int n = jwt_sign(&a->keys[0], a->issuer, a->audience, sub, now, now + a->cfg.access_ttl_s, out, cap);
    return n < 0 ? n : 0;
}

/* ---- refresh tokens ------------------------------------------------------------------ */

int auth_refresh_new_tx(store_conn *tx, auth *a, int64_t user_id, const char *family, char token[AUTH_TOKEN_MAX + 1])
{
    char fam[ID_UUID_LEN + 1];
    unsigned char h[AUTH_HASH_BYTES];
    if (!family) {
        id_uuid7(fam);
        family = fam;
    }
    auth_random_token("ort_", token);
    auth_hash(token, h);
    int64_t now = clock_wall_ms();
    store_stmt *st = store_prep(tx, ST_REFRESH_INSERT);
    store_bind_blob(st, 1, h, sizeof h);
    store_bind_str(st, 2, family);
    store_bind_i64(st, 3, user_id);
    store_bind_i64(st, 4, now + (int64_t)a->cfg.refresh_ttl_s * 1000);
    store_bind_i64(st, 5, now);
    return store_exec(st);
}

static int revoke_family(store_conn *tx, const char *family)
{
    store_stmt *st = store_prep(tx, ST_REFRESH_REVOKE_FAMILY);
    store_bind_str(st, 1, family);
    store_bind_i64(st, 2, clock_wall_ms());
    return store_exec(st);
}

int auth_refresh_rotate_tx(store_conn *tx, auth *a, const char *token, refresh_outcome *outcome, int64_t *user_id,
                           char fresh[AUTH_TOKEN_MAX + 1])
{
    unsigned char h[AUTH_HASH_BYTES];
    char family[64];
    *outcome = REFRESH_INVALID;
    if (strncmp(token, "ort_", 4) || strlen(token) > AUTH_TOKEN_MAX) return 0;
    auth_hash(token, h);
    int64_t now = clock_wall_ms();
    store_stmt *st = store_prep(tx, ST_REFRESH_GET);
    store_bind_blob(st, 1, h, sizeof h);
    int rc = store_step(st);
    if (rc < 0) return rc;
    if (rc != STORE_ROW) return 0;
    str_copy(family, sizeof family, store_col_text(st, 0, NULL));
    *user_id = store_col_i64(st, 1);
    int64_t expires = store_col_i64(st, 2);
    int used = !store_col_is_null(st, 3), revoked = !store_col_is_null(st, 4);
    store_reset(st);
    if (used && !revoked) { /* a rotated token again: stolen or replayed - the whole family goes */
        *outcome = REFRESH_REUSED;
        log_warn("auth", "refresh token reused: its family is revoked", "family", family, NULL);
        return revoke_family(tx, family);
    }
    if (revoked || now >= expires) return 0;
    auth_user u;
    rc = auth_user_get(tx, *user_id, &u);
    if (rc == ORD_ENOTFOUND || (rc == 0 && !u.active)) return 0;
    if (rc) return rc;
    st = store_prep(tx, ST_REFRESH_USE);
    store_bind_blob(st, 1, h, sizeof h);
    store_bind_i64(st, 2, now);
    if ((rc = store_exec(st))) return rc;
    if (store_changes(tx) != 1) return 0; /* used in this very batch: the first wins */
    if ((rc = auth_refresh_new_tx(tx, a, *user_id, family, fresh))) return rc;
    *outcome = REFRESH_OK;
    return 0;
}

int auth_refresh_revoke_tx(store_conn *tx, auth *a, const char *token)
{
    unsigned char h[AUTH_HASH_BYTES];
    (void)a;
    if (strncmp(token, "ort_", 4) || strlen(token) > AUTH_TOKEN_MAX) return 0;
    auth_hash(token, h);
    store_stmt *st = store_prep(tx, ST_REFRESH_GET);
    store_bind_blob(st, 1, h, sizeof h);
    int rc = store_step(st);
    char family[64] = "";
    if (rc == STORE_ROW) str_copy(family, sizeof family, store_col_text(st, 0, NULL));
    store_reset(st);
    if (rc < 0) return rc;
    return family[0] ? revoke_family(tx, family) : 0;
}

static int refresh_chunk(store_conn *tx, void *arg, int limit, int64_t *n)
{
    (void)arg;
    store_stmt *st = store_prep(tx, ST_REFRESH_SWEEP);
    store_bind_i64(st, 1, clock_wall_ms());
    store_bind_i64(st, 2, limit);
    int rc = store_exec(st);
    *n = rc ? 0 : store_changes(tx);
    return rc;
}

int auth_refresh_sweep(auth *a, int64_t *deleted)
{
    return store_sweep(a->st, refresh_chunk, a, LIMIT_SWEEP_ROWS, deleted);
}

/* ---- API keys ------------------------------------------------------------------------- */

static json_t *iso_or_null(store_stmt *st, int col)
{
    char b[40];
    return store_col_is_null(st, col) ? NULL : json_string(clock_fmt_iso(store_col_i64(st, col), 1, b, sizeof b));
}

static void forget_keys_hook(void *arg, int committed)
{
    (void)committed;
    auth_forget_keys(arg);
}

int auth_key_create_tx(store_conn *tx, auth *a, const char *name, int role, int64_t expires_ms, const char *by,
                       char id[AUTH_KEY_ID_LEN + 1], char key[AUTH_TOKEN_MAX + 1])
{
    unsigned char r[8], h[AUTH_HASH_BYTES];
    randombytes_buf(r, sizeof r);
    memcpy(id, "key_", 4);
    sodium_bin2hex(id + 4, AUTH_KEY_ID_LEN - 3, r, sizeof r);
    auth_random_token("oak_", key);
    auth_hash(key, h);
    store_stmt *st = store_prep(tx, ST_APIKEY_INSERT);
    store_bind_str(st, 1, id);
    store_bind_str(st, 2, name);
    store_bind_blob(st, 3, h, sizeof h);
    store_bind_str(st, 4, auth_role_name(role));
    store_bind_i64(st, 5, clock_wall_ms());
    if (expires_ms)
        store_bind_i64(st, 6, expires_ms);
    else
        store_bind_null(st, 6);
    store_bind_str(st, 7, by);
    int rc = store_exec(st);
    if (!rc) rc = store_signal_tx(tx, STORE_TOPIC_ACCOUNTS, 0); /* other nodes' key caches */
    return rc ? rc : store_after_commit(tx, forget_keys_hook, a);
}

int auth_keys_list(auth *a, json_t **out)
{
    store_conn *c = store_reader(a->st);
    if (!c) return ORD_ESTORE;
    json_t *arr = json_array();
    store_stmt *st = store_prep(c, ST_APIKEY_LIST);
    int rc;
    char b[40];
    while ((rc = store_step(st)) == STORE_ROW) {
        json_t *k = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", store_col_text(st, 0, NULL), "name",
                              store_col_text(st, 1, NULL), "role", store_col_text(st, 2, NULL), "createdAt",
                              clock_fmt_iso(store_col_i64(st, 3), 1, b, sizeof b), "createdBy",
                              store_col_text(st, 6, NULL));
        json_t *e = iso_or_null(st, 4), *r = iso_or_null(st, 5);
        if (e) json_object_set_new(k, "expiresAt", e);
        if (r) json_object_set_new(k, "revokedAt", r);
        json_array_append_new(arr, k);
    }
    store_reset(st);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = json_pack("{s:o}", "keys", arr);
    return 0;
}

int auth_key_revoke_tx(store_conn *tx, auth *a, const char *id)
{
    store_stmt *st = store_prep(tx, ST_APIKEY_REVOKE);
    store_bind_str(st, 1, id);
    store_bind_i64(st, 2, clock_wall_ms());
    int rc = store_exec(st);
    if (rc) return rc;
    if (store_changes(tx) != 1) return ORD_ENOTFOUND;
    auth_forget_keys(a);
    if ((rc = store_signal_tx(tx, STORE_TOPIC_ACCOUNTS, 0))) return rc; /* other nodes' key caches */
    return store_after_commit(tx, forget_keys_hook, a);
}
