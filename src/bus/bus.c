/* bus.c - EventBridge-style bus on the store and queues; see bus.h. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bus/bus.h"
#include "bus/pattern.h"
#include "lib/check.h"
#include "lib/clock.h"
#include "lib/count.h"
#include "lib/err.h"
#include "lib/id.h"
#include "lib/jdump.h"
#include "lib/str.h"
#include "obs/log.h"

#define REPLAY_PAGE 256 /* events read and re-published per unit */

typedef struct rule {
    char name[LIMIT_RULE_NAME_MAX + 1];
    char *description;
    json_t *pattern_json;
    pattern *pat;
    queue *targets[LIMIT_RULE_TARGETS_MAX];
    int ntargets;
    int enabled;
    _Atomic uint64_t matched;
} rule;

/* The members a rule's pattern can be matched on without the envelope. */
static const char *const BY_TYPE[] = {"source", "detail-type"};

struct bus {
    queue_sys *qs;
    uint64_t gen; /* this bus and its rules, for the match memo: new at open and at every rule added */
    rule *rules[LIMIT_RULES_MAX];
    int nrules;
    int beyond_type; /* enabled rules whose pattern looks beyond BY_TYPE: 0, events match on BY_TYPE alone */
    _Atomic uint64_t published;
    int (*obs_wants)(void *arg);
    _Atomic(bus_observer_fn) obs_fn; /* set last (release): wants and arg are then visible */
    void *obs_arg;
};

void bus_set_observer(bus *b, int (*wants)(void *arg), bus_observer_fn fn, void *arg)
{
    atomic_store(&b->obs_fn, NULL);
    b->obs_wants = wants;
    b->obs_arg = arg;
    atomic_store(&b->obs_fn, fn);
}

/* A published event kept for the observer until its commit. */
typedef struct obs_copy {
    bus *b;
    int64_t time_ms;
    char id[40];
    char source[LIMIT_EVENT_FIELD_MAX + 1];
    char detail_type[LIMIT_EVENT_FIELD_MAX + 1];
    char subject[BUS_SUBJECT_MAX + 1];
    size_t len;
    char envelope[];
} obs_copy;

static void obs_hook(void *arg, int committed)
{
    obs_copy *c = arg;
    bus_observer_fn fn = atomic_load(&c->b->obs_fn);
    if (committed && fn) {
        bus_observed ev = {c->id, c->source, c->detail_type, c->subject, c->envelope, c->len, c->time_ms};
        fn(c->b->obs_arg, &ev);
    }
    free(c);
}

/* Inside the unit that published p: hands it to the observer after COMMIT. */
static int obs_keep(store_conn *tx, bus *b, const bus_prepared *p)
{
    if (!atomic_load_explicit(&b->obs_fn, memory_order_acquire) || !b->obs_wants(b->obs_arg)) return 0;
    obs_copy *c = malloc(sizeof *c + p->len + 1);
    if (!c) return ORD_ENOMEM;
    c->b = b;
    c->time_ms = p->time_ms;
    str_copy(c->id, sizeof c->id, p->id);
    str_copy(c->source, sizeof c->source, p->source);
    str_copy(c->detail_type, sizeof c->detail_type, p->detail_type);
    str_copy(c->subject, sizeof c->subject, p->subject);
    memcpy(c->envelope, p->text, p->len);
    c->envelope[p->len] = 0;
    c->len = p->len;
    int rc = store_after_commit(tx, obs_hook, c);
    if (rc) free(c);
    return rc;
}

static _Atomic uint64_t bus_gens;

static uint64_t bus_gen_next(void)
{
    return atomic_fetch_add(&bus_gens, 1) + 1;
}

int bus_open(queue_sys *qs, bus **out)
{
    bus *b = calloc(1, sizeof *b);
    if (!b) return ORD_ENOMEM;
    b->qs = qs;
    b->gen = bus_gen_next();
    *out = b;
    return 0;
}

void bus_close(bus *b)
{
    if (!b) return;
    for (int i = 0; i < b->nrules; i++) {
        pattern_free(b->rules[i]->pat);
        json_decref(b->rules[i]->pattern_json);
        free(b->rules[i]->description);
        free(b->rules[i]);
    }
    free(b);
}

