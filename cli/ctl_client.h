/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI side of the control socket: find a mount's socket, send one
 * request, read the JSON answer. */
#ifndef LETHEFS_CTL_CLIENT_H
#define LETHEFS_CTL_CLIENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../daemon/ctlproto.h"

/* Options shared by unlock, lock and status. */
struct lfs_ctl_target {
	const char *mountpoint;
	const char *socket; /* --socket, or NULL to find it from the mount */
	bool quiet;         /* print nothing on failure (best-effort requests) */
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
/* The lethefs mount that path (which must exist) lies in: the mount whose
 * device is path's, from mountinfo. 0, -ENOENT when path is not inside a
 * lethefs mount, or -errno. */
int lfs_lethefs_mount_of(const char *path, char *mnt, size_t mntlen, char *vault, size_t vlen);

/* Whether a daemon serves the vault with this uuid (hex) at real path
 * vault_real: found through the registry under /run/lethefs (by the
 * mount's source in mountinfo, or by its socket being one of sockets[],
 * NULL-terminated), or at one of those sockets directly; each candidate
 * gets a status request and timeout_ms to answer. Returns 1 (a daemon
 * answered), 0 (none found) or -1 (one was found but did not answer: it
 * is stopped or hung); out says which. */
struct lfs_ctl_probe {
	int state;
	pid_t pid;
	char mountpoint[PATH_MAX];
};
int lfs_ctl_probe_vault(const char *uuid_hex, const char *vault_real, const char *sockets[],
                        int timeout_ms, struct lfs_ctl_probe *out);

#endif
