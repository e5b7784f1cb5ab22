/* handoff.c - see handoff.h. */
#include "lib/handoff.h"

#include <string.h>

#define HANDOFF_FLUSHES 8 /* distinct (flush, arg) pairs a scope holds */

typedef struct pending_flush {
    void (*fn)(void *);
    void *arg;
} pending_flush;

static _Thread_local struct {
    int depth, n;
    pending_flush f[HANDOFF_FLUSHES];
} tl;

void handoff_open(void)
{
    tl.depth++;
}

int handoff_defer(void (*flush)(void *arg), void *arg)
{
    if (!tl.depth) return 0;
    for (int i = 0; i < tl.n; i++)
        if (tl.f[i].fn == flush && tl.f[i].arg == arg) return 1;
    if (tl.n == HANDOFF_FLUSHES) { /* make room: the oldest flushes now */
        tl.f[0].fn(tl.f[0].arg);
        for (int i = 1; i < tl.n; i++) tl.f[i - 1] = tl.f[i];
        tl.n--;
    }
    tl.f[tl.n++] = (pending_flush){flush, arg};
    return 1;
}

void handoff_close(void)
{
    if (tl.depth <= 0 || --tl.depth) return;
    /* a flush may open and close a scope of its own: take the table first */
    int n = tl.n;
    pending_flush f[HANDOFF_FLUSHES];
    memcpy(f, tl.f, sizeof f[0] * (size_t)n);
    tl.n = 0;
    for (int i = 0; i < n; i++) f[i].fn(f[i].arg);
}
