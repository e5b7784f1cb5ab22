/* session.c - signing in and out (seed 003's POST /api/login).
 *
 *   POST /api/login    {username | email, password, session?} -> {accessToken, tokenType:"Bearer",
 *                      expiresIn, refreshToken, user}; with "session": true the tokens go into
 *                      HttpOnly, SameSite=Strict cookies instead ({tokenType:"Cookie", expiresIn, user})
 *   POST /api/refresh  {refreshToken} or the refresh cookie -> a new pair (the old one is spent;
 *                      spending it again revokes the whole family)
 *   POST /api/logout   {refreshToken}? or the cookie -> 204, the family revoked, cookies cleared
 *   GET  /api/me       who is calling
 *
 * The password is checked on the hashing pool, never on an HTTP worker: a
 * full pool answers 503.  An unknown user is checked against a dummy hash,
 * so unknown user and wrong password take the same time and get the same
 * 401.  Attempts are limited per account and per address (auth.loginAttemptsPerMinute).
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
#include "obs/log.h"

#define SESSION_COOKIE "orderly_session"
#define REFRESH_COOKIE "orderly_refresh"
#define PASSWORD_BYTES_MAX (LIMIT_PASSWORD_MAX * 4)

/* ---- cookies ------------------------------------------------------------------------- */

static int https(http_req *r)
{
    const char *p = http_req_header(r, "X-Forwarded-Proto");
    return p && !strcmp(p, "https");
}

static void set_cookie(http_req *r, const char *name, const char *value, const char *path, int max_age)
{
    char c[LIMIT_JWT_BYTES_MAX + 200];
    snprintf(c, sizeof c, "%s=%s; Path=%s; Max-Age=%d; HttpOnly; SameSite=Strict%s", name, value, path, max_age,
             https(r) ? "; Secure" : "");
    http_reply_header(r, "Set-Cookie", c);
}

static void clear_cookies(http_req *r)
{
    set_cookie(r, SESSION_COOKIE, "", "/", 0);
    set_cookie(r, REFRESH_COOKIE, "", "/api", 0);
}

/* The reply of a login or refresh: tokens in the body, or in cookies. */
static void reply_tokens(http_req *r, const auth_user *u, const char *refresh, int cookies)
{
    api *a = http_req_app(r);
    char access[LIMIT_JWT_BYTES_MAX];
    int rc = auth_access_token(a->auth, u->id, access, sizeof access);
    if (rc) {
        http_reply_problem(r, rc, NULL, NULL);
        return;
    }
    const auth_config *cfg = auth_cfg(a->auth);
    json_t *body;
    if (cookies) {
        set_cookie(r, SESSION_COOKIE, access, "/", cfg->access_ttl_s);
        set_cookie(r, REFRESH_COOKIE, refresh, "/api", cfg->refresh_ttl_s);
        body = json_pack("{s:s,s:i,s:o}", "tokenType", "Cookie", "expiresIn", cfg->access_ttl_s, "user",
                         auth_user_json(u));
    } else {
        body = json_pack("{s:s,s:s,s:i,s:s,s:o}", "accessToken", access, "tokenType", "Bearer", "expiresIn",
                         cfg->access_ttl_s, "refreshToken", refresh, "user", auth_user_json(u));
    }
    http_reply_header(r, "Cache-Control", "no-store");
    if (body)
        http_reply_json(r, 200, body);
    else
        http_reply_problem(r, ORD_ENOMEM, NULL, NULL);
    sodium_memzero(access, sizeof access);
}

/* ---- login ------------------------------------------------------------------------------ */

typedef struct login_op {
    http_req *r;
    api *a;
    char name[LIMIT_EMAIL_MAX + 1];
    char pw[PASSWORD_BYTES_MAX + 1];
    size_t pwlen;
    int cookies;
    auth_user u;
    int ok;         /* the password matched an active user */
    int rehash;     /* ... whose hash has older parameters: newhash replaces it */
    char newhash[LIMIT_PASSWORD_HASH_MAX];
    char refresh[AUTH_TOKEN_MAX + 1];
    int rc;
} login_op;

