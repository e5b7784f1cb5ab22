/* client.c - HTTP to a running orderly over libcurl, and the options and
 * usage text every client command shares (see client.h). */
#include "cli/client.h"
#include "cli/token.h"
#include "lib/exitcode.h"
#include "lib/count.h"
#include "lib/check.h"
#include "lib/str.h"
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

/* ---- options ---------------------------------------------------------------- */

enum { OPT_HELP = 'h', OPT_URL = 256, OPT_TIMEOUT, OPT_OWN = 512 };

static const cli_flag common_flags[] = {
    {"url", "URL", "the server (default $ORDERLY_URL, else " CLI_URL_DEFAULT ")"},
    {"timeout", "SECONDS", "give up on a request after this long (default 30)"},
    {"help", NULL, "print this help"},
    {0, 0, 0},
};

static void print_flags(const cli_flag *f)
{
    for (; f && f->name; f++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", f->name, f->arg ? " " : "", f->arg ? f->arg : "");
        printf("  %-22s %s\n", left, f->help);
    }
}

static void usage(const cli_spec *s)
{
    printf("usage: orderly %s\n\n%s\n", s->usage, s->about);
    if (s->flags && s->flags->name) {
        printf("\noptions:\n");
        print_flags(s->flags);
    }
    printf("\ncommon options:\n");
    print_flags(common_flags);
    printf("\nexit status: 0 ok, 1 failure (server unreachable or an error answer), 2 usage\n");
}

int cli_usage_error(const cli *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "orderly %s: %s (see 'orderly %s --help')\n", c->cmd, msg, c->cmd);
    return CMD_USAGE;
}

static int set_url(cli *c, const char *u)
{
    size_t n = strlen(u);
    if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8))
        return cli_usage_error(c, "--url must start with http:// or https://: \"%s\"", u);
    while (n > 0 && u[n - 1] == '/')
        n--;
    if (n > LIMIT_CLI_URL_MAX - 128)
        return cli_usage_error(c, "--url is longer than %d characters", LIMIT_CLI_URL_MAX - 128);
    memcpy(c->url, u, n);
    c->url[n] = 0;
    return 0;
}

int cli_init(cli *c, const cli_spec *spec, const char *cmd, int argc, char **argv)
{
    CHECK(argc >= 1);
    CHECK(spec->pos_max <= LIMIT_CLI_POSITIONAL_MAX);
    memset(c, 0, sizeof *c);
    c->spec = spec;
    str_copy(c->cmd, sizeof c->cmd, cmd);
    c->timeout_ms = LIMIT_CLI_TIMEOUT_S_DEFAULT * 1000;
    struct option opts[LIMIT_CLI_FLAGS_MAX + 4];
    int n = 0;
    for (const cli_flag *f = spec->flags; f && f->name; f++, n++) {
        CHECK(n < LIMIT_CLI_FLAGS_MAX);
        opts[n] =
            (struct option){f->name, f->arg ? required_argument : no_argument, NULL, OPT_OWN + n};
    }
    opts[n] = (struct option){"url", required_argument, NULL, OPT_URL};
    opts[n + 1] = (struct option){"timeout", required_argument, NULL, OPT_TIMEOUT};
    opts[n + 2] = (struct option){"help", no_argument, NULL, OPT_HELP};
    opts[n + 3] = (struct option){NULL, 0, NULL, 0};
    const char *url = getenv("ORDERLY_URL"), *timeout = NULL;
    if (!url || !*url) url = CLI_URL_DEFAULT;
    int o;
    optind = 0; /* glibc: full reinitialisation */
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (o == OPT_HELP) {
            usage(spec);
            return CLI_HELP;
        } else if (o == OPT_URL) {
            url = optarg;
        } else if (o == OPT_TIMEOUT) {
            timeout = optarg;
        } else if (o >= OPT_OWN && o < OPT_OWN + n) {
            c->vals[o - OPT_OWN] = optarg ? optarg : "";
        } else if (o == ':') {
            return cli_usage_error(c, "option %s needs a value", argv[optind - 1]);
        } else {
            return cli_usage_error(c, "unknown option %s", argv[optind - 1]);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (c->npos == spec->pos_max)
            return cli_usage_error(c, "unexpected argument \"%s\"", argv[i]);
        c->pos[c->npos++] = argv[i];
    }
    if (c->npos < spec->pos_min) return cli_usage_error(c, "missing argument");
    int rc = set_url(c, url);
    if (rc) return rc;
    if (timeout) {
        char *end;
        errno = 0;
        double t = strtod(timeout, &end);
        if (end == timeout || *end || errno || !(t > 0) || t > LIMIT_CLI_TIMEOUT_S_MAX)
            return cli_usage_error(c, "--timeout must be seconds in (0, %d]: \"%s\"",
                                   LIMIT_CLI_TIMEOUT_S_MAX, timeout);
        c->timeout_ms = (int)ceil(t * 1000);
        c->timeout_set = 1;
    }
    c->h = curl_easy_init();
    c->hdrs = cli_headers();
    if (!c->h || !c->hdrs) {
        fprintf(stderr, "orderly: cannot initialise libcurl\n");
        cli_release(c);
        return CMD_FAIL;
    }
    return 0;
}

