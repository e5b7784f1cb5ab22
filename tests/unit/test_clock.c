/* test_clock.c - RFC 3339 parsing and formatting. */
#include <criterion/criterion.h>
#include "lib/clock.h"
#include "lib/err.h"

Test(clock, parse_and_format)
{
    int64_t ms;
    char buf[40];
    cr_assert_eq(clock_parse_iso("1970-01-01T00:00:00Z", &ms), 0);
    cr_expect_eq(ms, 0);
    cr_assert_eq(clock_parse_iso("2024-02-29T12:30:05.250Z", &ms), 0, "a leap day");
    cr_expect_str_eq(clock_fmt_iso(ms, 1, buf, sizeof buf), "2024-02-29T12:30:05.250Z");
    cr_assert_eq(clock_parse_iso("2024-02-29T14:30:05.250+02:00", &ms), 0);
    cr_expect_str_eq(clock_fmt_iso(ms, 0, buf, sizeof buf), "2024-02-29T12:30:05Z");
}

Test(clock, rejects_impossible_dates)
{
    int64_t ms;
    const char *bad[] = {"2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
                         "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00",
                         "2024-01-01 00:00:00Z", "2024-01-01T00:00:00.Z", "garbage"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(clock_parse_iso(bad[i], &ms), ORD_EINVAL, "accepted %s", bad[i]);
}
