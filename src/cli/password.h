/* password.h - reading a password for a command: the first line of
 * standard input, or - on a terminal - a prompt that does not echo. */
#ifndef ORDERLY_CLI_PASSWORD_H
#define ORDERLY_CLI_PASSWORD_H
#include <stddef.h>

/* 0 with the password (no newline) in buf, or -1 (nothing read). */
int cli_read_password(const char *prompt, char *buf, size_t n);

#endif
