/* login.c - `orderly login` and `orderly logout`: the command line signs
 * in to a running server (POST /api/login) and keeps the tokens in its
 * credentials file (mode 0600) for every later command; an expired access
 * token is renewed with the refresh token.  ORDERLY_TOKEN overrides. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "cli/client.h"
#include "cli/password.h"
#include "cli/token.h"
#include "cmd/cmd.h"

static const cli_flag login_flags[] = {
    {"username", "NAME", "the account (default admin)"},
    {0, 0, 0},
};
static const cli_spec login_spec = {"login [--username NAME] [--url URL]",
                                    "Signs in; the password is read from standard input (a prompt on a terminal).\n"
                                    "The tokens are kept in $XDG_CONFIG_HOME/orderly/credentials (~/.config/...), "
                                    "mode 0600.",
                                    0, 0, login_flags};

int cmd_login(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &login_spec, "login", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    const char *user = cli_opt(&c, "username");
    char pw[LIMIT_PASSWORD_MAX * 4 + 2];
    if (cli_read_password("password: ", pw, sizeof pw)) {
        fprintf(stderr, "orderly login: no password on standard input\n");
        cli_release(&c);
        return CMD_USAGE;
    }
    json_t *body = json_pack("{s:s,s:s}", "username", user ? user : "admin", "password", pw), *reply = NULL;
    sodium_memzero(pw, sizeof pw);
    long status = 0;
    rc = body ? cli_http_once(&c, "POST", "/api/login", body, 0, &status, &reply) : CMD_FAIL;
    json_decref(body);
    if (!rc && status != 200) {
        cli_print_problem(status, reply);
        rc = CMD_FAIL;
    }
    if (!rc) {
        const char *a = json_string_value(json_object_get(reply, "accessToken"));
        const char *r = json_string_value(json_object_get(reply, "refreshToken"));
        char path[1024] = "";
        cli_token_path(path, sizeof path);
        if (!a || !r || cli_token_save(c.url, a, r)) {
            fprintf(stderr, "orderly login: cannot save the credentials in %s\n", path);
            rc = CMD_FAIL;
        } else {
            printf("signed in to %s as %s (credentials in %s)\n", c.url, user ? user : "admin", path);
        }
    }
    json_decref(reply);
    cli_release(&c);
    return rc;
}

static const cli_spec logout_spec = {"logout [--url URL]",
                                     "Revokes the saved refresh token on the server and forgets the credentials.",
                                     0, 0, NULL};

int cmd_logout(int argc, char **argv)
{
    cli c;
    int rc = cli_init(&c, &logout_spec, "logout", argc, argv);
    if (rc) return rc == CLI_HELP ? CMD_OK : rc;
    char access[CLI_TOKEN_MAX + 1], refresh[CLI_TOKEN_MAX + 1];
    if (!cli_token_get(access, refresh) && refresh[0]) {
        json_t *body = json_pack("{s:s}", "refreshToken", refresh), *reply = NULL;
        long status = 0;
        if (body) cli_http_once(&c, "POST", "/api/logout", body, 0, &status, &reply);
        json_decref(body);
        json_decref(reply);
    }
    rc = cli_token_forget() ? CMD_FAIL : CMD_OK;
    if (!rc) printf("signed out\n");
    cli_release(&c);
    return rc;
}
