/* SPDX-License-Identifier: Apache-2.0 */
/* Ownership, mode and ACLs of objects the daemon creates for a caller.
 * The daemon creates every backing object itself (as root), so what ext4
 * does at creation has to be done here afterwards: the object belongs to
 * the caller's fsuid; its group is the caller's fsgid unless the parent
 * directory is set-group-ID (then the parent's group, which the backing
 * filesystem already gave it, and a new directory also the bit); the
 * set-user-ID/set-group-ID bits the caller asked for survive the chown
 * (which clears them on non-directories); and with ACLs on, the kernel
 * leaves the umask to us, or the parent's default ACL replaces it. */
#define _GNU_SOURCE
#include "ops.h"
#include "attr.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void give_to_caller(fuse_req_t req, int pfd, const char *backing)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat parent;
	if (fstat(pfd, &parent) < 0) {
		lfs_warn("cannot stat the parent of a new entry: %s", strerror(errno));
		return;
	}
	gid_t gid = (parent.st_mode & S_ISGID) ? (gid_t)-1 : ctx->gid;
	if ((ctx->uid != 0 || gid != (gid_t)-1) &&
	    fchownat(pfd, backing, ctx->uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		lfs_warn("cannot give new entry to uid %u: %s", ctx->uid, strerror(errno));
}

int lfs_new_object(fuse_req_t req, struct lfs_inode *parent, int pfd, const char *backing,
                   mode_t mode)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	if (fs->euid == 0)
		give_to_caller(req, pfd, backing);
	if (S_ISLNK(mode))
		return 0;
	int fd = openat(pfd, backing, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	int r = fs->acl ? lfs_acl_inherit(req, parent, pfd, fd, &mode) : 0;
	if (r > 0)
		r = 0; /* nothing inherited */
	/* The kernel already dropped the set-ID bits the caller may not set;
	 * a directory keeps the set-group-ID bit it inherited. */
	mode_t want = (mode & 07777) | (S_ISDIR(st.st_mode) ? (st.st_mode & S_ISGID) : 0);
	if (r == 0 && want != (st.st_mode & 07777)) {
		char proc[LFS_PROC_PATH_MAX];
		lfs_proc_path(fd, proc);
		if (chmod(proc, want) < 0)
			r = -errno;
	}
	close(fd);
	return r;
}

int lfs_new_record(fuse_req_t req, struct lfs_inode *parent, int pfd, mode_t mode, dev_t rdev,
                   struct lfs_irec *rec)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat pst;
	/* A format-2 parent's mode and group are its record's, cached at
	 * its lookup: a stat of it would only fetch backing attributes that
	 * the record overrides (lfs_attr_stat reloads nothing that is
	 * loaded), so it is skipped. */
	pthread_mutex_lock(&parent->meta_lock);
	bool cached = parent->fmt == 2 && parent->have_rec;
	if (cached)
		lfs_irec_to_stat(&parent->rec, &pst);
	pthread_mutex_unlock(&parent->meta_lock);
	int r = cached ? 0 : lfs_attr_fstat(fs, parent, pfd, &pst);
	if (r < 0)
		return r;
	/* A set-group-ID directory gives its group, and to a new directory
	 * its set-group-ID bit too. */
	gid_t gid = (pst.st_mode & S_ISGID) ? pst.st_gid : ctx->gid;
	mode_t perm = mode & 07777;
	if (S_ISDIR(mode) && (pst.st_mode & S_ISGID))
		perm |= S_ISGID;
	return lfs_irec_make(rec, (mode & S_IFMT) | perm, ctx->uid, gid, rdev);
}
