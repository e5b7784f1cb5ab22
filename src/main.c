/* main.c - the orderly binary: a table of subcommands (git.c commands[]).
 * Everything else lives in the orderly_core library. */
#include <stdio.h>
#include <string.h>
#include "cmd/cmd.h"

static const cmd_def commands[] = {
    {"serve", cmd_serve, "run the server until SIGTERM/SIGINT"},
    {"migrate", cmd_migrate, "create or upgrade the database schema and exit"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "list the commands, or `help COMMAND`"},
    {0, 0, 0},
};

int main(int argc, char **argv)
{
    return cmd_dispatch(commands, argc, argv);
}
