/* test_log.c - structured logs: one JSON object per line, level filter,
 * correlation fields, escaping; and the error table. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "lib/err.h"
#include "obs/log.h"

/* Runs fn with stderr redirected into a buffer; returns the captured text. */
static char captured[8192];
static const char *capture(void (*fn)(void))
{
    int p[2];
    cr_assert_eq(pipe(p), 0);
    int saved = dup(2);
    dup2(p[1], 2);
    fn();
    dup2(saved, 2);
    close(saved);
    close(p[1]);
    ssize_t n = read(p[0], captured, sizeof captured - 1);
    close(p[0]);
    captured[n > 0 ? n : 0] = 0;
    return captured;
}

static void emit_some(void)
{
    log_setup("dev", LOG_INFO);
    log_debug("test", "hidden", NULL);
    log_info("queue", "moved \"x\"\n", "queue", "dev-orders", "#receiveCount", (int64_t)6, "orderId", NULL, NULL);
    log_error("http", "boom", "requestId", "r-1", NULL);
}

Test(log, json_lines_with_level_filter_and_fields)
{
    const char *out = capture(emit_some);
    char *copy = strdup(out), *save = NULL;
    int lines = 0;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *o = json_loads(l, 0, &e);
        cr_assert_not_null(o, "line %d is not JSON: %s (%s)", lines + 1, l, e.text);
        cr_expect(json_is_string(json_object_get(o, "ts")));
        cr_expect_str_eq(json_string_value(json_object_get(o, "env")), "dev");
        if (lines == 0) {
            cr_expect_str_eq(json_string_value(json_object_get(o, "level")), "info");
            cr_expect_str_eq(json_string_value(json_object_get(o, "msg")), "moved \"x\"\n");
            cr_expect_str_eq(json_string_value(json_object_get(o, "component")), "queue");
            cr_expect_str_eq(json_string_value(json_object_get(o, "queue")), "dev-orders");
            cr_expect_eq(json_integer_value(json_object_get(o, "receiveCount")), 6);
            cr_expect(json_is_null(json_object_get(o, "orderId")));
        } else {
            cr_expect_str_eq(json_string_value(json_object_get(o, "level")), "error");
            cr_expect_str_eq(json_string_value(json_object_get(o, "requestId")), "r-1");
        }
        json_decref(o);
        lines++;
    }
    free(copy);
    cr_expect_eq(lines, 2, "debug filtered out: %d lines in\n%s", lines, out);
}

Test(log, level_parse)
{
    cr_expect_eq(log_level_parse("warn"), LOG_WARN);
    cr_expect_eq(log_level_parse("loud"), -1);
}

Test(err, table_lookups)
{
    cr_expect_str_eq(err_name(ORD_ENOTFOUND), "ORD_ENOTFOUND");
    cr_expect_str_eq(err_name(12345), "ORD_EUNKNOWN");
    for (int c = ORD__BASE + 1; c < ORD__END; c++) cr_expect(strlen(err_msg(c)) > 0);
}
