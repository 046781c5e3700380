/* SPDX-License-Identifier: Apache-2.0 */
/* An inode moved onto the backing object that replaced its own under the
 * same name (fs.h, lfs_inode_repoint). A rotation converts a format-1
 * symlink or special file by building a new backing object and renaming it
 * over the old one (rotation/upconvert.h, rotation/redir.c): the kernel
 * keeps the inode it knows under that name, and every request on it (a
 * stat, a readlink through a path resolved before, a descriptor held on
 * it) would otherwise reach the unlinked old object: no links left, and
 * once the old epoch is retired a target that no longer decrypts. Telling
 * the kernel to forget the name is not enough, since what it already
 * resolved keeps the old inode. */
#define _GNU_SOURCE
#include "fs.h"
#include "inode_int.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The descriptor: the new object takes the old one's number (dup3, one
 * atomic step), so that a request that pinned it before uses the new
 * object from its next call on, and nothing is closed under it. A parked
 * inode gets the descriptor as its own. The saved file handle named the
 * old object: dropped (park takes a new one when it needs it). False
 * when the descriptor could not be swapped (fd closed, nothing changed). */
static bool swap_fd(struct lfs_fs *fs, struct lfs_inode *in, int fd)
{
	int spare = -1;
	bool done = true;
	pthread_mutex_lock(&fs->fd_lock);
	int was = in->fd;
	if (was < 0) {
		in->fd = fd;
		fs->open_fds++;
		if (in->fd_pins == 0)
			lfs_fdpark_release(fs, in);
	} else {
		int r;
		/* (EBUSY: a descriptor being opened in another thread.) */
		for (int i = 0; i < 100 && (r = dup3(fd, was, O_CLOEXEC)) < 0 &&
		                (errno == EBUSY || errno == EINTR);
		     i++)
			;
		if (r == was) {
			spare = fd;
		} else if (in->fd_pins == 0) {
			spare = was; /* nobody uses the old number: it may go */
			in->fd = fd;
		} else {
			spare = fd;
			done = false;
		}
	}
	if (done) {
		if (in->fh && in->fh != (struct file_handle *)in->fh_inline)
			free(in->fh);
		in->fh = NULL;
	}
	pthread_mutex_unlock(&fs->fd_lock);
	if (spare >= 0)
		close(spare);
	return done;
}

int lfs_inode_repoint(struct lfs_fs *fs, struct lfs_inode *in, int fd, const struct stat *st,
                      uint8_t fmt, const struct lfs_irec *rec, const struct lfs_file_header *h)
{
	if (in == &fs->root || !swap_fd(fs, in, fd)) {
		if (in == &fs->root)
			close(fd);
		return -EBUSY;
	}
	lfs_inode_rekey(fs, in, st);
	pthread_mutex_lock(&in->meta_lock);
	/* Its kind as the kernel sees it (in->type) is the same: a format-2
	 * object's record keeps the backing object's type. */
	in->fmt = fmt;
	in->have_rec = fmt == 2 && rec;
	if (in->have_rec) {
		in->rec = *rec;
		in->rec_ctime = st->st_ctim;
	}
	in->have_header = fmt == 2 && h;
	if (in->have_header)
		in->header = *h;
	in->iattr_src = false;
	in->iattr_bound = false;
	in->noacl = 0;
	in->acl_gen++;
	pthread_mutex_unlock(&in->meta_lock);
	return 0;
}
