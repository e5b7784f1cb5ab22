/* queues.c - `orderly queues` and `orderly dlq list|replay|purge`: queue
 * depths and dead-letter queues of a running server, over HTTP.
 *
 * A queue is named in full ("dev-orders") or without its environment prefix
 * ("orders") when that names exactly one queue.  `dlq replay` prints what
 * seed 001's scripts/replay-dlq.ts prints, but moves the messages with the
 * server's redrive (POST /api/queues/{dlq}/redrive: a background task that
 * moves a page per transaction), so none is lost or sent twice, which the
 * script's receive / send / delete loop cannot promise.
 */
#include "cli/client.h"
#include "cmd/cmd.h"
#include "lib/str.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the server's queues --------------------------------------------------------- */

/* GET /api/queues -> the "queues" array (a new reference) or NULL after printing. */
static json_t *fetch_queues(cli *c)
{
    json_t *r;
    if (cli_call(c, "GET", "/api/queues", NULL, &r)) return NULL;
    json_t *q = json_incref(json_object_get(r, "queues"));
    json_decref(r);
    if (!json_is_array(q)) {
        fprintf(stderr, "orderly: unexpected answer from GET /api/queues\n");
        json_decref(q);
        return NULL;
    }
    return q;
}

static const char *qname(const json_t *q)
{
    return json_string_value(json_object_get(q, "name"));
}

static long long qstat(const json_t *q, const char *k)
{
    return json_integer_value(json_object_get(json_object_get(q, "stats"), k));
}

/* The name of q's dead-letter queue, or NULL. */
static const char *qdlq(const json_t *q)
{
    const json_t *rp = json_object_get(json_object_get(q, "attributes"), "RedrivePolicy");
    const char *t = json_string_value(json_object_get(rp, "deadLetterTargetArn"));
    if (t && !strncmp(t, "arn:", 4)) {
        const char *colon = strrchr(t, ':');
        t = colon + 1;
    }
    return t;
}

static const json_t *find_exact(const json_t *qs, const char *name)
{
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q) if (qname(q) && !strcmp(qname(q), name)) return q;
    return NULL;
}

/* By full name, else by name without the environment prefix when that is
 * unique.  Prints and returns NULL when there is none. */
static const json_t *find_queue(const json_t *qs, const char *name)
{
    const json_t *q = find_exact(qs, name), *hit = NULL;
    if (q) return q;
    size_t i, n = strlen(name), hits = 0;
    json_array_foreach(qs, i, q)
    {
        const char *s = qname(q);
        size_t m = s ? strlen(s) : 0;
        if (m > n + 1 && s[m - n - 1] == '-' && !strcmp(s + m - n, name)) {
            hit = q;
            hits++;
        }
    }
    if (hits == 1) return hit;
    if (hits > 1)
        fprintf(stderr, "orderly: '%s' names several queues; give the full name\n", name);
    else
        fprintf(stderr, "orderly: no queue named '%s'\n", name);
    return NULL;
}

static char *fmt_ll(long long v, char *buf, size_t n)
{
    snprintf(buf, n, "%lld", v);
    return buf;
}

/* ---- orderly queues ------------------------------------------------------------- */

static const cli_spec queues_spec = {
    "queues [--url URL]",
    "Lists the queues of the server with their messages: visible, in flight (received, not yet "
    "deleted),\n"
    "delayed, the age of the oldest message, and the dead-letter queue with its visible messages.",
    0, 0, NULL};

int cmd_queues(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &queues_spec, "queues", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    json_t *qs = fetch_queues(&c);
    if (!qs) {
        rc = CMD_FAIL;
        goto out;
    }
    static const char *const head[] = {"QUEUE",      "VISIBLE", "IN FLIGHT",  "DELAYED",
                                       "OLDEST AGE", "DLQ",     "DLQ VISIBLE"};
    cli_table t;
    cli_table_init(&t, 7, 0x5e, head);
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q)
    {
        char v[24], f[24], d[24], age[32], dv[24];
        const char *dlq = qdlq(q);
        const json_t *dq = dlq ? find_exact(qs, dlq) : NULL;
        snprintf(age, sizeof age, "%llds", qstat(q, "oldestAgeSeconds"));
        const char *row[] = {qname(q),
                             fmt_ll(qstat(q, "visible"), v, sizeof v),
                             fmt_ll(qstat(q, "inFlight"), f, sizeof f),
                             fmt_ll(qstat(q, "delayed"), d, sizeof d),
                             age,
                             dlq,
                             dq ? fmt_ll(qstat(dq, "visible"), dv, sizeof dv) : NULL};
        cli_table_add(&t, row);
    }
    cli_table_print(&t, stdout);
    cli_table_release(&t);
    json_decref(qs);
out:
    cli_release(&c);
    return rc;
}

/* ---- orderly dlq list --------------------------------------------------------------- */

