/* accounts.c - users, API keys and the audit log (admin).
 *
 *   GET    /api/users?limit=&cursor=   keyset pages, by id
 *   POST   /api/users                  {username, password, role, email?, customerId?, status?} -> 201
 *   GET    /api/users/{id}
 *   PATCH  /api/users/{id}             {email?, role?, status?, customerId?, password?}
 *   DELETE /api/users/{id}             204; its refresh tokens go with it
 *   GET    /api/keys, POST /api/keys {name, role, expiresAt?} (the key shown once), DELETE /api/keys/{id}
 *   GET    /api/audit?principal=&target=&from=&to=&limit=&cursor=
 *
 * Passwords are hashed on the hashing pool (a full pool answers 503).  The
 * last active admin cannot be disabled, demoted or deleted (409).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/api.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"
#include "lib/verr.h"

#define PASSWORD_BYTES_MAX (LIMIT_PASSWORD_MAX * 4)

static int name_valid(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= LIMIT_USERNAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-") == n;
}

static int email_valid(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > LIMIT_EMAIL_MAX || !at || at == s || !at[1] || strchr(at + 1, '@')) return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == '"') return 0;
    return 1;
}

static int customer_valid(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= LIMIT_ORDER_CUSTOMER_MAX && !strpbrk(s, "\r\n\t");
}

static int user_id_param(http_req *r, int64_t *id)
{
    const char *s = http_req_param(r, "id");
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v <= 0) return ORD_ENOTFOUND;
    *id = v;
    return 0;
}

/* ---- users ------------------------------------------------------------------------------------- */

int api_users_list(http_req *r)
{
    api *a = http_req_app(r);
    int limit;
    if (api_page_limit(r, 50, LIMIT_LIST_PAGE_MAX, &limit)) return 0;
    const char *cur = http_req_query(r, "cursor");
    int64_t after = 0;
    if (cur) {
        char *end;
        after = strtoll(cur, &end, 10);
        if (!*cur || *end || after < 0) {
            http_reply_problem(r, ORD_EINVAL, "cursor is not one this API returned", NULL);
            return 0;
        }
    }
    json_t *out;
    int rc = auth_users_list(a->auth, after, limit, &out);
    if (rc) return rc;
    http_reply_json(r, 200, out);
    return 0;
}

typedef struct user_op {
    http_req *r;
    api *a;
    auth_user u;       /* the new user, or the fields to change */
    int has_email, has_role, has_status, has_customer, has_password;
    char pw[PASSWORD_BYTES_MAX + 1];
    size_t pwlen;
    int rc;
} user_op;

/* The fields of a user body into op (create: every required one). */
static int parse_user(http_req *r, const json_t *body, user_op *op, int create)
{
    static const char *const on_create[] = {"username", "password", "role", "email", "customerId", "status", NULL};
    static const char *const on_patch[] = {"password", "role", "email", "customerId", "status", NULL};
    json_t *errors = json_array();
    verr_reject_unknown(errors, body, "", create ? on_create : on_patch);
    const json_t *v;
    if (create) {
        v = json_object_get(body, "username");
        if (!json_is_string(v) || !name_valid(json_string_value(v)))
            verr_add(errors, "username", "required: 1-%d characters of [A-Za-z0-9_.@-]", LIMIT_USERNAME_MAX);
        else
            str_copy(op->u.username, sizeof op->u.username, json_string_value(v));
    }
    if ((v = json_object_get(body, "role"))) {
        op->has_role = 1;
        if (!json_is_string(v) || !(op->u.role = auth_role_parse(json_string_value(v))))
            verr_add(errors, "role", "one of admin, operator, viewer, customer");
    } else if (create) {
        verr_add(errors, "role", "required: one of admin, operator, viewer, customer");
    }
    if ((v = json_object_get(body, "email"))) {
        op->has_email = 1;
        if (json_is_null(v))
            op->u.email[0] = 0;
        else if (!json_is_string(v) || !email_valid(json_string_value(v)))
            verr_add(errors, "email", "an email address of at most %d characters, or null", LIMIT_EMAIL_MAX);
        else
            str_copy(op->u.email, sizeof op->u.email, json_string_value(v));
    }
    if ((v = json_object_get(body, "customerId"))) {
        op->has_customer = 1;
        if (!json_is_string(v) || !customer_valid(json_string_value(v)))
            verr_add(errors, "customerId", "1-%d characters", LIMIT_ORDER_CUSTOMER_MAX);
        else
            str_copy(op->u.customer_id, sizeof op->u.customer_id, json_string_value(v));
    }
    op->u.active = 1;
    if ((v = json_object_get(body, "status"))) {
        op->has_status = 1;
        const char *s = json_string_value(v);
        if (!s || (strcmp(s, "active") && strcmp(s, "disabled")))
            verr_add(errors, "status", "active or disabled");
        else
            op->u.active = !strcmp(s, "active");
    }
    if ((v = json_object_get(body, "password"))) {
        op->has_password = 1;
        const char *why;
        if (!json_is_string(v) || json_string_length(v) > PASSWORD_BYTES_MAX)
            verr_add(errors, "password", "a string of %d to %d characters", LIMIT_PASSWORD_MIN, LIMIT_PASSWORD_MAX);
        else if (password_policy(json_string_value(v), json_string_length(v), create ? op->u.username : NULL, &why))
            verr_add(errors, "password", "%s", why);
        else {
            op->pwlen = json_string_length(v);
            memcpy(op->pw, json_string_value(v), op->pwlen);
        }
    } else if (create) {
        verr_add(errors, "password", "required: %d to %d characters", LIMIT_PASSWORD_MIN, LIMIT_PASSWORD_MAX);
    }
    if (op->u.customer_id[0] && op->has_role && op->u.role != ROLE_CUSTOMER)
        verr_add(errors, "customerId", "only a customer has one");
    return api_fail(r, errors);
}

