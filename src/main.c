/* main.c - the orderly binary: a table of subcommands (git.c commands[]).
 * Everything else lives in the orderly_core library. */
#include <stdio.h>
#include <string.h>
#include "cmd/cmd.h"
#ifdef ORDERLY_FAULTS
#include "store/faults.h"
#endif

static const cmd_def commands[] = {
    {"serve", cmd_serve, "run the server until SIGTERM/SIGINT"},
    {"migrate", cmd_migrate, "create or upgrade the database schema and exit; --from FILE --to URL copies SQLite into PostgreSQL"},
    {"queues", cmd_queues, "list the queues of a running server with their depths"},
    {"dlq", cmd_dlq, "dead-letter queues: list, replay, purge"},
    {"events", cmd_events, "replay archived events of a time window through the rules"},
    {"orders", cmd_orders, "orders: get, list, cancel"},
    {"seed", cmd_seed, "load a product catalog file into a running server"},
    {"loadgen", cmd_loadgen, "send orders at a fixed rate for a while and summarise"},
    {"bench", cmd_bench, "measure P1-P4 against a running server, print one table"},
    {"login", cmd_login, "sign in to a running server; later commands use the saved token"},
    {"logout", cmd_logout, "revoke the saved session and forget it"},
    {"user", cmd_user, "accounts in the database: add, passwd"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "list the commands, or `help COMMAND`"},
    {0, 0, 0},
};

int main(int argc, char **argv)
{
#ifdef ORDERLY_FAULTS /* orderly-faults: the test build that can fail SQLite's calls */
    if (faults_install()) {
        fprintf(stderr, "orderly: ORDERLY_FAULT must be malloc:N, write:N or sync:N (N >= 1, optional +)\n");
        return 2;
    }
#endif
    return cmd_dispatch(commands, argc, argv);
}
