/* SPDX-License-Identifier: Apache-2.0 */
/* The entry reply for an object the daemon has just made (lfs_make2).
 *
 * A lookup finds an object by its name (an open and a stat of the backing
 * entry) and reads what it holds (the header or .lethefs.dir, an open, a
 * read and a close) before it trusts it. For an object made a moment ago
 * that is five backing calls to learn what the daemon itself wrote; on a
 * network engine each is a round trip (docs/PERFORMANCE.md, "Backing
 * calls per created file"). Here the inode comes from the descriptor the
 * daemon created the object with, and its header or directory metadata and
 * record from what it wrote: one stat.
 *
 * Nothing read from the backing store is trusted without its check: the
 * values seeded are the daemon's own, never read back, and the descriptor
 * is the object made, whatever the name points at by now (a lookup by
 * name could have found an object the backing store's writer put there
 * meanwhile; it would have had to authenticate, and this one needs no
 * check at all). */
#define _GNU_SOURCE
#include "ops.h"
#include "heldtimes.h"
#include "attr.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Gives a new inode what was written into its object. An inode that was
 * found in the table already loaded (never for a new object, whose inode
 * number was free) keeps what it has. */
static void seed(struct lfs_inode *in, const struct lfs_made *made)
{
	pthread_mutex_lock(&in->meta_lock);
	if (in->fmt == 0 || (in->fmt == 2 && !in->have_rec)) {
		in->fmt = 2;
		in->rec = made->rec;
		in->have_rec = true;
		in->type = lfs_irec_ifmt(made->rec.type);
		if (made->dir) {
			in->dirmeta = made->dirmeta;
			in->have_dirmeta = true;
		} else {
			in->header = made->header;
			in->have_header = true;
			if (made->header.flags & LFS_HDR_FLAG_IATTR) {
				in->iattr_src = true;
				in->iattr_bound = true;
				memcpy(in->iattr_bind, made->header.file_id,
				       sizeof(in->iattr_bind));
			}
		}
	}
	pthread_mutex_unlock(&in->meta_lock);
}

int lfs_made_entry(struct lfs_fs *fs, struct lfs_inode *parent, const char *backing,
                   const struct lfs_made *made, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(made->fd, proc);
	/* The inode's own O_PATH descriptor of the same object: through
	 * /proc, no lookup on the backing filesystem (an O_PATH open does
	 * not open the file there). */
	int fd = open(proc, O_PATH | O_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && lfs_fs_shed_fds(fs))
		fd = open(proc, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	uint64_t mark = lfs_times_mark(); /* (before the stat) */
	if (fstat(made->fd, &e->attr) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	int err = 0;
	struct lfs_inode *inode = lfs_inode_get(fs, fd, &e->attr, &err);
	if (!inode)
		return -err;
	lfs_inode_set_stage(fs, inode, parent->stage_id, false);
	lfs_inode_set_path(fs, inode, parent, backing);
	seed(inode, made);
	if (made->noacl)
		lfs_acl_none_yet(fs, inode);
	int ifd = lfs_inode_pin(fs, inode);
	/* (A shared mount reads the record again, as the change time its
	 * stat has not been seen yet: through the descriptor the object was
	 * made with, not one opened for it.) */
	int r = ifd < 0 ? ifd : lfs_attr_stat_rfd(fs, inode, ifd, made->fd, &e->attr, mark);
	if (ifd >= 0)
		lfs_inode_unpin(fs, inode);
	if (r < 0) {
		lfs_inode_forget(fs, inode, 1);
		return r;
	}
	e->ino = (fuse_ino_t)(uintptr_t)inode;
	lfs_fill_entry_timeouts(fs, e);
	e->attr_timeout = lfs_attr_timeout(fs, inode, e->attr.st_size);
	return 0;
}
