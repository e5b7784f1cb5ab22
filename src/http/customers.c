/* customers.c - GDPR (seed 002): a customer's data exported, or erased.
 *
 *   GET    /api/customers/{id}/export  admin, or the customer itself (another's is a 404): every
 *                                      order, item, event, notification, user account and audit
 *                                      row about the customer, as one document
 *   DELETE /api/customers/{id}         admin: the customerId becomes a pseudonym in the orders, the
 *                                      details of their events, their notifications and the audit
 *                                      log; the customer's users are disabled (and renamed when
 *                                      their name was the id); the audit keeps the fact of the
 *                                      erasure (counts, the pseudonym), not the data
 *
 * The erasure runs as a chain of units of LIMIT_SWEEP_ORDERS orders (the
 * request stays suspended, no thread waits); an erasure cut short by a
 * failure can be run again and goes on where it stopped.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "http/api.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"

#define EXPORT_ORDERS_MAX 10000 /* orders in one export; past it "truncated": true */

static int customer_param(http_req *r, const char **id)
{
    *id = http_req_param(r, "id");
    size_t n = strlen(*id);
    return n >= 1 && n <= LIMIT_ORDER_CUSTOMER_BYTES_MAX ? 0 : ORD_ENOTFOUND;
}

struct collect {
    json_t *users;
    const char *names[LIMIT_LIST_PAGE_MAX + 1];
    int n;
};

static void collect_user(void *arg, const auth_user *u)
{
    struct collect *c = arg;
    json_array_append_new(c->users, auth_user_json(u));
}

int api_customer_export(http_req *r)
{
    api *a = http_req_app(r);
    const char *id;
    if (customer_param(r, &id)) return ORD_ENOTFOUND;
    api_ctx *c = api_ctx_of(r);
    if (c->p.role == ROLE_CUSTOMER && strcmp(c->p.customer_id, id)) { /* no oracle: as if absent */
        http_reply_problem(r, ORD_ENOTFOUND, "no such customer", NULL);
        return 0;
    }
    api_audit_read(r, id);
    json_t *orders_arr = NULL;
    int truncated = 0;
    int rc = orders_customer_export(a->o, id, EXPORT_ORDERS_MAX, &orders_arr, &truncated);
    if (rc) return rc;
    struct collect col = {.users = json_array()};
    store_conn *rd = store_reader(a->st);
    if (!rd || (rc = auth_users_of_customer(rd, id, collect_user, &col))) {
        json_decref(orders_arr);
        json_decref(col.users);
        return rc ? rc : ORD_ESTORE;
    }
    /* audit rows: by the customer's users, about the customer or its orders */
    json_t *audit = json_array();
    const char *names[LIMIT_LIST_PAGE_MAX + 1];
    int n = 0;
    names[n++] = id;
    size_t i;
    json_t *v;
    json_array_foreach(col.users, i, v) if (n < LIMIT_LIST_PAGE_MAX) names[n++] =
        json_string_value(json_object_get(v, "username"));
    rc = auth_audit_about(a->auth, names, n, LIMIT_LIST_PAGE_MAX, audit);
    json_array_foreach(orders_arr, i, v) if (!rc && i < LIMIT_LIST_PAGE_MAX)
    {
        const char *oid = json_string_value(json_object_get(v, "orderId"));
        rc = auth_audit_about(a->auth, &oid, 1, LIMIT_LIST_PAGE_MAX, audit);
    }
    if (rc) {
        json_decref(orders_arr);
        json_decref(col.users);
        json_decref(audit);
        return rc;
    }
    char ts[40];
    json_t *doc = json_pack("{s:s,s:s,s:o,s:o,s:o}", "customerId", id, "exportedAt",
                            clock_fmt_iso(clock_wall_ms(), 1, ts, sizeof ts), "orders", orders_arr, "users",
                            col.users, "audit", audit);
    if (doc && truncated) json_object_set_new(doc, "truncated", json_true());
    if (!doc) return ORD_ENOMEM;
    http_reply_header(r, "Cache-Control", "no-store");
    http_reply_json(r, 200, doc);
    return 0;
}

/* ---- erasure ------------------------------------------------------------------------------------ */

typedef struct erase_op {
    http_req *r;
    api *a;
    const char *id;
    char pseudonym[40];
    orders_erased done;
    int64_t users;
    int finished;
} erase_op;

struct rename_ctx {
    store_conn *tx;
    erase_op *op;
    int rc;
};

static void erase_user(void *arg, const auth_user *u)
{
    struct rename_ctx *c = arg;
    if (c->rc) return;
    auth_user next = *u;
    next.active = 0;
    str_copy(next.customer_id, sizeof next.customer_id, c->op->pseudonym);
    if (!(c->rc = auth_user_update_tx(c->tx, c->op->a->auth, &next)) && !strcmp(u->username, c->op->id))
        c->rc = auth_user_rename_tx(c->tx, c->op->a->auth, u->id, c->op->pseudonym);
    if (!c->rc) c->rc = auth_audit_rename_tx(c->tx, u->username, c->op->pseudonym);
    c->op->users++;
}

static int erase_unit(store_conn *tx, void *arg)
{
    erase_op *op = arg;
    int rc = orders_customer_erase_tx(tx, op->a->o, op->id, op->pseudonym, LIMIT_SWEEP_ORDERS, &op->done);
    if (rc || op->done.last_page == LIMIT_SWEEP_ORDERS) return rc; /* more orders: the next unit */
    /* the last unit: accounts, the audit log, the fact of the erasure */
    struct rename_ctx c = {tx, op, 0};
    if ((rc = auth_users_of_customer(tx, op->id, erase_user, &c)) || (rc = c.rc)) return rc;
    if ((rc = auth_audit_rename_tx(tx, op->id, op->pseudonym))) return rc;
    op->finished = 1;
    api_ctx_of(op->r)->target = op->pseudonym;
    return 0;
}

static void erase_reply(http_req *r, void *arg, int rc);

static int erase_wait(void *arg, int rc)
{
    erase_op *op = arg;
    if (rc || op->finished) return 0;
    api_resubmit(op->r, erase_unit, erase_wait, erase_reply, op);
    return 1;
}

static void erase_reply(http_req *r, void *arg, int rc)
{
    erase_op *op = arg;
    if (rc) {
        http_reply_problem(r, rc, NULL, NULL);
        return;
    }
    http_reply_json(r, 200,
                    json_pack("{s:s,s:{s:I,s:I,s:I,s:I}}", "pseudonym", op->pseudonym, "erased", "orders",
                              (json_int_t)op->done.orders, "events", (json_int_t)op->done.events, "notifications",
                              (json_int_t)op->done.notifications, "users", (json_int_t)op->users));
}

int api_customer_erase(http_req *r)
{
    const char *id;
    if (customer_param(r, &id)) return ORD_ENOTFOUND;
    erase_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    memset(op, 0, sizeof *op);
    op->r = r;
    op->a = http_req_app(r);
    op->id = id;
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    memcpy(op->pseudonym, "erased-", 7);
    sodium_bin2hex(op->pseudonym + 7, sizeof op->pseudonym - 7, rnd, sizeof rnd);
    api_ctx_of(r)->target = op->pseudonym; /* the audit row keeps the pseudonym, not the id */
    return api_submit_wait(r, erase_unit, erase_wait, erase_reply, op);
}
