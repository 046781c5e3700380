/* SPDX-License-Identifier: Apache-2.0 */
/* Where a mount's control socket is, published by its daemon under
 * /run/lethefs (root's alone) so that clients find it without reading the
 * vault: the vault's lethefs.conf is not authenticated, and an
 * admin_group member usually cannot read a 0700 vault anyway.
 *
 * One file per mount, /run/lethefs/mount-<32 hex>, the name derived from
 * the canonical mountpoint path (BLAKE2b-128), holding:
 *
 *   lethefs-mount 1\n
 *   pid <daemon pid>\n
 *   socket <absolute socket path>\n
 *   mountpoint <canonical mountpoint>\n
 *
 * The client trusts it only when /, /run, /run/lethefs and the file are
 * root's and writable by nobody else, and then sends a secret only to a
 * socket whose SO_PEERCRED is uid 0 and that pid (docs/CONTROL.md). */
#ifndef LETHEFS_CTL_REGISTRY_H
#define LETHEFS_CTL_REGISTRY_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define LFS_RUN_DIR           "/run/lethefs"
#define LFS_REGISTRY_PREFIX   "mount-"
#define LFS_REGISTRY_FILE_MAX (PATH_MAX + 256)

struct lfs_mount_entry {
	pid_t pid;
	char socket[108];
	char mountpoint[PATH_MAX];
};

/* Creates /run/lethefs (0755, root) whatever the umask, and corrects its
 * mode and owner if it exists otherwise; refuses a symlink or non-dir. */
int lfs_run_dir_ensure(char *why, size_t whylen);

/* The entry's file name for a canonical mountpoint path. */
void lfs_registry_name(const char *mountpoint, char out[64]);

/* Strict parse and format of an entry file. Parse returns 0 or -EINVAL. */
int lfs_registry_parse(const char *text, size_t len, struct lfs_mount_entry *e);
int lfs_registry_format(const struct lfs_mount_entry *e, char *buf, size_t len);

/* Writes (atomically replaces) the entry of e->mountpoint. */
int lfs_registry_publish(const struct lfs_mount_entry *e, char *why, size_t whylen);
/* Removes the entry of mountpoint if it still names pid. */
void lfs_registry_remove(const char *mountpoint, pid_t pid);
/* Reads the entry of a canonical mountpoint after checking that the run
 * directory and the file can only have been written by root. Returns 0,
 * -ENOENT (no entry), or -EPERM / -EINVAL with why filled. */
int lfs_registry_lookup(const char *mountpoint, struct lfs_mount_entry *e, char *why,
                        size_t whylen);

#endif
