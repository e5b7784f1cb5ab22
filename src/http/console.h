/* console.h - what the web console needs beyond the other resources: the
 * live stream (GET /api/stream, Server-Sent Events), the metrics history
 * (GET /api/metrics/history) and the sampler thread that feeds both, plus
 * the read-only views it shows (queue browsing, event search, functions).
 *
 * Lifecycle (cmd/serve.c): console_open after api_metrics_init (it observes
 * the bus and reads the modules), console_quiesce right after the listener
 * closes (every stream ends, so the drain can finish; the sampler stops),
 * console_close once the store is closed (the bus observer runs on the
 * writer until then).
 *
 * THREAD SAFETY: handlers run on HTTP workers; the bus observer on the
 * store's writer; the sampler on its own thread.  The stream hub and the
 * history ring each have one mutex.
 */
#ifndef ORDERLY_HTTP_CONSOLE_H
#define ORDERLY_HTTP_CONSOLE_H
#include <stdint.h>
#include "http/api.h"

typedef struct console console;

/* Starts the sampler, observes the bus.  0 or ORD_ENOMEM / ORD_EINTERNAL. */
int console_open(api *a, console **out);
/* Ends every stream now, refuses new ones (503 shutting-down) and stops
 * the sampler.  Idempotent; NULL is a no-op. */
void console_quiesce(console *c);
/* Frees; after store_close.  NULL is a no-op. */
void console_close(console *c);
typedef struct stream_hub stream_hub;
typedef struct history history;
stream_hub *console_hub(console *c);
history *console_history(console *c);

/* ---- stream (http/stream.c) ----------------------------------------------- */
typedef enum { STREAM_ORDER, STREAM_ALARM, STREAM_METRICS, STREAM_KINDS } stream_kind;
/* Who a stream is for, and what it may see: one function of the request's
 * principal (stream_principal_of) and one predicate (stream_visible).  With
 * accounts (issue 9) a customer sees only its own orders' events. */
typedef struct stream_principal {
    int all;                 /* sees every event */
    char customer[LIMIT_ORDER_CUSTOMER_BYTES_MAX + 1]; /* else: only order events of this customerId */
} stream_principal;
void stream_principal_of(http_req *r, stream_principal *p);
int stream_visible(const stream_principal *p, stream_kind kind, const char *customer);

int stream_hub_new(stream_hub **out);
void stream_hub_free(stream_hub *h);
/* Bus observer: keeps committed events for the streams (writer thread). */
int stream_hub_wants(void *hub);
void stream_hub_observe(void *hub, const struct bus_observed *ev);
/* Sampler tick: formats pending events, heartbeats idle streams. */
void stream_hub_tick(stream_hub *h);
/* Publishes data (not stolen) as an event of kind to every stream. */
void stream_hub_push(stream_hub *h, stream_kind kind, const char *event, const json_t *data);
void stream_hub_close(stream_hub *h);
/* Open streams now. */
int stream_hub_count(stream_hub *h);
/* One stream: registered for principal p, resuming after last_event_id
 * (NULL: live from now; an id not of this hub's ring: a reset event first).
 * NULL with *rc ORD_EBUSY (LIMIT_STREAMS_MAX open), ORD_ESHUTDOWN (closed)
 * or ORD_ENOMEM.  stream_sub_pull and stream_sub_done are the
 * http_stream_pull_fn and http_stream_done_fn of its reply (done frees it);
 * attach gives it the reply to wake. */
typedef struct stream_sub stream_sub;
stream_sub *stream_hub_subscribe(stream_hub *h, const stream_principal *p, const char *last_event_id, int *rc);
long stream_sub_pull(void *sub, char *buf, size_t max);
void stream_sub_done(void *sub);
void stream_sub_attach(stream_sub *s, http_stream *hs, http_server *srv);

/* ---- history (http/history.c) ----------------------------------------------- */
int history_new(api *a, history **out);
void history_free(history *h);
/* Takes one sample now (the sampler calls it every LIMIT_HISTORY_SAMPLE_S);
 * returns the sample as a JSON row for the stream (caller owns), or NULL. */
json_t *history_sample(history *h, int64_t now_ms);
/* The last `minutes` of samples, columnar (see docs/api.md). */
json_t *history_json(history *h, int minutes);

/* An optional integer query argument in lo..hi (absent: def).  Returns 0,
 * or 1 after replying 400 invalid-request naming the argument. */
int console_query_int(http_req *r, const char *name, long long lo, long long hi, long long def, long long *out);

/* ---- handlers ------------------------------------------------------------------ */
int api_stream(http_req *r);            /* GET /api/stream */
int api_metrics_history(http_req *r);   /* GET /api/metrics/history */
int api_queue_browse(http_req *r);      /* GET /api/queues/{name}/messages */
int api_events_search(http_req *r);     /* GET /api/events */

#endif