static const cli_spec dlq_list_spec = {
    "dlq list [QUEUE] [--url URL]",
    "Lists the queues that have a dead-letter queue (RedrivePolicy) with the DLQ's depth: visible "
    "and\n"
    "in-flight messages, the age of the oldest, the messages the queue moved there since the "
    "server\n"
    "started, and maxReceiveCount.  QUEUE (a queue or its DLQ) shows that one only.  Messages are "
    "not\n"
    "shown: with SQS semantics they cannot be read without receiving them.",
    0, 1, NULL};

static int dlq_list(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &dlq_list_spec, "dlq list", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    json_t *qs = fetch_queues(&c);
    const json_t *only = NULL;
    if (!qs || (c.npos && !(only = find_queue(qs, c.pos[0])))) {
        rc = CMD_FAIL;
        goto out;
    }
    static const char *const head[] = {"QUEUE",      "DLQ",   "VISIBLE",     "IN FLIGHT",
                                       "OLDEST AGE", "MOVED", "MAX RECEIVES"};
    cli_table t;
    cli_table_init(&t, 7, 0x7c, head);
    long long total = 0;
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q)
    {
        const char *dlq = qdlq(q);
        const json_t *dq = dlq ? find_exact(qs, dlq) : NULL;
        if (!dq || (only && only != q && only != dq)) continue;
        char v[24], f[24], age[32], m[24], mr[24];
        snprintf(age, sizeof age, "%llds", qstat(dq, "oldestAgeSeconds"));
        long long max = json_integer_value(json_object_get(
            json_object_get(json_object_get(q, "attributes"), "RedrivePolicy"), "maxReceiveCount"));
        const char *row[] = {qname(q),
                             dlq,
                             fmt_ll(qstat(dq, "visible"), v, sizeof v),
                             fmt_ll(qstat(dq, "inFlight"), f, sizeof f),
                             age,
                             fmt_ll(qstat(q, "movedToDlq"), m, sizeof m),
                             fmt_ll(max, mr, sizeof mr)};
        cli_table_add(&t, row);
        total += qstat(dq, "visible");
    }
    if (t.nrows == 1)
        printf(only ? "%s has no dead-letter queue and is not one\n"
                    : "no queue has a dead-letter queue\n",
               only ? qname(only) : "");
    else
        cli_table_print(&t, stdout);
    if (t.nrows > 2) printf("total visible in dead-letter queues: %lld\n", total);
    cli_table_release(&t);
out:
    json_decref(qs);
    cli_release(&c);
    return rc;
}

/* ---- orderly dlq replay / purge ------------------------------------------------------ */

/* Resolves QUEUE (a queue with a DLQ, or a DLQ) to the DLQ and where its
 * messages go back to: *dest is set when they all go to one queue (the queue
 * named, --to, or the DLQ's only source), else NULL (each to its source);
 * main receives the name(s) for the message.  0 or CMD_FAIL after printing. */
static int resolve_dlq(const json_t *qs, const char *name, const char *to, const json_t **dlq,
                       const json_t **dest, char *main, size_t mainlen)
{
    const json_t *q = find_queue(qs, name);
    if (!q) return CMD_FAIL;
    *dest = NULL;
    main[0] = 0;
    if (qdlq(q)) {
        *dlq = find_exact(qs, qdlq(q));
        if (!*dlq) {
            fprintf(stderr, "orderly: the dead-letter queue '%s' of %s does not exist\n", qdlq(q),
                    qname(q));
            return CMD_FAIL;
        }
        *dest = q;
    } else if (json_is_true(json_object_get(q, "deadLetterQueue"))) {
        *dlq = q;
        size_t i, n = 0;
        json_t *s;
        json_array_foreach(qs, i, s)
        {
            if (!qdlq(s) || strcmp(qdlq(s), qname(q))) continue;
            size_t len = strlen(main);
            snprintf(main + len, mainlen - len, "%s%s", n ? ", " : "", qname(s));
            if (!n++) *dest = s;
        }
        if (n != 1) *dest = NULL;
        if (!n) snprintf(main, mainlen, "the queues the messages came from");
    } else {
        fprintf(stderr, "orderly: %s has no dead-letter queue and is not one\n", qname(q));
        return CMD_FAIL;
    }
    if (to) {
        *dest = find_queue(qs, to);
        if (!*dest) return CMD_FAIL;
    }
    if (*dest) str_copy(main, mainlen, qname(*dest));
    return 0;
}

/* "/api/queues/<escaped name>/<what>" */
static char *queue_path(const json_t *q, const char *what, char *out, size_t n)
{
    char esc[LIMIT_CLI_URL_MAX / 2];
    if (!cli_escape(qname(q), esc, sizeof esc)) return NULL;
    snprintf(out, n, "/api/queues/%s/%s", esc, what);
    return out;
}

