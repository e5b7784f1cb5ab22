/* bus.h - the event bus: EventBridge envelopes, rules, the event log, replay.
 *
 * bus_publish_tx() runs inside the caller's unit of work: the caller's own
 * writes, the event-log row and one message per matching rule target commit
 * together or not at all (an outbox by construction).  The event log is the
 * archive: bus_replay() re-publishes a time window through the rules (all or
 * one); replayed events carry "replay-name" and are not archived again, as
 * in EventBridge, and keep their id, so idempotent consumers skip effects
 * they already applied.
 *
 * THREAD SAFETY: rules are added before serving starts (bus_rule_add is not
 * safe against concurrent publishing); after that everything is read-only
 * and any thread may publish (inside a unit) or list.
 */
#ifndef ORDERLY_BUS_H
#define ORDERLY_BUS_H
#include <jansson.h>
#include <stdint.h>
#include "queue/queue.h"

typedef struct bus bus;

#define BUS_ACCOUNT "000000000000"
#define BUS_REGION "local"

/* An event to publish.  detail is borrowed (may be NULL = {}), resources
 * borrowed (array of strings or NULL).  detail_text, when set, is the
 * detail instead: the text of a JSON object the server wrote (jdump_members;
 * the order pipeline's events), taken as it is.  time_ms is used when
 * has_time is set, else now; id NULL = new UUID. */
typedef struct bus_event {
    const char *source;
    const char *detail_type;
    const json_t *detail;
    const char *detail_text;
    const json_t *resources;
    int64_t time_ms;
    int has_time;
    const char *id;
    const char *subject;   /* what the event is about (an order id), or NULL: indexes the timeline */
} bus_event;

typedef struct bus_rule_info {
    const char *name;
    const char *description;
    const json_t *pattern;       /* borrowed, as given */
    const char *targets[LIMIT_RULE_TARGETS_MAX];
    int ntargets;
    int enabled;
    uint64_t matched;            /* events routed by this rule since start */
} bus_rule_info;

int bus_open(queue_sys *qs, bus **out);
void bus_close(bus *b);

/* Adds a rule routing events that match pattern (EventBridge pattern JSON)
 * to the named queues.  ORD_EVALIDATION with a message saying where when the
 * pattern is invalid or a target queue does not exist; ORD_EEXISTS for a
 * duplicate name; ORD_ELIMIT past LIMIT_RULES_MAX. */
int bus_rule_add(bus *b, const char *name, const char *description, const json_t *pattern,
                 const char *const *targets, int ntargets, int enabled, char *err, size_t errlen);
int bus_rule_count(bus *b);
int bus_rule_get(bus *b, int i, bus_rule_info *out);

/* Sources of the events orderly itself emits (orderly.orders,
 * orderly.alarms): a client's PutEvents may not use them. */
#define BUS_RESERVED_SOURCE_PREFIX "orderly."
/* 1 when source is reserved for the server. */
int bus_source_reserved(const char *source);

/* Checks an event's fields (source, detail-type lengths and characters,
 * "aws." sources refused, detail an object, resources strings, size).
 * ORD_EVALIDATION with the reason in err. */
int bus_event_check(const bus_event *ev, char *err, size_t errlen);

/* Inside a unit: appends the event to the log and sends its envelope to
 * every target of every matching enabled rule.  id_out (37 bytes, may be
 * NULL) receives the event id; *routed (may be NULL) the messages sent.
 * Returns 0, ORD_EVALIDATION, ORD_ETOOBIG, ORD_EEXISTS (id already logged),
 * or a store error. */
int bus_publish_tx(store_conn *tx, bus *b, const bus_event *ev, char *id_out, int *routed);

/* An event made ready to publish off the writer thread: the envelope text
 * and the rules it matches are computed by bus_prepare() on any thread, so
 * the unit only writes rows.  Release with bus_prepared_release(). */
