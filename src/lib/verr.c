/* verr.c - see verr.h. */
#include "lib/verr.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "lib/str.h"
#include "lib/utf8.h"

static void add(json_t *errors, char *field, char *msg)
{
    json_t *e = json_pack("{s:s,s:s}", "field", utf8_scrub(field), "message", utf8_scrub(msg));
    if (!e || json_array_append_new(errors, e)) json_array_append_new(errors, json_true());
}

void verr_add(json_t *errors, const char *field, const char *fmt, ...)
{
    char f[VERR_FIELD_MAX], msg[VERR_MESSAGE_MAX];
    va_list ap;
    str_copy(f, sizeof f, field);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    add(errors, f, msg);
}

void verr_reject_unknown(json_t *errors, const json_t *obj, const char *prefix, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = !strcmp(*a, k);
        if (ok) continue;
        char f[VERR_FIELD_MAX], msg[] = "unknown field";
        snprintf(f, sizeof f, "%s%s", prefix, k);
        add(errors, f, msg);
    }
}

size_t verr_count(const json_t *errors)
{
    return json_array_size(errors);
}
