/* SPDX-License-Identifier: Apache-2.0 */
/* The conversion of objects without contents of their own epoch (rotation
 * phase "directory" and the walk's symlinks): a format-1 symlink, FIFO,
 * socket or device node is replaced by a new backing object renamed over
 * its name (rotation/upconvert.h toward a format-2 epoch, else a new
 * symlink: redir.c, lfs_relink); an empty format-1 file gets a version-2
 * header in place. The inode the kernel knows for the object follows it
 * (fs.h, lfs_inode_repoint): the kernel's inode stays valid instead of
 * reaching the unlinked old object, whose target stops decrypting once
 * the old epoch is retired. */
#define _GNU_SOURCE
#include "convert.h"
#include "redir.h"
#include "upconvert.h"
#include "../fs/gate.h"
#include "../fs/heldtimes.h"
#include "../fs/tree.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool lfs_rot_upgrading(struct walk *w)
{
	return lfs_rot_target_format2(w) && lfs_keyring_has_format1(w->fs->kr);
}

/* Moves in (its io_lock held exclusively) onto the object now at
 * dirfd/name, which replaced old (stat ost). False when it cannot. */
static bool follow(struct lfs_fs *fs, struct lfs_inode *in, int dirfd, const char *name,
                   const struct stat *ost, bool up, const struct lfs_up_made *made)
{
	int nfd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat nst;
	if (nfd < 0)
		return false;
	/* The caller holds the directory's io_lock exclusively: no request of
	 * this mount renamed anything there since the replacement. */
	bool ok = fstat(nfd, &nst) == 0 &&
	          (nst.st_ino != ost->st_ino || nst.st_dev != ost->st_dev) &&
	          (up ? S_ISREG(nst.st_mode) : S_ISLNK(nst.st_mode));
	if (!ok) {
		close(nfd);
		return false;
	}
	return lfs_inode_repoint(fs, in, nfd, &nst, up ? 2 : 1, up ? &made->rec : NULL,
	                         up ? &made->h : NULL) == 0;
}

int lfs_rot_replace_node(struct walk *w, int treefd, int dirfd, const char *name, bool up,
                         bool *forget)
{
	struct lfs_fs *fs = w->fs;
	*forget = false;
	/* The inode of the old object, if the kernel knows it: held from
	 * before the rename to after it has moved, so that no request on it
	 * meets the old object unlinked (fs/gate.c, node_lock). */
	struct stat ost;
	struct lfs_inode *in = NULL;
	int ofd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (ofd >= 0 && fstat(ofd, &ost) == 0 && !S_ISREG(ost.st_mode) && !S_ISDIR(ost.st_mode))
		in = lfs_inode_find_fd(fs, ofd, &ost);
	if (in)
		pthread_rwlock_wrlock(&in->io_lock);
	struct lfs_up_made made;
	int r =
	    up ? lfs_up_node(fs->kr, fs->layout.cipher, treefd, dirfd, name, w->r->target, &made)
	       : lfs_relink(fs->kr, treefd, dirfd, name);
	if (r == 1 && in && !follow(fs, in, dirfd, name, &ost, up, &made))
		*forget = true;
	if (in) {
		pthread_rwlock_unlock(&in->io_lock);
		lfs_inode_release(fs, in);
	}
	if (ofd >= 0)
		close(ofd);
	return r;
}

int lfs_rot_up_empty(struct walk *w, int dfd, const char *name, const struct stat *st)
{
	struct lfs_fs *fs = w->fs;
	struct lfs_inode *in = lfs_inode_find(fs, st);
	if (in)
		pthread_rwlock_wrlock(&in->io_lock);
	int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	struct stat now;
	struct lfs_file_header h;
	struct lfs_irec rec;
	int e = fd < 0 ? -errno : fstat(fd, &now) < 0 ? -errno : 0;
	if (e == 0 && now.st_ino != st->st_ino)
		e = -ESTALE;
	if (e == 0)
		e = lfs_up_empty_file(fs->kr, fs->layout.cipher, fd, &now, w->r->target, &h, &rec);
	if (e == -ENOTEMPTY)
		e = 0; /* written meanwhile: it has a header, converted as a file */
	else if (e == 0 && in) {
		pthread_mutex_lock(&in->meta_lock);
		in->header = h;
		in->have_header = true;
		in->rec = rec;
		in->have_rec = true;
		in->fmt = 2;
		pthread_mutex_unlock(&in->meta_lock);
	}
	if (fd >= 0)
		close(fd);
	if (in) {
		pthread_rwlock_unlock(&in->io_lock);
		lfs_inode_release(fs, in);
	}
	return e;
}

/* Symlinks are replaced by name, so the directory's names must not move
 * meanwhile: its io_lock exclusively. A format-1 symlink or node toward a
 * format-2 epoch becomes of format 2 (its directory's conversion normally
 * did that already; one met later was moved there from a directory not
 * converted yet). */
int lfs_rot_convert_link(struct walk *w, struct lfs_inode *dir, int dirfd, const char *name)
{
	int tfd = lfs_tree_fd(w->fs, 0); /* where long targets keep their sidecars */
	if (tfd < 0)
		return tfd;
	bool up = lfs_rot_target_format2(w), forget = false;
	pthread_rwlock_wrlock(&dir->io_lock);
	struct stat dst;
	int e = fstat(dirfd, &dst) < 0 ? -errno : 0;
	if (e == 0) {
		lfs_times_hold(dir, &dst); /* a replacement renames in the directory */
		e = lfs_rot_replace_node(w, tfd, dirfd, name, up, &forget);
		lfs_rot_keep_times(dir, dirfd);
	}
	pthread_rwlock_unlock(&dir->io_lock);
	close(tfd);
	/* Never with the directory's io_lock held: a lookup waiting for it
	 * holds the kernel's lock on the directory, which this takes. */
	if (forget)
		lfs_fs_forget_entry(w->fs, dir, dirfd, name);
	if (e == 1) {
		pthread_mutex_lock(&w->r->lock);
		w->r->links_done++;
		pthread_mutex_unlock(&w->r->lock);
	}
	return e < 0 ? e : 0;
}
