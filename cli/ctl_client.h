/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI side of the control socket: find a mount's socket, send one
 * request, read the JSON answer. */
#ifndef LETHEFS_CTL_CLIENT_H
#define LETHEFS_CTL_CLIENT_H

#include <stddef.h>

#include "../daemon/ctlproto.h"

/* Options shared by unlock, lock and status. */
struct lfs_ctl_target {
	const char *mountpoint;
	const char *socket; /* --socket, or NULL to find it from the mount */
	int timeout_ms;     /* > 0: give up on a daemon that does not answer in time */
};

/* Sends req (and payload) to the daemon serving target and reads the
 * answer into resp (NUL-terminated). On failure prints why and returns an
 * exit code (LFS_EXIT_NOT_MOUNTED, LFS_EXIT_DENIED, LFS_EXIT_ERROR, and
 * LFS_EXIT_TIMEOUT when target->timeout_ms passed without an answer). */
int lfs_ctl_call(const struct lfs_ctl_target *target, const struct lfs_ctl_request *req,
		 const void *payload, char *resp, size_t resplen);

/* The vault behind the lethefs mount on mnt (a real path), from
 * /proc/self/mountinfo. 0, -ENOENT when none, or -errno. */
int lfs_vault_of_mount(const char *mnt, char *vault, size_t len);

#endif
