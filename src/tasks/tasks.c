/* tasks.c - background tasks (tasks.h): rows in the tasks table, one runner
 * thread that runs them a page per unit, paced by rate and duty cycle. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/id.h"
#include "lib/limits.h"
#include "lib/str.h"
#include "obs/log.h"
#include "tasks/tasks.h"

/* When each unfinished task may run its next page. */
struct due {
    char id[TASK_ID_LEN + 1];
    int64_t at_us;
    int64_t item_us; /* the writer's recent time per item of this task (0: not measured yet) */
};

struct tasks {
    store *st;
    bus *b;
    queue_sys *qs;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, stop, wake;
    struct due due[LIMIT_TASKS_ACTIVE];
    int ndue;
    int next;           /* the task looked at first (round robin) */
    int64_t writer_at_us; /* no page of any task before this: the tasks' one duty cycle */
};

/* A task row as read (TASK_COLUMNS). */
typedef struct row {
    char id[TASK_ID_LEN + 1], kind[16], state[16];
    char name[LIMIT_QUEUE_NAME_MAX + 1];
    json_t *params;
    int64_t rate, cursor, done, routed, total;
} row;

/* ---- rows ------------------------------------------------------------------ */

static json_t *row_json(store_stmt *st)
{
    json_t *params = json_loads(store_col_text(st, 4, NULL), 0, NULL);
    const char *kind = store_col_text(st, 1, NULL);
    int replay = !strcmp(kind, "replay");
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:o}", "id", store_col_text(st, 0, NULL), "kind", kind, "state",
                          store_col_text(st, 3, NULL), "ratePerSecond", (json_int_t)store_col_i64(st, 5),
                          replay ? "eventsReplayed" : "messagesMoved", (json_int_t)store_col_i64(st, 7),
                          replay ? "eventsInWindow" : "messagesToMove", (json_int_t)store_col_i64(st, 9),
                          "createdAt", json_string(clock_fmt_iso(store_col_i64(st, 11), 1, (char[32]){0}, 32)));
    if (!o) {
        json_decref(params);
        return NULL;
    }
    if (json_is_object(params)) json_object_update_missing(o, params);
    json_decref(params);
    if (replay) json_object_set_new(o, "deliveries", json_integer(store_col_i64(st, 8)));
    char buf[32];
    json_object_set_new(o, "updatedAt", json_string(clock_fmt_iso(store_col_i64(st, 12), 1, buf, sizeof buf)));
    if (!store_col_is_null(st, 13))
        json_object_set_new(o, "finishedAt", json_string(clock_fmt_iso(store_col_i64(st, 13), 1, buf, sizeof buf)));
    if (!store_col_is_null(st, 10)) json_object_set_new(o, "error", json_string(store_col_text(st, 10, NULL)));
    return o;
}

static int row_load(store_conn *c, const char *id, row *r)
{
    store_stmt *st = store_prep(c, ST_TASK_GET);
    store_bind_str(st, 1, id);
    int rc = store_step(st);
    if (rc == STORE_ROW) {
        str_copy(r->id, sizeof r->id, store_col_text(st, 0, NULL));
        str_copy(r->kind, sizeof r->kind, store_col_text(st, 1, NULL));
        str_copy(r->name, sizeof r->name, store_col_text(st, 2, NULL));
        str_copy(r->state, sizeof r->state, store_col_text(st, 3, NULL));
        r->params = json_loads(store_col_text(st, 4, NULL), 0, NULL);
        r->rate = store_col_i64(st, 5);
        r->cursor = store_col_i64(st, 6);
        r->done = store_col_i64(st, 7);
        r->routed = store_col_i64(st, 8);
        r->total = store_col_i64(st, 9);
        rc = store_col_is_null(st, 13) ? 0 : 1; /* 1: finished */
    } else if (rc == STORE_DONE) {
        rc = ORD_ENOTFOUND;
    }
    store_reset(st);
    if (rc >= 0 && !r->params) r->params = json_object();
    return rc;
}