static int rule_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > LIMIT_RULE_NAME_MAX) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

int bus_rule_add(bus *b, const char *name, const char *description, const json_t *pat,
                 const char *const *targets, int ntargets, int enabled, char *err, size_t errlen)
{
    if (!rule_name_valid(name)) {
        snprintf(err, errlen, "rule name must be 1-%d characters of [.-_A-Za-z0-9]", LIMIT_RULE_NAME_MAX);
        return ORD_EVALIDATION;
    }
    for (int i = 0; i < b->nrules; i++)
        if (!strcmp(b->rules[i]->name, name)) {
            snprintf(err, errlen, "rule '%s' already exists", name);
            return ORD_EEXISTS;
        }
    if (b->nrules >= LIMIT_RULES_MAX) {
        snprintf(err, errlen, "at most %d rules", LIMIT_RULES_MAX);
        return ORD_ELIMIT;
    }
    if (ntargets < 1 || ntargets > LIMIT_RULE_TARGETS_MAX) {
        snprintf(err, errlen, "a rule has 1-%d targets", LIMIT_RULE_TARGETS_MAX);
        return ORD_EVALIDATION;
    }
    rule *r = calloc(1, sizeof *r);
    if (!r) return ORD_ENOMEM;
    str_copy(r->name, sizeof r->name, name);
    r->enabled = enabled;
    char perr[200];
    int rc = pattern_compile(pat, &r->pat, perr, sizeof perr);
    if (rc) {
        snprintf(err, errlen, "eventPattern %s", perr);
        goto fail;
    }
    for (int i = 0; i < ntargets; i++) {
        r->targets[i] = queue_find(b->qs, targets[i]);
        if (!r->targets[i]) {
            snprintf(err, errlen, "targets[%d]: no queue named '%s'", i, targets[i]);
            rc = ORD_EVALIDATION;
            goto fail;
        }
    }
    r->ntargets = ntargets;
    r->pattern_json = json_deep_copy(pat);
    r->description = description ? strdup(description) : NULL;
    b->rules[b->nrules++] = r;
    b->gen = bus_gen_next();
    if (enabled && !pattern_uses_only(r->pat, BY_TYPE, COUNT(BY_TYPE))) b->beyond_type++;
    return 0;
fail:
    pattern_free(r->pat);
    free(r);
    return rc;
}

int bus_rule_count(bus *b)
{
    return b->nrules;
}

int bus_rule_get(bus *b, int i, bus_rule_info *out)
{
    if (i < 0 || i >= b->nrules) return ORD_ENOTFOUND;
    rule *r = b->rules[i];
    memset(out, 0, sizeof *out);
    out->name = r->name;
    out->description = r->description;
    out->pattern = r->pattern_json;
    for (int k = 0; k < r->ntargets; k++) out->targets[k] = queue_name(r->targets[k]);
    out->ntargets = r->ntargets;
    out->enabled = r->enabled;
    out->matched = atomic_load(&r->matched);
    return 0;
}

int bus_archive_count(bus *b, int64_t from_ms, int64_t to_ms, int64_t limit, int64_t *n)
{
    store_conn *c = store_reader(queue_sys_store(b->qs));
    if (!c) return ORD_ESTORE;
    store_stmt *st = store_prep(c, ST_EVENT_RANGE_COUNT);
    store_bind_i64(st, 1, from_ms);
    store_bind_i64(st, 2, to_ms);
    store_bind_i64(st, 3, limit);
    int rc = store_step(st);
    *n = rc == STORE_ROW ? store_col_i64(st, 0) : 0;
    store_reset(st);
    return rc < 0 ? rc : 0;
}

static int archive_chunk(store_conn *tx, void *arg, int limit, int64_t *n)
{
    store_stmt *st = store_prep(tx, ST_EVENT_SWEEP);
    store_bind_i64(st, 1, *(const int64_t *)arg);
    store_bind_i64(st, 2, limit);
    int rc = store_exec(st);
    *n = rc ? 0 : store_changes(tx);
    return rc;
}

