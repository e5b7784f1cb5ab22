/* orders.c - `orderly orders get|list|cancel`: orders of a running server,
 * over HTTP (GET /api/orders/{id}, GET /api/orders, DELETE /api/orders/{id}). */
#include "cli/client.h"
#include "cmd/cmd.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "/api/orders/<escaped id><suffix>" or NULL when it does not fit. */
static char *order_path(const char *id, char *out, size_t n)
{
    char esc[LIMIT_CLI_URL_MAX / 2];
    if (!cli_escape(id, esc, sizeof esc)) return NULL;
    snprintf(out, n, "/api/orders/%s", esc);
    return out;
}

static const cli_spec get_spec = {
    "orders get ID [--url URL]",
    "Prints the order (items, totals, status, reason, timestamps) as JSON.", 1, 1, NULL};

/* METHOD /api/orders/{ID}: 0 with the order in *r, or the exit code after
 * saying why (usage, unknown order, the server's problem). */
static int order_call(cli *c, const char *method, json_t **r)
{
    char path[LIMIT_CLI_URL_MAX];
    if (!order_path(c->pos[0], path, sizeof path)) return cli_usage_error(c, "ID is too long");
    long status;
    int rc = cli_http(c, method, path, NULL, 0, &status, r);
    if (rc) return rc;
    if (status == 200) return 0;
    if (status == 404)
        fprintf(stderr, "orderly: no order '%s'\n", c->pos[0]);
    else
        cli_print_problem(status, *r);
    return CMD_FAIL;
}

static int orders_get(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &get_spec, "orders get", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    json_t *r = NULL;
    if (!(rc = order_call(&c, "GET", &r))) {
        char *text = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text ? text : "{}");
        free(text);
    }
    json_decref(r);
    cli_release(&c);
    return rc;
}

static const cli_flag list_flags[] = {
    {"status", "S", "only orders in status S (PENDING, RESERVED, COMPLETED, REJECTED, ...)"},
    {"customer", "C", "only orders of customer C"},
    {"limit", "N", "at most N orders (default 20)"},
    {0, 0, 0},
};

static const cli_spec list_spec = {
    "orders list [--status S] [--customer C] [--limit N] [--url URL]",
    "Lists orders, newest first, one line each.", 0, 0, list_flags};

static void add_row(void *arg, const json_t *o)
{
    cli_table *t = arg;
    char units[24], total[32];
    long long cents = json_integer_value(json_object_get(o, "totalCents"));
    snprintf(units, sizeof units, "%lld",
             (long long)json_integer_value(json_object_get(o, "units")));
    snprintf(total, sizeof total, "%lld.%02lld", cents / 100, cents % 100);
    const char *row[] = {json_string_value(json_object_get(o, "orderId")),
                         json_string_value(json_object_get(o, "status")),
                         json_string_value(json_object_get(o, "reason")),
                         json_string_value(json_object_get(o, "customerId")),
                         units,
                         total,
                         json_string_value(json_object_get(o, "createdAt"))};
    cli_table_add(t, row);
}

static int orders_list(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &list_spec, "orders list", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    long long limit;
    if ((rc = cli_opt_int(&c, "limit", 1, LIMIT_CLI_LIST_MAX, 20, &limit))) goto out;
    char filter[LIMIT_CLI_URL_MAX / 2] = "";
    if ((rc = cli_query_add(&c, filter, sizeof filter, "status", cli_opt(&c, "status"))) ||
        (rc = cli_query_add(&c, filter, sizeof filter, "customerId", cli_opt(&c, "customer"))))
        goto out;
    static const char *const head[] = {"ORDER ID", "STATUS", "REASON", "CUSTOMER",
                                       "UNITS",    "TOTAL",  "CREATED"};
    cli_table t;
    cli_table_init(&t, 7, 0x30, head);
    rc = cli_orders_each(&c, filter, limit, add_row, &t);
    int n = t.nrows - 1;
    if (!rc) {
        if (n)
            cli_table_print(&t, stdout);
        else
            printf("no orders\n");
    }
    cli_table_release(&t);
out:
    cli_release(&c);
    return rc;
}

static const cli_spec cancel_spec = {
    "orders cancel ID [--url URL]",
    "Cancels a PENDING or RESERVED order (its reservation is released).  Fails (exit 1) when the\n"
    "order does not exist or is already terminal.",
    1, 1, NULL};

static int orders_cancel(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &cancel_spec, "orders cancel", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    json_t *r = NULL;
    if (!(rc = order_call(&c, "DELETE", &r))) {
        const char *st = json_string_value(json_object_get(r, "status"));
        printf("order %s %s\n", c.pos[0], st ? st : "CANCELLED");
    }
    json_decref(r);
    cli_release(&c);
    return rc;
}

int cmd_orders(int argc, char **argv)
{
    static const cmd_def sub[] = {
        {"get", orders_get, "print one order as JSON"},
        {"list", orders_list, "list orders, newest first"},
        {"cancel", orders_cancel, "cancel a pending or reserved order"},
        {0, 0, 0},
    };
    return cmd_group("orders", sub, argc, argv);
}
