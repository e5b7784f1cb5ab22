/* load.h - the one HTTP load engine of the command line (loadgen and bench):
 * requests at a fixed rate, or closed-loop, over libcurl multi, for a bounded
 * time.
 *
 * DESIGN.  One thread drives a curl multi handle with `concurrency` slots;
 * a slot is one easy handle, so at most that many requests (and keep-alive
 * connections) are in flight.  The caller supplies the requests: next() is
 * asked for a slot's next request and done() gets its answer, so a slot can
 * carry state from one request to the next (a queue consumer deletes what it
 * received).
 *   - rate > 0: request i is due at start + i/rate.  A due request waits for
 *     a free slot; its latency is then counted from when it was due, so a
 *     slow server is not hidden by the generator waiting for it (no
 *     coordinated omission).  When a slot was free and only the engine's own
 *     timer made it late, latency counts from the send.
 *   - rate = 0: closed loop, every slot sends again as soon as it is
 *     answered; latency from the send.
 * No request is sent after duration_s; those in flight then get up to
 * timeout_ms to finish (the rest count as errors).
 *
 * THREAD SAFETY: load_run runs on the calling thread and calls the callbacks
 * there.
 */
#ifndef ORDERLY_CLI_LOAD_H
#define ORDERLY_CLI_LOAD_H
#include <stddef.h>
#include <stdint.h>

/* ---- Latency histogram: log buckets, ~2 % resolution, 1 us .. 1 h -------- */
#define LOAD_HIST_BUCKETS 1200

typedef struct load_hist {
    uint64_t n;
    int64_t max_us;
    uint64_t b[LOAD_HIST_BUCKETS];
} load_hist;

void load_hist_add(load_hist *h, int64_t us);
/* The q-quantile (0..1) in milliseconds (upper edge of its bucket); 0 when empty. */
double load_hist_ms(const load_hist *h, double q);

/* ---- The engine ------------------------------------------------------------ */

typedef struct load_req {
    const char *method; /* "POST" */
    const char *path;   /* appended to the base URL, escaped */
    const char *body;   /* JSON text or NULL; must live until done() */
    size_t body_len;
    int tag; /* the caller's kind of request, handed back to done() */
} load_req;

typedef struct load_stats {
    int64_t sent;   /* requests sent */
    int64_t ok;     /* answered 2xx */
    int64_t client; /* answered 4xx */
    int64_t server; /* answered otherwise (5xx, 1xx, 3xx) */
    int64_t errors; /* no answer: connection failed, timed out, aborted at the end */
    int64_t unsent; /* rate mode: were due by the end but never sent (all slots busy) */
    int inflight;
    double seconds; /* from start to the last answer */
    load_hist lat;  /* answered requests */
} load_stats;

typedef struct load_plan {
    const char *url; /* base: http://host:port */
    double rate;     /* requests per second; 0 = closed loop */
    double duration_s;
    int concurrency; /* slots, 1..LIMIT_CLI_CONCURRENCY_MAX */
    int timeout_ms;  /* per request */
    /* Fills slot's next request: 0 to send it, 1 when the slot has nothing
     * to send now (asked again on the next turn of the loop). */
    int (*next)(void *ctx, int slot, load_req *req);
    /* The answer of slot's request: status 0 = no answer (errors; a reply
     * over 1 MiB counts as one); body is NUL-terminated.  May be NULL. */
    void (*done)(void *ctx, int slot, const load_req *req, long status, const char *body,
                 size_t len);
    /* Every whole second of the run with the figures so far.  May be NULL. */
    void (*tick)(void *ctx, int second, const load_stats *so_far);
    void *ctx;
} load_plan;

/* Runs the plan; *out is set.  0, or ORD_ENOMEM / ORD_EINTERNAL (libcurl
 * could not be set up).  Blocking. */
int load_run(const load_plan *p, load_stats *out);

#endif
