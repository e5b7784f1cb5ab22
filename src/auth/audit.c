/* audit.c - the audit log: one row per state-changing request (written in
 * the unit of the change it records, so both commit or neither) and per
 * staff read of a customer's data; listed newest first with filters;
 * swept after the retention period in bounded chunks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/internal.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/str.h"

int auth_audit_tx(store_conn *tx, const audit_entry *e)
{
    const auth_principal *p = e->p;
    store_stmt *st = store_prep(tx, ST_AUDIT_INSERT);
    store_bind_i64(st, 1, clock_wall_ms());
    store_bind_str(st, 2, p ? p->name : "anonymous");
    store_bind_str(st, 3, p && p->role ? auth_role_name(p->role) : NULL);
    store_bind_str(st, 4, p && p->key_id[0] ? p->key_id : NULL);
    store_bind_str(st, 5, e->method);
    store_bind_str(st, 6, e->route);
    store_bind_str(st, 7, e->target);
    store_bind_i64(st, 8, e->status);
    store_bind_str(st, 9, e->ip ? e->ip : "");
    store_bind_str(st, 10, e->request_id ? e->request_id : "");
    store_bind_str(st, 11, e->detail);
    return store_exec(st);
}

/* The pseudonym an erasure gave name, while it is remembered; else name. */
static int erased_name(store_conn *tx, const char *name, char *out, size_t outlen, const char **use)
{
    *use = name;
    if (!name || !*name) return 0;
    unsigned char h[AUTH_HASH_BYTES];
    auth_hash(name, h);
    store_stmt *st = store_prep(tx, ST_AUDIT_ERASED_GET);
    store_bind_blob(st, 1, h, sizeof h);
    store_bind_i64(st, 2, clock_wall_ms());
    int rc = store_step(st);
    if (rc == STORE_ROW) {
        str_copy(out, outlen, store_col_text(st, 0, NULL));
        *use = out;
    }
    store_reset(st);
    return rc < 0 ? rc : 0;
}

int auth_audit_late_tx(store_conn *tx, const audit_entry *e)
{
    char pname[64], ptarget[64]; /* pseudonyms: "erased-" and 16 hex digits */
    const char *name, *target;
    int rc;
    if ((rc = erased_name(tx, e->p ? e->p->name : NULL, pname, sizeof pname, &name)) ||
        (rc = erased_name(tx, e->target, ptarget, sizeof ptarget, &target)))
        return rc;
    auth_principal p;
    audit_entry late = *e;
    if (e->p && name != e->p->name) {
        p = *e->p;
        str_copy(p.name, sizeof p.name, name);
        late.p = &p;
    }
    late.target = target;
    return auth_audit_tx(tx, &late);
}

static json_t *text_or_null(store_stmt *st, int col)
{
    return store_col_is_null(st, col) ? json_null() : json_string(store_col_text(st, col, NULL));
}