void cli_release(cli *c)
{
    if (c->h) curl_easy_cleanup(c->h);
    curl_slist_free_all(c->hdrs);
    c->h = NULL;
    c->hdrs = NULL;
}

static int flag_index(const cli *c, const char *name)
{
    int i = 0;
    for (const cli_flag *f = c->spec->flags; f && f->name; f++, i++)
        if (!strcmp(f->name, name)) return i;
    CHECK(!"flag not in the command's table");
    return -1;
}

const char *cli_opt(const cli *c, const char *name)
{
    return c->vals[flag_index(c, name)];
}

int cli_opt_int(const cli *c, const char *name, long long lo, long long hi, long long def,
                long long *out)
{
    const char *v = cli_opt(c, name);
    *out = def;
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi)
        return cli_usage_error(c, "--%s must be an integer from %lld to %lld: \"%s\"", name, lo, hi,
                               v);
    *out = x;
    return 0;
}

/* --name as a number with an optional unit suffix: units lists {suffix,
 * factor} ending with {NULL}; "" is the bare number. */
typedef struct unit {
    const char *suffix;
    double factor;
} unit;

static int opt_number(const cli *c, const char *name, const unit *units, double lo, double hi,
                      double def, double *out, const char *what)
{
    const char *v = cli_opt(c, name);
    *out = def;
    if (!v) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    int ok = end != v && !errno && isfinite(x);
    if (ok) {
        const unit *u = units;
        while (u->suffix && strcmp(u->suffix, end))
            u++;
        ok = u->suffix != NULL;
        if (ok) x *= u->factor;
    }
    if (!ok || x < lo || x > hi)
        return cli_usage_error(c, "--%s must be %s from %g to %g: \"%s\"", name, what, lo, hi, v);
    *out = x;
    return 0;
}

int cli_opt_double(const cli *c, const char *name, double lo, double hi, double def, double *out)
{
    static const unit bare[] = {{"", 1}, {NULL, 0}};
    return opt_number(c, name, bare, lo, hi, def, out, "a number");
}

int cli_opt_seconds(const cli *c, const char *name, double lo, double hi, double def, double *out)
{
    static const unit dur[] = {{"", 1}, {"s", 1}, {"ms", 0.001}, {"m", 60}, {"h", 3600}, {NULL, 0}};
    return opt_number(c, name, dur, lo, hi, def, out, "a duration in seconds (3, 3s, 500ms, 2m)");
}

