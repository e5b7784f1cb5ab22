/* token.h - the command line's credentials.  ORDERLY_TOKEN (an access token
 * or an API key) when set; else what `orderly login` saved in
 * $XDG_CONFIG_HOME/orderly/credentials (~/.config/...; mode 0600): the
 * server's URL, an access token and the refresh token that renews it.
 * THREAD SAFETY: none needed (one CLI command a process). */
#ifndef ORDERLY_CLI_TOKEN_H
#define ORDERLY_CLI_TOKEN_H
#include <stddef.h>

#define CLI_TOKEN_MAX 2048

/* The credentials file's path.  0, or -1 when there is no home. */
int cli_token_path(char *out, size_t n);
/* The token to send: ORDERLY_TOKEN, else the saved access token (refresh
 * receives the saved refresh token, "" when none; may be NULL).  0, or -1
 * when there is none. */
int cli_token_get(char access[CLI_TOKEN_MAX + 1], char refresh[CLI_TOKEN_MAX + 1]);
/* Saves url, access and refresh (0600, replacing the file).  0 or -1. */
int cli_token_save(const char *url, const char *access, const char *refresh);
/* Removes the saved credentials.  0 or -1. */
int cli_token_forget(void);

#endif
