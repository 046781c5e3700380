/* SPDX-License-Identifier: Apache-2.0 */
/* Attribute operations: getattr, and setattr with what it changes (mode
 * and owner, size with the staging quota charged, times). Lookup and the
 * creation of entries: ops_entry.c. */
#define _GNU_SOURCE
#include "ops.h"
#include "../common/fileutil.h"
#include "attr.h"
#include "fileio.h"
#include "heldtimes.h"
#include "rawio.h"
#include "stage_hooks.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The plaintext attributes of inode. The mount root stays visible while
 * locked (its record needs a key): then the backing directory's. */
static int stat_fd(struct lfs_fs *fs, struct lfs_inode *inode, int fd, struct stat *st)
{
	int r = lfs_attr_fstat(fs, inode, fd, st);
	if (r == -EACCES && inode == &fs->root &&
	    fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		r = 0;
	return r;
}

void lfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	struct stat st;
	/* A shredded staging directory and everything below it are gone. */
	if (inode->stage_id && !lfs_stage_hook_live(fs, inode->stage_id)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	int fd = lfs_inode_pin(fs, inode);
	int r = fd < 0 ? fd : stat_fd(fs, inode, fd, &st);
	/* st_blocks must count what the writeback cache holds too: have the
	 * kernel send what lies past the end known here, then look again. A
	 * request with a file handle is the kernel's own (refreshing size or
	 * mode before a write): it needs no blocks, and flushing there would
	 * undo the cache's batching. */
	if (r == 0 && !fi && S_ISREG(st.st_mode) && atomic_load(&inode->writers) > 0) {
		lfs_flush_kernel_pages(fs, ino, inode, (uint64_t)st.st_size);
		r = stat_fd(fs, inode, fd, &st);
	}
	if (fd >= 0)
		lfs_inode_unpin(fs, inode);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st,
		                fi ? lfs_attr_live(fs, inode, &st)
		                   : lfs_attr_timeout(fs, inode, st.st_size));
}

/* Truncation, with the size change charged to a staging quota. */
static int truncate_charged(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t size)
{
	int64_t delta = 0;
	if (inode->stage_id) {
		delta = (int64_t)size - (int64_t)lfs_plain_size_of(fs, inode, fd);
		int r = lfs_stage_hook_charge(fs, inode, delta);
		if (r < 0)
			return r;
	}
	int r = lfs_fileio_truncate(fs, inode, fd, size);
	if (r < 0)
		lfs_stage_hook_charge(fs, inode, -delta);
	return r;
}