/* ---- requests ----------------------------------------------------------------- */

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
    cli_buf *b = arg;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->max) {
        b->overflow = 1;
        return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > b->max) cap = b->max;
        char *q = realloc(b->p, cap);
        if (!q) return 0;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
    return n;
}

struct curl_slist *cli_headers(void)
{
    static char auth[CLI_TOKEN_MAX + 32];
    const char *h[] = {"Content-Type: application/json", "Accept: application/json", "Expect:",
                       ("User-Agent: orderly-cli/" ORDERLY_VERSION), NULL};
    char tok[CLI_TOKEN_MAX + 1];
    if (!cli_token_get(tok, NULL)) { /* ORDERLY_TOKEN, or what `orderly login` saved */
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
        h[4] = auth;
    }
    struct curl_slist *l = NULL;
    for (size_t i = 0; i < COUNT(h) && h[i]; i++) {
        struct curl_slist *n = curl_slist_append(l, h[i]);
        if (!n) {
            curl_slist_free_all(l);
            return NULL;
        }
        l = n;
    }
    return l;
}

/* An expired saved access token: renewed with the saved refresh token
 * (which rotates), saved again.  0 when renewed. */
static int renew(cli *c)
{
    char access[CLI_TOKEN_MAX + 1], refresh[CLI_TOKEN_MAX + 1];
    const char *env = getenv("ORDERLY_TOKEN");
    if ((env && *env) || cli_token_get(access, refresh) || !refresh[0]) return -1;
    json_t *body = json_pack("{s:s}", "refreshToken", refresh), *reply = NULL;
    long status = 0;
    int rc = body ? cli_http_once(c, "POST", "/api/refresh", body, 0, &status, &reply) : -1;
    json_decref(body);
    const char *a = json_string_value(json_object_get(reply, "accessToken"));
    const char *r = json_string_value(json_object_get(reply, "refreshToken"));
    rc = !rc && status == 200 && a && r ? cli_token_save(c->url, a, r) : -1;
    json_decref(reply);
    if (rc) return -1;
    curl_slist_free_all(c->hdrs);
    c->hdrs = cli_headers();
    return c->hdrs ? 0 : -1;
}

int cli_easy_prepare(CURL *h, const char *base, const char *method, const char *path,
                     const char *body, size_t body_len, struct curl_slist *hdrs, cli_buf *buf,
                     int timeout_ms)
{
    char url[LIMIT_CLI_URL_MAX + 1];
    if ((size_t)snprintf(url, sizeof url, "%s%s", base, path) >= sizeof url) return CMD_FAIL;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, buf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (strcmp(method, body ? "POST" : "GET")) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    buf->len = 0;
    buf->overflow = 0;
    if (buf->p) buf->p[0] = 0;
    return 0;
}

const char *cli_easy_error(CURL *h, CURLcode code, char *buf, size_t n)
{
    long os = 0;
    if (code == CURLE_OPERATION_TIMEDOUT) {
        snprintf(buf, n, "no answer in time (--timeout)");
    } else if (curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os) == CURLE_OK && os) {
        str_copy(buf, n, strerror((int)os));
    } else {
        str_copy(buf, n, curl_easy_strerror(code));
    }
    return buf;
}

int cli_http(cli *c, const char *method, const char *path, const json_t *body, int timeout_ms,
             long *status, json_t **reply)
{
    int rc = cli_http_once(c, method, path, body, timeout_ms, status, reply);
    if (rc || *status != 401 || !strcmp(path, "/api/refresh") || !strcmp(path, "/api/login") || renew(c)) return rc;
    json_decref(*reply);
    return cli_http_once(c, method, path, body, timeout_ms, status, reply);
}