static void login_reply(http_req *r, void *arg)
{
    login_op *op = arg;
    if (op->rc)
        http_reply_problem(r, op->rc, NULL, NULL);
    else if (!op->ok) {
        http_reply_header(r, "WWW-Authenticate", "Bearer realm=\"orderly\"");
        http_reply_problem(r, ORD_EAUTH, "wrong username or password", NULL);
    }
    else
        reply_tokens(r, &op->u, op->refresh, op->cookies);
    sodium_memzero(op->refresh, sizeof op->refresh);
}

/* Writer: the login's row changes and its audit row (failures too). */
static int login_unit(store_conn *tx, void *arg)
{
    login_op *op = arg;
    api_ctx *c = api_ctx_of(op->r);
    int rc;
    if (op->ok) {
        auth_user now;
        rc = auth_user_get(tx, op->u.id, &now);
        if (rc == ORD_ENOTFOUND || (rc == 0 && !now.active)) op->ok = 0; /* disabled meanwhile */
        else if (rc) return rc;
    }
    if (op->ok) {
        if ((rc = auth_user_logged_in_tx(tx, op->u.id)) ||
            (op->rehash && (rc = auth_user_password_tx(tx, op->a->auth, op->u.id, op->newhash, 0))) ||
            (rc = auth_refresh_new_tx(tx, op->a->auth, op->u.id, NULL, op->refresh)))
            return rc;
        c->p.kind = PRINCIPAL_USER;
        c->p.role = op->u.role;
        c->p.user_id = op->u.id;
    }
    str_copy(c->p.name, sizeof c->p.name, op->ok ? op->u.username : op->name);
    audit_entry e = {&c->p, "POST", "/api/login", op->ok ? op->u.username : op->name, op->ok ? 200 : 401, c->ip,
                     http_req_id(op->r), NULL};
    if ((rc = auth_audit_tx(tx, &e))) return rc;
    c->audited = 1;
    return 0;
}

static void login_done(void *arg, int rc)
{
    login_op *op = arg;
    op->rc = rc;
    if (!rc && !op->ok) auth_rate_login_failed(op->a->auth, api_ctx_of(op->r)->ip, op->name);
    http_req_resume_then(op->r, login_reply, op);
}

/* Hashing pool: the password against the user's hash (or the dummy). */
static void login_work(void *arg)
{
    login_op *op = arg;
    store_conn *rd = store_reader(op->a->st);
    int rc = rd ? auth_user_by_login(rd, op->name, &op->u) : ORD_ESTORE;
    if (rc && rc != ORD_ENOTFOUND) {
        op->rc = rc;
        http_req_resume_then(op->r, login_reply, op);
        return;
    }
    const char *hash = rc == 0 ? op->u.hash : auth_dummy_hash(op->a->auth);
    int match = password_verify(hash, op->pw, op->pwlen) == 0;
    op->ok = rc == 0 && match && op->u.active;
    const password_cost *cost = &auth_cfg(op->a->auth)->cost;
    if (op->ok && password_needs_rehash(op->u.hash, cost))
        op->rehash = password_hash(op->pw, op->pwlen, cost, op->newhash) == 0;
    sodium_memzero(op->pw, sizeof op->pw);
    if ((rc = store_submit(op->a->st, login_unit, login_done, op))) {
        op->rc = rc;
        http_req_resume_then(op->r, login_reply, op);
    }
}

