/* customers.c - a customer's data in the order domain (GDPR, seed 002):
 * everything about one customerId as one document, and its erasure:
 * the customerId is replaced by a pseudonym in the orders, in the details
 * of the events about them and in their notifications. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/err.h"
#include "lib/str.h"
#include "orders/internal.h"

/* Replaces every string equal to from by to inside v; returns how many. */
static int replace_strings(json_t *v, const char *from, const char *to)
{
    int n = 0;
    size_t i;
    const char *k;
    json_t *m;
    if (json_is_object(v)) {
        json_object_foreach(v, k, m)
        {
            if (json_is_string(m) && !strcmp(json_string_value(m), from)) {
                json_object_set_new(v, k, json_string(to));
                n++;
            } else {
                n += replace_strings(m, from, to);
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            if (json_is_string(m) && !strcmp(json_string_value(m), from)) {
                json_array_set_new(v, i, json_string(to));
                n++;
            } else {
                n += replace_strings(m, from, to);
            }
        }
    }
    return n;
}

int ord_customer_merge(store_conn *tx, int64_t upto)
{
    store_stmt *st = store_prep(tx, ST_ORDER_CUSTOMER_MERGE);
    store_bind_i64(st, 1, upto);
    int rc = store_exec(st);
    if (rc) return rc;
    st = store_prep(tx, ST_ORDER_CUSTOMER_MARK);
    store_bind_i64(st, 1, upto);
    return store_exec(st);
}

/* The ids of up to max orders of customer, newest first, before seq. */
static int ids_of(store_conn *c, const char *customer, int64_t before, int max,
                  char ids[][LIMIT_ORDER_ID_MAX + 1], int64_t *last_seq, int *n)
{
    store_stmt *st = store_prep(c, ST_ORDER_LIST_CUSTOMER);
    store_bind_null(st, 1);
    store_bind_str(st, 2, customer);
    store_bind_i64(st, 3, before);
    store_bind_i64(st, 4, max);
    int rc;
    *n = 0;
    while (*n < max && (rc = store_step(st)) == STORE_ROW) snprintf(ids[(*n)++], LIMIT_ORDER_ID_MAX + 1, "%s",
                                                                     store_col_text(st, 0, NULL));
    store_reset(st);
    if (rc < 0) return rc;
    for (int i = 0; i < *n; i++) {
        ord_order o;
        if (!ord_order_load(c, ids[i], &o)) *last_seq = o.seq;
    }
    return 0;
}

#define PAGE 100

/* Every event of order id (the timeline page by page) and its notifications
 * into ord. */
static void export_timeline(orders *o, const char *id, json_t *ord)
{
    json_t *events = json_array(), *tl;
    int64_t after = 0;
    while ((tl = orders_timeline(o, id, after, LIMIT_TIMELINE_PAGE_MAX))) {
        json_array_extend(events, json_object_get(tl, "events"));
        if (!json_object_get(ord, "notifications"))
            json_object_set(ord, "notifications", json_object_get(tl, "notifications"));
        const char *next = json_string_value(json_object_get(tl, "nextCursor"));
        after = next ? strtoll(next, NULL, 10) : 0;
        json_decref(tl);
        if (!next) break;
    }
    json_object_set_new(ord, "events", events);
}

int orders_customer_export(orders *o, const char *customer, int max_orders, json_t **out, int *truncated)
{
    store_conn *c = store_reader(o->st);
    if (!c) return ORD_ESTORE;
    json_t *orders_arr = json_array();
    int64_t before = INT64_MAX;
    int total = 0, rc = 0;
    *truncated = 0;
    for (;;) {
        char ids[PAGE][LIMIT_ORDER_ID_MAX + 1];
        int n;
        if ((rc = ids_of(c, customer, before, PAGE, ids, &before, &n))) break;
        for (int i = 0; i < n; i++) {
            if (total == max_orders) {
                *truncated = 1;
                break;
            }
            json_t *ord = orders_get_conn(c, ids[i]);
            if (ord) export_timeline(o, ids[i], ord);
            if (ord) json_array_append_new(orders_arr, ord);
            total++;
        }
        if (n < PAGE || *truncated) break;
    }
    if (rc) {
        json_decref(orders_arr);
        return rc;
    }
    *out = orders_arr;
    return 0;
}

#define EVENTS_PER_ORDER_MAX 256 /* events rewritten per page; an order's notifications: a few, a bound all the same */

/* The details of the events about order id: customer -> pseudonym. */
static int erase_events(store_conn *tx, const char *id, const char *customer, const char *pseudonym,
                        orders_erased *done)
{
    int64_t after = 0;
    int rows, rc = 0;
    do { /* a page at a time: an order's events are few, but not bounded */
        int64_t seqs[EVENTS_PER_ORDER_MAX];
        char *texts[EVENTS_PER_ORDER_MAX];
        int n = 0;
        rows = 0;
        store_stmt *st = store_prep(tx, ST_EVENT_BY_SUBJECT);
        store_bind_str(st, 1, id);
        store_bind_i64(st, 2, after);
        store_bind_i64(st, 3, EVENTS_PER_ORDER_MAX);
        while ((rc = store_step(st)) == STORE_ROW) {
            rows++;
            after = store_col_i64(st, 0);
            json_t *env = bus_envelope_json_of_subject_row(st);
            /* written back whole: the erased text may differ in any member */
            if (env && replace_strings(env, customer, pseudonym) && (texts[n] = json_dumps(env, JSON_COMPACT)))
                seqs[n++] = after;
            json_decref(env);
        }
        store_reset(st);
        for (int k = 0; k < n; k++) {
            if (!rc) {
                st = store_prep(tx, ST_EVENT_SET_ENVELOPE);
                store_bind_i64(st, 1, seqs[k]);
                store_bind_str(st, 2, texts[k]);
                rc = store_exec(st);
                done->events++;
            }
            free(texts[k]);
        }
    } while (!rc && rows == EVENTS_PER_ORDER_MAX);
    return rc;
}

/* The notifications of order id: recipient and payload. */
static int erase_notifications(store_conn *tx, const char *id, const char *customer, const char *pseudonym,
                               orders_erased *done)
{
    char eids[EVENTS_PER_ORDER_MAX][64], *payloads[EVENTS_PER_ORDER_MAX];
    int n = 0, rc;
    store_stmt *st = store_prep(tx, ST_NOTIFICATIONS_BY_ORDER);
    store_bind_str(st, 1, id);
    while (n < EVENTS_PER_ORDER_MAX && (rc = store_step(st)) == STORE_ROW) {
        json_t *p = json_loads(store_col_text(st, 3, NULL), 0, NULL);
        if (p) replace_strings(p, customer, pseudonym);
        if (p && (payloads[n] = json_dumps(p, JSON_COMPACT)))
            str_copy(eids[n++], sizeof eids[0], store_col_text(st, 5, NULL));
        json_decref(p);
    }
    store_reset(st);
    if (rc > 0) rc = 0;
    for (int k = 0; k < n; k++) {
        if (!rc) {
            st = store_prep(tx, ST_NOTIFICATION_SET);
            store_bind_str(st, 1, eids[k]);
            store_bind_str(st, 2, pseudonym);
            store_bind_str(st, 3, payloads[k]);
            rc = store_exec(st);
            done->notifications++;
        }
        free(payloads[k]);
    }
    return rc;
}

int orders_customer_erase_tx(store_conn *tx, orders *o, const char *customer, const char *pseudonym, int limit,
                             orders_erased *done)
{
    char ids[PAGE][LIMIT_ORDER_ID_MAX + 1];
    int64_t last;
    int n, rc;
    if (limit > PAGE) limit = PAGE;
    if ((rc = ids_of(tx, customer, INT64_MAX, limit, ids, &last, &n))) return rc;
    for (int i = 0; i < n; i++) {
        ord_copy_drop(tx, o, ids[i]);
        store_stmt *st = store_prep(tx, ST_ORDER_SET_CUSTOMER);
        store_bind_str(st, 1, ids[i]);
        store_bind_str(st, 2, pseudonym);
        if ((rc = store_exec(st))) return rc;
        done->orders++;
        if ((rc = erase_events(tx, ids[i], customer, pseudonym, done)) ||
            (rc = erase_notifications(tx, ids[i], customer, pseudonym, done)))
            return rc;
    }
    done->last_page = n;
    return 0;
}
