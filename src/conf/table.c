/* table.c - see table.h.  Values are validated completely before they are
 * stored, so a rejected value never leaves a half-written field. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "lib/count.h"
#include "lib/limits.h"
#include "conf/table.h"
#include "lib/check.h"
#include "lib/err.h"
#include "lib/str.h"
#include "obs/log.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};
#define LEVELS ((int)COUNT(level_names))

const char *conf_level_name(int level)
{
    return level >= 0 && level < LEVELS ? level_names[level] : "?";
}

int conf_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        for (char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    }
    return ORD_ECONFIG;
}

int conf_parse_ll(const char *s, long long *out)
{
    const char *p = s;
    if (*p == '-') p++;
    if (*p < '0' || *p > '9') return -1; /* no space or '+': strtoll would take them */
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int conf_parse_duration(const char *s, long long *out)
{
    if (!strcmp(s, "off")) {
        *out = 0;
        return 0;
    }
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > LIMIT_DURATION_DIGITS_MAX) return -1;
    const char *u = s + n;
    long long unit = !*u || !strcmp(u, "s") ? 1 : !strcmp(u, "m") ? 60 : !strcmp(u, "h") ? 3600 : 0;
    if (!unit) return -1;
    *out = strtoll(s, NULL, 10) * unit; /* at most 9 digits: no overflow */
    return 0;
}

char *conf_fmt_duration(long long v, char *buf, size_t len)
{
    if (v == 0)
        snprintf(buf, len, "off");
    else if (v % 3600 == 0)
        snprintf(buf, len, "%lldh", v / 3600);
    else if (v % 60 == 0)
        snprintf(buf, len, "%lldm", v / 60);
    else
        snprintf(buf, len, "%llds", v);
    return buf;
}

void conf_path_join(char *buf, size_t len, const char *prefix, const char *key)
{
    if (prefix && *prefix)
        snprintf(buf, len, "%s.%s", prefix, key);
    else
        str_copy(buf, len, key);
}

const conf_key *conf_key_find(const conf_key *t, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].path, path) == 0) return &t[i];
    return NULL;
}

static void *field(const conf_key *k, void *base)
{
    return (char *)base + k->offset;
}

static const void *cfield(const conf_key *k, const void *base)
{
    return (const char *)base + k->offset;
}

void conf_table_defaults(const conf_key *t, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++) {
        const conf_key *k = &t[i];
        void *p = field(k, base);
        switch (k->type) {
        case CONF_INT:
        case CONF_DURATION: *(int *)p = k->def; break;
        case CONF_BOOL: *(bool *)p = k->def != 0; break;
        case CONF_LEVEL: *(log_level *)p = (log_level)k->def; break;
        case CONF_STRING:
            CHECK(k->size > (size_t)k->max);
            if (!k->def_str || strstr(k->def_str, "<env>"))
                ((char *)p)[0] = 0;
            else
                str_copy(p, k->size, k->def_str);
            break;
        }
    }
}

int conf_table_expand(const conf_key *t, size_t n, void *base, const char *env, char *err,
                      size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const conf_key *k = &t[i];
        const char *at;
        if (k->type != CONF_STRING || !k->def_str || !(at = strstr(k->def_str, "<env>"))) continue;
        char *p = field(k, base);
        if (*p) continue;
        size_t need = (size_t)(at - k->def_str) + strlen(env) + strlen(at + 5);
        if (need > (size_t)k->max)
            return conf_errf(err, errlen, "\"%s\": the default \"%s\" is longer than %d bytes for "
                             "environment \"%s\"", k->path, k->def_str, k->max, env);
        snprintf(p, k->size, "%.*s%s%s", (int)(at - k->def_str), k->def_str, env, at + 5);
    }
    return 0;
}

/* ---- Messages ---------------------------------------------------------- */

static void expectation(const conf_key *k, char *buf, size_t len)
{
    switch (k->type) {
    case CONF_INT: snprintf(buf, len, "an integer in %d..%d", k->min, k->max); break;
    case CONF_DURATION:
        snprintf(buf, len, "a duration (N, Ns, Nm, Nh or off) of %d..%d seconds", k->min, k->max);
        break;
    case CONF_BOOL: snprintf(buf, len, "true or false"); break;
    case CONF_LEVEL: snprintf(buf, len, "one of debug, info, warn, error"); break;
    case CONF_STRING:
        snprintf(buf, len, "a string of %d..%d bytes%s%s", k->min, k->max,
                 k->syntax ? " matching " : "", k->syntax ? k->syntax : "");
        break;
    }
}

static void describe_text(const char *s, char *buf, size_t len)
{
    size_t n = strlen(s);
    if (n > 60)
        snprintf(buf, len, "\"%.60s...\" (%zu bytes)", s, n);
    else
        snprintf(buf, len, "\"%s\"", s);
}

