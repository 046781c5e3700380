/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs fsck: the checks of one backing object (a file's blocks, a
 * symlink's target, xattrs, mode and owner, its attribute record), called
 * by the tree walk of cmd_fsck.c for every entry. */
#define _GNU_SOURCE
#include "cli.h"
#include "fsck.h"
#include "../staging/stage_store.h"
#include "../fs/attr.h"
#include "../fs/fileio.h"
#include "../fs/iattr.h"
#include "../fs/longlink.h"
#include "../fs/tree.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <sodium.h>

void lfs_fsck_check_file(struct fsck *f, int dirfd, const char *bname, const char *path)
{
	int fd = lfs_open_regular(dirfd, bname); /* swapped since the walk's stat? */
	if (fd < 0) {
		lfs_fsck_problem(f, path, fd == -EINVAL ? "not a regular file" : strerror(-fd));
		return;
	}
	struct lfs_inode in = {.fd = fd};
	pthread_rwlock_init(&in.io_lock, NULL);
	pthread_mutex_init(&in.meta_lock, NULL);
	uint64_t bad_block = 0;
	long bad = lfs_fileio_verify(&f->fs, &in, fd, &bad_block);
	if (bad != 0 && lfs_fsck_is_pending(f, fd)) {
		f->pending++;
		lfs_fsck_item(&f->rep, "pending", path,
		              "an interrupted update, completed at the next mount or by 'lethefs "
		              "fsck --repair'");
	} else if (bad < 0) {
		lfs_fsck_problem(f, path, strerror((int)-bad));
	} else if (bad > 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "%ld corrupt block(s) or header, first at block %llu",
		         bad, (unsigned long long)bad_block);
		lfs_fsck_problem(f, path, msg);
	}
	pthread_rwlock_destroy(&in.io_lock);
	pthread_mutex_destroy(&in.meta_lock);
	struct stat st;
	if (fstat(fd, &st) == 0)
		f->bytes += (uint64_t)st.st_size;
	close(fd);
	f->files++;
}

/* Symlinks and xattrs record no epoch: during a rotation (several data
 * epochs in the keyring, e.g. after a rekey) one that the worker has not
 * reached yet authenticates under an older epoch. Like the readers, try the
 * current epoch, then the others. */
static int epoch_list(struct fsck *f, uint32_t ep[LFS_MAX_EPOCHS])
{
	if (f->stage_id) {
		/* Below a staging directory: its own key, nothing else. */
		ep[0] = f->stage_id;
		return 1;
	}
	uint32_t cur = 0;
	int n = lfs_keyring_epochs(f->fs.kr, ep, LFS_MAX_EPOCHS, &cur);
	for (int i = 1; i < n; i++)
		if (ep[i] == cur) {
			ep[i] = ep[0];
			ep[0] = cur;
		}
	return n;
}

void lfs_fsck_check_link(struct fsck *f, int dirfd, const char *bname, const char *path)
{
	char ref[64];
	ssize_t rn = readlinkat(dirfd, bname, ref, sizeof(ref));
	uint32_t sid;
	/* A staging directory's marker: its tree (VAULT/staging/ID/) is
	 * checked with its own key by fsck_staging.c. */
	if (rn > 0 && lfs_stage_marker_id(ref, (size_t)rn, &sid)) {
		lfs_fsck_marker(f, sid, path);
		return;
	}
	uint32_t ep[LFS_MAX_EPOCHS];
	int ne = epoch_list(f, ep);
	f->links++;
	/* A long target is read from the link store (FORMAT.md 8.1); a
	 * missing or altered sidecar is reported like a bad target. */
	char *enc = malloc(LFS_LINK_ENC_MAX + 1), *plain = sodium_malloc(LFS_LINK_ENC_MAX + 1);
	/* The tree being walked: d/, or a staging tree (fsck_staging.c). */
	int tfd = f->stage_id ? dup(f->stage_tree_fd) : lfs_tree_fd(&f->fs, 0);
	ssize_t n = tfd < 0          ? tfd
	            : !enc || !plain ? -ENOMEM
	                             : lfs_link_read(tfd, dirfd, bname, enc);
	if (tfd >= 0)
		close(tfd);
	if (n == -EIO || n < 0 || ne <= 0) {
		lfs_fsck_problem(f, path,
		                 n == -EIO ? "long symlink target: sidecar missing or altered"
		                           : "unreadable symlink");
		free(enc);
		sodium_free(plain);
		return;
	}
	int r = -EBADMSG;
	for (int i = 0; i < ne && r < 0; i++) {
		const struct lfs_epoch_keys *k;
		if (lfs_keyring_get(f->fs.kr, ep[i], &k) < 0)
			continue;
		r = lfs_link_decrypt(k->link, enc, (size_t)n, plain);
		lfs_keyring_put(f->fs.kr);
	}
	free(enc);
	sodium_free(plain); /* wipes */
	if (r < 0)
		lfs_fsck_problem(f, path, "symlink target does not authenticate");
}

