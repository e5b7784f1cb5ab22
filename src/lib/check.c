/* check.c - the failure path of CHECK(): print and abort (core dump). */
#include <stdio.h>
#include <stdlib.h>
#include "lib/check.h"

_Noreturn void check_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"assertion failed\",\"expr\":\"%s\",\"file\":\"%s\",\"line\":%d}\n",
            expr, file, line);
    fflush(stderr);
    abort();
}