int api_login(http_req *r)
{
    api *a = http_req_app(r);
    json_t *body = http_req_json(r);
    if (!body) return 0;
    if (!a->auth || !a->access.enabled) {
        http_reply_problem(r, ORD_ENOTFOUND, "accounts are off (auth.enabled is false)", NULL);
        return 0;
    }
    static const char *const allowed[] = {"username", "email", "password", "session", NULL};
    json_t *errors = json_array();
    verr_reject_unknown(errors, body, "", allowed);
    const json_t *user = json_object_get(body, "username"), *email = json_object_get(body, "email");
    const json_t *pw = json_object_get(body, "password"), *session = json_object_get(body, "session");
    const json_t *who = user ? user : email;
    if (!who || (user && email))
        verr_add(errors, "username", "give username or email (one of them)");
    else if (!json_is_string(who) || !json_string_length(who) || json_string_length(who) > LIMIT_EMAIL_MAX)
        verr_add(errors, user ? "username" : "email", "a string of 1-%d characters", LIMIT_EMAIL_MAX);
    if (!json_is_string(pw) || !json_string_length(pw) || json_string_length(pw) > PASSWORD_BYTES_MAX)
        verr_add(errors, "password", "a string of 1-%d bytes", PASSWORD_BYTES_MAX);
    if (session && !json_is_boolean(session)) verr_add(errors, "session", "true or false");
    if (api_fail(r, errors)) return 0;
    api_ctx *c = api_ctx_of(r);
    int wait = auth_rate_login_check(a->auth, c->ip, json_string_value(who));
    if (wait) {
        char v[16], d[120];
        snprintf(v, sizeof v, "%d", wait);
        snprintf(d, sizeof d, "too many login attempts for this account or from this address; retry in %d s", wait);
        http_reply_header(r, "Retry-After", v);
        http_reply_problem(r, ORD_ETOOMANY, d, NULL);
        return 0;
    }
    login_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->r = r;
    op->a = a;
    op->cookies = json_is_true(session);
    str_copy(op->name, sizeof op->name, json_string_value(who));
    op->pwlen = json_string_length(pw);
    memcpy(op->pw, json_string_value(pw), op->pwlen);
    http_req_suspend(r);
    int rc = auth_pool_submit(a->auth, login_work, op);
    if (rc) { /* the pool is full: 503 at once, never a stall */
        sodium_memzero(op->pw, sizeof op->pw);
        op->rc = rc == ORD_EBUSY ? ORD_EBUSY : rc;
        http_reply_problem(r, op->rc, "too many sign-ins at once; retry", NULL);
        http_req_resume(r);
    }
    return 0;
}

/* ---- refresh and logout ---------------------------------------------------------------------- */

typedef struct refresh_op {
    api *a;
    http_req *r;
    char token[AUTH_TOKEN_MAX + 1];
    int cookies;
    refresh_outcome outcome;
    int64_t user_id;
    auth_user u;
    char fresh[AUTH_TOKEN_MAX + 1];
} refresh_op;

/* The refresh token of the body ({refreshToken}) or of the cookie. */
static int token_of(http_req *r, char out[AUTH_TOKEN_MAX + 1], int *cookies, int required)
{
    size_t len = 0;
    http_req_body(r, &len);
    *cookies = 0;
    out[0] = 0;
    if (len) {
        json_t *body = http_req_json(r);
        if (!body) return 1;
        static const char *const allowed[] = {"refreshToken", NULL};
        json_t *errors = json_array();
        verr_reject_unknown(errors, body, "", allowed);
        const json_t *t = json_object_get(body, "refreshToken");
        if (t && (!json_is_string(t) || json_string_length(t) > AUTH_TOKEN_MAX))
            verr_add(errors, "refreshToken", "a refresh token (a string of at most %d characters)", AUTH_TOKEN_MAX);
        if (api_fail(r, errors)) return 1;
        if (t) str_copy(out, AUTH_TOKEN_MAX + 1, json_string_value(t));
    }
    const char *cookie = http_req_cookie(r, REFRESH_COOKIE);
    if (!out[0] && cookie && strlen(cookie) <= AUTH_TOKEN_MAX) {
        str_copy(out, AUTH_TOKEN_MAX + 1, cookie);
        *cookies = 1;
    }
    if (!out[0] && required) {
        json_t *e = json_array();
        verr_add(e, "refreshToken", "required (or the refresh cookie)");
        return api_fail(r, e);
    }
    return 0;
}

