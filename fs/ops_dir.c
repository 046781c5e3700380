/* SPDX-License-Identifier: Apache-2.0 */
/* Directory listing. Offsets are the backing directory's own telldir
 * cookies, so a listing stays correct while entries come and go. Entries
 * that are not user data (metadata, sidecars) are hidden; entries whose
 * names do not authenticate are skipped and logged (fsck reports them). */
#define _GNU_SOURCE
#include "ops.h"
#include "dirnames.h"
#include "prefetch.h"
#include "stage_hooks.h"
#include "../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lfs_dirp {
	struct lfs_fh_base base;
	DIR *dp;
	struct dirent *entry; /* read but not yet returned */
	off_t offset;
	struct lfs_dirmeta meta;
	bool v2; /* format-2 objects may be here (see add_entry) */
};

static struct lfs_dirp *dirp_of(struct fuse_file_info *fi)
{
	return (struct lfs_dirp *)(uintptr_t)fi->fh;
}

void lfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	struct lfs_dirp *d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct lfs_fs *fs = lfs_req_fs(req);
	int ifd = lfs_inode_pin(fs, inode);
	/* Shared: the metadata as it is now (another host's rotation). */
	if (ifd >= 0 && fs->shared)
		lfs_dir_meta_forget(inode, ifd);
	int r = ifd < 0 ? ifd : lfs_dir_meta(fs, inode, ifd, &d->meta);
	/* A directory removed (or replaced by a rename) while open: its
	 * metadata is gone with it, and it lists as empty, as on ext4. */
	struct stat st;
	if (r == -EIO && fstat(ifd, &st) == 0 && st.st_nlink == 0)
		r = 0;
	int fd = r < 0 ? -1 : openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && fd < 0)
		r = -errno;
	if (ifd >= 0)
		lfs_inode_unpin(fs, inode);
	if (r == 0 && !(d->dp = fdopendir(fd))) {
		r = -errno;
		close(fd);
	}
	if (r < 0) {
		free(d);
		fuse_reply_err(req, -r);
		return;
	}
	d->base.lock_gen = atomic_load(&fs->lock_gen);
	d->base.stage_id = inode->stage_id;
	atomic_fetch_add(&fs->open_dirs, 1);
	lfs_prefetch_arm(inode);
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 0;
	fuse_reply_open(req, fi);
}

static bool is_dot(const char *n)
{
	return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* Adds one entry to the reply buffer. Returns the bytes it took (0 when it
 * did not fit), or -1 to skip the entry. */
static int add_entry(fuse_req_t req, struct lfs_inode *dir, struct lfs_dirp *d, char *p,
		     size_t left, off_t next, bool plus)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	const char *bname = d->entry->d_name;
	char plain[LFS_NAME_MAX + 1];
	const char *name = bname;
	if (!is_dot(bname)) {
		int r = lfs_entry_name(fs, dirfd(d->dp), &d->meta, bname, plain);
		if (r == -EBADMSG)
			lfs_warn("skipping entry '%s' whose name does not authenticate (inode %llu)",
				 bname, (unsigned long long)dir->ino);
		if (r < 0)
			return r == -EACCES ? -2 : -1;
		name = plain;
	}
	uint32_t sid;
	if (!plus && d->entry->d_type == DT_LNK &&
	    lfs_stage_hook_is_marker(fs, dirfd(d->dp), bname, &sid)) {
		/* A staging directory; gone once shredded. */
		if (!lfs_stage_hook_live(fs, sid))
			return -1;
		d->entry->d_type = DT_DIR;
	}
	if (!plus) {
		/* Where format 2 may be, a regular backing file may be any type
		 * but a directory (its record says which): unknown here. */
		unsigned char type = d->entry->d_type;
		if (type == DT_REG && d->v2)
			type = DT_UNKNOWN;
		struct stat st = {.st_ino = d->entry->d_ino, .st_mode = (mode_t)type << 12};
		return (int)fuse_add_direntry(req, p, left, name, &st, next);
	}
	struct fuse_entry_param e;
	if (is_dot(bname)) {
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = d->entry->d_ino;
		e.attr.st_mode = (mode_t)d->entry->d_type << 12;
	} else if (lfs_lookup_backing(fs, dir, dirfd(d->dp), bname, &e) < 0) {
		return -1; /* vanished meanwhile */
	}
	size_t n = fuse_add_direntry_plus(req, p, left, name, &e, next);
	if (n > left && e.ino)
		lfs_inode_forget(fs, lfs_inode_of(req, e.ino), 1);
	return (int)n;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		       struct fuse_file_info *fi, bool plus)
{
	struct lfs_dirp *d = dirp_of(fi);
	struct lfs_inode *dir = lfs_inode_of(req, ino);
	/* A rotation may have converted the names since opendir. */
	pthread_mutex_lock(&dir->meta_lock);
	if (dir->have_dirmeta)
		d->meta = dir->dirmeta;
	pthread_mutex_unlock(&dir->meta_lock);
	d->v2 = d->meta.version == 2 || lfs_keyring_format(lfs_req_fs(req)->kr) == 2;
	/* Each entry is looked up here: have the headers read ahead. */
	if (plus)
		lfs_prefetch_start(dir, dirfd(d->dp));
	char *buf = calloc(1, size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	size_t used = 0;
	int err = 0;
	for (;;) {
		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		off_t next = d->entry->d_off;
		int n = add_entry(req, dir, d, buf + used, size - used, next, plus);
		if (n == -2) {
			err = EACCES;
			break;
		}
		if (n > 0 && (size_t)n > size - used)
			break; /* keep the entry for the next call */
		if (n > 0)
			used += (size_t)n;
		d->entry = NULL;
		d->offset = next;
	}
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void lfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void lfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void lfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct lfs_dirp *d = dirp_of(fi);
	closedir(d->dp);
	free(d);
	atomic_fetch_sub(&lfs_req_fs(req)->open_dirs, 1);
	fuse_reply_err(req, 0);
}

void lfs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	int fd = dirfd(dirp_of(fi)->dp);
	int r = datasync ? fdatasync(fd) : fsync(fd);
	fuse_reply_err(req, r < 0 ? errno : 0);
}
