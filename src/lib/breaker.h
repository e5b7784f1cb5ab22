/* breaker.h - a circuit breaker (seed 002: "circuit breakers prevent
 * cascading failures"): stop calling a dependency that keeps failing, try
 * it again after a cool-down.
 *
 *   CLOSED    calls go through; threshold failures in a row, the first of
 *             them at most window_ms before the last, open it (a success
 *             starts the count again)
 *   OPEN      calls are refused; cooldown_ms after it opened the next call
 *             is let through as the trial (HALF_OPEN)
 *   HALF_OPEN one trial call at a time: its success closes, its failure
 *             re-opens (a new cool-down); a trial that reports nothing
 *             within cooldown_ms is given up and the next call is the trial
 *
 * Times are passed in (monotonic ms), so the machine is tested without
 * sleeping.  THREAD SAFETY: every function may be called from any thread
 * (one mutex per breaker).
 */
#ifndef ORDERLY_BREAKER_H
#define ORDERLY_BREAKER_H
#include <pthread.h>
#include <stdint.h>

typedef enum { BREAKER_CLOSED = 0, BREAKER_HALF_OPEN = 1, BREAKER_OPEN = 2 } breaker_state;
/* breaker_allow's answers */
enum { BREAKER_REFUSE = 0, BREAKER_CALL = 1, BREAKER_TRIAL = 2 };

typedef struct breaker_config {
    int enabled;         /* 0: every call goes through, nothing is counted */
    int threshold;       /* failures in a row that open it, >= 1 */
    int64_t window_ms;   /* ... within this long */
    int64_t cooldown_ms; /* open this long before the trial */
} breaker_config;

typedef struct breaker {
    pthread_mutex_t mu;
    breaker_config cfg;
    breaker_state state;
    int failures;           /* in a row (CLOSED) */
    int64_t first_fail_ms;  /* of the run */
    int64_t opened_ms;      /* when it opened last */
    int64_t trial_ms;       /* HALF_OPEN: when the trial was let through */
    uint64_t opened, closed; /* transitions so far */
} breaker;

/* A snapshot for metrics and replies. */
typedef struct breaker_info {
    breaker_state state;
    int failures;
    int64_t opened_ms;  /* monotonic; 0 = never */
    uint64_t opened, closed;
} breaker_info;

void breaker_init(breaker *b, const breaker_config *c);
void breaker_release(breaker *b);
/* May a call go out at now_ms?  BREAKER_CALL (closed, or disabled),
 * BREAKER_TRIAL (the half-open trial: report its outcome), BREAKER_REFUSE
 * (open; *retry_ms, may be NULL, says when a trial is due, at least 0).
 * *from (may be NULL) gets the state before the call when this call moved
 * OPEN to HALF_OPEN, else -1. */
int breaker_allow(breaker *b, int64_t now_ms, int64_t *retry_ms, int *from);
/* The outcome of a call that went out: ok 1 (the dependency answered) or 0
 * (it failed).  Returns the state entered when this outcome changed it
 * (BREAKER_OPEN: it opened; BREAKER_CLOSED: it closed), else -1. */
int breaker_record(breaker *b, int64_t now_ms, int ok);
void breaker_get(breaker *b, breaker_info *out);
/* "closed", "half-open", "open" */
const char *breaker_state_name(breaker_state s);

#endif