int auth_audit_list(auth *a, const char *principal, const char *target, int64_t from_ms, int64_t to_ms,
                    const char *cursor, int limit, json_t **out)
{
    int64_t before = INT64_MAX;
    if (cursor) {
        char *end;
        long long v = strtoll(cursor, &end, 10);
        if (!*cursor || *end || v <= 0) return ORD_EVALIDATION;
        before = v;
    }
    store_conn *c = store_reader(a->st);
    if (!c) return ORD_ESTORE;
    store_stmt *st = store_prep(c, ST_AUDIT_LIST);
    store_bind_str(st, 1, principal);
    store_bind_str(st, 2, target);
    store_bind_i64(st, 3, from_ms);
    store_bind_i64(st, 4, to_ms);
    store_bind_i64(st, 5, before);
    store_bind_i64(st, 6, limit);
    json_t *arr = json_array();
    int rc, n = 0;
    int64_t last = 0;
    char b[40];
    while ((rc = store_step(st)) == STORE_ROW) {
        last = store_col_i64(st, 0);
        json_t *detail = NULL;
        if (!store_col_is_null(st, 11)) detail = json_loads(store_col_text(st, 11, NULL), 0, NULL);
        json_t *e = json_pack("{s:I,s:s,s:s,s:o,s:o,s:s,s:s,s:o,s:I,s:s,s:s}", "id", (json_int_t)last, "time",
                              clock_fmt_iso(store_col_i64(st, 1), 1, b, sizeof b), "principal",
                              store_col_text(st, 2, NULL), "role", text_or_null(st, 3), "keyId", text_or_null(st, 4),
                              "method", store_col_text(st, 5, NULL), "route", store_col_text(st, 6, NULL), "target",
                              text_or_null(st, 7), "status", (json_int_t)store_col_i64(st, 8), "ip",
                              store_col_text(st, 9, NULL), "requestId", store_col_text(st, 10, NULL));
        if (e && detail) json_object_set_new(e, "detail", detail);
        else json_decref(detail);
        json_array_append_new(arr, e);
        n++;
    }
    store_reset(st);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = json_pack("{s:o}", "entries", arr);
    if (n == limit) {
        char cur[24];
        snprintf(cur, sizeof cur, "%lld", (long long)last);
        json_object_set_new(*out, "nextCursor", json_string(cur));
    }
    return 0;
}

/* A chunk of rows older than cutoff: the audit's (ST_AUDIT_SWEEP) or the
 * erased names' (ST_AUDIT_ERASED_SWEEP). */
struct sweep {
    store_stmt_id stmt;
    int64_t cutoff;
};

static int sweep_chunk(store_conn *tx, void *arg, int limit, int64_t *n)
{
    struct sweep *s = arg;
    store_stmt *st = store_prep(tx, s->stmt);
    store_bind_i64(st, 1, s->cutoff);
    store_bind_i64(st, 2, limit);
    int rc = store_exec(st);
    *n = rc ? 0 : store_changes(tx);
    return rc;
}

int auth_audit_sweep(auth *a, int days, int64_t *deleted)
{
    struct sweep rows = {ST_AUDIT_SWEEP, clock_wall_ms() - (int64_t)days * 86400000},
                 names = {ST_AUDIT_ERASED_SWEEP, clock_wall_ms()};
    int64_t forgotten = 0;
    int rc = store_sweep(a->st, sweep_chunk, &rows, LIMIT_SWEEP_ROWS, deleted);
    return rc ? rc : store_sweep(a->st, sweep_chunk, &names, LIMIT_SWEEP_ROWS, &forgotten);
}

int auth_audit_about(auth *a, const char *const *names, int n, int max, json_t *arr)
{
    for (int i = 0; i < n; i++)
        for (int as_target = 0; as_target < 2; as_target++) {
            json_t *page = NULL;
            int rc = auth_audit_list(a, as_target ? NULL : names[i], as_target ? names[i] : NULL, 0, INT64_MAX, NULL,
                                     max, &page);
            if (rc) return rc;
            size_t k;
            json_t *e;
            json_array_foreach(json_object_get(page, "entries"), k, e) json_array_append(arr, e);
            json_decref(page);
        }
    return 0;
}

int auth_audit_rename_tx(store_conn *tx, const char *old, const char *neu)
{
    store_stmt *st = store_prep(tx, ST_AUDIT_RENAME);
    store_bind_str(st, 1, old);
    store_bind_str(st, 2, neu);
    int rc = store_exec(st);
    if (rc) return rc;
    /* rows written later about requests made before (auth_audit_late_tx) */
    unsigned char h[AUTH_HASH_BYTES];
    auth_hash(old, h);
    st = store_prep(tx, ST_AUDIT_ERASED_PUT);
    store_bind_blob(st, 1, h, sizeof h);
    store_bind_str(st, 2, neu);
    store_bind_i64(st, 3, clock_wall_ms() + LIMIT_AUDIT_ERASED_KEEP_MS);
    return store_exec(st);
}
