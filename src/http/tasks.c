/* tasks.c - the background tasks (src/tasks/tasks.h) over HTTP.
 *
 *   GET  /api/tasks?limit=1..100&cursor=   newest first
 *   GET  /api/tasks/{id}                   its state and progress
 *   POST /api/tasks/{id}/cancel            an unfinished task stops now: 200 CANCELLED;
 *                                          409 when it has finished
 * Tasks are started by POST /api/events/replay and POST /api/queues/{dlq}/redrive
 * (202 with the task and Location: /api/tasks/{id}).
 */
#include <stdio.h>
#include <string.h>
#include "http/api.h"
#include "lib/err.h"

int api_tasks_list(http_req *r)
{
    api *a = http_req_app(r);
    int limit;
    if (api_page_limit(r, 20, LIMIT_TASK_LIST_MAX, &limit)) return 0;
    store_conn *c = store_reader(a->st);
    if (!c) return ORD_ESTORE;
    json_t *out = NULL;
    int rc = tasks_list(c, limit, http_req_query(r, "cursor"), &out);
    if (rc == ORD_EVALIDATION) {
        http_reply_problem(r, ORD_EINVAL, "cursor is not one this API returned", NULL);
        return 0;
    }
    if (rc) return rc;
    http_reply_json(r, 200, out);
    return 0;
}

int api_tasks_get(http_req *r)
{
    api *a = http_req_app(r);
    store_conn *c = store_reader(a->st);
    if (!c) return ORD_ESTORE;
    json_t *t = tasks_get(c, http_req_param(r, "id"));
    if (!t) return ORD_ENOTFOUND;
    http_reply_json(r, 200, t);
    return 0;
}

typedef struct cancel_op {
    api *a;
    const char *id;
} cancel_op;

static int cancel_unit(store_conn *tx, void *arg)
{
    cancel_op *op = arg;
    return tasks_cancel_tx(tx, op->a->tasks, op->id);
}

static void cancel_reply(http_req *r, void *arg, int rc)
{
    cancel_op *op = arg;
    if (rc == ORD_ECONFLICT) {
        http_reply_problem(r, rc, "the task has finished", NULL);
        return;
    }
    if (rc) {
        http_reply_problem(r, rc, rc == ORD_ENOTFOUND ? "no such task" : NULL, NULL);
        return;
    }
    store_conn *c = store_reader(op->a->st);
    json_t *t = c ? tasks_get(c, op->id) : NULL;
    if (!t) {
        http_reply_problem(r, ORD_ESTORE, NULL, NULL);
        return;
    }
    http_reply_json(r, 200, t);
}

int api_tasks_cancel(http_req *r)
{
    cancel_op *op = http_req_alloc(r, sizeof *op);
    if (!op) return ORD_ENOMEM;
    op->a = http_req_app(r);
    op->id = http_req_param(r, "id");
    return api_submit(r, cancel_unit, cancel_reply, op);
}