int bus_archive_sweep(bus *b, int retention_days, int64_t *deleted)
{
    CHECK(retention_days >= LIMIT_EVENT_RETENTION_DAYS_MIN);
    int64_t cutoff = clock_wall_ms() - (int64_t)retention_days * 86400000;
    int rc = store_sweep(queue_sys_store(b->qs), archive_chunk, &cutoff, LIMIT_SWEEP_ROWS, deleted);
    if (*deleted) log_info("bus", "events past the archive's retention deleted", "#count", *deleted, NULL);
    return rc;
}

uint64_t bus_published(bus *b)
{
    return atomic_load(&b->published);
}

static int field_ok(const char *s, const char *what, char *err, size_t errlen)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > LIMIT_EVENT_FIELD_MAX) {
        snprintf(err, errlen, "%s must be 1-%d characters", what, LIMIT_EVENT_FIELD_MAX);
        return ORD_EVALIDATION;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20) {
            snprintf(err, errlen, "%s must not contain control characters", what);
            return ORD_EVALIDATION;
        }
    return 0;
}

int bus_source_reserved(const char *source)
{
    return strncmp(source, BUS_RESERVED_SOURCE_PREFIX, strlen(BUS_RESERVED_SOURCE_PREFIX)) == 0;
}

int bus_event_check(const bus_event *ev, char *err, size_t errlen)
{
    int rc;
    if ((rc = field_ok(ev->source, "Source", err, errlen))) return rc;
    if ((rc = field_ok(ev->detail_type, "DetailType", err, errlen))) return rc;
    if (!strncmp(ev->source, "aws.", 4)) {
        snprintf(err, errlen, "Source must not start with \"aws.\"");
        return ORD_EVALIDATION;
    }
    if (ev->detail && !json_is_object(ev->detail)) {
        snprintf(err, errlen, "Detail must be a JSON object");
        return ORD_EVALIDATION;
    }
    if (ev->resources) {
        if (!json_is_array(ev->resources) || json_array_size(ev->resources) > LIMIT_EVENT_RESOURCES_MAX) {
            snprintf(err, errlen, "Resources must be an array of at most %d strings", LIMIT_EVENT_RESOURCES_MAX);
            return ORD_EVALIDATION;
        }
        size_t i;
        json_t *v;
        json_array_foreach(ev->resources, i, v) if (!json_is_string(v))
        {
            snprintf(err, errlen, "Resources[%zu] must be a string", i);
            return ORD_EVALIDATION;
        }
    }
    return 0;
}

/* The envelope's first members, the ones an event-log row's columns hold:
 * the log keeps what follows them (bus_envelope_of_row). */
#define ENVELOPE_HEAD 4
#define ENVELOPE_HEAD_MEMBERS(id, detail_type, source)                                                    \
    {"version", "0", NULL, NULL}, {"id", (id), NULL, NULL}, {"detail-type", (detail_type), NULL, NULL}, \
        {"source", (source), NULL, NULL}

/* The envelope's members in EventBridge's order, for its text (jdump_members)
 * and its object (envelope_object).  ts receives the time's text. */
#define ENVELOPE_MEMBERS 9
static void envelope_members(const bus_event *ev, const bus_prepared *p, char ts[40],
                             jdump_member m[ENVELOPE_MEMBERS])
{
    const jdump_member all[ENVELOPE_MEMBERS] = {
        ENVELOPE_HEAD_MEMBERS(p->id, p->detail_type, p->source),
        {"account", BUS_ACCOUNT, NULL, NULL},
        {"time", clock_fmt_iso(p->time_ms, 0, ts, 40), NULL, NULL},
        {"region", BUS_REGION, NULL, NULL},
        {"resources", NULL, ev->resources ? NULL : "[]", ev->resources},
        {"detail", NULL, ev->detail_text ? ev->detail_text : ev->detail ? NULL : "{}", ev->detail},
    };
    memcpy(m, all, sizeof all);
}

/* The top-level member key (written ,"key":) of an envelope the bus wrote,
 * or NULL.  Before the detail come only the envelope's own members with
 * string values and the resources array of strings, where every quote is
 * escaped: the first ,"key": of one of them is the top-level key. */
static const char *envelope_key(const char *text, size_t len, const char *key)
{
    return memmem(text, len, key, strlen(key));
}

