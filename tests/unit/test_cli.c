/* test_cli.c - the command line's client pieces that need no server: option
 * parsing, path escaping, the latency histogram, the order mix. */
#include "cli/client.h"
#include "cli/load.h"
#include "cli/orderload.h"
#include "cmd/cmd.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const cli_flag flags[] = {
    {"max", "N", "a number"},
    {"to", "QUEUE", "a name"},
    {"dry", NULL, "a switch"},
    {0, 0, 0},
};
static const cli_spec spec = {"t QUEUE [--max N]", "test", 1, 2, flags};

static int parse(cli *c, int argc, const char **argv)
{
    int rc = cli_init(c, &spec, "t", argc, (char **)argv);
    if (!rc) cli_release(c);
    return rc;
}

Test(cli, options_anywhere_and_url_precedence)
{
    cli c;
    unsetenv("ORDERLY_URL");
    const char *a[] = {"t", "--max", "5", "q1", "--to=q2", "--dry", "q3", "--url", "http://h:1///"};
    cr_assert_eq(parse(&c, 9, a), 0);
    cr_expect_str_eq(cli_opt(&c, "max"), "5");
    cr_expect_str_eq(cli_opt(&c, "to"), "q2");
    cr_expect_str_eq(cli_opt(&c, "dry"), "");
    cr_expect_eq(c.npos, 2);
    cr_expect_str_eq(c.pos[0], "q1");
    cr_expect_str_eq(c.pos[1], "q3");
    cr_expect_str_eq(c.url, "http://h:1", "trailing slashes dropped");
    long long n;
    cr_expect_eq(cli_opt_int(&c, "max", 1, 10, 0, &n), 0);
    cr_expect_eq(n, 5);
    cr_expect_eq(cli_opt_int(&c, "max", 6, 10, 0, &n), CMD_USAGE, "out of range");

    const char *b[] = {"t", "q"};
    setenv("ORDERLY_URL", "https://env:2", 1);
    cr_assert_eq(parse(&c, 2, b), 0);
    cr_expect_str_eq(c.url, "https://env:2", "ORDERLY_URL");
    cr_expect_null(cli_opt(&c, "max"));
    cr_expect_eq(c.timeout_ms, LIMIT_CLI_TIMEOUT_S_DEFAULT * 1000);
    unsetenv("ORDERLY_URL");
    cr_assert_eq(parse(&c, 2, b), 0);
    cr_expect_str_eq(c.url, CLI_URL_DEFAULT);
}

Test(cli, usage_errors)
{
    cli c;
    const char *none[] = {"t"}, *many[] = {"t", "a", "b", "c"}, *unknown[] = {"t", "q", "--nope"},
               *noval[] = {"t", "q", "--max"}, *badurl[] = {"t", "q", "--url", "ftp://x"},
               *badtime[] = {"t", "q", "--timeout", "-1"}, *help[] = {"t", "--max", "1", "--help"};
    cr_expect_eq(parse(&c, 1, none), CMD_USAGE, "missing positional");
    cr_expect_eq(parse(&c, 4, many), CMD_USAGE, "too many positionals");
    cr_expect_eq(parse(&c, 3, unknown), CMD_USAGE);
    cr_expect_eq(parse(&c, 3, noval), CMD_USAGE);
    cr_expect_eq(parse(&c, 4, badurl), CMD_USAGE);
    cr_expect_eq(parse(&c, 4, badtime), CMD_USAGE);
    cr_expect_eq(parse(&c, 4, help), CLI_HELP, "--help wins, even without the positional");
}

