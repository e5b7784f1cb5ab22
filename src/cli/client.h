/* client.h - the command line's side of HTTP: the admin commands talk to a
 * running orderly over libcurl (like redis-cli talks to redis), JSON in and
 * out, and report a failure in one line.
 *
 * Also what every client command shares: its options (a table of the
 * command's own flags plus --url, --timeout and --help, with the usage text
 * generated from the table) and small table printing.
 *
 * Exit codes as in cmd/cmd.h: functions here that can fail print their one
 * line to stderr and return CMD_FAIL (the server could not be reached, or
 * answered with an error) or CMD_USAGE (bad arguments).
 *
 * OWNERSHIP: JSON replies are new references (json_decref them); a cli owns
 * its curl handle (cli_release).  THREAD SAFETY: a cli is used by one thread.
 */
#ifndef ORDERLY_CLI_CLIENT_H
#define ORDERLY_CLI_CLIENT_H
#include "lib/exitcode.h"
#include "lib/limits.h"
#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_URL_DEFAULT "http://127.0.0.1:8080"
#define CLI_HELP        3 /* cli_init printed the usage: exit CMD_OK */

/* ---- Options ------------------------------------------------------------ */

typedef struct cli_flag {
    const char *name; /* "max" for --max */
    const char *arg;  /* "N" when the flag takes a value, NULL for a switch */
    const char *help;
} cli_flag;

typedef struct cli_spec {
    const char *usage;     /* after "orderly ": "dlq replay QUEUE [--max N]" */
    const char *about;     /* one paragraph, printed under the usage */
    int pos_min, pos_max;  /* positional arguments, at most LIMIT_CLI_POSITIONAL_MAX */
    const cli_flag *flags; /* the command's own, ending with {0}; may be NULL */
} cli_spec;

typedef struct cli {
    const cli_spec *spec;
    char cmd[64];                    /* "dlq replay", for messages */
    char url[LIMIT_CLI_URL_MAX + 1]; /* base, no trailing '/' */
    int timeout_ms;
    int timeout_set;                       /* --timeout was given */
    const char *vals[LIMIT_CLI_FLAGS_MAX]; /* by index in spec->flags: the value, "" for a set
                                              switch, NULL */
    const char *pos[LIMIT_CLI_POSITIONAL_MAX];
    int npos;
    CURL *h;
    struct curl_slist *hdrs;
} cli;

/* Parses argv (argv[0] is the command's name, cmd its full name for
 * messages) against spec; flags may come before or after the positional
 * arguments, as --flag VALUE or --flag=VALUE.  The URL is --url, else
 * $ORDERLY_URL, else CLI_URL_DEFAULT.  Returns 0 with c ready (cli_release
 * it), CLI_HELP after printing the usage on --help, or CMD_USAGE after
 * printing one line; c needs no release then. */
int cli_init(cli *c, const cli_spec *spec, const char *cmd, int argc, char **argv);
void cli_release(cli *c);

/* The value of --name: NULL when absent, "" for a switch that is set. */
const char *cli_opt(const cli *c, const char *name);
/* --name as an integer in lo..hi (def when absent): 0, or CMD_USAGE after
 * printing why. */
int cli_opt_int(const cli *c, const char *name, long long lo, long long hi, long long def,
                long long *out);
/* --name as a number in lo..hi (def when absent): 0 or CMD_USAGE. */
int cli_opt_double(const cli *c, const char *name, double lo, double hi, double def, double *out);
/* --name as a duration, "3", "3s", "500ms", "2m", "1h" (seconds when bare), in
 * lo..hi seconds (def when absent): 0 or CMD_USAGE. */
