/* SPDX-License-Identifier: Apache-2.0 */
/* The life of a mount daemon: from an opened (and, unless locked,
 * unlocked) vault to a served mount and back. The command line parses the
 * options and asks for the secret (cli/cmd_mount.c); everything after that
 * is here: the filesystem state, the control socket, the audit log, the
 * staging table, the rotation worker, the FUSE session and its signal
 * handling, daemonizing, and the orderly shutdown after the unmount. */
#ifndef LETHEFS_MOUNT_H
#define LETHEFS_MOUNT_H

#include <stdbool.h>

#include "../keymgmt/keyring.h"
#include "../keymgmt/vault.h"

/* The parsed mount options (lethefs mount --help). */
struct lfs_mount_opts {
	bool foreground;
	bool debug;
	bool locked;
	bool writeback;
	bool acl;         /* POSIX ACLs (-o noacl turns them off) */
	bool read_only;   /* -o ro */
	bool allow_dev;   /* device nodes of the vault may be used (-o allow_dev) */
	bool shared;      /* several hosts mount the vault at once (docs/SHARED.md) */
	bool shared_sync; /* -o shared_sync: no write-behind in shared mode */
	bool iattr;       /* inode attributes for new files (FORMAT.md 14.9) */
	bool powersafe;   /* durable rewrites in place (FORMAT.md 12.11, fs/durable.h) */
	unsigned max_threads;
	double attr_timeout, entry_timeout;
	unsigned read_ahead_kb;
	unsigned random_ra_kb; /* backing read-ahead of small reads (fs.h) */
	char fuse_opts[2048];  /* what goes to libfuse/the kernel */
};

/* How a mount ended; the command line turns it into an exit code. */
enum lfs_mount_status {
	LFS_MOUNT_OK = 0,  /* served until unmounted */
	LFS_MOUNT_ERROR,   /* runtime error */
	LFS_MOUNT_CORRUPT, /* the vault's data directory or staging index is unusable */
	LFS_MOUNT_FAILED,  /* the mount itself failed (or the vault is already mounted) */
};

/* Checks each option of o->fuse_opts the way libfuse will parse it at
 * mount time, without mounting, so that a typo is reported before any
 * secret is asked. Returns 0, or -EINVAL with the first option libfuse
 * rejects copied to bad. */
int lfs_daemon_check_fuse_opts(const struct lfs_mount_opts *o, char *bad, size_t badlen);

/* Mounts vault (a real path; v opened from it, kr unlocked or, with
 * o->locked, empty) on mnt (a real path) and serves it until it is
 * unmounted; in the background unless o->foreground (the calling process
 * then returns only in the daemon). Takes v and kr over: both are closed
 * on return. On failure err says why (else it is ""). */
enum lfs_mount_status lfs_daemon_mount(const struct lfs_mount_opts *o, const char *vault,
                                       const char *mnt, struct lfs_vault *v, struct lfs_keyring *kr,
                                       char *err, size_t errlen);

#endif