static void describe_json(const json_t *v, char *buf, size_t len)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: snprintf(buf, len, "an object"); break;
    case JSON_ARRAY: snprintf(buf, len, "an array"); break;
    case JSON_STRING: describe_text(json_string_value(v), buf, len); break;
    case JSON_INTEGER: snprintf(buf, len, "%lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: snprintf(buf, len, "%g", json_real_value(v)); break;
    case JSON_TRUE: snprintf(buf, len, "true"); break;
    case JSON_FALSE: snprintf(buf, len, "false"); break;
    case JSON_NULL: snprintf(buf, len, "null"); break;
    }
}

static int reject(const conf_key *k, const char *path, const char *got, const char *source,
                  char *err, size_t errlen)
{
    char want[160];
    expectation(k, want, sizeof want);
    return conf_errf(err, errlen, "\"%s\" must be %s, got %s%s%s%s", path, want, got,
                     source ? " (from " : "", source ? source : "", source ? ")" : "");
}

/* ---- Storing checked values -------------------------------------------- */

static int set_int(const conf_key *k, long long v, const char *path, const char *got,
                   const char *source, void *base, char *err, size_t errlen)
{
    CHECK(k->type == CONF_INT || k->type == CONF_DURATION);
    if (v < k->min || v > k->max) return reject(k, path, got, source, err, errlen);
    *(int *)field(k, base) = (int)v;
    return 0;
}

static int set_text(const conf_key *k, const char *s, const char *path, const char *source,
                    void *base, char *err, size_t errlen)
{
    char got[96];
    describe_text(s, got, sizeof got);
    size_t n = strlen(s);
    switch (k->type) {
    case CONF_STRING:
        CHECK(k->size > (size_t)k->max);
        if (n < (size_t)k->min || n > (size_t)k->max || (k->valid && !k->valid(s)))
            return reject(k, path, got, source, err, errlen);
        memcpy(field(k, base), s, n + 1);
        return 0;
    case CONF_LEVEL:
        for (int i = 0; i < LEVELS; i++) {
            if (strcmp(s, level_names[i]) == 0) {
                *(log_level *)field(k, base) = (log_level)i;
                return 0;
            }
        }
        return reject(k, path, got, source, err, errlen);
    case CONF_BOOL:
        if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
            *(bool *)field(k, base) = s[0] == 't';
            return 0;
        }
        return reject(k, path, got, source, err, errlen);
    case CONF_INT: {
        long long v;
        if (conf_parse_ll(s, &v)) return reject(k, path, got, source, err, errlen);
        return set_int(k, v, path, got, source, base, err, errlen);
    }
    case CONF_DURATION: {
        long long v;
        if (conf_parse_duration(s, &v)) return reject(k, path, got, source, err, errlen);
        return set_int(k, v, path, got, source, base, err, errlen);
    }
    }
    return ORD_EINTERNAL;
}

int conf_key_from_string(const conf_key *k, const char *s, const char *path, const char *source,
                         void *base, char *err, size_t errlen)
{
    return set_text(k, s, path ? path : k->path, source, base, err, errlen);
}

int conf_key_from_json(const conf_key *k, const json_t *v, unsigned flags, const char *path,
                       void *base, char *err, size_t errlen)
{
    char got[96];
    describe_json(v, got, sizeof got);
    switch (k->type) {
    case CONF_INT:
        if (json_is_integer(v))
            return set_int(k, json_integer_value(v), path, got, NULL, base, err, errlen);
        if (json_is_string(v) && (flags & CONF_STRINGLY))
            return set_text(k, json_string_value(v), path, NULL, base, err, errlen);
        break;
    case CONF_DURATION:
        if (json_is_integer(v))
            return set_int(k, json_integer_value(v), path, got, NULL, base, err, errlen);
        if (json_is_string(v)) return set_text(k, json_string_value(v), path, NULL, base, err, errlen);
        break;
    case CONF_BOOL:
        if (json_is_boolean(v)) {
            *(bool *)field(k, base) = json_is_true(v);
            return 0;
        }
        if (json_is_string(v) && (flags & CONF_STRINGLY))
            return set_text(k, json_string_value(v), path, NULL, base, err, errlen);
        break;
    case CONF_STRING:
    case CONF_LEVEL:
        if (json_is_string(v)) return set_text(k, json_string_value(v), path, NULL, base, err, errlen);
        break;
    }
    return reject(k, path, got, NULL, err, errlen);
}

/* ---- Objects ----------------------------------------------------------- */

static bool has_children(const conf_key *t, size_t n, const char *rel)
{
    size_t len = strlen(rel);
    for (size_t i = 0; i < n; i++)
        if (strncmp(t[i].path, rel, len) == 0 && t[i].path[len] == '.') return true;
    return false;
}

static bool skipped(const char *const *skip, const char *key)
{
    for (; skip && *skip; skip++)
        if (strcmp(*skip, key) == 0) return true;
    return false;
}

