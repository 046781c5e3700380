/* SPDX-License-Identifier: Apache-2.0 */
/* Error messages of the command line, the lowest piece of cli/. */
#ifndef LETHEFS_CLI_ERROR_H
#define LETHEFS_CLI_ERROR_H

#include <stdbool.h>

/* Prints "lethefs: <msg>" to stderr. */
void lfs_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* While held, lfs_cli_error keeps only the last message instead of
 * printing it: a command that polls (status --wait-unlocked) prints the
 * reason of its last failure once, not every second. lfs_cli_error_release
 * stops holding and prints the kept message when print is true. */
void lfs_cli_error_hold(void);
void lfs_cli_error_release(bool print);

#endif