static void user_reply(http_req *r, void *arg, int rc)
{
    user_op *op = arg;
    if (!rc) rc = op->rc;
    if (rc == ORD_EEXISTS) {
        http_reply_problem(r, rc, "a user with this username or email exists", NULL);
    } else if (rc == ORD_ECONFLICT) {
        http_reply_problem(r, rc, "the last active admin stays an active admin", NULL);
    } else if (rc) {
        http_reply_problem(r, rc, rc == ORD_ENOTFOUND ? "no such user" : NULL, NULL);
    } else {
        if (!strcmp(http_req_method(r), "POST")) {
            char loc[48];
            snprintf(loc, sizeof loc, "/api/users/%lld", (long long)op->u.id);
            http_reply_header(r, "Location", loc);
        }
        http_reply_json(r, strcmp(http_req_method(r), "POST") ? 200 : 201, auth_user_json(&op->u));
    }
}

static int create_unit(store_conn *tx, void *arg)
{
    user_op *op = arg;
    int rc = auth_user_insert_tx(tx, op->a->auth, &op->u);
    char *id = rc ? NULL : http_req_alloc(op->r, 24); /* the writer owns the suspended request */
    if (id) {
        snprintf(id, 24, "%lld", (long long)op->u.id);
        api_ctx_of(op->r)->target = id;
    }
    return rc;
}

/* The last active admin stays one. */
static int keeps_an_admin(store_conn *tx, const auth_user *before, const auth_user *after)
{
    if (before->role != ROLE_ADMIN || !before->active) return 0;
    if (after && after->role == ROLE_ADMIN && after->active) return 0;
    int64_t n;
    int rc = auth_active_admins(tx, &n);
    return rc ? rc : n <= 1 ? ORD_ECONFLICT : 0;
}

static int patch_unit(store_conn *tx, void *arg)
{
    user_op *op = arg;
    auth_user cur;
    int rc = auth_user_get(tx, op->u.id, &cur);
    if (rc) return rc;
    auth_user next = cur;
    if (op->has_email) str_copy(next.email, sizeof next.email, op->u.email);
    if (op->has_role) next.role = op->u.role;
    if (op->has_status) next.active = op->u.active;
    if (op->has_customer) str_copy(next.customer_id, sizeof next.customer_id, op->u.customer_id);
    if (next.role == ROLE_CUSTOMER && !next.customer_id[0])
        str_copy(next.customer_id, sizeof next.customer_id, next.username);
    if (next.role != ROLE_CUSTOMER) next.customer_id[0] = 0;
    if ((rc = keeps_an_admin(tx, &cur, &next)) || (rc = auth_user_update_tx(tx, op->a->auth, &next))) return rc;
    if (op->has_password && (rc = auth_user_password_tx(tx, op->a->auth, next.id, op->u.hash, 1))) return rc;
    op->u = next;
    return 0;
}

