/* cmd.h - CLI subcommands.  Each takes argc/argv starting at its own name
 * and returns the process exit code: 0 ok, 1 failure, 2 usage. */
#ifndef ORDERLY_CMD_H
#define ORDERLY_CMD_H

#include "lib/exitcode.h"

typedef struct cmd_def {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} cmd_def;

int cmd_dispatch(const cmd_def *table, int argc, char **argv);
/* Runs a group's subcommand: argv[0] is the group ("dlq"), argv[1] the
 * subcommand ("list").  Lists the subcommands on --help (CMD_OK) and when
 * the subcommand is missing or unknown (CMD_USAGE). */
int cmd_group(const char *group, const cmd_def *sub, int argc, char **argv);

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_help(int argc, char **argv);

/* Clients of a running server (over HTTP, --url): */
int cmd_queues(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_orders(int argc, char **argv);
int cmd_seed(int argc, char **argv);
int cmd_loadgen(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);

/* Straight on the database (like migrate): */
int cmd_user(int argc, char **argv);

#endif