/* Where the member the log keeps first begins in an envelope's text; 0
 * (the log keeps the whole envelope) if it is not there. */
static size_t envelope_head_len(const char *text, size_t len)
{
    const char *k = envelope_key(text, len, ",\"account\":");
    return k ? (size_t)(k - text) + 1 : 0;
}

char *bus_envelope_of_row(const char *id, const char *source, const char *detail_type, const char *stored,
                          size_t n, size_t *len)
{
    if (n > 0 && stored[0] == '{') { /* a whole envelope */
        *len = n;
        return strndup(stored, n);
    }
    const jdump_member m[ENVELOPE_HEAD] = {ENVELOPE_HEAD_MEMBERS(id, detail_type, source)};
    size_t h = 0;
    char *head = jdump_members(m, ENVELOPE_HEAD, &h);
    char *t = head ? realloc(head, h + n + 1) : NULL;
    if (!t) {
        free(head);
        return NULL;
    }
    t[h - 1] = ',';
    memcpy(t + h, stored, n);
    t[h + n] = 0;
    *len = h + n;
    return t;
}

char *bus_envelope_of_subject_row(store_stmt *st, size_t *len)
{
    /* seq, id, time_ms, detail_type, envelope, source */
    size_t n = 0;
    const char *stored = store_col_text(st, 4, &n);
    return bus_envelope_of_row(store_col_text(st, 1, NULL), store_col_text(st, 5, NULL), store_col_text(st, 3, NULL),
                               stored, n, len);
}

json_t *bus_envelope_json_of_subject_row(store_stmt *st)
{
    size_t len = 0;
    char *text = bus_envelope_of_subject_row(st, &len);
    json_t *env = text ? json_loadb(text, len, 0, NULL) : NULL;
    free(text);
    return env;
}

/* The object of members m (new reference; the values are shared, not
 * copied: it lives only while the rules are matched), or NULL. */
static json_t *envelope_object(const jdump_member *m, size_t n)
{
    json_t *e = json_object();
    for (size_t i = 0; e && i < n; i++) {
        json_t *v = m[i].str   ? json_string(m[i].str)
                    : m[i].raw ? json_loads(m[i].raw, JSON_DECODE_ANY, NULL)
                               : json_incref((json_t *)m[i].val);
        if (json_object_set_new(e, m[i].key, v)) {
            json_decref(e);
            e = NULL;
        }
    }
    return e;
}

/* Sends text to the targets of every enabled rule (or only `only`) that
 * matches env.  Counts into *routed. */
static int route_tx(store_conn *tx, bus *b, const json_t *env, const char *text, size_t len, const rule *only,
                    int *routed)
{
    for (int i = 0; i < b->nrules; i++) {
        rule *r = b->rules[i];
        if ((only && r != only) || !r->enabled || !pattern_match(r->pat, env)) continue;
        int rc = store_count_after_commit(tx, &r->matched, 1);
        if (rc) return rc;
        for (int k = 0; k < r->ntargets; k++) {
            if ((rc = queue_send_tx(tx, b->qs, r->targets[k], text, len, NULL, -1, NULL))) return rc;
            (*routed)++;
        }
    }
    return 0;
}

/* The rules an event of one (source, detail-type) matches, when every
 * enabled rule looks at those two alone: the pipeline publishes a handful of
 * kinds, four events an order, and each was matched against every rule
 * through a JSON object built for it.  Kept per thread (no lock), in a few
 * slots by a hash of the pair, each for the bus generation it was found
 * with: a rule added, or another bus, finds the slot stale. */
#define MATCH_MEMO_SLOTS 8
typedef struct match_memo {
    uint64_t gen; /* 0 = empty */
    char source[LIMIT_EVENT_FIELD_MAX + 1];
    char detail_type[LIMIT_EVENT_FIELD_MAX + 1];
    int nrules;
    short rules[LIMIT_RULES_MAX];
} match_memo;
static _Thread_local match_memo match_memos[MATCH_MEMO_SLOTS];

/* The slot of (source, detail_type): its memo when it holds that pair for
 * b's generation (gen == b->gen), else the slot to fill (gen != b->gen). */
