/* Which backing tree an object lives in: d/, or VAULT/staging/ID/ below a
 * staging directory (each has its own root-level metadata, such as the
 * sidecars of long symlink targets). */
#define _GNU_SOURCE
#include "tree.h"
#include "stage.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int lfs_tree_fd(struct lfs_fs *fs, uint32_t stage_id)
{
	if (stage_id) {
		if (!fs->staging)
			return -ENOENT;
		char hex[9];
		lfs_stage_id_hex(stage_id, hex);
		int fd = openat(fs->staging->sdirfd, hex,
				O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	int rfd = lfs_inode_pin(fs, &fs->root);
	if (rfd < 0)
		return rfd;
	int fd = openat(rfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r = fd < 0 ? -errno : fd;
	lfs_inode_unpin(fs, &fs->root);
	return r;
}
