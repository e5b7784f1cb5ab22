/* sweep.c - deleting (or expiring) rows in bounded chunks: one unit per
 * chunk, so a large backlog never becomes one long unit on the writer.
 * Backend-independent: built on store_run. */
#include "lib/check.h"
#include "lib/limits.h"
#include "store/store.h"

struct chunk {
    store_chunk_fn fn;
    void *arg;
    int limit;
    int64_t n;
};

static int chunk_unit(store_conn *tx, void *arg)
{
    struct chunk *c = arg;
    c->n = 0;
    return c->fn(tx, c->arg, c->limit, &c->n);
}

int store_sweep(store *s, store_chunk_fn fn, void *arg, int chunk, int64_t *total)
{
    CHECK(chunk > 0);
    int64_t sum = 0;
    int rc = 0;
    /* a bounded number of chunks: a large backlog (after a long stop) goes
     * over several calls, so the caller - the main thread's maintenance,
     * which also takes SIGTERM - is never held for long */
    for (int k = 0; k < LIMIT_SWEEP_CHUNKS; k++) {
        struct chunk c = {fn, arg, chunk, 0};
        if ((rc = store_run(s, chunk_unit, &c))) break;
        sum += c.n;
        if (c.n < chunk) break;
    }
    if (total) *total = sum;
    return rc;
}