static match_memo *memo_slot(const bus *b, const char *source, const char *detail_type)
{
    match_memo *mm = &match_memos[str_hash(str_hash(STR_HASH_SEED, source), detail_type) % MATCH_MEMO_SLOTS];
    if (mm->gen == b->gen && (strcmp(mm->source, source) || strcmp(mm->detail_type, detail_type))) mm->gen = 0;
    return mm;
}

int bus_prepare(bus *b, const bus_event *ev, bus_prepared *out)
{
    char err[160];
    int rc = bus_event_check(ev, err, sizeof err);
    if (rc) return rc;
    if (ev->subject && strlen(ev->subject) > BUS_SUBJECT_MAX) return ORD_EVALIDATION;
    memset(out, 0, offsetof(bus_prepared, rules));
    if (ev->id)
        str_copy(out->id, sizeof out->id, ev->id);
    else
        id_uuid7(out->id);
    out->time_ms = ev->has_time ? ev->time_ms : clock_wall_ms();
    str_copy(out->source, sizeof out->source, ev->source);
    str_copy(out->detail_type, sizeof out->detail_type, ev->detail_type);
    str_copy(out->subject, sizeof out->subject, ev->subject ? ev->subject : "");
    /* the envelope's text, written without building it (four per order) */
    char ts[40];
    jdump_member m[ENVELOPE_MEMBERS];
    envelope_members(ev, out, ts, m);
    out->text = jdump_members(m, ENVELOPE_MEMBERS, &out->len);
    if (!out->text) return ORD_ENOMEM;
    out->stored = envelope_head_len(out->text, out->len);
    if (out->len > LIMIT_EVENT_BYTES_MAX) {
        bus_prepared_release(out);
        return ORD_ETOOBIG;
    }
    /* the rules match on the envelope object or - when every enabled one
     * looks at source and detail-type only (the shipped topology's) - on
     * those two, whose answer the thread's memo keeps */
    match_memo *mm = b->beyond_type ? NULL : memo_slot(b, ev->source, ev->detail_type);
    if (mm && mm->gen == b->gen) {
        out->nrules = mm->nrules;
        memcpy(out->rules, mm->rules, (size_t)mm->nrules * sizeof *out->rules);
        return 0;
    }
    json_t *env = b->beyond_type ? envelope_object(m, ENVELOPE_MEMBERS)
                                 : json_pack("{s:s,s:s}", "source", ev->source, "detail-type", ev->detail_type);
    if (!env) {
        bus_prepared_release(out);
        return ORD_ENOMEM;
    }
    for (int i = 0; i < b->nrules; i++)
        if (b->rules[i]->enabled && pattern_match(b->rules[i]->pat, env)) out->rules[out->nrules++] = (short)i;
    json_decref(env);
    if (mm) {
        mm->gen = b->gen;
        str_copy(mm->source, sizeof mm->source, ev->source);
        str_copy(mm->detail_type, sizeof mm->detail_type, ev->detail_type);
        mm->nrules = out->nrules;
        memcpy(mm->rules, out->rules, (size_t)out->nrules * sizeof *out->rules);
    }
    return 0;
}

int bus_prepared_add_int(bus_prepared *p, const char *key, int64_t v)
{
    /* the envelope is {..., "detail": {...}} with detail last (envelope_members) */
    CHECK(p->len >= 2 && p->text[p->len - 1] == '}' && p->text[p->len - 2] == '}');
    char add[160];
    int n = snprintf(add, sizeof add, "%s\"%s\":%lld", p->text[p->len - 3] == '{' ? "" : ",", key, (long long)v);
    CHECK(n > 0 && (size_t)n < sizeof add);
    char *t = realloc(p->text, p->len + (size_t)n + 1);
    if (!t) return ORD_ENOMEM;
    memmove(t + p->len - 2 + n, t + p->len - 2, 3); /* "}}" and the NUL */
    memcpy(t + p->len - 2, add, (size_t)n);
    p->text = t;
    p->len += (size_t)n;
    return 0;
}