#define BUS_SUBJECT_MAX 128
typedef struct bus_prepared {
    char id[40];
    int64_t time_ms;
    char source[LIMIT_EVENT_FIELD_MAX + 1];
    char detail_type[LIMIT_EVENT_FIELD_MAX + 1];
    char subject[BUS_SUBJECT_MAX + 1];   /* "" = none */
    char *text;                          /* the envelope JSON (heap) */
    size_t len;
    size_t stored;                       /* the event log keeps text + stored (bus_envelope_of_row) */
    int nrules;
    short rules[LIMIT_RULES_MAX];        /* indexes of the enabled rules it matches */
} bus_prepared;

/* Any thread (rules are read-only while serving).  Returns 0, or
 * ORD_EVALIDATION / ORD_ETOOBIG / ORD_ENOMEM; nothing to release on error. */
int bus_prepare(bus *b, const bus_event *ev, bus_prepared *out);
/* Inside a unit: the event-log row and the routed messages.  As
 * bus_publish_tx otherwise (which is prepare + this + release). */
int bus_publish_prepared_tx(store_conn *tx, bus *b, const bus_prepared *p, int *routed);
void bus_prepared_release(bus_prepared *p);
/* The text of the detail inside an envelope the bus wrote (detail last,
 * compact: what bus_prepare makes and the log keeps), without parsing it:
 * 0 with *detail and *len set, or ORD_EINVAL when text is not laid out so
 * (the caller parses it instead). */
int bus_envelope_detail(const char *text, size_t len, const char **detail, size_t *dlen);
/* The envelope of an event-log row.  The log keeps an envelope without its
 * first members, the ones the row's columns hold (version "0", id,
 * detail-type, source: a hundred-odd of an event's few hundred bytes);
 * they are written back here from the columns, byte for byte as
 * bus_prepare wrote them.  A stored text that starts with '{' is a whole
 * envelope (rows written before, and those a GDPR erasure rewrote) and is
 * returned as it is.  Returns malloc'd text, NUL-terminated, its length in
 * *len; NULL when out of memory. */
char *bus_envelope_of_row(const char *id, const char *source, const char *detail_type, const char *stored,
                          size_t n, size_t *len);
/* The same for the current row of ST_EVENT_BY_SUBJECT (an order's events). */
char *bus_envelope_of_subject_row(store_stmt *st, size_t *len);
/* That envelope parsed (new reference), or NULL. */
json_t *bus_envelope_json_of_subject_row(store_stmt *st);
/* Adds "key": v to a prepared event's detail (for a figure only the unit
 * knows, e.g. an amount read from the database).  Rules matched at prepare
 * time did not see it.  0 or ORD_ENOMEM. */
int bus_prepared_add_int(bus_prepared *p, const char *key, int64_t v);

/* ---- replay ---------------------------------------------------------------- */

/* A replay in progress, paged: bus_replay_begin, then one unit running
 * bus_replay_page_tx per page, and after each page's commit
 * bus_replay_advance, until it returns 0.  For callers that must not block
 * (an HTTP handler chains the units); bus_replay does it all, blocking.
 * Each page commits alone: a replay interrupted half-way has re-published
 * its first pages (events are delivered at least once anyway). */
typedef struct bus_replay_state {
    bus *b;
    int only;                               /* rule index, -1 = every rule */
    char name[LIMIT_REPLAY_NAME_MAX + 1];   /* put in the envelopes' "replay-name" */
    int64_t from_ms, to_ms;
    int64_t after;                          /* last event-log position replayed */
    int64_t events, routed;                 /* totals of the committed pages */
    int truncated;                          /* stopped at LIMIT_REPLAY_EVENTS_MAX */
    int page;                               /* events per unit: 1..256 (256 from bus_replay_begin) */
    int page_n, page_routed;                /* the page of the last unit */
    int64_t page_after;
    int page_more;                          /* the log goes on past the page */
} bus_replay_state;

