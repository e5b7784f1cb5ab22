/* arena.c - see arena.h. */
#include "lib/arena.h"
#include "lib/check.h"
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    struct arena_chunk *next;
    size_t cap;
    _Alignas(16) char data[];
};

static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

void arena_init(arena *a, void *inline_base, size_t inline_cap, size_t chunk_min, size_t total_max)
{
    CHECK(inline_base != NULL || inline_cap == 0);
    a->base = a->inline_base = inline_base;
    a->cap = a->inline_cap = inline_cap;
    a->used = a->total = 0;
    a->total_max = total_max;
    a->chunk_min = chunk_min ? chunk_min : 4096;
    a->chunks = NULL;
}

/* Makes a new current block that can hold n bytes. */
static int arena_grow(arena *a, size_t n)
{
    size_t cap = a->cap * 2 > a->chunk_min ? a->cap * 2 : a->chunk_min;
    if (cap < n) cap = n;
    struct arena_chunk *c = malloc(sizeof *c + cap);
    if (!c) return -1;
    c->next = a->chunks;
    c->cap = cap;
    a->chunks = c;
    a->base = c->data;
    a->cap = cap;
    a->used = 0;
    return 0;
}

void *arena_alloc(arena *a, size_t n)
{
    n = align16(n ? n : 1);
    if (n > a->total_max || a->total + n > a->total_max) return NULL;
    if (a->cap - a->used < n && arena_grow(a, n)) return NULL;
    void *p = a->base + a->used;
    a->used += n;
    a->total += n;
    return p;
}

void *arena_calloc(arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    if (p) memset(p, 0, n ? n : 1);
    return p;
}

char *arena_strdup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void *arena_alloc_rest(arena *a, size_t min, size_t *got)
{
    min = align16(min ? min : 1);
    if (a->cap - a->used < min) {
        if (a->total + min > a->total_max || arena_grow(a, min)) return NULL;
    }
    size_t n = a->cap - a->used;
    if (a->total + n > a->total_max) n = min;
    if (a->total + n > a->total_max) return NULL;
    void *p = a->base + a->used;
    a->used += n;
    a->total += n;
    *got = n;
    return p;
}

void arena_trim(arena *a, void *p, size_t got, size_t used)
{
    used = align16(used);
    CHECK(used <= got);
    if ((char *)p + got != a->base + a->used) return; /* not the latest allocation */
    a->used -= got - used;
    a->total -= got - used;
}

void arena_reset(arena *a)
{
    struct arena_chunk *c = a->chunks;
    while (c) {
        struct arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->chunks = NULL;
    a->base = a->inline_base;
    a->cap = a->inline_cap;
    a->used = a->total = 0;
}
