/* clock.h - wall and monotonic time in the units orderly stores. */
#ifndef ORDERLY_CLOCK_H
#define ORDERLY_CLOCK_H
#include <stdint.h>
#include <stddef.h>
#include <time.h>

int64_t clock_wall_ms(void);   /* Unix epoch, milliseconds */
int64_t clock_mono_us(void);   /* monotonic, microseconds */
int64_t clock_mono_ms(void);

/* Test hook: when nonzero, clock_wall_ms() returns wall + offset.  Lets unit
 * tests move time forward (visibility, retention, expiry) without sleeping. */
void clock_set_offset_ms(int64_t offset_ms);

/* Formats ms since epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" (or without millis
 * when with_ms is 0).  buf needs 32 bytes.  Returns buf. */
char *clock_fmt_iso(int64_t ms, int with_ms, char *buf, size_t len);
/* Parses RFC 3339 ("2024-01-02T03:04:05Z", optional fraction and offset).
 * Returns 0 and sets *ms, or ORD_EINVAL. */
int clock_parse_iso(const char *s, int64_t *ms);
/* abstime for pthread_cond_timedwait on CLOCK_MONOTONIC, ms from now */
struct timespec clock_mono_deadline(int64_t ms_from_now);

#endif