int cli_opt_seconds(const cli *c, const char *name, double lo, double hi, double def, double *out);
/* Prints "orderly CMD: <message> (see 'orderly CMD --help')"; returns CMD_USAGE. */
int cli_usage_error(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Requests ------------------------------------------------------------ */

/* A bounded reply buffer (curl dynbuf): grows up to max bytes. */
typedef struct cli_buf {
    char *p;
    size_t len, cap, max;
    int overflow; /* the reply was longer than max */
} cli_buf;

/* One request on c: method, c->url + path (path already escaped, see
 * cli_escape), body serialised when not NULL.  Returns 0 with *status and
 * *reply (the parsed JSON body, NULL when empty or not JSON), or CMD_FAIL
 * after printing "orderly: cannot reach URL: why".  timeout_ms 0 = the
 * cli's. */
/* cli_http without renewing an expired saved token. */
int cli_http_once(cli *c, const char *method, const char *path, const json_t *body, int timeout_ms, long *status,
                  json_t **reply);
int cli_http(cli *c, const char *method, const char *path, const json_t *body, int timeout_ms,
             long *status, json_t **reply);
/* The same, expecting 2xx: anything else is printed (a problem's title,
 * detail and field errors) and gives CMD_FAIL.  reply may be NULL. */
int cli_call(cli *c, const char *method, const char *path, const json_t *body, json_t **reply);
/* Follows a background task (the 202 body of a replay or redrive) with
 * GET /api/tasks/{id} every LIMIT_CLI_TASK_POLL_MS until it is no longer
 * RUNNING; progress(arg, task) runs on each answer whose progress moved.
 * *final gets the last answer (json_decref it).  0, or CMD_FAIL (printed). */
int cli_task_follow(cli *c, const json_t *started, void (*progress)(void *arg, const json_t *task), void *arg,
                    json_t **final);
/* Prints "orderly: <title> (HTTP <status>): <detail>" and one line per
 * field error of a problem+json reply (or the status alone). */
void cli_print_problem(long status, const json_t *reply);

/* Percent-encodes s for a path segment into out (n bytes); returns out, or
 * NULL when it does not fit. */
char *cli_escape(const char *s, char *out, size_t n);

/* For the load engine: makes h ready for one request (after curl_easy_reset)
 * with the reply going to buf.  body is borrowed until the transfer ends.
 * Returns 0 or CMD_FAIL when the URL is too long. */
int cli_easy_prepare(CURL *h, const char *base, const char *method, const char *path,
                     const char *body, size_t body_len, struct curl_slist *hdrs, cli_buf *buf,
                     int timeout_ms);
/* The headers every request sends (Content-Type and Accept JSON, no
 * Expect); curl_slist_free_all it.  NULL when out of memory. */
struct curl_slist *cli_headers(void);
/* Why a transfer failed, in a few words ("Connection refused"). */
const char *cli_easy_error(CURL *h, CURLcode code, char *buf, size_t n);

/* ---- Resources ---------------------------------------------------------------- */

/* Appends "&key=<escaped val>" to the query q (n bytes); nothing when val is
 * NULL.  0, or CMD_USAGE after printing when it does not fit. */
int cli_query_add(const cli *c, char *q, size_t n, const char *key, const char *val);
/* Pages through GET /api/orders?limit=..<query> (query: "" or "&k=v..."
 * from cli_query_add), newest first, calling fn for each order, at most max
 * orders.  0 or CMD_FAIL (printed). */
int cli_orders_each(cli *c, const char *query, long long max,
                    void (*fn)(void *arg, const json_t *order), void *arg);

/* ---- Output ---------------------------------------------------------------- */

/* A text table printed with aligned columns; cells are copied.  Columns
 * whose bit is set in right are right-aligned (figures). */
typedef struct cli_table {
    int ncols;
    unsigned right;
    int nrows, cap; /* rows, the header included */
    char **cells;   /* nrows x ncols */
} cli_table;

void cli_table_init(cli_table *t, int ncols, unsigned right, const char *const *headers);
/* Appends a row of ncols strings (NULL prints "-"). */
void cli_table_add(cli_table *t, const char *const *row);
void cli_table_print(const cli_table *t, FILE *f);
void cli_table_release(cli_table *t);

#endif
