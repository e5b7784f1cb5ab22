/* guard.c - who may do what, before any handler runs (OWASP API1-API5).
 *
 * For every routed request, in this order: the Host must be one this
 * server answers for (421: DNS rebinding); the client address (X-Forwarded-
 * For only from a trusted proxy) must be within its rate; the credentials -
 * a Bearer JWT or API key, or the console's session cookie - must be valid
 * (401 invalid_token) or absent; the principal must be within its rate
 * (429); the route table (api.c, the one place access is declared) must let
 * its role call the route (401 when anonymous, 403 when not allowed); a
 * request authenticated by the cookie that changes state must come from our
 * own origin; a body of a state-changing request must be JSON.
 *
 * The audit: a committed change writes its row in its own unit (api.c,
 * api_submit); what did not commit - refusals, failures - and staff reads
 * of customers' data are written here once answered, in a unit of their own
 * that nobody waits for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http/api.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"
#include "obs/log.h"

api_ctx *api_ctx_of(http_req *r)
{
    api_ctx *c = http_req_user(r);
    if (!c && (c = http_req_alloc(r, sizeof *c))) { /* a route the guard did not see (auth off, tests) */
        memset(c, 0, sizeof *c);
        snprintf(c->p.name, sizeof c->p.name, "anonymous");
        http_req_set_user(r, c);
    }
    return c;
}

int api_is_customer(http_req *r)
{
    api_ctx *c = api_ctx_of(r);
    return c && c->p.role == ROLE_CUSTOMER;
}

void api_audit_read(http_req *r, const char *target)
{
    api_ctx *c = api_ctx_of(r);
    if (!c || c->p.role == ROLE_CUSTOMER || c->p.kind == PRINCIPAL_ANONYMOUS) return;
    c->read_audit = 1;
    c->target = target;
}

void api_audit_status(http_req *r, int status)
{
    api_ctx *c = api_ctx_of(r);
    if (c) c->status = status;
}

static int mutating(const char *m)
{
    return strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "OPTIONS");
}

/* ---- the client and the host --------------------------------------------------------- */

static int trusted(const api *a, const char *ip)
{
    for (int i = 0; i < a->access.nproxies; i++)
        if (!strcmp(a->access.proxies[i], ip)) return 1;
    return 0;
}

/* The client: the peer, or - when the peer is a trusted proxy - the last
 * address of X-Forwarded-For that is not one. */
static void client_ip(const api *a, http_req *r, char out[48])
{
    const char *peer = http_req_peer(r);
    str_copy(out, 48, peer);
    const char *xff = http_req_header(r, "X-Forwarded-For");
    if (!xff || !trusted(a, peer)) return;
    char list[512];
    str_copy(list, sizeof list, xff);
    for (;;) {
        char *comma = strrchr(list, ',');
        char *item = comma ? comma + 1 : list;
        while (*item == ' ') item++;
        size_t n = strlen(item);
        while (n && item[n - 1] == ' ') item[--n] = 0;
        if (!n || n >= 48 || strspn(item, "0123456789abcdefABCDEF.:") != n) return; /* not an address */
        str_copy(out, 48, item);
        if (!trusted(a, item) || !comma) return;
        *comma = 0;
    }
}

/* The Host header's name (no port) is one we answer for. */
static int host_allowed(const api *a, const char *host)
{
    if (!host || !a->access.nhosts) return 1; /* HTTP/1.0 clients send none */
    char name[LIMIT_LISTEN_ADDR_MAX + 1];
    str_copy(name, sizeof name, host);
    char *colon = name[0] == '[' ? strchr(name, ']') : strrchr(name, ':');
    if (colon && name[0] == '[') colon[1] = 0; /* [::1]:8080 -> [::1] */
    else if (colon) *colon = 0;
    for (int i = 0; i < a->access.nhosts; i++)
        if (!strcasecmp(a->access.hosts[i], name)) return 1;
    return 0;
}

/* A cookie session's state change comes from a page of ours: Origin is
 * http(s)://<the Host the browser used>. */
static int same_origin(http_req *r)
{
    const char *origin = http_req_header(r, "Origin"), *host = http_req_header(r, "Host");
    if (!origin || !host) return 0;
    const char *rest = !strncmp(origin, "https://", 8) ? origin + 8 : !strncmp(origin, "http://", 7) ? origin + 7 : NULL;
    return rest && !strcasecmp(rest, host);
}

/* ---- refusals ------------------------------------------------------------------------- */

static int refuse(http_req *r, int code, const char *detail)
{
    http_reply_problem(r, code, detail, NULL);
    return 1;
}

static int too_many(http_req *r, int wait_s, const char *what)
{
    char v[16], d[120];
    snprintf(v, sizeof v, "%d", wait_s);
    snprintf(d, sizeof d, "too many requests %s; retry in %d s", what, wait_s);
    http_reply_header(r, "Retry-After", v);
    return refuse(r, ORD_ETOOMANY, d);
}

