/* SPDX-License-Identifier: Apache-2.0 */
/* POSIX ACLs through the mount. With FUSE's POSIX ACL capability the
 * kernel enforces ACLs and caches them, but leaves to the filesystem what
 * ext4 does itself (fs/ext4/acl.c, fs/posix_acl.c): an access ACL that
 * the mode can express is not stored and only sets the mode; any access
 * ACL sets the mode's permission bits; chmod rewrites the stored access
 * ACL; a new object gets its parent's default ACL masked by the mode it
 * was created with (and a new directory the default ACL itself), or, when
 * the parent has none, the caller's umask. The ACLs themselves are stored
 * like other encrypted attributes (FORMAT.md 9.3). */
#define _GNU_SOURCE
#include "ops.h"
#include "acl.h"
#include "attr.h"
#include "../common/log.h"
#include "../common/monotonic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const acl_names[] = {LFS_ACL_XATTR_ACCESS, LFS_ACL_XATTR_DEFAULT};

/* inode->noacl bits: no access ACL, no default ACL. Known only on an
 * exclusive mount, where every change of an ACL goes through this daemon
 * (lfs_acl_changed); with -o shared another host may set one at any time,
 * so there every question goes to the backing store. Whoever writes the
 * backing store cannot make an ACL that authenticates except by copying
 * one the vault holds; a daemon that believes "none" then behaves as if
 * the copy had not been made, which the old code's re-read would not have
 * prevented either (it read whatever was there). A lock forgets it all
 * (lfs_fs_forget_cached_metadata). */
#define LFS_NOACL_ACCESS  0x1
#define LFS_NOACL_DEFAULT 0x2

/* Whether inode is known to have no ACL of kind bit; *gen receives the
 * change count to pass to learn_none. */
static bool known_none(struct lfs_fs *fs, struct lfs_inode *inode, uint8_t bit, uint32_t *gen)
{
	*gen = 0;
	if (fs->shared)
		return false;
	pthread_mutex_lock(&inode->meta_lock);
	bool none = inode->noacl & bit;
	*gen = inode->acl_gen;
	pthread_mutex_unlock(&inode->meta_lock);
	return none;
}

/* The backing store said inode has no ACL of kind bit: kept unless an
 * ACL change went through the inode since the question (gen), which
 * may have set one after the answer. */
static void learn_none(struct lfs_fs *fs, struct lfs_inode *inode, uint8_t bit, uint32_t gen)
{
	if (fs->shared)
		return;
	pthread_mutex_lock(&inode->meta_lock);
	if (inode->acl_gen == gen)
		inode->noacl |= bit;
	pthread_mutex_unlock(&inode->meta_lock);
}

void lfs_acl_changed(struct lfs_inode *inode)
{
	pthread_mutex_lock(&inode->meta_lock);
	inode->acl_gen++;
	inode->noacl = 0;
	pthread_mutex_unlock(&inode->meta_lock);
}

/* The LFS_NOACL_* bit of an ACL name, or 0. */
static uint8_t acl_bit(const char *name)
{
	if (!strcmp(name, LFS_ACL_XATTR_ACCESS))
		return LFS_NOACL_ACCESS;
	if (!strcmp(name, LFS_ACL_XATTR_DEFAULT))
		return LFS_NOACL_DEFAULT;
	return 0;
}

bool lfs_acl_known_absent(struct lfs_fs *fs, struct lfs_inode *inode, const char *name)
{
	uint8_t bit = acl_bit(name);
	if (!bit || !fs->acl)
		return false;
	int64_t now = lfs_coarse_seconds();
	if (atomic_load_explicit(&fs->acl_asked, memory_order_relaxed) != now)
		atomic_store_explicit(&fs->acl_asked, now, memory_order_relaxed);
	uint32_t gen;
	return known_none(fs, inode, bit, &gen);
}

bool lfs_acl_wanted(struct lfs_fs *fs)
{
	return fs->acl && !fs->shared &&
	       lfs_coarse_seconds() - atomic_load_explicit(&fs->acl_asked, memory_order_relaxed) <=
	           2;
}

/* What the kernel asks of a listed file is what ls -l asks: its access
 * ACL, and a directory's default ACL. Only regular files and directories
 * hold xattrs in the backing store (lfs_acl_inherit). */
void lfs_acl_learn(struct lfs_fs *fs, struct lfs_inode *inode)
{
	bool dir = S_ISDIR(inode->type);
	if (!dir && !S_ISREG(inode->type))
		return;
	int fd = lfs_inode_pin(fs, inode);
	if (fd < 0)
		return;
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(fd, proc);
	for (int type = 0; type < (dir ? 2 : 1); type++) {
		uint8_t bit = acl_bit(acl_names[type]);
		uint32_t gen;
		if (!known_none(fs, inode, bit, &gen) &&
		    lfs_xattr_present(fs, inode->stage_id, proc, acl_names[type]) == 0)
			learn_none(fs, inode, bit, gen);
	}
	lfs_inode_unpin(fs, inode);
}

void lfs_acl_none_yet(struct lfs_fs *fs, struct lfs_inode *inode)
{
	if (fs->shared)
		return;
	pthread_mutex_lock(&inode->meta_lock);
	inode->noacl = LFS_NOACL_ACCESS | LFS_NOACL_DEFAULT;
	pthread_mutex_unlock(&inode->meta_lock);
}

/* Whether the caller may keep a set-group-ID bit on a file of group gid:
 * root, or a member of gid (the kernel's in_group_or_capable). */