static int refresh_unit(store_conn *tx, void *arg)
{
    refresh_op *op = arg;
    int rc = auth_refresh_rotate_tx(tx, op->a->auth, op->token, &op->outcome, &op->user_id, op->fresh);
    if (rc || op->outcome != REFRESH_OK) {
        api_audit_status(op->r, 401);
        return rc;
    }
    if ((rc = auth_user_get(tx, op->user_id, &op->u))) return rc;
    api_ctx *c = api_ctx_of(op->r);
    c->p.kind = PRINCIPAL_USER;
    c->p.role = op->u.role;
    c->p.user_id = op->u.id;
    str_copy(c->p.name, sizeof c->p.name, op->u.username);
    return 0;
}

static void refresh_reply(http_req *r, void *arg, int rc)
{
    refresh_op *op = arg;
    if (rc) {
        http_reply_problem(r, rc, NULL, NULL);
    } else if (op->outcome != REFRESH_OK) {
        if (op->cookies) clear_cookies(r);
        http_reply_header(r, "WWW-Authenticate", "Bearer realm=\"orderly\", error=\"invalid_token\"");
        http_reply_problem(r, ORD_EAUTH,
                           op->outcome == REFRESH_REUSED ? "this refresh token was used before: every token of its "
                                                           "sign-in is revoked; sign in again"
                                                         : "the refresh token is not valid; sign in again",
                           NULL);
    } else {
        reply_tokens(r, &op->u, op->fresh, op->cookies);
    }
    sodium_memzero(op->fresh, sizeof op->fresh);
}

int api_refresh(http_req *r)
{
    api *a = http_req_app(r);
    if (!a->auth || !a->access.enabled) return ORD_ENOTFOUND;
    refresh_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = a;
    op->r = r;
    if (token_of(r, op->token, &op->cookies, 1)) return 0;
    return api_submit(r, refresh_unit, refresh_reply, op);
}

static int logout_unit(store_conn *tx, void *arg)
{
    refresh_op *op = arg;
    return op->token[0] ? auth_refresh_revoke_tx(tx, op->a->auth, op->token) : 0;
}

static void logout_reply(http_req *r, void *arg, int rc)
{
    (void)arg;
    if (rc) {
        http_reply_problem(r, rc, NULL, NULL);
        return;
    }
    clear_cookies(r);
    http_reply_raw(r, 204, "application/json", "", 0);
}

int api_logout(http_req *r)
{
    api *a = http_req_app(r);
    if (!a->auth || !a->access.enabled) return ORD_ENOTFOUND;
    refresh_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->a = a;
    op->r = r;
    if (token_of(r, op->token, &op->cookies, 0)) return 0;
    return api_submit(r, logout_unit, logout_reply, op);
}

/* ---- me ------------------------------------------------------------------------------------- */

int api_me(http_req *r)
{
    api *a = http_req_app(r);
    api_ctx *c = api_ctx_of(r);
    if (c->p.kind == PRINCIPAL_KEY || !a->auth || !a->access.enabled) {
        json_t *j = json_pack("{s:s,s:s,s:s}", "id", c->p.key_id[0] ? c->p.key_id : "anonymous", "kind",
                              c->p.kind == PRINCIPAL_KEY ? "key" : "anonymous", "role",
                              auth_role_name(c->p.role) ? auth_role_name(c->p.role) : "admin");
        http_reply_json(r, 200, j);
        return 0;
    }
    auth_user u;
    store_conn *rd = store_reader(a->st);
    int rc = rd ? auth_user_get(rd, c->p.user_id, &u) : ORD_ESTORE;
    if (rc) return rc;
    http_reply_json(r, 200, auth_user_json(&u));
    return 0;
}