/* Sets up a replay of the logged events with from_ms <= time < to_ms
 * through every rule (or only rule_name) with replay_name (NULL = "replay",
 * else 1..LIMIT_REPLAY_NAME_MAX characters).  0, ORD_ENOTFOUND when
 * rule_name names no rule, ORD_EVALIDATION when from_ms >= to_ms or the
 * name is empty or too long. */
int bus_replay_begin(bus *b, int64_t from_ms, int64_t to_ms, const char *rule_name, const char *replay_name,
                     bus_replay_state *st);
/* Inside a unit: re-publishes the next page (up to 256 events, oldest
 * first, with "replay-name" added and the original id kept; not archived
 * again).  Takes void * to be a store_unit_fn.  0 or a store error. */
int bus_replay_page_tx(store_conn *tx, void *st);
/* After the page's unit committed: counts it and moves on.  Returns 1 when
 * another page is due, 0 when the replay is finished. */
int bus_replay_advance(bus_replay_state *st);

/* All of it, blocking (not for HTTP threads).  *events and *routed are set.
 * Errors as bus_replay_begin, or a store error. */
int bus_replay(bus *b, int64_t from_ms, int64_t to_ms, const char *rule_name, const char *replay_name,
               int64_t *events, int64_t *routed);

/* ---- the archive ------------------------------------------------------------ */

/* *n = the original events logged with from_ms <= time < to_ms, counting at
 * most limit (a reader; not in a unit).  0 or a store error. */
int bus_archive_count(bus *b, int64_t from_ms, int64_t to_ms, int64_t limit, int64_t *n);

/* Deletes logged events older than retention_days, in bounded chunks
 * (store_sweep); *deleted is set.  Blocking.  0 or a store error.  An order
 * younger than the retention keeps its whole timeline, and a queued message
 * (at most 14 days old) always finds its event: the retention is at least
 * LIMIT_EVENT_RETENTION_DAYS_MIN. */
int bus_archive_sweep(bus *b, int retention_days, int64_t *deleted);

/* Counters since start. */
uint64_t bus_published(bus *b);

/* ---- the archive, searched (the console's events page) ------------------------ */

typedef struct bus_search {
    int64_t from_ms, to_ms;   /* from <= time < to */
    const char *source;       /* NULL = any */
    const char *detail_type;  /* NULL = any */
    const char *subject;      /* an order id, NULL = any */
    int64_t before_seq;       /* keyset cursor: 0 = the newest */
    int limit;                /* 1..LIMIT_EVENTS_SEARCH_MAX */
} bus_search;
/* A logged event; pointers valid during the callback only.  subject and
 * replay_name may be NULL. */
typedef struct bus_event_row {
    int64_t seq, time_ms;
    const char *id, *source, *detail_type, *subject, *replay_name, *envelope;
    size_t len;
} bus_event_row;
/* Calls fn for the logged events matching q, newest first, at most
 * q->limit.  Returns how many, or ORD_EVALIDATION (bad limit / window) or a
 * store error.  The calling thread's reader. */
int bus_events_search(bus *b, const bus_search *q, void (*fn)(void *arg, const bus_event_row *ev), void *arg);

/* ---- observer (the console's live stream) ------------------------------------ */

/* An event as the observer sees it; every pointer is valid during the call. */
typedef struct bus_observed {
    const char *id, *source, *detail_type;
    const char *subject;   /* "" = none */
    const char *envelope;  /* the envelope JSON */
    size_t len;
    int64_t time_ms;
} bus_observed;
/* After the commit of each event published while wants(arg) returns 1, fn
 * runs on the writer thread.  wants is asked inside the unit for every
 * event, so it must cost no more than an atomic load; fn must be quick.
 * May be set while events are published (fn is stored last); fn NULL
 * removes the observer, but a hook already past its check may still call
 * the old one: free what arg points to only after the store is closed. */
typedef void (*bus_observer_fn)(void *arg, const bus_observed *ev);
void bus_set_observer(bus *b, int (*wants)(void *arg), bus_observer_fn fn, void *arg);

#endif
