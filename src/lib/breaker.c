/* breaker.c - the circuit breaker's state machine; see breaker.h. */
#include <string.h>
#include "lib/breaker.h"
#include "lib/check.h"

void breaker_init(breaker *b, const breaker_config *c)
{
    CHECK(!c->enabled || c->threshold >= 1);
    CHECK(c->window_ms >= 0 && c->cooldown_ms >= 0);
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    b->cfg = *c;
    b->state = BREAKER_CLOSED;
}

void breaker_release(breaker *b)
{
    pthread_mutex_destroy(&b->mu);
}

static void open_at(breaker *b, int64_t now_ms)
{
    b->state = BREAKER_OPEN;
    b->opened_ms = now_ms;
    b->failures = 0;
    b->opened++;
}

int breaker_allow(breaker *b, int64_t now_ms, int64_t *retry_ms, int *from)
{
    int rc = BREAKER_CALL;
    int64_t retry = 0;
    if (from) *from = -1;
    pthread_mutex_lock(&b->mu);
    if (!b->cfg.enabled) goto out;
    switch (b->state) {
    case BREAKER_CLOSED: break;
    case BREAKER_OPEN:
        if (now_ms - b->opened_ms < b->cfg.cooldown_ms) {
            retry = b->opened_ms + b->cfg.cooldown_ms - now_ms;
            rc = BREAKER_REFUSE;
            break;
        }
        if (from) *from = BREAKER_OPEN;
        b->state = BREAKER_HALF_OPEN;
        b->trial_ms = now_ms;
        rc = BREAKER_TRIAL;
        break;
    case BREAKER_HALF_OPEN:
        if (now_ms - b->trial_ms < b->cfg.cooldown_ms) { /* the trial is out */
            retry = b->trial_ms + b->cfg.cooldown_ms - now_ms;
            rc = BREAKER_REFUSE;
            break;
        }
        b->trial_ms = now_ms; /* that trial never reported: this one is */
        rc = BREAKER_TRIAL;
        break;
    }
out:
    pthread_mutex_unlock(&b->mu);
    if (retry_ms) *retry_ms = retry;
    return rc;
}

int breaker_record(breaker *b, int64_t now_ms, int ok)
{
    int to = -1;
    pthread_mutex_lock(&b->mu);
    if (!b->cfg.enabled) goto out;
    switch (b->state) {
    case BREAKER_CLOSED:
        if (ok) {
            b->failures = 0;
            break;
        }
        if (b->failures == 0 || now_ms - b->first_fail_ms > b->cfg.window_ms) {
            b->failures = 0;
            b->first_fail_ms = now_ms;
        }
        if (++b->failures >= b->cfg.threshold) {
            open_at(b, now_ms);
            to = BREAKER_OPEN;
        }
        break;
    case BREAKER_HALF_OPEN:
        if (ok) {
            b->state = BREAKER_CLOSED;
            b->failures = 0;
            b->closed++;
            to = BREAKER_CLOSED;
        } else {
            open_at(b, now_ms);
            to = BREAKER_OPEN;
        }
        break;
    case BREAKER_OPEN: /* a call let through before it opened: the cool-down stands */
        break;
    }
    CHECK(b->failures >= 0 && b->failures < b->cfg.threshold);
out:
    pthread_mutex_unlock(&b->mu);
    return to;
}

void breaker_get(breaker *b, breaker_info *out)
{
    pthread_mutex_lock(&b->mu);
    *out = (breaker_info){b->state, b->failures, b->opened_ms, b->opened, b->closed};
    pthread_mutex_unlock(&b->mu);
}

const char *breaker_state_name(breaker_state s)
{
    switch (s) {
    case BREAKER_CLOSED: return "closed";
    case BREAKER_HALF_OPEN: return "half-open";
    case BREAKER_OPEN: return "open";
    }
    return "?";
}
