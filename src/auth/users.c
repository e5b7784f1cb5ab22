/* users.c - the users table: rows to structs and JSON, inserts, updates
 * (disabling or deleting a user revokes its refresh tokens), listing. */
#include <stdio.h>
#include <string.h>
#include "auth/internal.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"

static json_t *iso(int64_t ms)
{
    char b[40];
    return json_string(clock_fmt_iso(ms, 1, b, sizeof b));
}

#define TXT(i, f) str_copy(u->f, sizeof u->f, store_col_is_null(st, i) ? "" : store_col_text(st, i, NULL))

/* Reads the row st is on (ST_USER_GET's columns). */
static void user_row(store_stmt *st, auth_user *u)
{
    memset(u, 0, sizeof *u);
    u->id = store_col_i64(st, 0);
    TXT(1, username);
    TXT(2, email);
    u->role = auth_role_parse(store_col_text(st, 3, NULL));
    u->active = !strcmp(store_col_text(st, 4, NULL), "active");
    TXT(5, customer_id);
    TXT(6, hash);
    u->created_ms = store_col_i64(st, 7);
    u->updated_ms = store_col_i64(st, 8);
    u->last_login_ms = store_col_is_null(st, 9) ? 0 : store_col_i64(st, 9);
}

#undef TXT

static int one_user(store_conn *c, store_stmt_id id, int64_t num, const char *text, auth_user *u)
{
    store_stmt *st = store_prep(c, id);
    if (text)
        store_bind_str(st, 1, text);
    else
        store_bind_i64(st, 1, num);
    int rc = store_step(st);
    if (rc == STORE_ROW) user_row(st, u);
    store_reset(st);
    return rc < 0 ? rc : rc == STORE_ROW ? 0 : ORD_ENOTFOUND;
}

int auth_user_get(store_conn *c, int64_t id, auth_user *u)
{
    return one_user(c, ST_USER_GET, id, NULL, u);
}

int auth_user_by_login(store_conn *c, const char *name, auth_user *u)
{
    return one_user(c, ST_USER_BY_LOGIN, 0, name, u);
}

/* After the commit of a change: the cache forgets the user (on this node;
 * other nodes within LIMIT_AUTH_CACHE_MS). */
struct forget {
    auth *a;
    int64_t id;
};

static void forget_hook(void *arg, int committed)
{
    struct forget *f = arg;
    auth_forget_user(f->a, f->id);
    free(f);
}

static int forget_after_commit(store_conn *tx, auth *a, int64_t id)
{
    /* the other nodes' caches forget it too, after the commit */
    int rc = store_signal_tx(tx, STORE_TOPIC_ACCOUNTS, id);
    if (rc || !a) return rc; /* `orderly user`: no cache in this process */
    auth_forget_user(a, id); /* at once too: a reader could refill it before the hook */
    struct forget *f = malloc(sizeof *f);
    if (!f) return ORD_ENOMEM;
    *f = (struct forget){a, id};
    rc = store_after_commit(tx, forget_hook, f);
    if (rc) free(f);
    return rc;
}

static int revoke_user_tokens(store_conn *tx, int64_t id)
{
    store_stmt *st = store_prep(tx, ST_REFRESH_REVOKE_USER);
    store_bind_i64(st, 1, id);
    store_bind_i64(st, 2, clock_wall_ms());
    return store_exec(st);
}

int auth_user_insert_tx(store_conn *tx, auth *a, auth_user *u)
{
    int64_t now = clock_wall_ms();
    store_stmt *st = store_prep(tx, ST_USER_INSERT);
    store_bind_str(st, 1, u->username);
    store_bind_str(st, 2, u->email[0] ? u->email : NULL);
    store_bind_str(st, 3, auth_role_name(u->role));
    store_bind_str(st, 4, u->active ? "active" : "disabled");
    store_bind_str(st, 5, u->customer_id[0] ? u->customer_id : NULL);
    store_bind_str(st, 6, u->hash);
    store_bind_i64(st, 7, now);
    int rc = store_step(st);
    if (rc == ORD_ECONFLICT) return ORD_EEXISTS;
    if (rc != STORE_ROW) return rc < 0 ? rc : ORD_ESTORE;
    u->id = store_col_i64(st, 0);
    store_reset(st);
    u->created_ms = u->updated_ms = now;
    return forget_after_commit(tx, a, u->id);
}