/* Hashing pool: the password (if any), then the unit. */
static void user_work(void *arg)
{
    user_op *op = arg;
    int rc = 0;
    if (op->has_password) rc = password_hash(op->pw, op->pwlen, &auth_cfg(op->a->auth)->cost, op->u.hash);
    sodium_memzero(op->pw, sizeof op->pw);
    if (rc) { /* any thread may answer a suspended request */
        http_reply_problem(op->r, rc, NULL, NULL);
        http_req_resume(op->r);
        return;
    }
    api_resubmit(op->r, strcmp(http_req_method(op->r), "POST") ? patch_unit : create_unit, NULL, user_reply, op);
}

static int hash_then_submit(http_req *r, user_op *op)
{
    http_req_suspend(r);
    int rc = auth_pool_submit(op->a->auth, user_work, op);
    if (rc) {
        sodium_memzero(op->pw, sizeof op->pw);
        http_reply_problem(r, rc, rc == ORD_EBUSY ? "too many password changes at once; retry" : NULL, NULL);
        http_req_resume(r);
    }
    return 0;
}

int api_users_create(http_req *r)
{
    json_t *body = http_req_json(r);
    if (!body) return 0;
    user_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->r = r;
    op->a = http_req_app(r);
    if (parse_user(r, body, op, 1)) return 0;
    if (op->u.role == ROLE_CUSTOMER && !op->u.customer_id[0])
        str_copy(op->u.customer_id, sizeof op->u.customer_id, op->u.username);
    return hash_then_submit(r, op);
}

int api_users_get(http_req *r)
{
    api *a = http_req_app(r);
    int64_t id;
    auth_user u;
    store_conn *rd = store_reader(a->st);
    int rc = user_id_param(r, &id);
    if (!rc) rc = rd ? auth_user_get(rd, id, &u) : ORD_ESTORE;
    if (rc == ORD_ENOTFOUND) {
        http_reply_problem(r, rc, "no such user", NULL);
        return 0;
    }
    if (rc) return rc;
    http_reply_json(r, 200, auth_user_json(&u));
    return 0;
}

int api_users_patch(http_req *r)
{
    json_t *body = http_req_json(r);
    if (!body) return 0;
    user_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->r = r;
    op->a = http_req_app(r);
    if (user_id_param(r, &op->u.id)) {
        http_reply_problem(r, ORD_ENOTFOUND, "no such user", NULL);
        return 0;
    }
    if (parse_user(r, body, op, 0)) return 0;
    if (op->has_password) return hash_then_submit(r, op);
    return api_submit(r, patch_unit, user_reply, op);
}

static int delete_unit(store_conn *tx, void *arg)
{
    user_op *op = arg;
    auth_user cur;
    int rc = auth_user_get(tx, op->u.id, &cur);
    if (!rc) rc = keeps_an_admin(tx, &cur, NULL);
    if (!rc) rc = auth_user_delete_tx(tx, op->a->auth, op->u.id);
    return rc;
}

static void no_content(http_req *r, void *arg, int rc)
{
    (void)arg;
    if (rc == ORD_ECONFLICT)
        http_reply_problem(r, rc, "the last active admin stays an active admin", NULL);
    else if (rc)
        http_reply_problem(r, rc, rc == ORD_ENOTFOUND ? "no such resource" : NULL, NULL);
    else
        http_reply_raw(r, 204, "application/json", "", 0);
}

int api_users_delete(http_req *r)
{
    user_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->r = r;
    op->a = http_req_app(r);
    if (user_id_param(r, &op->u.id)) {
        http_reply_problem(r, ORD_ENOTFOUND, "no such user", NULL);
        return 0;
    }
    return api_submit(r, delete_unit, no_content, op);
}

/* ---- API keys ----------------------------------------------------------------------------------- */

typedef struct key_op {
    api *a;
    http_req *r;
    char name[LIMIT_API_KEY_NAME_MAX + 1];
    int role;
    int64_t expires_ms, created_ms;
    char by[LIMIT_EMAIL_MAX + 8];
    char id[AUTH_KEY_ID_LEN + 1];
    char key[AUTH_TOKEN_MAX + 1];
} key_op;

static int key_unit(store_conn *tx, void *arg)
{
    key_op *op = arg;
    op->created_ms = clock_wall_ms();
    int rc = auth_key_create_tx(tx, op->a->auth, op->name, op->role, op->expires_ms, op->by, op->id, op->key);
    if (!rc) api_ctx_of(op->r)->target = op->id;
    return rc;
}