static int set_size(struct lfs_fs *fs, struct lfs_inode *inode, int ifd, struct fuse_file_info *fi,
                    off_t size)
{
	if (!S_ISREG(inode->type))
		return S_ISDIR(inode->type) ? -EISDIR : -EINVAL;
	if (size < 0)
		return -EINVAL;
	if (fi)
		return truncate_charged(fs, inode, lfs_handle_of(fi)->fd, (uint64_t)size);
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(ifd, proc);
	int fd = open(proc, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = truncate_charged(fs, inode, fd, (uint64_t)size);
	close(fd);
	return r;
}

static bool same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Whether a removed file is asked for the times it has. With the
 * writeback cache the kernel keeps a file's times and writes them back
 * after an unlink (which changed its ctime): the mtime it sends is the one
 * the file has, and the backing unlink already moved the backing ctime.
 * Setting them again would write the inode of a file about to be freed,
 * for every file of an rm -rf (docs/PERFORMANCE.md). Only files without a
 * name: on a named one, utimensat(2) to the same times still moves the
 * ctime, as on ext4. */
static bool times_unchanged(struct lfs_fs *fs, int ifd, const struct stat *attr, int valid)
{
	struct stat st;
	/* Without the writeback cache (-o shared, no_writeback_cache) the
	 * kernel writes no times back: a request for times is a caller's,
	 * and its stat would be a round trip on a network engine for
	 * nothing (docs/PERFORMANCE.md, "Backing calls per created file on
	 * GlusterFS"). */
	if (!fs->writeback || (valid & (FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)))
		return false;
	if (fstatat(ifd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 || st.st_nlink > 0)
		return false;
	return (!(valid & FUSE_SET_ATTR_ATIME) || same_time(attr->st_atim, st.st_atim)) &&
	       (!(valid & FUSE_SET_ATTR_MTIME) || same_time(attr->st_mtim, st.st_mtim));
}

static int set_times(struct lfs_fs *fs, struct lfs_inode *in, int ifd, const struct stat *attr,
                     int valid)
{
	struct timespec tv[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
	if (times_unchanged(fs, ifd, attr, valid))
		return 0;
	if (valid & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (valid & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;
	/* A rotation converting the object holds its times (heldtimes.h). */
	return lfs_times_set(in, ifd, tv);
}

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6+, same number on every architecture */
#endif

/* chmod of an O_PATH descriptor: fchmodat2 with AT_EMPTY_PATH where the
 * kernel has it (no /proc path walk), else chmod of /proc/self/fd/N. */
static int chmod_fd(int fd, char *proc, mode_t mode)
{
	static int have_fchmodat2 = 1; /* accessed atomically: handlers race */
	if (__atomic_load_n(&have_fchmodat2, __ATOMIC_RELAXED)) {
		if (syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0)
			return 0;
		if (errno != ENOSYS && errno != EINVAL)
			return -errno;
		__atomic_store_n(&have_fchmodat2, 0, __ATOMIC_RELAXED);
	}
	lfs_proc_path(fd, proc);
	return chmod(proc, mode) < 0 ? -errno : 0;
}

int lfs_change_mode_owner(struct lfs_fs *fs, struct lfs_inode *inode, int ifd, int mode, uid_t uid,
                          gid_t gid)
{
	char proc[LFS_PROC_PATH_MAX];
	/* Format 2: mode, owner and group are the record's, changed with one
	 * write; format 1: the backing object's. */
	int r = lfs_attr_change(fs, inode, ifd, mode, uid, gid);
	if (r == -ENOTSUP) {
		r = mode >= 0 ? chmod_fd(ifd, proc, (mode_t)mode) : 0;
		if (r == 0 && (uid != (uid_t)-1 || gid != (gid_t)-1) &&
		    fchownat(ifd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	}
	return r;
}

void lfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
                    struct fuse_file_info *fi)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	bool kill = lfs_rawio_kill_suidgid(); /* read first: this thread's request */
	int ifd = lfs_inode_pin(fs, inode);
	if (ifd < 0) {
		fuse_reply_err(req, -ifd);
		return;
	}
	/* A change of mode, owner or size: the inode attribute the lookup
	 * read must be this file's (FORMAT.md 14.9). Times alone are not
	 * checked: the kernel sends them for every file it writes back or
	 * removes (rm -rf would read every header), and a time is neither
	 * contents nor access (THREAT-MODEL 3.4). */
	bool times_only = !(valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
	                             FUSE_SET_ATTR_SIZE));
	int r = times_only ? 0 : lfs_attr_bind(fs, inode, ifd);
	uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
	gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
	bool chmod = valid & FUSE_SET_ATTR_MODE, chown = uid != (uid_t)-1 || gid != (gid_t)-1;
	int mode = chmod ? (int)(attr->st_mode & 07777) : -1;
	if (chmod && S_ISLNK(inode->type))
		r = -EOPNOTSUPP;
	/* A truncation by a caller without CAP_FSETID, or a chown, under
	 * HANDLE_KILLPRIV_V2: the kernel left the set-id bits to us. Before
	 * the size changes, as the kernel orders it. */
	if (r == 0 && kill && !chmod)
		mode = lfs_kill_mode_of(req, inode, ifd, &r);
	else if (r == 0 && lfs_rawio_killpriv_on() && (valid & FUSE_SET_ATTR_CTIME) &&
	         !(valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
	                    FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
	                    FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)))
		mode = lfs_kill_noop_chown(req, inode, ifd, &r); /* chown(f, -1, -1) */
	if (r == 0 && (mode >= 0 || chown))
		r = lfs_change_mode_owner(fs, inode, ifd, mode, uid, gid);
	if (r == 0 && chmod)
		r = lfs_acl_after_chmod(fs, inode, ifd, (attr->st_mode & ~07777u) | (mode_t)mode);
	bool resized = false;
	if (r == 0 && (valid & FUSE_SET_ATTR_SIZE)) {
		r = set_size(fs, inode, ifd, fi, attr->st_size);
		resized = r == 0;
	}
	if (r == 0 && (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
	                        FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW))) {
		r = set_times(fs, inode, ifd, attr, valid);
		/* The kernel sends its times with a truncation (writeback
		 * cache). Once the size changed on disk, an error would make it
		 * keep the old size and serve what is no longer there: the
		 * reply carries the times the file has instead. */
		if (r < 0 && resized) {
			lfs_warn("inode %llu: times not set after a size change: %s",
			         (unsigned long long)inode->ino, strerror(-r));
			r = 0;
		}
	}
	struct stat st;
	if (r == 0)
		r = stat_fd(fs, inode, ifd, &st);
	lfs_inode_unpin(fs, inode);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, lfs_attr_timeout(fs, inode, st.st_size));
}
