/* utf8.h - keeping text valid UTF-8 where it was cut or came from a client.
 *
 * jansson refuses strings that are not valid UTF-8 (json_string returns
 * NULL), so text that echoes client input into a JSON answer - a message
 * cut with "%.64s", a field path made of an unknown key - must be scrubbed
 * first, or the error that carries it is silently lost. */
#ifndef ORDERLY_UTF8_H
#define ORDERLY_UTF8_H
#include <stddef.h>

/* Length of the longest prefix of s[0..n) that is valid UTF-8 (RFC 3629:
 * no overlongs, no surrogates, at most U+10FFFF). */
size_t utf8_valid_prefix(const char *s, size_t n);
/* Makes the NUL-terminated s valid UTF-8 in place: a sequence cut at the
 * end is dropped, every other invalid byte becomes '?'.  Returns s. */
char *utf8_scrub(char *s);

#endif
