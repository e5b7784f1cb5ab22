/* ratelimit.c - see ratelimit.h. */
#include "auth/ratelimit.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/limits.h"
#include "lib/str.h"

#define KEY_MAX 96
#define PROBES 8

struct slot {
    char key[KEY_MAX];
    double tokens;
    int64_t last_ms;
};

struct ratelimit {
    pthread_mutex_t mu;
    double per_s, burst;
    struct slot slots[LIMIT_RATE_BUCKETS];
};

ratelimit *ratelimit_new(double per_s, double burst)
{
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) return NULL;
    pthread_mutex_init(&rl->mu, NULL);
    rl->per_s = per_s;
    rl->burst = burst;
    return rl;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl) return;
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

/* The key's slot, refilled to now (caller holds mu). */
static struct slot *find(ratelimit *rl, const char *key, int64_t now_ms)
{
    char k[KEY_MAX];
    str_copy(k, sizeof k, key);
    uint32_t h = str_hash(STR_HASH_SEED, k) & (LIMIT_RATE_BUCKETS - 1);
    struct slot *victim = NULL;
    for (int i = 0; i < PROBES; i++) {
        struct slot *s = &rl->slots[(h + (uint32_t)i) & (LIMIT_RATE_BUCKETS - 1)];
        if (s->key[0] && !strcmp(s->key, k)) {
            double dt = (double)(now_ms - s->last_ms) / 1000.0;
            if (dt > 0) s->tokens = fmin(rl->burst, s->tokens + dt * rl->per_s);
            s->last_ms = now_ms;
            return s;
        }
        if (!victim || !s->key[0] || (victim->key[0] && s->last_ms < victim->last_ms)) victim = s;
        if (!s->key[0]) break;
    }
    str_copy(victim->key, sizeof victim->key, k);
    victim->tokens = rl->burst;
    victim->last_ms = now_ms;
    return victim;
}

static int wait_s(ratelimit *rl, const struct slot *s)
{
    return (int)ceil((1.0 - s->tokens) / rl->per_s) > 1 ? (int)ceil((1.0 - s->tokens) / rl->per_s) : 1;
}

int ratelimit_take(ratelimit *rl, const char *key, int64_t now_ms)
{
    pthread_mutex_lock(&rl->mu);
    struct slot *s = find(rl, key, now_ms);
    int rc = 0;
    if (s->tokens >= 1.0)
        s->tokens -= 1.0;
    else
        rc = wait_s(rl, s);
    pthread_mutex_unlock(&rl->mu);
    return rc;
}

int ratelimit_peek(ratelimit *rl, const char *key, int64_t now_ms)
{
    pthread_mutex_lock(&rl->mu);
    struct slot *s = find(rl, key, now_ms);
    int rc = s->tokens >= 1.0 ? 0 : wait_s(rl, s);
    pthread_mutex_unlock(&rl->mu);
    return rc;
}