static int apply(const conf_key *t, size_t n, const json_t *obj, const char *prefix,
                 const char *rel, unsigned flags, const char *const *skip, void *base, char *err,
                 size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        char full[CONF_PATH_MAX], relpath[CONF_PATH_MAX];
        conf_path_join(full, sizeof full, prefix, key);
        if (!*rel && skipped(skip, key)) continue;
        conf_path_join(relpath, sizeof relpath, rel, key);
        const conf_key *k = strchr(key, '.') ? NULL : conf_key_find(t, n, relpath);
        if (k) {
            int rc = conf_key_from_json(k, v, flags, full, base, err, errlen);
            if (rc) return rc;
        } else if (!strchr(key, '.') && has_children(t, n, relpath)) {
            if (!json_is_object(v)) {
                char got[96];
                describe_json(v, got, sizeof got);
                return conf_errf(err, errlen, "\"%s\" must be an object, got %s", full, got);
            }
            int rc = apply(t, n, v, full, relpath, flags, NULL, base, err, errlen);
            if (rc) return rc;
        } else {
            return conf_errf(err, errlen, "unknown key \"%s\"", full);
        }
    }
    return 0;
}

int conf_table_apply(const conf_key *t, size_t n, const json_t *obj, const char *prefix,
                     unsigned flags, const char *const *skip, void *base, char *err,
                     size_t errlen)
{
    CHECK(json_is_object(obj));
    return apply(t, n, obj, prefix ? prefix : "", "", flags, skip, base, err, errlen);
}

int conf_table_required(const conf_key *t, size_t n, const void *base, const char *prefix,
                        char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const conf_key *k = &t[i];
        if (k->type != CONF_STRING || k->def_str) continue;
        if (*(const char *)cfield(k, base)) continue;
        char full[CONF_PATH_MAX];
        conf_path_join(full, sizeof full, prefix, k->path);
        return conf_errf(err, errlen, "missing required key \"%s\"", full);
    }
    return 0;
}

/* ---- Output ------------------------------------------------------------ */

static json_t *value_json(const conf_key *k, const void *base)
{
    const void *p = cfield(k, base);
    switch (k->type) {
    case CONF_INT: return json_integer(*(const int *)p);
    case CONF_DURATION: {
        char b[32];
        return json_string(conf_fmt_duration(*(const int *)p, b, sizeof b));
    }
    case CONF_BOOL: return json_boolean(*(const bool *)p);
    case CONF_LEVEL: return json_string(conf_level_name((int)*(const log_level *)p));
    case CONF_STRING: return json_string((const char *)p);
    }
    return NULL;
}

int conf_table_to_json(const conf_key *t, size_t n, const void *base, json_t *obj)
{
    for (size_t i = 0; i < n; i++) {
        const conf_key *k = &t[i];
        json_t *at = obj;
        const char *s = k->path, *dot;
        while ((dot = strchr(s, '.'))) {
            char part[CONF_PATH_MAX];
            snprintf(part, sizeof part, "%.*s", (int)(dot - s), s);
            json_t *next = json_object_get(at, part);
            if (!next) {
                next = json_object();
                if (!next || json_object_set_new(at, part, next)) return ORD_ENOMEM;
            }
            at = next;
            s = dot + 1;
        }
        json_t *v = value_json(k, base);
        if (!v || json_object_set_new(at, s, v)) return ORD_ENOMEM;
    }
    return 0;
}

void conf_table_print(const conf_key *t, size_t n, const char *prefix, FILE *out)
{
    for (size_t i = 0; i < n; i++) {
        const conf_key *k = &t[i];
        char what[160], def[80];
        switch (k->type) {
        case CONF_INT:
            snprintf(what, sizeof what, "int %d..%d", k->min, k->max);
            if (k->def < k->min || k->def > k->max)
                snprintf(def, sizeof def, "no default");
            else
                snprintf(def, sizeof def, "default %d", k->def);
            break;
        case CONF_DURATION: {
            char d[32];
            snprintf(what, sizeof what, "duration %d..%d s: N, Ns, Nm, Nh or off", k->min, k->max);
            snprintf(def, sizeof def, "default %s", conf_fmt_duration(k->def, d, sizeof d));
            break;
        }
        case CONF_BOOL:
            snprintf(what, sizeof what, "bool");
            snprintf(def, sizeof def, "default %s", k->def ? "true" : "false");
            break;
        case CONF_LEVEL:
            snprintf(what, sizeof what, "debug|info|warn|error");
            snprintf(def, sizeof def, "default %s", conf_level_name(k->def));
            break;
        case CONF_STRING:
            snprintf(what, sizeof what, "string of %d..%d bytes%s%s", k->min, k->max,
                     k->syntax ? " matching " : "", k->syntax ? k->syntax : "");
            if (k->def_str)
                snprintf(def, sizeof def, "default \"%s\"", k->def_str);
            else
                snprintf(def, sizeof def, "required");
            break;
        }
        fprintf(out, "  %s%s  (%s, %s%s%s%s%s)\n      %s\n", prefix ? prefix : "", k->path, what, def,
                k->env ? "; " : "", k->env ? k->env : "", k->flag ? (k->env ? ", --" : "; --") : "",
                k->flag ? k->flag : "", k->help);
    }
}