static const cli_flag replay_flags[] = {
    {"max", "N", "replay at most N messages (default: all visible when it starts)"},
    {"to", "QUEUE", "send them to QUEUE (default: the queue each came from)"},
    {"rate", "N", "at most N messages a second (default 5000)"},
    {0, 0, 0},
};

static const cli_spec dlq_replay_spec = {
    "dlq replay QUEUE [--max N] [--to QUEUE] [--rate N] [--url URL]",
    "Moves the messages of QUEUE's dead-letter queue (or of QUEUE when it is one) back to the "
    "main\n"
    "queue and prints the progress and the total, as seed 001's replay script does.  The server "
    "moves\n"
    "them as a background task (SQS's StartMessageMoveTask), a page per transaction, so no message "
    "is\n"
    "lost or doubled.  The messages start again with receive count 0; orders they carry resume "
    "where\n"
    "they stopped.  Messages that arrive in the DLQ after the replay started are left for the next "
    "one.",
    1, 1, replay_flags};

static void moved_progress(void *arg, const json_t *t)
{
    long long *last = arg, total = (long long)json_integer_value(json_object_get(t, "messagesMoved"));
    if (total > *last) printf("Replayed %lld messages in this batch (total=%lld)\n", total - *last, total);
    fflush(stdout);
    *last = total;
}

static int dlq_replay(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &dlq_replay_spec, "dlq replay", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    long long max, rate, total = 0;
    json_t *qs = NULL, *r = NULL, *done = NULL;
    if ((rc = cli_opt_int(&c, "max", 1, LIMIT_REDRIVE_MAX, -1, &max)) ||
        (rc = cli_opt_int(&c, "rate", 1, LIMIT_TASK_RATE_MAX, LIMIT_TASK_RATE_DEFAULT, &rate)))
        goto out;
    const json_t *dlq, *dest;
    char main[1024], path[LIMIT_CLI_URL_MAX];
    rc = CMD_FAIL;
    if (!(qs = fetch_queues(&c)) ||
        resolve_dlq(qs, c.pos[0], cli_opt(&c, "to"), &dlq, &dest, main, sizeof main))
        goto out;
    if (!queue_path(dlq, "redrive", path, sizeof path)) goto out;
    printf("Replaying messages from DLQ (%s) to main queue (%s)...\n", qname(dlq), main);
    fflush(stdout);
    json_t *body = json_pack("{s:I}", "ratePerSecond", (json_int_t)rate);
    if (max > 0) json_object_set_new(body, "maxMessages", json_integer(max));
    if (dest) json_object_set_new(body, "destination", json_string(qname(dest)));
    rc = cli_call(&c, "POST", path, body, &r);
    json_decref(body);
    if (rc || (rc = cli_task_follow(&c, r, moved_progress, &total, &done))) goto out;
    printf("Done. Total messages replayed: %lld\n", total);
    if (strcmp(json_string_value(json_object_get(done, "state")), "COMPLETED")) {
        const char *e = json_string_value(json_object_get(done, "error"));
        fprintf(stderr, "orderly: dlq replay: the task is %s%s%s\n", json_string_value(json_object_get(done, "state")),
                e ? ": " : "", e ? e : "");
        rc = CMD_FAIL;
    }
out:
    json_decref(qs);
    json_decref(r);
    json_decref(done);
    cli_release(&c);
    return rc;
}

static const cli_spec dlq_purge_spec = {"dlq purge QUEUE [--url URL]",
                                        "Deletes every message of QUEUE's dead-letter queue (or of "
                                        "QUEUE when it is one) and prints how\n"
                                        "many.  Orders they carried stay FAILED.",
                                        1, 1, NULL};

static int dlq_purge(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &dlq_purge_spec, "dlq purge", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    json_t *qs = NULL, *r = NULL;
    const json_t *dlq, *dest;
    char main[1024], path[LIMIT_CLI_URL_MAX];
    rc = CMD_FAIL;
    if (!(qs = fetch_queues(&c)) ||
        resolve_dlq(qs, c.pos[0], NULL, &dlq, &dest, main, sizeof main) ||
        !queue_path(dlq, "purge", path, sizeof path))
        goto out;
    if ((rc = cli_call(&c, "POST", path, NULL, &r))) goto out;
    printf("Purged %lld messages from DLQ (%s)\n",
           (long long)json_integer_value(json_object_get(r, "purged")), qname(dlq));
out:
    json_decref(r);
    json_decref(qs);
    cli_release(&c);
    return rc;
}

int cmd_dlq(int argc, char **argv)
{
    static const cmd_def sub[] = {
        {"list", dlq_list, "queues with a dead-letter queue and its depth"},
        {"replay", dlq_replay,
         "move a DLQ's messages back to their queue (seed 001's replay script)"},
        {"purge", dlq_purge, "delete every message of a DLQ"},
        {0, 0, 0},
    };
    return cmd_group("dlq", sub, argc, argv);
}
