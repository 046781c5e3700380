/* SPDX-License-Identifier: Apache-2.0 */
/* The lock sequence of a mounted volume. Order matters:
 *
 *  1. DRAINING: nothing new is looked up or opened, but writes through
 *     handles already open still land;
 *  2. every inode's cached pages are dropped: the kernel first writes dirty
 *     ones back through us (this is why step 1 still accepts writes);
 *  3. LOCKED: every older handle is revoked (EIO from now on);
 *  4. the cached names of every known directory are dropped. Naming them
 *     to the kernel needs their plaintext, so the keys go last;
 *  5. the pages of step 2 once more (a read may have raced with it), then
 *     the keys are wiped.
 *
 * Steps 2 and 5 touch the root, the directories and the files opened since
 * the kernel looked them up (the only inodes whose pages it may cache);
 * step 4 the root and the directories: fs.h, lfs_fs_for_each_in. At a
 * million cached inodes that were only stat'ed, a lock walks none of them.
 *
 * Notifications are sent from the caller's thread, never from a FUSE
 * handler: the kernel may send requests back (writes of dirty pages) that
 * the worker threads must be free to answer. */
#define _GNU_SOURCE
#include "gate.h"
#include "dirnames.h"
#include "ops.h"
#include "sharedwb.h"
#include "../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

static fuse_ino_t ino_of(struct lfs_fs *fs, struct lfs_inode *inode)
{
	return inode == &fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)inode;
}

static void drop_pages(struct lfs_fs *fs, struct lfs_inode *inode, void *arg)
{
	long *count = arg;
	/* -ENOENT: the kernel has already forgotten this inode. */
	int r = fuse_lowlevel_notify_inval_inode(fs->se, ino_of(fs, inode), 0, 0);
	if (r == 0)
		(*count)++;
	else if (r != -ENOENT)
		lfs_debug("cannot drop cached pages of inode %llu: %s",
		          (unsigned long long)inode->ino, strerror(-r));
}

static void drop_names(struct lfs_fs *fs, struct lfs_inode *dir, void *arg)
{
	(void)arg;
	if (dir->type != S_IFDIR)
		return;
	int ifd = lfs_inode_pin(fs, dir);
	if (ifd < 0)
		return;
	struct lfs_dirmeta m;
	int fd = lfs_dir_meta(fs, dir, ifd, &m) < 0
	             ? -1
	             : openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);
	if (!dp && fd >= 0)
		close(fd);
	struct dirent *de;
	while (dp && (de = readdir(dp)) != NULL) {
		char plain[LFS_NAME_MAX + 1];
		if (lfs_entry_name(fs, dirfd(dp), &m, de->d_name, plain) < 0)
			continue;
		/* -ENOENT: not in the kernel's cache; nothing to drop. */
		fuse_lowlevel_notify_inval_entry(fs->se, ino_of(fs, dir), plain, strlen(plain));
		sodium_memzero(plain, sizeof(plain));
	}
	if (dp)
		closedir(dp);
	lfs_inode_unpin(fs, dir);
}

long lfs_fs_lockdown(struct lfs_fs *fs)
{
	long dropped = 0;
	/* Queued writes of shared mounts land before the keys go, written
	 * again after the gate closed (one could have passed it before). */
	lfs_swb_drain_all(fs);
	atomic_store(&fs->access, LFS_ACCESS_DRAINING);
	if (fs->se)
		lfs_fs_for_each_in(fs, LFS_SET_PAGED, 0, drop_pages, &dropped);
	atomic_fetch_add(&fs->lock_gen, 1);
	atomic_store(&fs->access, LFS_ACCESS_LOCKED);
	lfs_swb_drain_all(fs);
	if (fs->se && lfs_keyring_is_unlocked(fs->kr)) {
		lfs_fs_for_each_in(fs, LFS_SET_DIRS, 0, drop_names, NULL);
		long again = 0;
		lfs_fs_for_each_in(fs, LFS_SET_PAGED, 0, drop_pages, &again);
	}
	lfs_keyring_lock(fs->kr);
	return dropped;
}

void lfs_fs_open_gate(struct lfs_fs *fs)
{
	atomic_store(&fs->access, LFS_ACCESS_UNLOCKED);
}

void lfs_fs_forget_entry(struct lfs_fs *fs, struct lfs_inode *dir, int dirfd, const char *backing)
{
	struct lfs_dirmeta m;
	char plain[LFS_NAME_MAX + 1];
	if (!fs->se || lfs_dir_meta(fs, dir, dirfd, &m) < 0 ||
	    lfs_entry_name(fs, dirfd, &m, backing, plain) < 0)
		return;
	fuse_lowlevel_notify_inval_entry(fs->se, ino_of(fs, dir), plain, strlen(plain));
	sodium_memzero(plain, sizeof(plain));
}