int bus_envelope_detail(const char *text, size_t len, const char **detail, size_t *dlen)
{
    /* the detail object runs to the envelope's closing brace */
    static const char key[] = ",\"detail\":";
    if (len < sizeof key + 2 || text[len - 1] != '}' || text[len - 2] != '}') return ORD_EINVAL;
    const char *k = envelope_key(text, len, key);
    if (!k) return ORD_EINVAL;
    const char *d = k + sizeof key - 1;
    if (*d != '{') return ORD_EINVAL;
    *detail = d;
    *dlen = (size_t)(text + len - 1 - d);
    return 0;
}

void bus_prepared_release(bus_prepared *p)
{
    if (!p) return;
    free(p->text);
    p->text = NULL;
}

int bus_publish_prepared_tx(store_conn *tx, bus *b, const bus_prepared *p, int *routed)
{
    store_stmt *st = store_prep(tx, ST_EVENT_INSERT);
    store_bind_str(st, 1, p->id);
    store_bind_i64(st, 2, p->time_ms);
    store_bind_str(st, 3, p->source);
    store_bind_str(st, 4, p->detail_type);
    store_bind_text(st, 5, p->text + p->stored, p->len - p->stored);
    store_bind_null(st, 6);
    store_bind_str(st, 7, p->subject[0] ? p->subject : NULL);
    int rc = store_exec(st), n = 0;
    if (rc) return rc == ORD_ECONFLICT ? ORD_EEXISTS : rc;
    queue_event ev = {p->id, p->source, p->detail_type, p->subject, p->time_ms};
    for (int i = 0; i < p->nrules; i++) {
        rule *r = b->rules[p->rules[i]];
        if ((rc = store_count_after_commit(tx, &r->matched, 1))) return rc;
        for (int k = 0; k < r->ntargets; k++) {
            if ((rc = queue_send_event_tx(tx, b->qs, r->targets[k], p->text, p->len, &ev))) return rc;
            n++;
        }
    }
    if ((rc = store_count_after_commit(tx, &b->published, 1))) return rc;
    if ((rc = obs_keep(tx, b, p))) return rc;
    if (routed) *routed = n;
    return 0;
}

int bus_publish_tx(store_conn *tx, bus *b, const bus_event *ev, char *id_out, int *routed)
{
    bus_prepared p;
    int rc = bus_prepare(b, ev, &p);
    if (rc) return rc;
    rc = bus_publish_prepared_tx(tx, b, &p, routed);
    if (!rc && id_out) snprintf(id_out, ID_UUID_LEN + 1, "%.36s", p.id);
    bus_prepared_release(&p);
    return rc;
}

/* ---- replay -------------------------------------------------------------- */

int bus_replay_begin(bus *b, int64_t from_ms, int64_t to_ms, const char *rule_name, const char *replay_name,
                     bus_replay_state *st)
{
    memset(st, 0, sizeof *st);
    st->b = b;
    st->only = -1;
    if (rule_name) {
        for (int i = 0; i < b->nrules; i++)
            if (!strcmp(b->rules[i]->name, rule_name)) st->only = i;
        if (st->only < 0) return ORD_ENOTFOUND;
    }
    if (from_ms >= to_ms) return ORD_EVALIDATION;
    if (replay_name && (!*replay_name || strlen(replay_name) > LIMIT_REPLAY_NAME_MAX)) return ORD_EVALIDATION;
    str_copy(st->name, sizeof st->name, replay_name ? replay_name : "replay");
    st->from_ms = from_ms;
    st->to_ms = to_ms;
    st->page = REPLAY_PAGE;
    return 0;
}

