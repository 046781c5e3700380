/* SPDX-License-Identifier: Apache-2.0 */
/* Step 2 of a shred: the kernel forgets everything it cached below the
 * staging directory (pages, attributes). Runs on the control thread,
 * never inside a FUSE handler. Only the inodes of that staging id are
 * touched (the table keeps a list per id), not the whole table. */
#define _GNU_SOURCE
#include "stage_inval.h"
#include "stage.h"
#include "../fs/ops.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static void drop_one(struct lfs_fs *fs, struct lfs_inode *inode, void *arg)
{
	uint32_t id = *(const uint32_t *)arg;
	if (inode->stage_id != id || inode == &fs->root)
		return; /* (changed since the list was taken) */
	fuse_lowlevel_notify_inval_inode(fs->se, (fuse_ino_t)(uintptr_t)inode, 0, 0);
}

void lfs_stage_invalidate(void *arg, uint32_t id)
{
	struct lfs_fs *fs = arg;
	if (fs->se)
		lfs_fs_for_each_in(fs, LFS_SET_STAGE, id, drop_one, &id);
}

/* Another host adopted a directory as staging: its backing directory moved
 * to VAULT/staging/<id> with a new .lethefs.dir (the staging key's epoch, a
 * new directory id, its record sealed under that key). A lookup through
 * its new marker would tell this host so (ops_entry.c), but an inode
 * reached without one (a process's working directory inside it) would keep
 * staging id 0 and the old metadata: its names would be looked up and made
 * under the old directory id and key. Found by its backing inode. */
void lfs_stage_restage(void *arg, uint32_t id, int sdirfd)
{
	struct lfs_fs *fs = arg;
	char hex[9];
	lfs_stage_id_hex(id, hex);
	int dfd = openat(sdirfd, hex, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	struct stat st;
	struct lfs_inode *inode = fstat(dfd, &st) == 0 ? lfs_inode_find(fs, &st) : NULL;
	close(dfd);
	if (!inode)
		return;
	if (inode != &fs->root) {
		pthread_mutex_lock(&inode->meta_lock);
		inode->have_dirmeta = false;
		inode->have_rec = false;
		pthread_mutex_unlock(&inode->meta_lock);
		/* (takes the table lock: never under meta_lock) */
		lfs_inode_set_stage(fs, inode, id, true);
		if (fs->se)
			fuse_lowlevel_notify_inval_inode(fs->se, (fuse_ino_t)(uintptr_t)inode, 0,
			                                 0);
	}
	lfs_inode_release(fs, inode);
}