int cli_http_once(cli *c, const char *method, const char *path, const json_t *body, int timeout_ms,
                  long *status, json_t **reply)
{
    *status = 0;
    *reply = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cli_buf buf = {.max = LIMIT_CLI_REPLY_BYTES_MAX};
    int rc = CMD_FAIL;
    if (body && !text) {
        fprintf(stderr, "orderly: out of memory\n");
        goto out;
    }
    if (cli_easy_prepare(c->h, c->url, method, path, text, text ? strlen(text) : 0, c->hdrs, &buf,
                         timeout_ms ? timeout_ms : c->timeout_ms)) {
        fprintf(stderr, "orderly: request URL longer than %d characters\n", LIMIT_CLI_URL_MAX);
        goto out;
    }
    CURLcode cc = curl_easy_perform(c->h);
    if (cc != CURLE_OK) {
        char why[256];
        if (buf.overflow)
            snprintf(why, sizeof why, "reply larger than %d bytes", LIMIT_CLI_REPLY_BYTES_MAX);
        else
            cli_easy_error(c->h, cc, why, sizeof why);
        fprintf(stderr, "orderly: cannot reach %s: %s\n", c->url, why);
        goto out;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, status);
    const char *ctype = NULL;
    curl_easy_getinfo(c->h, CURLINFO_CONTENT_TYPE, &ctype);
    if (buf.len && ctype && strstr(ctype, "json")) *reply = json_loadb(buf.p, buf.len, 0, NULL);
    rc = 0;
out:
    free(buf.p);
    free(text);
    return rc;
}

void cli_print_problem(long status, const json_t *reply)
{
    const char *title = json_string_value(json_object_get(reply, "title"));
    const char *detail = json_string_value(json_object_get(reply, "detail"));
    if (!title)
        title = json_string_value(json_object_get(reply, "message")); /* seed-style {message} */
    if (title && detail && strcmp(title, detail))
        fprintf(stderr, "orderly: %s (HTTP %ld): %s\n", title, status, detail);
    else if (title)
        fprintf(stderr, "orderly: %s (HTTP %ld)\n", title, status);
    else
        fprintf(stderr, "orderly: the server answered HTTP %ld\n", status);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(reply, "errors"), i, e)
    {
        const char *f = json_string_value(json_object_get(e, "field"));
        const char *m = json_string_value(json_object_get(e, "message"));
        fprintf(stderr, "  %s: %s\n", f ? f : "?", m ? m : "?");
    }
}

int cli_task_follow(cli *c, const json_t *started, void (*progress)(void *arg, const json_t *task), void *arg,
                    json_t **final)
{
    const char *id = json_string_value(json_object_get(started, "id"));
    char path[64];
    *final = NULL;
    if (!id || strlen(id) > 40) {
        fprintf(stderr, "orderly: %s: the server did not answer with a task\n", c->cmd);
        return CMD_FAIL;
    }
    snprintf(path, sizeof path, "/api/tasks/%s", id);
    json_t *t = json_incref((json_t *)started);
    json_int_t last = -1;
    for (;;) {
        json_int_t done = json_integer_value(json_object_get(t, "messagesMoved")) +
                          json_integer_value(json_object_get(t, "eventsReplayed"));
        if (done != last && progress) progress(arg, t);
        last = done;
        if (strcmp(json_string_value(json_object_get(t, "state")) ? json_string_value(json_object_get(t, "state"))
                                                                   : "",
                   "RUNNING"))
            break;
        struct timespec ts = {0, LIMIT_CLI_TASK_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
        json_decref(t);
        t = NULL;
        int rc = cli_call(c, "GET", path, NULL, &t);
        if (rc) return rc;
    }
    *final = t;
    return 0;
}

int cli_call(cli *c, const char *method, const char *path, const json_t *body, json_t **reply)
{
    long status;
    json_t *r = NULL;
    if (reply) *reply = NULL;
    int rc = cli_http(c, method, path, body, 0, &status, &r);
    if (rc) return rc;
    if (status < 200 || status > 299) {
        cli_print_problem(status, r);
        json_decref(r);
        return CMD_FAIL;
    }
    if (reply)
        *reply = r;
    else
        json_decref(r);
    return 0;
}

char *cli_escape(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || strchr("-._~:", *p);
        if (k + (plain ? 1 : 3) >= n) return NULL;
        if (plain) {
            out[k++] = (char)*p;
        } else {
            out[k++] = '%';
            out[k++] = hex[*p >> 4];
            out[k++] = hex[*p & 15];
        }
    }
    if (k >= n) return NULL;
    out[k] = 0;
    return out;
}

