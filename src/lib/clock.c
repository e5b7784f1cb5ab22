/* clock.c - time helpers; see clock.h. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "lib/clock.h"
#include "lib/err.h"

static _Atomic int64_t clock_offset;

void clock_set_offset_ms(int64_t offset_ms)
{
    atomic_store(&clock_offset, offset_ms);
}

int64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load(&clock_offset);
}

int64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_mono_ms(void)
{
    return clock_mono_us() / 1000;
}

struct timespec clock_mono_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms < 0) ms = 0;
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

static char *fmt_iso_tm(int64_t ms, int with_ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    if (with_ms)
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    else
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

/* The text of the last second formatted, per thread: every event's envelope
 * is stamped (four an order), and gmtime_r with snprintf costs about a
 * microsecond where a copy of the second's text costs a few nanoseconds. */
#define ISO_SECOND_LEN 19 /* 2024-02-29T12:30:05 */
static _Thread_local struct {
    int64_t s;
    char text[ISO_SECOND_LEN + 1];
} iso_second = {INT64_MIN, ""};

char *clock_fmt_iso(int64_t ms, int with_ms, char *buf, size_t len)
{
    int64_t s = ms / 1000;
    if (ms < 0) return fmt_iso_tm(ms, with_ms, buf, len);
    if (s != iso_second.s) {
        char t[64];
        if (strlen(fmt_iso_tm(s * 1000, 0, t, sizeof t)) != ISO_SECOND_LEN + 1) /* a year past 9999 */
            return fmt_iso_tm(ms, with_ms, buf, len);
        memcpy(iso_second.text, t, ISO_SECOND_LEN);
        iso_second.s = s;
    }
    char out[ISO_SECOND_LEN + 6]; /* .mmmZ NUL */
    size_t n = ISO_SECOND_LEN;
    memcpy(out, iso_second.text, n);
    if (with_ms) {
        int f = (int)(ms % 1000);
        out[n++] = '.';
        out[n++] = (char)('0' + f / 100);
        out[n++] = (char)('0' + f / 10 % 10);
        out[n++] = (char)('0' + f % 10);
    }
    out[n++] = 'Z';
    if (len) { /* as snprintf: cut to fit, always terminated */
        size_t k = n < len ? n : len - 1;
        memcpy(buf, out, k);
        buf[k] = 0;
    }
    return buf;
}

int clock_parse_iso(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return ORD_EINVAL;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || h > 23 || mi > 59 || sec > 60) return ORD_EINVAL;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap)) return ORD_EINVAL;
    const char *p = s + n;
    int frac = 0, digits = 0;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) frac = frac * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (!digits) return ORD_EINVAL;
        while (digits < 3) frac *= 10, digits++;
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5) return ORD_EINVAL;
        off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return ORD_EINVAL;
    }
    if (*p) return ORD_EINVAL;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - (int64_t)off * 60) * 1000 + frac;
    return 0;
}
