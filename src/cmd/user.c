/* user.c - `orderly user add NAME --role ROLE` and `orderly user passwd
 * NAME`: accounts written straight into the database (SQLite file or
 * PostgreSQL), so they work against a stopped server as against a running
 * one (the server notices within LIMIT_AUTH_CACHE_MS).  The password comes
 * from standard input (a prompt on a terminal), never from the command
 * line.  The database is found as `orderly serve` finds it: --env, --db,
 * --config, ORDERLY_DB. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "auth/auth.h"
#include "cli/password.h"
#include "cmd/cmd.h"
#include "conf/config.h"
#include "lib/err.h"
#include "lib/id.h"
#include "lib/str.h"
#include "obs/log.h"
#include "store/store.h"

typedef struct user_cmd {
    int add;
    const char *name, *role, *email, *customer;
    char pw[LIMIT_PASSWORD_MAX * 4 + 2];
    password_cost cost;
    auth_user u;
    int rc;
} user_cmd;

static int add_unit(store_conn *tx, void *arg)
{
    user_cmd *c = arg;
    return auth_user_insert_tx(tx, NULL, &c->u);
}

static int passwd_unit(store_conn *tx, void *arg)
{
    user_cmd *c = arg;
    auth_user cur;
    int rc = auth_user_by_login(tx, c->name, &cur);
    if (rc) return rc;
    c->u.id = cur.id;
    return auth_user_password_tx(tx, NULL, cur.id, c->u.hash, 1);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: orderly user add NAME --role ROLE [--email EMAIL] [--customer-id ID] [serve options]\n"
               "       orderly user passwd NAME [serve options]\n\n"
               "Writes the account into the database (--env, --db, --config as for `orderly serve`), whether\n"
               "the server runs or not.  The password is read from standard input (a prompt on a terminal):\n"
               "12-256 characters, not one of the most common.  ROLE: admin, operator, viewer, customer.\n");
}

static int run(user_cmd *uc, int argc, char **argv)
{
    /* our own options out, the rest to the configuration */
    char *rest[64];
    int nrest = 0;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--role")          ? &uc->role
                           : !strcmp(argv[i], "--email")       ? &uc->email
                           : !strcmp(argv[i], "--customer-id") ? &uc->customer
                                                               : NULL;
        if (dst) {
            if (i + 1 >= argc) {
                fprintf(stderr, "orderly user: %s needs a value\n", argv[i]);
                return CMD_USAGE;
            }
            *dst = argv[++i];
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return CMD_OK;
        } else if (argv[i][0] != '-' && !uc->name) {
            uc->name = argv[i];
        } else if (nrest < 63) {
            rest[nrest++] = argv[i];
        }
    }
    if (!uc->name) {
        usage(stderr);
        return CMD_USAGE;
    }
    int role = uc->add ? auth_role_parse(uc->role) : 0;
    if (uc->add && !role) {
        fprintf(stderr, "orderly user add: --role must be admin, operator, viewer or customer\n");
        return CMD_USAGE;
    }
    config *cfg = NULL;
    char err[LIMIT_CONFIG_ERR_MAX];
    optind = 1;
    int rc = config_from_args(nrest, rest, &cfg, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "orderly: %s\n", err);
        return config_exit_code(rc);
    }
    if (rc) { /* --help or --print-config of the serve options */
        config_free(cfg);
        usage(stdout);
        return CMD_OK;
    }
    log_setup(cfg->env, LOG_WARN);
    const char *why;
    if (cli_read_password("password: ", uc->pw, sizeof uc->pw) ||
        password_policy(uc->pw, strlen(uc->pw), uc->name, &why)) {
        fprintf(stderr, "orderly user: the password %s\n", uc->pw[0] ? why : "is missing (standard input)");
        config_free(cfg);
        sodium_memzero(uc->pw, sizeof uc->pw);
        return CMD_USAGE;
    }
    uc->cost = (password_cost){(unsigned long long)cfg->auth.argon2_iterations, (size_t)cfg->auth.argon2_memory_kib};
    rc = password_hash(uc->pw, strlen(uc->pw), &uc->cost, uc->u.hash);
    sodium_memzero(uc->pw, sizeof uc->pw);
    store *st = NULL;
    store_opts so = {cfg->db, cfg->store.pending_max, cfg->store.batch_max, cfg->store.window_us, 0};
    if (!rc) rc = id_init();
    if (!rc) rc = store_open(&st, &so);
    if (!rc && uc->add) {
        str_copy(uc->u.username, sizeof uc->u.username, uc->name);
        if (uc->email) str_copy(uc->u.email, sizeof uc->u.email, uc->email);
        uc->u.role = role;
        uc->u.active = 1;
        if (role == ROLE_CUSTOMER)
            str_copy(uc->u.customer_id, sizeof uc->u.customer_id, uc->customer ? uc->customer : uc->name);
        rc = store_run(st, add_unit, uc);
    } else if (!rc) {
        rc = store_run(st, passwd_unit, uc);
    }
    store_close(st);
    if (rc == ORD_EEXISTS)
        fprintf(stderr, "orderly user add: a user named %s (or with that email) exists\n", uc->name);
    else if (rc == ORD_ENOTFOUND)
        fprintf(stderr, "orderly user passwd: no user %s\n", uc->name);
    else if (rc)
        fprintf(stderr, "orderly user: %s\n", err_msg(rc));
    else
        printf("%s %s in %s\n", uc->add ? "added user" : "new password for", uc->name, cfg->db);
    config_free(cfg);
    return rc ? (rc == ORD_EEXISTS || rc == ORD_ENOTFOUND ? CMD_USAGE : CMD_FAIL) : CMD_OK;
}

static int user_add(int argc, char **argv)
{
    user_cmd uc = {.add = 1};
    return run(&uc, argc, argv);
}

static int user_passwd(int argc, char **argv)
{
    user_cmd uc = {.add = 0};
    return run(&uc, argc, argv);
}

static const cmd_def user_sub[] = {
    {"add", user_add, "create an account (password from standard input)"},
    {"passwd", user_passwd, "set an account's password (from standard input); its sessions end"},
    {0, 0, 0},
};

int cmd_user(int argc, char **argv)
{
    return cmd_group("user", user_sub, argc, argv);
}