static int unauthenticated(http_req *r, const char *why)
{
    char h[200];
    if (why) {
        snprintf(h, sizeof h, "Bearer realm=\"orderly\", error=\"invalid_token\", error_description=\"%s\"", why);
    } else {
        snprintf(h, sizeof h, "Bearer realm=\"orderly\"");
    }
    http_reply_header(r, "WWW-Authenticate", h);
    return refuse(r, ORD_EAUTH, why ? why : "this route needs a Bearer token (POST /api/login) or an API key");
}

/* ---- the guard ---------------------------------------------------------------------------- */

int api_guard(void *app, http_req *r)
{
    api *a = app;
    api_ctx *c = http_req_alloc(r, sizeof *c);
    if (!c) return refuse(r, ORD_ENOMEM, NULL);
    memset(c, 0, sizeof *c);
    snprintf(c->p.name, sizeof c->p.name, "anonymous");
    http_req_set_user(r, c);
    client_ip(a, r, c->ip);
    if (!host_allowed(a, http_req_header(r, "Host")))
        return refuse(r, ORD_EHOST, "the Host header names no host this server answers for (auth.allowedHosts)");
    const char *method = http_req_method(r);
    size_t body_len = 0;
    http_req_body(r, &body_len);
    if (mutating(method) && body_len && http_req_require_json(r)) return 1; /* an HTML form cannot send it */
    if (!a->auth || !a->access.enabled) { /* auth.enabled false: loopback only, everyone is admin */
        c->p.role = ROLE_ADMIN;
        return 0;
    }
    int wait = auth_rate_address(a->auth, c->ip);
    if (wait) return too_many(r, wait, "from this address");
    int access = http_req_access(r);
    int pub = (access & HTTP_ACCESS_PUBLIC) || ((access & ACCESS_ANON_ORDERS) && a->access.anonymous_orders) ||
              ((access & ACCESS_METRICS) && a->access.metrics_public);
    const char *why = NULL;
    int rc = auth_authenticate(a->auth, http_req_header(r, "Authorization"), http_req_cookie(r, "orderly_session"),
                               &c->p, &why);
    if (rc == ORD_EINVAL && !pub) return unauthenticated(r, why);
    if (rc && rc != ORD_ENOTFOUND && rc != ORD_EINVAL) return refuse(r, rc, NULL);
    if (rc) { /* none, or invalid on a public route: go on as anonymous */
        memset(&c->p, 0, sizeof c->p);
        snprintf(c->p.name, sizeof c->p.name, "anonymous");
        return pub ? 0 : unauthenticated(r, NULL);
    }
    if ((wait = auth_rate_principal(a->auth, &c->p))) return too_many(r, wait, "for this principal");
    if (!pub && !(access & c->p.role)) {
        char d[120];
        snprintf(d, sizeof d, "the role %s may not %s %s", auth_role_name(c->p.role), method, http_req_route(r));
        return refuse(r, ORD_EFORBIDDEN, d);
    }
    if (c->p.cookie && mutating(method) && !same_origin(r))
        return refuse(r, ORD_EFORBIDDEN, "a session cookie changes state only from this server's own pages "
                                         "(Origin must be this server)");
    return 0;
}

/* ---- the audit of what no unit recorded ---------------------------------------------------- */

struct late_audit {
    auth_principal p;
    char method[8], route[96], target[LIMIT_ORDER_ID_MAX + 64], ip[48], rid[LIMIT_HTTP_REQUEST_ID_MAX + 1];
    int status;
};

static int late_unit(store_conn *tx, void *arg)
{
    struct late_audit *l = arg;
    audit_entry e = {&l->p, l->method, l->route, l->target[0] ? l->target : NULL, l->status, l->ip, l->rid, NULL};
    return auth_audit_late_tx(tx, &e);
}

static void late_done(void *arg, int rc)
{
    if (rc) log_warn("audit", "an audit row was not written", "error", err_name(rc), NULL);
    free(arg);
}

void api_done(void *app, http_req *r, int status)
{
    api *a = app;
    api_ctx *c = http_req_user(r);
    if (!c || !a->auth || !a->access.enabled || !status) return;
    int write = mutating(http_req_method(r)) && !c->audited && c->p.kind != PRINCIPAL_ANONYMOUS;
    int read = c->read_audit && status < 300;
    if (!write && !read) return;
    struct late_audit *l = calloc(1, sizeof *l);
    if (!l) return;
    l->p = c->p;
    str_copy(l->method, sizeof l->method, http_req_method(r));
    str_copy(l->route, sizeof l->route, http_req_route(r));
    const char *target = c->target;
    if (!target) target = http_req_param(r, "id") ? http_req_param(r, "id") : http_req_param(r, "name");
    if (!target) target = http_req_param(r, "sku");
    str_copy(l->target, sizeof l->target, target ? target : "");
    str_copy(l->ip, sizeof l->ip, c->ip);
    str_copy(l->rid, sizeof l->rid, http_req_id(r));
    l->status = status;
    if (store_submit(a->st, late_unit, late_done, l)) late_done(l, ORD_EBUSY);
}
