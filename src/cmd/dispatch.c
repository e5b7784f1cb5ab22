/* dispatch.c - finds a subcommand in the table and runs it; `help`. */
#include <stdio.h>
#include <string.h>
#include "cmd/cmd.h"

static const cmd_def *cmd_table;

int cmd_dispatch(const cmd_def *table, int argc, char **argv)
{
    cmd_table = table;
    if (argc < 2) {
        cmd_help(1, argv);
        return CMD_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) name = "help";
    if (!strcmp(name, "--version")) name = "version";
    for (const cmd_def *c = table; c->name; c++)
        if (!strcmp(c->name, name)) return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "orderly: '%s' is not a command. See 'orderly help'.\n", name);
    return CMD_USAGE;
}

int cmd_help(int argc, char **argv)
{
    if (argc >= 2 && cmd_table) {
        for (const cmd_def *c = cmd_table; c->name; c++) {
            if (!strcmp(c->name, argv[1]) && strcmp(c->name, "help")) {
                char *sub[] = {argv[1], "--help", 0};
                return c->fn(2, sub);
            }
        }
        fprintf(stderr, "orderly: no help for '%s'\n", argv[1]);
        return CMD_USAGE;
    }
    printf("usage: orderly <command> [options]\n\ncommands:\n");
    for (const cmd_def *c = cmd_table; c && c->name; c++) printf("  %-10s %s\n", c->name, c->help);
    printf("\n'orderly <command> --help' describes one command.\n");
    return CMD_OK;
}

int cmd_group(const char *group, const cmd_def *sub, int argc, char **argv)
{
    const char *name = argc >= 2 ? argv[1] : NULL;
    int help = name && (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help"));
    if (name && !help) {
        for (const cmd_def *c = sub; c->name; c++)
            if (!strcmp(c->name, name)) return c->fn(argc - 1, argv + 1);
        fprintf(stderr, "orderly %s: '%s' is not a subcommand. See 'orderly %s --help'.\n", group, name, group);
        return CMD_USAGE;
    }
    FILE *f = help ? stdout : stderr;
    fprintf(f, "usage: orderly %s <subcommand> [options]\n\nsubcommands:\n", group);
    for (const cmd_def *c = sub; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->help);
    fprintf(f, "\n'orderly %s <subcommand> --help' describes one.\n", group);
    return help ? CMD_OK : CMD_USAGE;
}
