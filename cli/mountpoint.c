/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "mountpoint.h"
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

static int is_mount_root(const char *mnt)
{
	struct statx stx;
	if (statx(AT_FDCWD, mnt, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return -errno;
	if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return 0; /* kernel too old to say; the emptiness check remains */
	return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

static int is_empty(const char *mnt)
{
	DIR *d = opendir(mnt);
	if (!d)
		return -errno;
	int empty = 1;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

int lfs_mountpoint_check(const char *mnt, bool nonempty)
{
	struct stat st;
	struct statfs sfs;
	/* statfs always reaches a FUSE daemon; stat may be answered from
	 * the kernel's attribute cache. */
	if (statfs(mnt, &sfs) < 0 || stat(mnt, &st) < 0) {
		if (errno == ENOTCONN) {
			lfs_cli_error("mountpoint %s is a dead FUSE mount (its daemon is gone); "
			              "unmount it first: umount -l %s",
			              mnt, mnt);
			return LFS_EXIT_MOUNT;
		}
		return 0; /* reported with the other path checks */
	}
	if (nonempty || !S_ISDIR(st.st_mode))
		return 0;
	int r = is_mount_root(mnt);
	if (r > 0) {
		lfs_cli_error("mountpoint %s already carries a mount; unmount it first (or "
		              "-o nonempty to mount over it)",
		              mnt);
		return LFS_EXIT_MOUNT;
	}
	r = is_empty(mnt);
	if (r == 0) {
		lfs_cli_error("mountpoint %s is not empty: its files would be hidden by the "
		              "mount (-o nonempty mounts over them anyway)",
		              mnt);
		return LFS_EXIT_MOUNT;
	}
	return 0;
}