int bus_replay_page_tx(store_conn *tx, void *arg)
{
    bus_replay_state *p = arg;
    /* results go to page_*: a unit may run again after a failed batch, so
     * the position only moves in bus_replay_advance, after the commit */
    p->page_n = 0;
    p->page_routed = 0;
    const rule *only = p->only >= 0 ? p->b->rules[p->only] : NULL;
    /* read the page on the writer connection: consistent with what it writes */
    char *texts[REPLAY_PAGE];
    int64_t seqs[REPLAY_PAGE];
    int k = 0, rc, routed = 0;
    /* the page walks the log by position, at most LIMIT_REPLAY_SCAN_ROWS
     * of it: its reads are bounded however large the window or the log */
    store_stmt *st = store_prep(tx, ST_EVENT_SEQ_BOUNDS);
    if ((rc = store_step(st)) != STORE_ROW) {
        store_reset(st);
        return rc < 0 ? rc : ORD_ESTORE;
    }
    int64_t first = store_col_i64(st, 0), last = store_col_i64(st, 1);
    store_reset(st);
    int64_t after = p->after > first ? p->after : first;
    int64_t upto = last - after > LIMIT_REPLAY_SCAN_ROWS ? after + LIMIT_REPLAY_SCAN_ROWS : last;
    st = store_prep(tx, ST_EVENT_RANGE);
    store_bind_i64(st, 1, p->from_ms);
    store_bind_i64(st, 2, p->to_ms);
    store_bind_i64(st, 3, after);
    CHECK(p->page >= 1 && p->page <= REPLAY_PAGE);
    store_bind_i64(st, 4, p->page);
    store_bind_i64(st, 5, upto);
    while ((rc = store_step(st)) == STORE_ROW) {
        seqs[k] = store_col_i64(st, 0);
        size_t n = 0;
        const char *stored = store_col_text(st, 3, &n);
        texts[k] = bus_envelope_of_row(store_col_text(st, 1, NULL), store_col_text(st, 4, NULL),
                                       store_col_text(st, 5, NULL), stored, n, &n);
        if (!texts[k]) {
            rc = ORD_ENOMEM;
            break;
        }
        k++;
    }
    if (rc < 0) goto out;
    rc = 0;
    for (int i = 0; i < k && !rc; i++) {
        json_error_t je;
        json_t *env = json_loads(texts[i], 0, &je);
        if (!env) continue; /* the log only holds what we wrote; skip anything unreadable */
        json_object_set_new(env, "replay-name", json_string(p->name));
        char *text = json_dumps(env, JSON_COMPACT);
        if (!text)
            rc = ORD_ENOMEM;
        else
            rc = route_tx(tx, p->b, env, text, strlen(text), only, &routed);
        free(text);
        json_decref(env);
    }
    if (!rc) {
        p->page_n = k;
        p->page_routed = routed;
        p->page_more = k == p->page || upto < last;
        p->page_after = k == p->page ? seqs[k - 1] : upto;
    }
out:
    for (int i = 0; i < k; i++) free(texts[i]);
    return rc;
}

int bus_replay_advance(bus_replay_state *p)
{
    p->events += p->page_n;
    p->routed += p->page_routed;
    p->after = p->page_after;
    int more = p->page_more;
    if (more && p->events >= LIMIT_REPLAY_EVENTS_MAX) {
        p->truncated = 1;
        more = 0;
    }
    p->page_n = p->page_routed = 0;
    if (!more) log_info("bus", "replay finished", "replayName", p->name, "#events", p->events, "#routed", p->routed, NULL);
    return more;
}

int bus_replay(bus *b, int64_t from_ms, int64_t to_ms, const char *rule_name, const char *replay_name,
               int64_t *events, int64_t *routed)
{
    bus_replay_state p;
    *events = *routed = 0;
    int rc = bus_replay_begin(b, from_ms, to_ms, rule_name, replay_name, &p);
    if (rc) return rc;
    do {
        if ((rc = store_run(queue_sys_store(b->qs), bus_replay_page_tx, &p))) return rc;
    } while (bus_replay_advance(&p));
    *events = p.events;
    *routed = p.routed;
    return 0;
}

/* ---- the archive, searched --------------------------------------------------- */

/* One event of an order's timeline, copied (the subject path reverses). */
typedef struct subj_row {
    int64_t seq, time_ms;
    char *id, *detail_type, *envelope;
    size_t len;
} subj_row;

#define SUBJECT_ROWS_MAX 4096 /* events of one order looked at; an order has about ten */

static const char *env_str(json_t *env, const char *key)
{
    return json_string_value(json_object_get(env, key));
}

/* By subject: its index gives the order's few events, oldest first; the
 * filters apply here and the newest come first. */
