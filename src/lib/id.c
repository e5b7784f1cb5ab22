/* id.c - see id.h. */
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "lib/id.h"
#include "lib/err.h"

int id_init(void)
{
    return sodium_init() < 0 ? ORD_EINTERNAL : 0;
}

/* n bytes of the kernel's CSPRNG in as few getrandom(2) calls as it allows
 * (libsodium's randombytes_buf asks 256 bytes a call: 16 system calls for
 * 4 KiB); libsodium's where getrandom is missing. */
static void fill(unsigned char *out, size_t n)
{
    while (n) {
        ssize_t got = getrandom(out, n, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            randombytes_buf(out, n);
            return;
        }
        out += got;
        n -= (size_t)got;
    }
}

/* Random bytes fetched 4 KiB at a time per thread: one getrandom(2) per 256
 * ids instead of one per id. */
static void rand_bytes(void *out, size_t n)
{
    static _Thread_local unsigned char buf[4096];
    static _Thread_local size_t left;
    if (n > sizeof buf) {
        fill(out, n);
        return;
    }
    if (left < n) {
        fill(buf, sizeof buf);
        left = sizeof buf;
    }
    memcpy(out, buf + sizeof buf - left, n);
    sodium_memzero(buf + sizeof buf - left, n);
    left -= n;
}

static void uuid_format(const unsigned char b[16], char out[ID_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = 0;
}

void id_uuid(char out[ID_UUID_LEN + 1])
{
    unsigned char b[16];
    rand_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    uuid_format(b, out);
}

void id_uuid7(char out[ID_UUID_LEN + 1])
{
    unsigned char b[16];
    rand_bytes(b, sizeof b);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (int i = 0; i < 6; i++) b[i] = (unsigned char)(ms >> (8 * (5 - i)));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x70);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    uuid_format(b, out);
}

int64_t id_token(void)
{
    uint64_t v;
    do {
        rand_bytes(&v, sizeof v);
        v &= 0x7fffffffffffffffULL;
    } while (v == 0);
    return (int64_t)v;
}

int id_is_uuid(const char *s)
{
    if (strlen(s) != ID_UUID_LEN) return 0;
    for (int i = 0; i < ID_UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}
