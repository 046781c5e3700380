/* SPDX-License-Identifier: Apache-2.0 */
/* Error messages of the command line, the lowest piece of cli/. */
#ifndef LETHEFS_CLI_ERROR_H
#define LETHEFS_CLI_ERROR_H

/* Prints "lethefs: <msg>" to stderr. */
void lfs_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
