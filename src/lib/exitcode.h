/* exitcode.h - the process exit codes of every orderly command (and of the
 * CLI's HTTP client, which commands return straight through). */
#ifndef ORDERLY_EXITCODE_H
#define ORDERLY_EXITCODE_H

#define CMD_OK 0    /* success */
#define CMD_FAIL 1  /* the work failed (server unreachable, error answer, I/O) */
#define CMD_USAGE 2 /* bad arguments or configuration */

#endif
