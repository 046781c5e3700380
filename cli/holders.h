/* SPDX-License-Identifier: Apache-2.0 */
/* Which processes keep a mount busy (like fuser -m): for the messages of a
 * refused lock and a refused unmount, so that the administrator knows whom
 * to ask instead of guessing. */
#ifndef LETHEFS_HOLDERS_H
#define LETHEFS_HOLDERS_H

#include <stdbool.h>
#include <stddef.h>

/* Writes "1234 (postgres), 99 (bash: working directory)" for the processes
 * with a file open below mnt (a real path), a mapping of one, or (with
 * cwd) their working or root directory there; at most a dozen, then "and N
 * more". Returns how many processes were found (0: out is ""). Only what
 * /proc lets the caller see is found (root sees every process). */
int lfs_mount_holders(const char *mnt, bool cwd, char *out, size_t outlen);

#endif