static int finish(store_conn *tx, const char *id, const char *state, const char *error)
{
    store_stmt *st = store_prep(tx, ST_TASK_FINISH);
    store_bind_str(st, 1, id);
    store_bind_str(st, 2, state);
    store_bind_str(st, 3, error);
    store_bind_i64(st, 4, clock_wall_ms());
    int rc = store_exec(st);
    if (!rc)
        log_info("tasks", "task finished", "taskId", id, "state", state, "error", error ? error : "", NULL);
    return rc;
}

static int progress(store_conn *tx, const row *r)
{
    store_stmt *st = store_prep(tx, ST_TASK_PROGRESS);
    store_bind_str(st, 1, r->id);
    store_bind_i64(st, 2, r->cursor);
    store_bind_i64(st, 3, r->done);
    store_bind_i64(st, 4, r->routed);
    store_bind_i64(st, 5, clock_wall_ms());
    return store_exec(st);
}

/* ---- starting and cancelling ------------------------------------------------- */

static void wake_hook(void *arg, int committed)
{
    tasks *t = arg;
    if (!committed) return;
    pthread_mutex_lock(&t->mu);
    t->wake = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static int start_tx(store_conn *tx, tasks *t, const char *kind, const char *name, json_t *params, int rate,
                    int64_t total, char *id_out, char *running)
{
    store_stmt *st = store_prep(tx, ST_TASK_ACTIVE);
    store_bind_str(st, 1, kind);
    store_bind_str(st, 2, name);
    int rc = store_step(st);
    if (rc == STORE_ROW) str_copy(running, TASK_ID_LEN + 1, store_col_text(st, 0, NULL));
    store_reset(st);
    if (rc == STORE_ROW) return ORD_ECONFLICT;
    if (rc < 0) return rc;
    int n = 0;
    st = store_prep(tx, ST_TASK_UNFINISHED);
    while ((rc = store_step(st)) == STORE_ROW) n++;
    store_reset(st);
    if (rc < 0) return rc;
    if (n >= LIMIT_TASKS_ACTIVE) return ORD_ELIMIT;
    char *text = json_dumps(params, JSON_COMPACT);
    if (!text) return ORD_ENOMEM;
    id_uuid(id_out);
    st = store_prep(tx, ST_TASK_INSERT);
    store_bind_str(st, 1, id_out);
    store_bind_str(st, 2, kind);
    store_bind_str(st, 3, name);
    store_bind_str(st, 4, "RUNNING");
    store_bind_str(st, 5, text);
    store_bind_i64(st, 6, rate);
    store_bind_i64(st, 7, total);
    store_bind_i64(st, 8, clock_wall_ms());
    rc = store_exec(st);
    free(text);
    if (!rc) rc = store_after_commit(tx, wake_hook, t);
    if (!rc) log_info("tasks", "task started", "taskId", id_out, "kind", kind, "name", name, "#total", total, NULL);
    return rc;
}

#define REPLAY_RESOURCE "archive" /* the one event log: one replay at a time */

int tasks_replay_start_tx(store_conn *tx, tasks *t, const task_replay_in *in, char *id_out, char *running)
{
    char from[32], to[32];
    json_t *p = json_pack("{s:s,s:s,s:s}", "replayName", in->replay_name, "from",
                          clock_fmt_iso(in->from_ms, 1, from, sizeof from), "to",
                          clock_fmt_iso(in->to_ms, 1, to, sizeof to));
    if (!p) return ORD_ENOMEM;
    if (in->rule) json_object_set_new(p, "rule", json_string(in->rule));
    int rc = start_tx(tx, t, "replay", REPLAY_RESOURCE, p, in->rate, in->total, id_out, running);
    json_decref(p);
    return rc;
}

int tasks_redrive_start_tx(store_conn *tx, tasks *t, const task_redrive_in *in, char *id_out, char *running)
{
    json_t *p = json_pack("{s:s}", "sourceQueue", queue_name(in->dlq));
    if (!p) return ORD_ENOMEM;
    if (in->dest) json_object_set_new(p, "destinationQueue", json_string(queue_name(in->dest)));
    int rc = start_tx(tx, t, "redrive", queue_name(in->dlq), p, in->rate, in->total, id_out, running);
    json_decref(p);
    return rc;
}

int tasks_cancel_tx(store_conn *tx, tasks *t, const char *id)
{
    (void)t;
    row r = {0};
    int rc = row_load(tx, id, &r);
    json_decref(r.params);
    if (rc < 0) return rc;
    if (rc == 1) return ORD_ECONFLICT;
    return finish(tx, id, "CANCELLED", NULL);
}

/* ---- reading ------------------------------------------------------------------- */

json_t *tasks_get(store_conn *c, const char *id)
{
    store_stmt *st = store_prep(c, ST_TASK_GET);
    store_bind_str(st, 1, id);
    json_t *o = store_step(st) == STORE_ROW ? row_json(st) : NULL;
    store_reset(st);
    return o;
}

int tasks_list(store_conn *c, int limit, const char *cursor, json_t **out)
{
    int64_t before = INT64_MAX;
    char before_id[TASK_ID_LEN + 1] = "";
    if (cursor) { /* "<created_ms>.<id>" */
        char *end;
        before = strtoll(cursor, &end, 10);
        if (end == cursor || *end != '.' || strlen(end + 1) != TASK_ID_LEN || before < 0) return ORD_EVALIDATION;
        str_copy(before_id, sizeof before_id, end + 1);
    }
    json_t *arr = json_array();
    store_stmt *st = store_prep(c, ST_TASK_LIST);
    store_bind_i64(st, 1, before);
    store_bind_str(st, 2, before_id);
    store_bind_i64(st, 3, limit);
    int n = 0, rc;
    char next[64] = "";
    while ((rc = store_step(st)) == STORE_ROW) {
        json_array_append_new(arr, row_json(st));
        snprintf(next, sizeof next, "%lld.%s", (long long)store_col_i64(st, 11), store_col_text(st, 0, NULL));
        n++;
    }
    store_reset(st);
    if (rc < 0) {
        json_decref(arr);
        return rc;
    }
    *out = json_pack("{s:o}", "tasks", arr);
    if (n == limit) json_object_set_new(*out, "nextCursor", json_string(next));
    return 0;
}

/* ---- running ----------------------------------------------------------------- */

typedef struct page_ctx {
    tasks *t;
    const char *id;
    int max;      /* items this page may take (LIMIT_TASK_PAGE_US at the measured cost) */
    int items;    /* done by this page */
    int finished; /* the task is finished (by this page or before) */
    int64_t rate; /* its items per second */
} page_ctx;

/* Items a page takes: about a tenth of a second at the task's rate, so a
 * slow task moves in small steps, and no more than fit in
 * LIMIT_TASK_PAGE_US of the writer's time at the task's measured cost (a
 * replayed OrderPlaced runs the whole order pipeline in its page). */
static int page_size(const row *r, const page_ctx *p)
{
    int64_t n = r->rate / 10;
    if (n > p->max) n = p->max;
    return n < 1 ? 1 : n > LIMIT_TASK_PAGE ? LIMIT_TASK_PAGE : (int)n;
}

static int replay_page(store_conn *tx, tasks *t, row *r, page_ctx *p)
{
    int64_t from, to;
    const char *rule = json_string_value(json_object_get(r->params, "rule"));
    const char *f = json_string_value(json_object_get(r->params, "from"));
    const char *e = json_string_value(json_object_get(r->params, "to"));
    if (!f || !e || clock_parse_iso(f, &from) || clock_parse_iso(e, &to))
        return finish(tx, r->id, "FAILED", "the task's window cannot be read");
    bus_replay_state bs;
    int rc = bus_replay_begin(t->b, from, to, rule, json_string_value(json_object_get(r->params, "replayName")), &bs);
    if (rc == ORD_ENOTFOUND) return finish(tx, r->id, "FAILED", "the rule no longer exists");
    if (rc) return finish(tx, r->id, "FAILED", err_msg(rc));
    bs.after = r->cursor;
    bs.events = r->done;
    bs.routed = r->routed;
    bs.page = page_size(r, p);
    if ((rc = bus_replay_page_tx(tx, &bs))) return rc;
    p->items = bs.page_n;
    int more = bus_replay_advance(&bs);
    r->cursor = bs.after;
    r->done = bs.events;
    r->routed = bs.routed;
    if ((rc = progress(tx, r))) return rc;
    return more ? 0 : finish(tx, r->id, "COMPLETED", bs.truncated ? "stopped at LIMIT_REPLAY_EVENTS_MAX" : NULL);
}

static int redrive_page(store_conn *tx, tasks *t, row *r, page_ctx *p)
{
    queue *dlq = queue_find(t->qs, r->name), *dest = NULL;
    const char *dn = json_string_value(json_object_get(r->params, "destinationQueue"));
    if (!dlq) return finish(tx, r->id, "FAILED", "the dead-letter queue no longer exists");
    if (dn && !(dest = queue_find(t->qs, dn))) return finish(tx, r->id, "FAILED", "the destination queue no longer exists");
    int64_t left = r->total - r->done, moved = 0;
    int want = left < page_size(r, p) ? (int)left : page_size(r, p);
    int rc = want > 0 ? queue_redrive_tx(tx, t->qs, dlq, dest, want, &moved) : 0;
    if (rc) return rc;
    p->items = (int)moved;
    r->done += moved;
    if ((rc = progress(tx, r))) return rc;
    return moved < want || r->done >= r->total ? finish(tx, r->id, "COMPLETED", NULL) : 0;
}

/* One page of task p->id, as a unit: the task's row decides (a page that
 * runs again after a failed batch reads the progress that committed). */
static int page_unit(store_conn *tx, void *arg)
{
    page_ctx *p = arg;
    row r = {0};
    p->items = 0;
    p->finished = 0;
    int rc = row_load(tx, p->id, &r);
    p->rate = r.rate;
    if (rc) {
        p->finished = 1; /* gone, or finished (cancelled meanwhile) */
        json_decref(r.params);
        return rc == ORD_ENOTFOUND || rc == 1 ? 0 : rc;
    }
    if (!strcmp(r.kind, "replay"))
        rc = replay_page(tx, p->t, &r, p);
    else if (!strcmp(r.kind, "redrive"))
        rc = redrive_page(tx, p->t, &r, p);
    else
        rc = finish(tx, r.id, "FAILED", "unknown kind of task");
    json_decref(r.params);
    return rc;
}

/* The unfinished tasks, each with the time of its next page (new ones now). */
static void refresh(tasks *t)
{
    store_conn *c = store_reader(t->st);
    if (!c) return;
    struct due next[LIMIT_TASKS_ACTIVE];
    int n = 0;
    store_stmt *st = store_prep(c, ST_TASK_UNFINISHED);
    while (n < LIMIT_TASKS_ACTIVE && store_step(st) == STORE_ROW) {
        str_copy(next[n].id, sizeof next[n].id, store_col_text(st, 0, NULL));
        next[n].at_us = 0;
        next[n].item_us = 0;
        for (int i = 0; i < t->ndue; i++)
            if (!strcmp(t->due[i].id, next[n].id)) {
                next[n].at_us = t->due[i].at_us;
                next[n].item_us = t->due[i].item_us;
            }
        n++;
    }
    store_reset(st);
    memcpy(t->due, next, sizeof next[0] * (size_t)n);
    t->ndue = n;
}

/* Runs the page of d; moves d->at_us (its rate) and t->writer_at_us (the
 * duty cycle every task shares) on. */
static void run_due(tasks *t, struct due *d)
{
    /* never fewer than LIMIT_TASK_PAGE_FIRST: a page's fixed cost (its
     * reads; on PostgreSQL their round trips) is counted in its items'
     * cost, and smaller pages would only make each item look dearer */
    int64_t max = d->item_us ? LIMIT_TASK_PAGE_US / d->item_us : LIMIT_TASK_PAGE_FIRST;
    if (max < LIMIT_TASK_PAGE_FIRST) max = LIMIT_TASK_PAGE_FIRST;
    page_ctx p = {.t = t, .id = d->id, .max = max > LIMIT_TASK_PAGE ? LIMIT_TASK_PAGE : (int)max};
    /* what the page cost the writer: its unit and the records its messages
     * ran in that batch (run to completion) - not its wait in the queue,
     * which under load would make every page look slow */
    int64_t took = 0, t0 = clock_mono_us();
    int rc = store_run_busy(t->st, page_unit, &p, &took);
    int64_t now = clock_mono_us();
    /* a page that took `took` of the writer's time is followed by
     * (100 - duty) / duty times as long without any task's page */
    t->writer_at_us = now + took * (100 - LIMIT_TASK_DUTY_PERCENT) / LIMIT_TASK_DUTY_PERCENT;
    if (rc) {
        log_warn("tasks", "a page failed; it runs again", "taskId", d->id, "error", err_name(rc), NULL);
        d->at_us = now + LIMIT_TASK_RETRY_MS * 1000LL;
        return;
    }
    if (p.finished) return;
    if (p.items > 0) { /* the cost per item, smoothed (a page's fixed cost included: pages stay large enough) */
        int64_t per = took / p.items;
        d->item_us = d->item_us ? (3 * d->item_us + per) / 4 : per;
        if (d->item_us < 1) d->item_us = 1;
    }
    /* the rate counts from the page's start: its wait for the writer is
     * part of its time slot */
    int64_t at = t0 + (p.rate > 0 ? (int64_t)p.items * 1000000 / p.rate : 0);
    d->at_us = at > now ? at : now;
}

static void *runner_main(void *arg)
{
    tasks *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        t->wake = 0;
        pthread_mutex_unlock(&t->mu);
        refresh(t);
        int64_t now = clock_mono_us(), soonest = now + 1000000; /* look again each second (other nodes' tasks) */
        /* one page at a time, the due tasks in turn */
        int first = t->next;
        for (int k = 0; k < t->ndue; k++) {
            struct due *d = &t->due[(first + k) % t->ndue];
            if (d->at_us <= now && t->writer_at_us <= now) {
                run_due(t, d);
                t->next = (int)(d - t->due + 1) % t->ndue;
                now = clock_mono_us();
            }
            int64_t at = d->at_us > t->writer_at_us ? d->at_us : t->writer_at_us;
            if (at < soonest) soonest = at;
        }
        pthread_mutex_lock(&t->mu);
        if (t->stop || t->wake) continue;
        now = clock_mono_us();
        if (soonest > now) {
            struct timespec ts = clock_mono_deadline((soonest - now + 999) / 1000);
            pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------------- */

int tasks_open(store *st, bus *b, queue_sys *qs, tasks **out)
{
    tasks *t = calloc(1, sizeof *t);
    if (!t) return ORD_ENOMEM;
    t->st = st;
    t->b = b;
    t->qs = qs;
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = t;
    return 0;
}

int tasks_start(tasks *t)
{
    CHECK(!t->started);
    if (pthread_create(&t->thread, NULL, runner_main, t)) return ORD_EINTERNAL;
    t->started = 1;
    return 0;
}

void tasks_stop(tasks *t)
{
    if (!t || !t->started) return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    t->started = 0;
}

void tasks_close(tasks *t)
{
    if (!t) return;
    tasks_stop(t);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
}

static int sweep_chunk(store_conn *tx, void *arg, int limit, int64_t *n)
{
    store_stmt *st = store_prep(tx, ST_TASK_SWEEP);
    store_bind_i64(st, 1, *(const int64_t *)arg);
    store_bind_i64(st, 2, limit);
    int rc = store_exec(st);
    *n = rc ? 0 : store_changes(tx);
    return rc;
}

int tasks_sweep(tasks *t, int days, int64_t *deleted)
{
    int64_t cutoff = clock_wall_ms() - (int64_t)days * 86400000;
    return store_sweep(t->st, sweep_chunk, &cutoff, LIMIT_SWEEP_ROWS, deleted);
}