/* Whether one backing xattr authenticates under one of the epochs. */
static bool xattr_ok(struct fsck *f, const uint32_t *ep, int ne, const char *bn, const uint8_t *val,
                     ssize_t vl)
{
	char plain[LFS_NAME_MAX + 1];
	static __thread uint8_t out[XATTR_SIZE_MAX];
	size_t plen;
	bool ok = false;
	for (int i = 0; i < ne && !ok && vl >= 0; i++) {
		const struct lfs_epoch_keys *k;
		if (lfs_keyring_get(f->fs.kr, ep[i], &k) < 0)
			continue;
		ok = lfs_xattr_name_decrypt(k->xattr_name_mac, k->xattr_name_enc, bn + 5,
		                            strlen(bn + 5), plain, &plen) >= 0 &&
		     lfs_xattr_value_open(k->xattr_value, bn, val, (size_t)vl, out) >= 0;
		lfs_keyring_put(f->fs.kr);
	}
	sodium_memzero(out, vl > 0 ? (size_t)vl : 0);
	sodium_memzero(plain, sizeof(plain));
	return ok;
}

void lfs_fsck_check_xattrs(struct fsck *f, int dirfd, const char *bname, const char *path)
{
	char proc[PATH_MAX + 64];
	int fd = openat(dirfd, bname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	/* Listing and sealed value on the heap (128 KiB): no frame over 16 KiB. */
	char *list = fd < 0 ? NULL : malloc(XATTR_LIST_MAX);
	uint8_t *val = list ? malloc(XATTR_SIZE_MAX) : NULL;
	if (!val) {
		if (fd >= 0)
			close(fd);
		free(list);
		lfs_fsck_problem(f, path, "cannot list extended attributes");
		return;
	}
	lfs_proc_path(fd, proc);
	ssize_t n = listxattr(proc, list, XATTR_LIST_MAX);
	if (n < 0 && errno != ENOTSUP)
		lfs_fsck_problem(f, path, "cannot list extended attributes");
	uint32_t ep[LFS_MAX_EPOCHS];
	int ne = n > 0 ? epoch_list(f, ep) : 0;
	for (ssize_t i = 0; ne > 0 && i < n; i += (ssize_t)strlen(list + i) + 1) {
		const char *bn = list + i;
		/* The inode attribute is checked with the record (lfs_attr_check). */
		if (strncmp(bn, "user.", 5) != 0 || strcmp(bn, LFS_IATTR_NAME) == 0)
			continue;
		ssize_t vl = getxattr(proc, bn, val, XATTR_SIZE_MAX);
		if (!xattr_ok(f, ep, ne, bn, val, vl))
			lfs_fsck_problem(f, path, "extended attribute does not authenticate");
	}
	free(val);
	free(list);
	close(fd);
}

/* Node types and modes lethefs cannot vouch for: it makes no device node
 * unless mounted with -o dev, and the mount ignores setuid/setgid unless
 * -o allow_suid; one found here may have been planted in the backing
 * store. */
void lfs_fsck_check_mode(struct fsck *f, const struct stat *st, const char *path)
{
	char what[160];
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		snprintf(what, sizeof(what),
		         "%s device node %u:%u in the backing store (refused by mounts without "
		         "-o dev; planted?)",
		         S_ISCHR(st->st_mode) ? "character" : "block", major(st->st_rdev),
		         minor(st->st_rdev));
		lfs_fsck_problem(f, path, what);
	} else if (S_ISREG(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID))) {
		snprintf(what, sizeof(what),
		         "backing file is %s (mode %04o, owner uid %u): ignored by mounts without "
		         "-o allow_suid; planted?",
		         (st->st_mode & S_ISUID) ? "setuid" : "setgid",
		         (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid);
		lfs_fsck_problem(f, path, what);
	}
}

/* What a mount would refuse (fs/attr.h), and in format 2 a backing mode or
 * owner that is not the fixed one: the backing-store writer changed it
 * (mounts ignore it, so it is harmless, but it was not lethefs). */
void lfs_fsck_check_attrs(struct fsck *f, const struct lfs_dirmeta *pm, int dirfd,
                          const char *bname, const struct stat *st, const char *path, uint8_t *type)
{
	*type = 0;
	int fd = bname ? openat(dirfd, bname, O_PATH | O_NOFOLLOW | O_CLOEXEC) : dup(dirfd);
	if (fd < 0)
		return;
	uint8_t fmt = 0;
	struct lfs_irec rec;
	char why[128];
	int r = lfs_attr_check(&f->fs, pm, fd, st, &fmt, &rec, why, sizeof(why));
	close(fd);
	if (r == -EIO) {
		char what[160];
		snprintf(what, sizeof(what), "%s%s", why,
		         strstr(why, "served ") ? " by mounts" : " (refused by mounts)");
		lfs_fsck_problem(f, path, what);
		return;
	}
	if (r < 0 || fmt != 2)
		return;
	*type = rec.type;
	mode_t want = S_ISDIR(st->st_mode) ? 0700 : 0600;
	if ((st->st_mode & 07777) != want || st->st_uid != f->owner_uid ||
	    st->st_gid != f->owner_gid) {
		char what[200];
		snprintf(what, sizeof(what),
		         "backing mode %04o, owner %u:%u instead of %04o, %u:%u: changed in the "
		         "backing store (mounts use the record: %04o, %u:%u)",
		         (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid,
		         (unsigned)st->st_gid, (unsigned)want, (unsigned)f->owner_uid,
		         (unsigned)f->owner_gid, (unsigned)rec.mode, (unsigned)rec.uid,
		         (unsigned)rec.gid);
		lfs_fsck_problem(f, path, what);
	}
}

bool lfs_fsck_is_marker(int dirfd, const char *bname, const struct stat *st)
{
	char ref[64];
	uint32_t sid;
	ssize_t n = S_ISLNK(st->st_mode) ? readlinkat(dirfd, bname, ref, sizeof(ref)) : -1;
	return n > 0 && lfs_stage_marker_id(ref, (size_t)n, &sid);
}