int auth_user_update_tx(store_conn *tx, auth *a, const auth_user *u)
{
    store_stmt *st = store_prep(tx, ST_USER_UPDATE);
    store_bind_i64(st, 1, u->id);
    store_bind_str(st, 2, u->email[0] ? u->email : NULL);
    store_bind_str(st, 3, auth_role_name(u->role));
    store_bind_str(st, 4, u->active ? "active" : "disabled");
    store_bind_str(st, 5, u->customer_id[0] ? u->customer_id : NULL);
    store_bind_i64(st, 6, clock_wall_ms());
    int rc = store_exec(st);
    if (rc == ORD_ECONFLICT) return ORD_EEXISTS;
    if (rc) return rc;
    if (store_changes(tx) != 1) return ORD_ENOTFOUND;
    if (!u->active && (rc = revoke_user_tokens(tx, u->id))) return rc;
    return forget_after_commit(tx, a, u->id);
}

int auth_user_password_tx(store_conn *tx, auth *a, int64_t id, const char *hash, int revoke_sessions)
{
    store_stmt *st = store_prep(tx, ST_USER_SET_PASSWORD);
    store_bind_i64(st, 1, id);
    store_bind_str(st, 2, hash);
    store_bind_i64(st, 3, clock_wall_ms());
    int rc = store_exec(st);
    if (rc) return rc;
    if (store_changes(tx) != 1) return ORD_ENOTFOUND;
    if (revoke_sessions && (rc = revoke_user_tokens(tx, id))) return rc;
    return forget_after_commit(tx, a, id);
}

int auth_user_delete_tx(store_conn *tx, auth *a, int64_t id)
{
    store_stmt *st = store_prep(tx, ST_USER_DELETE);
    store_bind_i64(st, 1, id);
    int rc = store_exec(st);
    if (rc) return rc;
    if (store_changes(tx) != 1) return ORD_ENOTFOUND;
    if ((rc = revoke_user_tokens(tx, id))) return rc;
    return forget_after_commit(tx, a, id);
}

int auth_user_logged_in_tx(store_conn *tx, int64_t id)
{
    store_stmt *st = store_prep(tx, ST_USER_LOGGED_IN);
    store_bind_i64(st, 1, id);
    store_bind_i64(st, 2, clock_wall_ms());
    return store_exec(st);
}

int auth_user_rename_tx(store_conn *tx, auth *a, int64_t id, const char *name)
{
    store_stmt *st = store_prep(tx, ST_USER_RENAME);
    store_bind_i64(st, 1, id);
    store_bind_str(st, 2, name);
    int rc = store_exec(st);
    return rc ? rc : forget_after_commit(tx, a, id);
}

int auth_active_admins(store_conn *c, int64_t *n)
{
    store_stmt *st = store_prep(c, ST_USER_ADMINS);
    int rc = store_step(st);
    *n = rc == STORE_ROW ? store_col_i64(st, 0) : 0;
    store_reset(st);
    return rc < 0 ? rc : 0;
}

json_t *auth_user_json(const auth_user *u)
{
    json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:o}", "id", (json_int_t)u->id, "username", u->username, "role",
                          auth_role_name(u->role) ? auth_role_name(u->role) : "?", "status",
                          u->active ? "active" : "disabled", "createdAt", iso(u->created_ms));
    if (!j) return NULL;
    if (u->email[0]) json_object_set_new(j, "email", json_string(u->email));
    if (u->customer_id[0]) json_object_set_new(j, "customerId", json_string(u->customer_id));
    if (u->last_login_ms) json_object_set_new(j, "lastLoginAt", iso(u->last_login_ms));
    return j;
}

int auth_users_list(auth *a, int64_t after, int limit, json_t **out)
{
    store_conn *c = store_reader(a->st);
    if (!c) return ORD_ESTORE;
    json_t *arr = json_array();
    store_stmt *st = store_prep(c, ST_USER_LIST);
    store_bind_i64(st, 1, after);
    store_bind_i64(st, 2, limit);
    int rc, n = 0;
    int64_t last = 0;
    while ((rc = store_step(st)) == STORE_ROW) {
        auth_user u;
        user_row(st, &u);
        json_array_append_new(arr, auth_user_json(&u));
        last = u.id;
        n++;
    }
    store_reset(st);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = json_pack("{s:o}", "users", arr);
    if (n == limit) {
        char cur[24];
        snprintf(cur, sizeof cur, "%lld", (long long)last);
        json_object_set_new(*out, "nextCursor", json_string(cur));
    }
    return 0;
}

int auth_users_of_customer(store_conn *c, const char *customer_id, void (*fn)(void *arg, const auth_user *u),
                           void *arg)
{
    store_stmt *st = store_prep(c, ST_USER_BY_CUSTOMER);
    store_bind_str(st, 1, customer_id);
    int rc;
    while ((rc = store_step(st)) == STORE_ROW) {
        auth_user u;
        user_row(st, &u);
        fn(arg, &u);
    }
    store_reset(st);
    return rc < 0 ? rc : 0;
}
