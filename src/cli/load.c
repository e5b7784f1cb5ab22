/* load.c - the fixed-rate / closed-loop HTTP load engine (see load.h). */
#include "cli/load.h"
#include "cli/client.h"
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/err.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_REPLY_MAX     (1 << 20) /* a reply kept for done(); longer ones fail */
#define LOAD_HIST_BASE     1.02
#define LOAD_IDLE_WAIT_MS  10  /* closed loop: retry a slot that had nothing to send */
#define LOAD_TIMER_WAIT_MS 100 /* longest sleep between turns of the loop */

/* ---- histogram --------------------------------------------------------------- */

void load_hist_add(load_hist *h, int64_t us)
{
    int i = us < 1 ? 0 : (int)(log((double)us) / log(LOAD_HIST_BASE));
    if (i >= LOAD_HIST_BUCKETS) i = LOAD_HIST_BUCKETS - 1;
    h->b[i]++;
    h->n++;
    if (us > h->max_us) h->max_us = us;
}

double load_hist_ms(const load_hist *h, double q)
{
    if (!h->n) return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n), seen = 0;
    if (rank < 1) rank = 1;
    for (int i = 0; i < LOAD_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            double edge = pow(LOAD_HIST_BASE, i + 1) / 1000.0;
            double max = (double)h->max_us / 1000.0;
            return edge < max ? edge : max;
        }
    }
    return (double)h->max_us / 1000.0;
}

/* ---- engine ------------------------------------------------------------------ */

typedef struct slot {
    CURL *h;
    cli_buf buf;
    load_req req;
    int64_t t0_us; /* latency counts from here */
} slot;

typedef struct engine {
    const load_plan *p;
    load_stats *st;
    CURLM *m;
    slot *s;
    int *free_ids; /* stack of idle slots */
    int nfree;
    struct curl_slist *hdrs;
} engine;

static int start_req(engine *e, int i, int64_t t0)
{
    slot *s = &e->s[i];
    memset(&s->req, 0, sizeof s->req);
    if (e->p->next(e->p->ctx, i, &s->req)) return 1;
    CHECK(s->req.method && s->req.path);
    s->t0_us = t0;
    if (cli_easy_prepare(s->h, e->p->url, s->req.method, s->req.path, s->req.body, s->req.body_len,
                         e->hdrs, &s->buf, e->p->timeout_ms) ||
        curl_easy_setopt(s->h, CURLOPT_PRIVATE, (void *)s) != CURLE_OK ||
        curl_multi_add_handle(e->m, s->h) != CURLM_OK) {
        e->st->errors++;
        if (e->p->done) e->p->done(e->p->ctx, i, &s->req, 0, "", 0);
        return 1;
    }
    e->nfree--;
    e->st->sent++;
    e->st->inflight++;
    return 0;
}

static void finish(engine *e, slot *s, CURLcode cc)
{
    int i = (int)(s - e->s);
    long status = 0;
    curl_multi_remove_handle(e->m, s->h);
    if (cc == CURLE_OK) curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    if (!status) {
        e->st->errors++;
    } else {
        load_hist_add(&e->st->lat, clock_mono_us() - s->t0_us);
        if (status >= 200 && status < 300)
            e->st->ok++;
        else if (status >= 400 && status < 500)
            e->st->client++;
        else
            e->st->server++;
    }
    e->st->inflight--;
    e->free_ids[e->nfree++] = i;
    if (e->p->done) e->p->done(e->p->ctx, i, &s->req, status, s->buf.p ? s->buf.p : "", s->buf.len);
}