/* ---- resources ----------------------------------------------------------------- */

#define ORDERS_PAGE 100 /* the server's page maximum */

int cli_query_add(const cli *c, char *q, size_t n, const char *key, const char *val)
{
    char esc[LIMIT_CLI_URL_MAX / 2];
    if (!val) return 0;
    size_t len = strlen(q);
    if (!cli_escape(val, esc, sizeof esc) ||
        (size_t)snprintf(q + len, n - len, "&%s=%s", key, esc) >= n - len)
        return cli_usage_error(c, "the value for %s is too long", key);
    return 0;
}

int cli_orders_each(cli *c, const char *query, long long max,
                    void (*fn)(void *arg, const json_t *order), void *arg)
{
    char cursor[LIMIT_CLI_URL_MAX / 4] = "";
    long long n = 0;
    while (n < max) {
        char path[LIMIT_CLI_URL_MAX];
        long long want = max - n < ORDERS_PAGE ? max - n : ORDERS_PAGE;
        snprintf(path, sizeof path, "/api/orders?limit=%lld%s", want, query);
        if (cursor[0] && cli_query_add(c, path, sizeof path, "cursor", cursor)) return CMD_FAIL;
        json_t *r;
        int rc = cli_call(c, "GET", path, NULL, &r);
        if (rc) return rc;
        const json_t *orders = json_object_get(r, "orders");
        size_t i;
        json_t *o;
        json_array_foreach(orders, i, o)
        {
            fn(arg, o);
            n++;
        }
        const char *next = json_string_value(json_object_get(r, "nextCursor"));
        int more = next && json_array_size(orders) && strlen(next) < sizeof cursor;
        if (more) str_copy(cursor, sizeof cursor, next);
        json_decref(r);
        if (!more) break;
    }
    return 0;
}

/* ---- output ------------------------------------------------------------------- */

void cli_table_init(cli_table *t, int ncols, unsigned right, const char *const *headers)
{
    CHECK(ncols >= 1);
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->right = right;
    cli_table_add(t, headers);
}

void cli_table_add(cli_table *t, const char *const *row)
{
    if (t->nrows == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, (size_t)cap * (size_t)t->ncols * sizeof *c);
        CHECK(c != NULL); /* a CLI table; out of memory here is not worth a code path */
        t->cells = c;
        t->cap = cap;
    }
    for (int i = 0; i < t->ncols; i++) {
        char *v = strdup(row[i] ? row[i] : "-");
        CHECK(v != NULL);
        t->cells[t->nrows * t->ncols + i] = v;
    }
    t->nrows++;
}

void cli_table_print(const cli_table *t, FILE *f)
{
    int w[32] = {0};
    CHECK(t->ncols <= 32);
    for (int r = 0; r < t->nrows; r++)
        for (int i = 0; i < t->ncols; i++) {
            int n = (int)strlen(t->cells[r * t->ncols + i]);
            if (n > w[i]) w[i] = n;
        }
    for (int r = 0; r < t->nrows; r++) {
        for (int i = 0; i < t->ncols; i++) {
            const char *v = t->cells[r * t->ncols + i];
            int last = i == t->ncols - 1;
            if (t->right & (1u << i))
                fprintf(f, "%*s%s", w[i], v, last ? "" : "  ");
            else
                fprintf(f, "%-*s%s", last ? 0 : w[i], v, last ? "" : "  ");
        }
        fputc('\n', f);
    }
}

void cli_table_release(cli_table *t)
{
    for (int i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}
