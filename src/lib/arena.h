/* arena.h - bump allocation from blocks freed together (h2o h2o_mem_pool_t).
 *
 * An arena hands out 16-byte aligned memory from its current block and,
 * when that is full, from a new malloc'd block of at least chunk_min bytes
 * (doubling).  The first block may be caller-owned memory (inline_base), so
 * a small lifetime (one HTTP request) costs no malloc.  Every arena has a
 * ceiling (total_max): past it arena_alloc returns NULL, as curl's dynbuf.
 * arena_reset frees every block but the inline one; arena_release the same.
 *
 * THREAD SAFETY: none; one owner at a time.
 */
#ifndef ORDERLY_ARENA_H
#define ORDERLY_ARENA_H
#include <stddef.h>

struct arena_chunk;

typedef struct arena {
    char *base;        /* current block */
    size_t cap;        /* its size */
    size_t used;       /* bytes handed out from it */
    size_t total;      /* bytes handed out from all blocks, <= total_max */
    size_t total_max;  /* the ceiling */
    size_t chunk_min;  /* the smallest malloc'd block */
    char *inline_base; /* caller-owned first block, or NULL */
    size_t inline_cap;
    struct arena_chunk *chunks; /* malloc'd blocks, newest first */
} arena;

/* inline_base may be NULL (inline_cap 0): the first allocation mallocs. */
void arena_init(arena *a, void *inline_base, size_t inline_cap, size_t chunk_min, size_t total_max);
/* n bytes (at least 1), 16-byte aligned, uninitialised; NULL past the
 * ceiling or when out of memory. */
void *arena_alloc(arena *a, size_t n);
/* The same, zeroed. */
void *arena_calloc(arena *a, size_t n);
/* A copy of s[0..n) with a NUL after it; NULL as arena_alloc. */
char *arena_strdup(arena *a, const char *s, size_t n);
/* At least min bytes, as many as the current block has left (*got), for
 * output of unknown size; arena_trim then gives back the unused tail. */
void *arena_alloc_rest(arena *a, size_t min, size_t *got);
/* p (from arena_alloc_rest, got bytes) keeps only used bytes, if it is the
 * latest allocation; otherwise nothing happens. */
void arena_trim(arena *a, void *p, size_t got, size_t used);
/* Frees the malloc'd blocks; the arena is empty and usable again (or done). */
void arena_reset(arena *a);

#endif