static void collect(engine *e)
{
    int running, left;
    CURLMsg *msg;
    curl_multi_perform(e->m, &running);
    while ((msg = curl_multi_info_read(e->m, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        slot *s = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        finish(e, s, msg->data.result);
    }
}

int load_run(const load_plan *p, load_stats *out)
{
    CHECK(p->concurrency >= 1 && p->concurrency <= LIMIT_CLI_CONCURRENCY_MAX);
    CHECK(p->rate >= 0 && p->duration_s > 0 && p->next);
    memset(out, 0, sizeof *out);
    engine e = {.p = p, .st = out};
    int rc = ORD_ENOMEM, n = p->concurrency;
    e.m = curl_multi_init();
    e.s = calloc((size_t)n, sizeof *e.s);
    e.free_ids = calloc((size_t)n, sizeof *e.free_ids);
    e.hdrs = cli_headers();
    if (!e.m || !e.s || !e.free_ids || !e.hdrs) goto out;
    for (int i = 0; i < n; i++) {
        if (!(e.s[i].h = curl_easy_init())) {
            rc = ORD_EINTERNAL;
            goto out;
        }
        e.s[i].buf.max = LOAD_REPLY_MAX;
        e.free_ids[e.nfree++] = n - 1 - i; /* slot 0 on top */
    }
    curl_multi_setopt(e.m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)n);
    curl_multi_setopt(e.m, CURLMOPT_MAXCONNECTS, (long)n);

    int64_t start = clock_mono_us(), end = start + (int64_t)(p->duration_s * 1e6);
    int64_t abort_at = end + (int64_t)p->timeout_ms * 1000 + 1000000;
    int64_t issued = 0, due_total = p->rate > 0 ? (int64_t)ceil(p->duration_s * p->rate) : 0;
    int blocked = 0, next_tick = 1;
    for (;;) {
        int64_t now = clock_mono_us();
        int idle = 0;
        if (now < end && p->rate > 0) {
            while (issued < due_total) {
                int64_t due = start + (int64_t)((double)issued * 1e6 / p->rate);
                if (due > now) {
                    blocked = 0; /* caught up */
                    break;
                }
                if (!e.nfree) {
                    blocked = 1; /* due, no slot: the server is behind */
                    break;
                }
                int i = e.free_ids[e.nfree - 1];
                start_req(&e, i, blocked ? due : now);
                issued++;
            }
        } else if (now < end) {
            /* closed loop: every free slot that has something sends it */
            int tries = e.nfree;
            for (int k = 0; k < tries && e.nfree; k++) {
                int i = e.free_ids[e.nfree - 1];
                if (start_req(&e, i, now)) {
                    /* nothing to send: rotate it to the bottom of the stack */
                    memmove(e.free_ids + 1, e.free_ids, (size_t)(e.nfree - 1) * sizeof *e.free_ids);
                    e.free_ids[0] = i;
                    idle = 1;
                }
            }
        } else if (!out->inflight) {
            break;
        } else if (now > abort_at) {
            for (int i = 0; i < n; i++) {
                int busy = 1;
                for (int k = 0; k < e.nfree && busy; k++)
                    busy = e.free_ids[k] != i;
                if (busy) finish(&e, &e.s[i], CURLE_OPERATION_TIMEDOUT);
            }
            break;
        }
        collect(&e);
        now = clock_mono_us();
        while (p->tick && next_tick <= (int)ceil(p->duration_s) &&
               now >= start + (int64_t)next_tick * 1000000) {
            out->seconds = (double)(now - start) / 1e6;
            p->tick(p->ctx, next_tick++, out);
        }
        int64_t wait_us = LOAD_TIMER_WAIT_MS * 1000;
        if (now < end) {
            if (p->rate > 0 && e.nfree && issued < due_total) {
                int64_t due = start + (int64_t)((double)issued * 1e6 / p->rate);
                wait_us = due - now;
            } else if (idle) {
                wait_us = LOAD_IDLE_WAIT_MS * 1000;
            }
            if (end - now < wait_us) wait_us = end - now;
            int64_t tick_at = start + (int64_t)next_tick * 1000000;
            if (p->tick && tick_at - now < wait_us) wait_us = tick_at - now;
        }
        if (wait_us > 0) curl_multi_poll(e.m, NULL, 0, (int)((wait_us + 999) / 1000), NULL);
    }
    out->seconds = (double)(clock_mono_us() - start) / 1e6;
    if (issued < due_total) out->unsent = due_total - issued;
    rc = 0;
out:
    for (int i = 0; e.s && i < n; i++) {
        if (e.s[i].h) curl_easy_cleanup(e.s[i].h);
        free(e.s[i].buf.p);
    }
    if (e.m) curl_multi_cleanup(e.m);
    curl_slist_free_all(e.hdrs);
    free(e.s);
    free(e.free_ids);
    return rc;
}