Test(cli, durations_and_numbers)
{
    cli c;
    double d;
    const char *vals[] = {"3", "3s", "500ms", "2m", "1h", "0.25"};
    const double want[] = {3, 3, 0.5, 120, 3600, 0.25};
    for (int i = 0; i < 6; i++) {
        const char *a[] = {"t", "q", "--max", vals[i]};
        cr_assert_eq(cli_init(&c, &spec, "t", 4, (char **)a), 0);
        cr_expect_eq(cli_opt_seconds(&c, "max", 0.1, 7200, 1, &d), 0, "%s", vals[i]);
        cr_expect_float_eq(d, want[i], 1e-9, "%s -> %g", vals[i], d);
        cli_release(&c);
    }
    const char *bad[] = {"3x", "s", "", "1e999", "-1", "3 s"};
    for (int i = 0; i < 6; i++) {
        const char *a[] = {"t", "q", "--max", bad[i]};
        cr_assert_eq(cli_init(&c, &spec, "t", 4, (char **)a), 0);
        cr_expect_eq(cli_opt_seconds(&c, "max", 0.1, 7200, 1, &d), CMD_USAGE, "accepted \"%s\"",
                     bad[i]);
        cr_expect_eq(cli_opt_double(&c, "max", 0.1, 7200, 1, &d), CMD_USAGE, "accepted \"%s\"",
                     bad[i]);
        cli_release(&c);
    }
}

Test(cli, escape)
{
    char out[32];
    cr_expect_str_eq(cli_escape("dev-orders_1.x~:y", out, sizeof out), "dev-orders_1.x~:y");
    cr_expect_str_eq(cli_escape("a b/c?d%", out, sizeof out), "a%20b%2Fc%3Fd%25");
    cr_expect_str_eq(cli_escape("\xc3\xa9", out, sizeof out), "%C3%A9");
    cr_expect_null(cli_escape("0123456789", out, 10), "no room for the NUL");
    cr_expect_not_null(cli_escape("012345678", out, 10));
    cr_expect_null(cli_escape("a/", out, 3), "no room for %%2F");
}

Test(cli, histogram_percentiles)
{
    load_hist *h = calloc(1, sizeof *h);
    cr_expect_eq(load_hist_ms(h, 0.5), 0, "empty");
    for (int i = 1; i <= 1000; i++)
        load_hist_add(h, (int64_t)i * 1000); /* 1..1000 ms */
    cr_expect_eq(h->n, 1000);
    double p50 = load_hist_ms(h, 0.5), p99 = load_hist_ms(h, 0.99), p100 = load_hist_ms(h, 1.0);
    cr_expect(p50 >= 500 && p50 <= 500 * 1.021, "p50 %g", p50);
    cr_expect(p99 >= 990 && p99 <= 990 * 1.021, "p99 %g", p99);
    cr_expect_float_eq(p100, 1000, 1e-9, "the maximum, not its bucket's edge: %g", p100);
    load_hist_add(h, 0);
    load_hist_add(h, INT64_MAX); /* clamped into the last bucket */
    cr_expect_eq(h->n, 1002);
    cr_expect_float_eq(load_hist_ms(h, 0.0005), pow(1.02, 1) / 1000, 1e-12,
                       "0 us in the first bucket");
    free(h);
}

Test(cli, order_mix)
{
    cli c;
    const char *a[] = {"t", "q"};
    cr_assert_eq(cli_init(&c, &spec, "t", 2, (char **)a), 0);
    int w[OL_KINDS];
    cr_expect_eq(ol_mix_parse(&c, "valid=90,fail=2,declined=5,oos=3", w), 0);
    cr_expect_eq(w[OL_VALID], 90);
    cr_expect_eq(w[OL_FAIL], 2);
    cr_expect_eq(w[OL_DECLINED], 5);
    cr_expect_eq(w[OL_OOS], 3);
    cr_expect_eq(ol_mix_parse(&c, "oos=1", w), 0);
    cr_expect_eq(w[OL_VALID] + w[OL_FAIL] + w[OL_DECLINED], 0, "kinds left out weigh 0");
    const char *bad[] = {"",         "valid",   "valid=",        "valid=x",
                         "valid=-1", "other=1", "valid=0,oos=0", "valid=2000000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(ol_mix_parse(&c, bad[i], w), CMD_USAGE, "accepted \"%s\"", bad[i]);
    cli_release(&c);
}
