/* cmd.h - CLI subcommands.  Each takes argc/argv starting at its own name
 * and returns the process exit code: 0 ok, 1 failure, 2 usage. */
#ifndef ORDERLY_CMD_H
#define ORDERLY_CMD_H

#define CMD_OK 0
#define CMD_FAIL 1
#define CMD_USAGE 2

typedef struct cmd_def {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} cmd_def;

int cmd_dispatch(const cmd_def *table, int argc, char **argv);

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_help(int argc, char **argv);

#endif