static bool caller_in_group(fuse_req_t req, gid_t gid)
{
	return fuse_req_ctx(req)->uid == 0 || lfs_caller_in_group(req, gid);
}

/* The new mode an ACL implies: in the record (format 2) or on the backing
 * object (format 1). */
static int set_mode(struct lfs_fs *fs, struct lfs_inode *inode, int ifd, const char *proc,
                    mode_t mode)
{
	int r = lfs_attr_change(fs, inode, ifd, (int)(mode & 07777), (uid_t)-1, (gid_t)-1);
	if (r != -ENOTSUP)
		return r;
	return chmod(proc, mode & 07777) < 0 ? -errno : 0;
}

int lfs_acl_setxattr(fuse_req_t req, struct lfs_inode *inode, int ifd, const char *proc, int type,
                     const char *value, size_t size)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	const uint8_t *acl = (const uint8_t *)value;
	int n = lfs_acl_check(acl, size);
	if (n < 0)
		return n;
	if (n == 0) { /* an empty ACL removes it */
		int r = lfs_xattr_remove(fs, inode->stage_id, proc, acl_names[type]);
		return r == -ENODATA ? 0 : r;
	}
	if (type == LFS_ACL_DEFAULT)
		return S_ISDIR(inode->type) ? lfs_xattr_store(fs, inode->stage_id, proc,
		                                              acl_names[type], acl, size, 0)
		                            : -EACCES;
	struct stat st;
	int sr = lfs_attr_fstat(fs, inode, ifd, &st);
	if (sr < 0)
		return sr;
	mode_t mode = st.st_mode;
	int not_equiv = lfs_acl_equiv_mode(acl, size, &mode);
	if (!caller_in_group(req, st.st_gid))
		mode &= ~(mode_t)S_ISGID;
	/* The ACL first, then the mode, as ext4 does: a failure leaves the
	 * old mode. */
	int r = not_equiv
	            ? lfs_xattr_store(fs, inode->stage_id, proc, acl_names[type], acl, size, 0)
	            : lfs_xattr_remove(fs, inode->stage_id, proc, acl_names[type]);
	if (r == -ENODATA)
		r = 0;
	if (r == 0 && (mode & 07777) != (st.st_mode & 07777))
		r = set_mode(fs, inode, ifd, proc, mode);
	return r;
}

int lfs_acl_after_chmod(struct lfs_fs *fs, struct lfs_inode *inode, int ifd, mode_t mode)
{
	if (!fs->acl || S_ISLNK(inode->type))
		return 0;
	uint32_t gen;
	if (known_none(fs, inode, LFS_NOACL_ACCESS, &gen))
		return 0; /* nothing to rewrite */
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(ifd, proc);
	uint8_t *acl = NULL;
	int len = lfs_xattr_load(fs, inode->stage_id, proc, LFS_ACL_XATTR_ACCESS, &acl);
	if (len == -ENODATA) {
		learn_none(fs, inode, LFS_NOACL_ACCESS, gen);
		return 0;
	}
	int r = len < 0 ? len : lfs_acl_check(acl, (size_t)len);
	if (r > 0) {
		lfs_acl_chmod(acl, (size_t)len, mode);
		r = lfs_xattr_store(fs, inode->stage_id, proc, LFS_ACL_XATTR_ACCESS, acl,
		                    (size_t)len, 0);
	} else if (r == 0 || r == -EINVAL) {
		r = -EIO; /* an authenticated but malformed ACL: not ours */
	}
	free(acl);
	return r;
}

int lfs_acl_inherit(fuse_req_t req, struct lfs_inode *parent, int pfd, int fd, mode_t *mode)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	char pproc[LFS_PROC_PATH_MAX], proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(pfd, pproc);
	lfs_proc_path(fd, proc);
	uint8_t *def = NULL;
	uint32_t gen;
	bool none = known_none(fs, parent, LFS_NOACL_DEFAULT, &gen);
	int len = none ? -ENODATA
	               : lfs_xattr_load(fs, parent->stage_id, pproc, LFS_ACL_XATTR_DEFAULT, &def);
	if (len == -ENODATA && !none)
		learn_none(fs, parent, LFS_NOACL_DEFAULT, gen);
	if (len == -ENODATA || len == 0) {
		/* No default ACL: the umask the kernel left to us. */
		*mode &= ~(mode_t)(fuse_req_ctx(req)->umask & 0777);
		free(def);
		return 1;
	}
	int r = len < 0 ? len : lfs_acl_check(def, (size_t)len);
	if (r == 0 || r == -EINVAL)
		r = -EIO;
	if (r > 0 && S_ISDIR(*mode))
		r = lfs_xattr_store(fs, parent->stage_id, proc, LFS_ACL_XATTR_DEFAULT, def,
		                    (size_t)len, 0);
	/* The backing store keeps encrypted attributes in its user.*
	 * namespace, which Linux allows on regular files and directories
	 * only: a format-1 FIFO, socket or device node gets the mode the
	 * default ACL implies but no ACL of its own (README, limitations). In
	 * format 2 every backing object is a regular file or a directory. */
	struct stat bst;
	bool holds = fstat(fd, &bst) == 0 && (S_ISREG(bst.st_mode) || S_ISDIR(bst.st_mode));
	if (r >= 0 && lfs_acl_create_masq(def, (size_t)len, mode) && holds)
		r = lfs_xattr_store(fs, parent->stage_id, proc, LFS_ACL_XATTR_ACCESS, def,
		                    (size_t)len, 0);
	free(def);
	return r < 0 ? r : 0;
}
