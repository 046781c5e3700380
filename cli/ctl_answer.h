/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a daemon's one-line JSON answer (docs/CONTROL.md). */
#ifndef LETHEFS_CTL_ANSWER_H
#define LETHEFS_CTL_ANSWER_H

#include <stdbool.h>

/* Whether the answer says "ok":true. */
bool lfs_ctl_answer_ok(const char *resp);
/* Prints the error of a failed answer ("lethefs: CMD: message") and maps
 * its code to an exit code (wrong-secret 3, denied 12, busy 13,
 * overloaded 21, corrupt 5, locked 14, anything else 1). */
int lfs_ctl_answer_error(const char *cmd, const char *resp);

/* The --help lines of --socket, and the exit codes every client of the
 * control socket shares (unlock, lock, status). */
extern const char lfs_socket_help[];
extern const char lfs_control_exit_help[];

#endif
