/* md5.h - MD5 digests as lowercase hex (SQS's MD5OfMessageBody). */
#ifndef ORDERLY_MD5_H
#define ORDERLY_MD5_H
#include <stddef.h>

#define MD5_HEX_LEN 32

/* out receives 32 hex digits and a NUL. */
void md5_hex(const void *data, size_t n, char out[MD5_HEX_LEN + 1]);

#endif
