/* test_clock.c - RFC 3339 parsing and formatting. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
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

/* clock_fmt_iso keeps the last second's text per thread: against gmtime_r
 * and snprintf, over second, minute, day, leap-day and year boundaries,
 * back and forth between seconds (the kept text must follow), with and
 * without milliseconds, into buffers too small (cut as snprintf cuts), and
 * for times it does not keep (before 1970, past the year 9999). */
static void reference(int64_t ms, int with_ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    if (with_ms)
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    else
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

Test(clock, format_as_gmtime_gives_it)
{
    const int64_t base[] = {0, 951825599000LL /* 2000-02-29T11:59:59 */, 1709251199000LL /* 2024-02-29T23:59:59 */,
                            1735689599000LL /* 2024-12-31T23:59:59 */, 253402300799000LL /* 9999-12-31T23:59:59 */,
                            -1500, 253402300800000LL /* 10000-01-01 */};
    const int64_t step[] = {0, 1, 999, 1000, 1001, 59999, 60000, 86399999, -1000, 3600000};
    const size_t lens[] = {40, 25, 24, 21, 20, 5, 1};
    for (size_t b = 0; b < sizeof base / sizeof *base; b++)
        for (size_t k = 0; k < sizeof step / sizeof *step; k++)
            for (int with_ms = 0; with_ms < 2; with_ms++)
                for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
                    int64_t ms = base[b] + step[k];
                    char got[40], want[40];
                    memset(got, 'x', sizeof got);
                    reference(ms, with_ms, want, lens[l]);
                    cr_expect_str_eq(clock_fmt_iso(ms, with_ms, got, lens[l]), want, "%lld ms, with_ms %d, len %zu",
                                     (long long)ms, with_ms, lens[l]);
                    reference(base[b], 1, want, sizeof want); /* and back to the base's second */
                    cr_expect_str_eq(clock_fmt_iso(base[b], 1, got, sizeof got), want, "%lld ms", (long long)base[b]);
                }
}
