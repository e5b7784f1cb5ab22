/* serve.c - `orderly serve` and `orderly migrate` (wired up in a later step). */
#include <stdio.h>
#include "cmd/cmd.h"

int cmd_serve(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "orderly serve: not built yet\n");
    return CMD_FAIL;
}

int cmd_migrate(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "orderly migrate: not built yet\n");
    return CMD_FAIL;
}
