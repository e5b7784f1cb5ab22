/* testutil.h - shared helpers for unit tests: temporary data directories. */
#ifndef ORDERLY_TESTUTIL_H
#define ORDERLY_TESTUTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Makes a fresh directory and returns "<dir>/<file>" in a static buffer. */
static inline const char *test_db_path(const char *file)
{
    static char path[256];
    char tmpl[] = "/tmp/orderly-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d) abort();
    snprintf(path, sizeof path, "%s/%s", d, file);
    return path;
}

#endif