static int search_subject(store_conn *c, const bus_search *q, void (*fn)(void *, const bus_event_row *), void *arg)
{
    subj_row *rows = NULL;
    int n = 0, cap = 0, rc, out = 0;
    store_stmt *st = store_prep(c, ST_EVENT_BY_SUBJECT);
    store_bind_str(st, 1, q->subject);
    store_bind_i64(st, 2, 0);
    store_bind_i64(st, 3, SUBJECT_ROWS_MAX);
    while ((rc = store_step(st)) == STORE_ROW && n < SUBJECT_ROWS_MAX) {
        int64_t seq = store_col_i64(st, 0), t = store_col_i64(st, 2);
        if (t < q->from_ms || t >= q->to_ms || (q->before_seq && seq >= q->before_seq)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            subj_row *nr = realloc(rows, sizeof *rows * (size_t)cap);
            if (!nr) {
                rc = ORD_ENOMEM;
                break;
            }
            rows = nr;
        }
        rows[n] = (subj_row){seq, t, strdup(store_col_text(st, 1, NULL)), strdup(store_col_text(st, 3, NULL)), NULL, 0};
        rows[n].envelope = bus_envelope_of_subject_row(st, &rows[n].len);
        if (!rows[n].id || !rows[n].detail_type || !rows[n].envelope) {
            free(rows[n].id), free(rows[n].detail_type), free(rows[n].envelope);
            rc = ORD_ENOMEM;
            break;
        }
        n++;
    }
    store_reset(st);
    if (rc >= 0) rc = 0;
    for (int i = n - 1; i >= 0 && !rc && out < q->limit; i--) {
        json_t *env = json_loadb(rows[i].envelope, rows[i].len, 0, NULL);
        const char *source = env_str(env, "source");
        if ((!q->source || (source && !strcmp(source, q->source))) &&
            (!q->detail_type || !strcmp(rows[i].detail_type, q->detail_type))) {
            bus_event_row ev = {rows[i].seq,      rows[i].time_ms, rows[i].id, source ? source : "",
                                rows[i].detail_type, q->subject,   env_str(env, "replay-name"),
                                rows[i].envelope, rows[i].len};
            fn(arg, &ev);
            out++;
        }
        json_decref(env);
    }
    for (int i = 0; i < n; i++) free(rows[i].id), free(rows[i].detail_type), free(rows[i].envelope);
    free(rows);
    return rc ? rc : out;
}

int bus_events_search(bus *b, const bus_search *q, void (*fn)(void *arg, const bus_event_row *ev), void *arg)
{
    if (q->limit < 1 || q->limit > LIMIT_EVENTS_SEARCH_MAX || q->from_ms >= q->to_ms) return ORD_EVALIDATION;
    store_conn *c = store_reader(queue_sys_store(b->qs));
    if (!c) return ORD_ESTORE;
    if (q->subject) return search_subject(c, q, fn, arg);
    store_stmt *st = store_prep(c, ST_EVENT_SEARCH);
    store_bind_i64(st, 1, q->from_ms);
    store_bind_i64(st, 2, q->to_ms);
    store_bind_str(st, 3, q->source);
    store_bind_str(st, 4, q->detail_type);
    store_bind_null(st, 5);
    store_bind_i64(st, 6, q->before_seq ? q->before_seq : INT64_MAX);
    store_bind_i64(st, 7, q->limit);
    int rc, n = 0;
    while ((rc = store_step(st)) == STORE_ROW) {
        size_t len = 0;
        bus_event_row ev = {store_col_i64(st, 0),
                            store_col_i64(st, 2),
                            store_col_text(st, 1, NULL),
                            store_col_text(st, 3, NULL),
                            store_col_text(st, 4, NULL),
                            store_col_is_null(st, 5) ? NULL : store_col_text(st, 5, NULL),
                            store_col_is_null(st, 6) ? NULL : store_col_text(st, 6, NULL),
                            NULL,
                            0};
        const char *stored = store_col_text(st, 7, &len);
        char *text = bus_envelope_of_row(ev.id, ev.source, ev.detail_type, stored, len, &ev.len);
        if (!text) {
            rc = ORD_ENOMEM;
            break;
        }
        ev.envelope = text;
        fn(arg, &ev);
        free(text);
        n++;
    }
    store_reset(st);
    return rc < 0 ? rc : n;
}
