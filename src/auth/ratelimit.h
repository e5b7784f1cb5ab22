/* ratelimit.h - token buckets by key (a client address, a principal, an
 * account name), in memory, per node.  A bucket holds up to `burst` tokens
 * and refills at `per_s`; a request takes one.  The table is bounded
 * (LIMIT_RATE_BUCKETS): when the slots a key may use are all taken, the one
 * used least recently is given to it (a forgotten key starts full again -
 * the price of a bound).  THREAD SAFETY: any thread (one mutex). */
#ifndef ORDERLY_RATELIMIT_H
#define ORDERLY_RATELIMIT_H
#include <stdint.h>

typedef struct ratelimit ratelimit;

/* per_s > 0, burst >= 1.  NULL when out of memory. */
ratelimit *ratelimit_new(double per_s, double burst);
void ratelimit_free(ratelimit *rl);
/* Takes a token for key at now_ms: 0 when there was one, else the seconds
 * (rounded up, >= 1) until there will be - the Retry-After. */
int ratelimit_take(ratelimit *rl, const char *key, int64_t now_ms);
/* Like ratelimit_take but takes nothing: 0 or the seconds to wait. */
int ratelimit_peek(ratelimit *rl, const char *key, int64_t now_ms);

#endif
