/* log.c - see log.h.  Lines are built in a bounded stack buffer; a value that
 * does not fit is cut and the line stays valid JSON. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "lib/clock.h"
#include "lib/str.h"
#include "obs/log.h"

#define LOG_LINE_MAX 4096

static char log_env[64] = "";
static log_level log_min = LOG_INFO;
static const char *const log_names[] = {"debug", "info", "warn", "error", "off"};

void log_setup(const char *env, log_level min)
{
    str_copy(log_env, sizeof log_env, env ? env : "");
    log_min = min;
}

int log_level_parse(const char *s)
{
    for (int i = 0; i <= LOG_OFF; i++)
        if (strcmp(s, log_names[i]) == 0) return i;
    return -1;
}

int log_enabled(log_level lvl)
{
    return lvl >= log_min && lvl < LOG_OFF;
}

struct line {
    char b[LOG_LINE_MAX];
    size_t n;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (l->n + n > LOG_LINE_MAX - 3) n = LOG_LINE_MAX - 3 - l->n;
    memcpy(l->b + l->n, s, n);
    l->n += n;
}

static void put_str(struct line *l, const char *s)
{
    char tmp[8];
    put(l, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p && l->n < LOG_LINE_MAX - 16; p++) {
        switch (*p) {
        case '"': put(l, "\\\"", 2); break;
        case '\\': put(l, "\\\\", 2); break;
        case '\n': put(l, "\\n", 2); break;
        case '\r': put(l, "\\r", 2); break;
        case '\t': put(l, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(tmp, sizeof tmp, "\\u%04x", *p);
                put(l, tmp, 6);
            } else {
                put(l, (const char *)p, 1);
            }
        }
    }
    put(l, "\"", 1);
}

static void put_key(struct line *l, const char *k)
{
    put(l, ",", 1);
    put_str(l, k);
    put(l, ":", 1);
}

void log_emit(log_level lvl, const char *component, const char *msg, ...)
{
    if (!log_enabled(lvl)) return;
    struct line l;
    char ts[40], num[32];
    l.n = 0;
    put(&l, "{\"ts\":", 6);
    put_str(&l, clock_fmt_iso(clock_wall_ms(), 1, ts, sizeof ts));
    put_key(&l, "level");
    put_str(&l, log_names[lvl]);
    put_key(&l, "msg");
    put_str(&l, msg);
    put_key(&l, "env");
    put_str(&l, log_env);
    put_key(&l, "component");
    put_str(&l, component);
    va_list ap;
    va_start(ap, msg);
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        if (k[0] == '#') {
            int64_t v = va_arg(ap, int64_t);
            put_key(&l, k + 1);
            int n = snprintf(num, sizeof num, "%lld", (long long)v);
            put(&l, num, (size_t)n);
        } else {
            const char *v = va_arg(ap, const char *);
            put_key(&l, k);
            if (v)
                put_str(&l, v);
            else
                put(&l, "null", 4);
        }
    }
    va_end(ap);
    l.b[l.n++] = '}';
    l.b[l.n++] = '\n';
    ssize_t w = write(2, l.b, l.n);
    (void)w;
}
