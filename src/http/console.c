/* console.c - the web console's server side: its lifecycle and the sampler
 * thread, which every LIMIT_HISTORY_SAMPLE_S takes a metrics sample (kept
 * in the history, pushed to the streams as a `metrics` event) and every
 * second lets the stream hub format pending events and send heartbeats. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http/console.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "obs/log.h"

#define TICK_MS 1000

struct console {
    api *a;
    stream_hub *hub;
    history *hist;
    pthread_t sampler;
    int started, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

stream_hub *console_hub(console *c)
{
    return c->hub;
}

history *console_history(console *c)
{
    return c->hist;
}

static void *sampler_main(void *arg)
{
    console *c = arg;
    int64_t next_sample = clock_mono_ms();
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        pthread_mutex_unlock(&c->mu);
        int64_t now = clock_mono_ms();
        if (now >= next_sample) {
            next_sample = now + (int64_t)LIMIT_HISTORY_SAMPLE_S * 1000;
            json_t *row = history_sample(c->hist, clock_wall_ms());
            if (row) stream_hub_push(c->hub, STREAM_METRICS, "metrics", row);
            json_decref(row);
        }
        stream_hub_tick(c->hub);
        pthread_mutex_lock(&c->mu);
        if (c->stop) break;
        struct timespec ts = clock_mono_deadline(TICK_MS);
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int console_open(api *a, console **out)
{
    int rc;
    console *c = calloc(1, sizeof *c);
    if (!c) return ORD_ENOMEM;
    c->a = a;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&c->mu, NULL);
    if ((rc = stream_hub_new(&c->hub)) || (rc = history_new(a, &c->hist))) goto fail;
    if (pthread_create(&c->sampler, NULL, sampler_main, c) != 0) {
        rc = ORD_EINTERNAL;
        goto fail;
    }
    c->started = 1;
    bus_set_observer(a->b, stream_hub_wants, stream_hub_observe, c->hub);
    *out = c;
    return 0;
fail:
    console_close(c);
    return rc;
}

void console_quiesce(console *c)
{
    if (!c) return;
    stream_hub_close(c->hub);
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->sampler, NULL);
        c->started = 0;
    }
}

void console_close(console *c)
{
    if (!c) return;
    console_quiesce(c);
    stream_hub_free(c->hub);
    history_free(c->hist);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

int console_query_int(http_req *r, const char *name, long long lo, long long hi, long long def, long long *out)
{
    const char *v = http_req_query(r, name);
    *out = def;
    if (!v) return 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        char d[128];
        snprintf(d, sizeof d, "%s must be an integer between %lld and %lld", name, lo, hi);
        http_reply_problem(r, ORD_EINVAL, d, NULL);
        return 1;
    }
    *out = x;
    return 0;
}