static void key_reply(http_req *r, void *arg, int rc)
{
    key_op *op = arg;
    if (rc) {
        http_reply_problem(r, rc, NULL, NULL);
        return;
    }
    char b[40];
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", op->id, "name", op->name, "role", auth_role_name(op->role),
                          "key", op->key, "createdAt", clock_fmt_iso(op->created_ms, 1, b, sizeof b));
    if (j && op->expires_ms) json_object_set_new(j, "expiresAt", json_string(clock_fmt_iso(op->expires_ms, 1, b, sizeof b)));
    char loc[64];
    snprintf(loc, sizeof loc, "/api/keys/%s", op->id);
    http_reply_header(r, "Location", loc);
    http_reply_header(r, "Cache-Control", "no-store");
    http_reply_json(r, 201, j);
    sodium_memzero(op->key, sizeof op->key);
}

int api_keys_create(http_req *r)
{
    json_t *body = http_req_json(r);
    if (!body) return 0;
    static const char *const allowed[] = {"name", "role", "expiresAt", NULL};
    json_t *errors = json_array();
    verr_reject_unknown(errors, body, "", allowed);
    key_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = http_req_app(r);
    op->r = r;
    const json_t *n = json_object_get(body, "name"), *ro = json_object_get(body, "role");
    const json_t *ex = json_object_get(body, "expiresAt");
    if (!json_is_string(n) || !json_string_length(n) || json_string_length(n) > LIMIT_API_KEY_NAME_MAX ||
        strpbrk(json_string_value(n), "\r\n\t"))
        verr_add(errors, "name", "required: 1-%d characters", LIMIT_API_KEY_NAME_MAX);
    else
        str_copy(op->name, sizeof op->name, json_string_value(n));
    op->role = json_is_string(ro) ? auth_role_parse(json_string_value(ro)) : 0;
    if (!(op->role & ROLES_STAFF)) verr_add(errors, "role", "required: admin, operator or viewer (keys are for machines)");
    if (ex && (!json_is_string(ex) || clock_parse_iso(json_string_value(ex), &op->expires_ms) ||
               op->expires_ms <= clock_wall_ms()))
        verr_add(errors, "expiresAt", "an RFC 3339 time in the future");
    if (api_fail(r, errors)) return 0;
    str_copy(op->by, sizeof op->by, api_ctx_of(r)->p.name);
    return api_submit(r, key_unit, key_reply, op);
}

int api_keys_list(http_req *r)
{
    api *a = http_req_app(r);
    json_t *out;
    int rc = auth_keys_list(a->auth, &out);
    if (rc) return rc;
    http_reply_json(r, 200, out);
    return 0;
}

typedef struct revoke_op {
    api *a;
    const char *id;
} revoke_op;

static int revoke_unit(store_conn *tx, void *arg)
{
    revoke_op *op = arg;
    return auth_key_revoke_tx(tx, op->a->auth, op->id);
}

int api_keys_delete(http_req *r)
{
    revoke_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    op->a = http_req_app(r);
    op->id = http_req_param(r, "id");
    return api_submit(r, revoke_unit, no_content, op);
}

/* ---- the audit log -------------------------------------------------------------------------------- */

int api_audit_list(http_req *r)
{
    api *a = http_req_app(r);
    int limit;
    if (api_page_limit(r, 50, LIMIT_LIST_PAGE_MAX, &limit)) return 0;
    const char *from = http_req_query(r, "from"), *to = http_req_query(r, "to");
    int64_t from_ms = 0, to_ms = INT64_MAX;
    if ((from && clock_parse_iso(from, &from_ms)) || (to && clock_parse_iso(to, &to_ms))) {
        http_reply_problem(r, ORD_EINVAL, "from and to are RFC 3339 times", NULL);
        return 0;
    }
    json_t *out;
    int rc = auth_audit_list(a->auth, http_req_query(r, "principal"), http_req_query(r, "target"), from_ms, to_ms,
                             http_req_query(r, "cursor"), limit, &out);
    if (rc == ORD_EVALIDATION) {
        http_reply_problem(r, ORD_EINVAL, "cursor is not one this API returned", NULL);
        return 0;
    }
    if (rc) return rc;
    http_reply_json(r, 200, out);
    return 0;
}
