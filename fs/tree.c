/* SPDX-License-Identifier: Apache-2.0 */
/* Which backing tree an object lives in: d/, or VAULT/staging/ID/ below a
 * staging directory (each has its own root-level metadata, such as the
 * sidecars of long symlink targets). */
#define _GNU_SOURCE
#include "tree.h"
#include "stage_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int lfs_tree_fd(struct lfs_fs *fs, uint32_t stage_id)
{
	/* A staging tree through the one interface to staging/. */
	if (stage_id)
		return fs->stage ? fs->stage->open_dir(fs->stage->ctx, stage_id) : -ENOENT;
	int rfd = lfs_inode_pin(fs, &fs->root);
	if (rfd < 0)
		return rfd;
	int fd = openat(rfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r = fd < 0 ? -errno : fd;
	lfs_inode_unpin(fs, &fs->root);
	return r;
}
