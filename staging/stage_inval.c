/* SPDX-License-Identifier: Apache-2.0 */
/* Step 2 of a shred: the kernel forgets everything it cached below the
 * staging directory (pages, attributes). Runs on the control thread,
 * never inside a FUSE handler. Only the inodes of that staging id are
 * touched (the table keeps a list per id), not the whole table. */
#include "stage_inval.h"
#include "../fs/ops.h"

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
