/* version.c - `orderly version`. */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>
#include <jansson.h>
#include "cmd/cmd.h"

int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: orderly version\n\nPrints orderly's version, git revision and library versions.\n");
        return CMD_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "orderly version: unexpected argument '%s'\n", argv[1]);
        return CMD_USAGE;
    }
    printf("orderly %s (%s) sqlite %s jansson %s\n", ORDERLY_VERSION, ORDERLY_GIT_REV,
           sqlite3_libversion(), jansson_version_str());
    return CMD_OK;
}
