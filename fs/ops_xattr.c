/* SPDX-License-Identifier: Apache-2.0 */
/* Extended attributes. The user.* namespace and, unless mounted with
 * noacl, the two POSIX ACL attributes are stored, name and value
 * encrypted (FORMAT.md section 9); other namespaces (security, trusted)
 * are refused with EOPNOTSUPP, which cp, tar and rsync treat as "not
 * supported here". What setting an ACL does to the mode is in ops_acl.c. */
#define _GNU_SOURCE
#include "ops.h"
#include "acl.h"
#include "attr.h"
#include "stage_hooks.h"
#include "names.h"
#include "../common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <sodium.h>

#define USER_PREFIX       "user."
#define USER_PREFIX_LEN   5
#define BACKING_XATTR_MAX (USER_PREFIX_LEN + LFS_ENCNAME_MAX)

/* The plaintext the name encryption sees for attribute name: what follows
 * "user.", or for an ACL attribute NUL || its full name. */
static int plain_xattr_name(const struct lfs_fs *fs, const char *name, char *out, size_t *len)
{
	if (lfs_acl_type(name) >= 0) {
		if (!fs->acl)
			return -EOPNOTSUPP;
		out[0] = '\0';
		*len = strlen(name) + 1;
		memcpy(out + 1, name, *len - 1);
		return 0;
	}
	if (strncmp(name, USER_PREFIX, USER_PREFIX_LEN) != 0)
		return -EOPNOTSUPP;
	*len = strlen(name + USER_PREFIX_LEN);
	if (*len > LFS_XATTR_NAME_MAX)
		return -ERANGE;
	memcpy(out, name + USER_PREFIX_LEN, *len);
	return 0;
}

/* The backing xattr name for attribute name under epoch's keys;
 * -EOPNOTSUPP for namespaces that are not stored. */
static int backing_xattr_name(struct lfs_fs *fs, uint32_t epoch, const char *name, char *out)
{
	char rest[LFS_XATTR_NAME_MAX + 1];
	size_t len;
	int r = plain_xattr_name(fs, name, rest, &len);
	if (r < 0)
		return r;
	const struct lfs_epoch_keys *k;
	r = lfs_keyring_get(fs->kr, epoch, &k);
	if (r < 0)
		return r;
	memcpy(out, USER_PREFIX, USER_PREFIX_LEN);
	r = lfs_xattr_name_encrypt(k->xattr_name_mac, k->xattr_name_enc, rest, len,
	                           out + USER_PREFIX_LEN);
	lfs_keyring_put(fs->kr);
	return r == -EINVAL ? -ERANGE : r;
}

/* The keys an inode's xattrs may be under, most likely first: its staging
 * directory's, or else the current epoch and, while a rotation has not
 * reached the inode yet, the older live epochs (no epoch is stored with an
 * xattr). Returns how many, or -EACCES when locked. */
static int xattr_epochs(struct lfs_fs *fs, uint32_t stage_id, uint32_t out[LFS_MAX_EPOCHS])
{
	if (stage_id) {
		out[0] = stage_id;
		return 1;
	}
	uint32_t all[LFS_MAX_EPOCHS], cur = 0;
	int n = lfs_keyring_epochs(fs->kr, all, LFS_MAX_EPOCHS, &cur);
	if (n <= 0)
		return n < 0 ? n : -EACCES;
	int k = 0;
	out[k++] = cur;
	for (int i = 0; i < n; i++)
		if (all[i] != cur)
			out[k++] = all[i];
	return k;
}

/* Pins the inode and gives its /proc path; pair with unpin_of. */
/* bind: the request changes the object (set, remove), so an inode
 * attribute read by the lookup must be this file's first (FORMAT.md 14.9):
 * the kernel granted it on the attribute's mode. Reading and listing need
 * no such check: the xattrs (ACLs included) are the backing file's own,
 * whatever attribute sits beside them, and `ls -l` asks for them on every
 * file, which would otherwise read every header. */
static int proc_of_for(fuse_req_t req, fuse_ino_t ino, char *proc, bool bind)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *in = lfs_inode_of(req, ino);
	int fd = lfs_inode_pin(fs, in);
	if (fd < 0)
		return fd;
	int r = bind ? lfs_attr_bind(fs, in, fd) : 0;
	if (r < 0) {
		lfs_inode_unpin(fs, in);
		return r;
	}
	lfs_proc_path(fd, proc);
	return 0;
}

static int proc_of(fuse_req_t req, fuse_ino_t ino, char *proc)
{
	return proc_of_for(req, ino, proc, true);
}

static void unpin_of(fuse_req_t req, fuse_ino_t ino)
{
	lfs_inode_unpin(lfs_req_fs(req), lfs_inode_of(req, ino));
}

/* Sets bname (under the current key) so that the xattr exists once: a copy
 * of the same name under an older epoch (a rotation has not reached this
 * inode yet) counts for XATTR_CREATE/XATTR_REPLACE and is removed after. */
static int set_over_older(struct lfs_fs *fs, uint32_t stage_id, const char *proc, const char *name,
                          const char *bname, const uint8_t *sealed, size_t len, int flags)
{
	uint32_t epochs[LFS_MAX_EPOCHS];
	int ne = stage_id ? 1 : xattr_epochs(fs, stage_id, epochs);
	/* Up to LFS_MAX_EPOCHS names: 15 KiB, on the heap (stack frames stay
	 * small enough for the gate's wipe, gate.c). */
	char(*older)[BACKING_XATTR_MAX] = ne > 1 ? malloc((size_t)ne * sizeof(*older)) : NULL;
	int nolder = 0;
	if (ne > 1 && !older)
		return -ENOMEM;
	for (int i = 1; i < ne; i++)
		if (backing_xattr_name(fs, epochs[i], name, older[nolder]) == 0 &&
		    getxattr(proc, older[nolder], NULL, 0) >= 0)
			nolder++;
	int r = 0;
	if (nolder && (flags & XATTR_CREATE))
		r = -EEXIST;
	if (r == 0 && nolder && (flags & XATTR_REPLACE) && getxattr(proc, bname, NULL, 0) < 0)
		flags &= ~XATTR_REPLACE;
	if (r == 0 && setxattr(proc, bname, sealed, len, flags) < 0)
		r = -errno;
	for (int i = 0; r == 0 && i < nolder; i++)
		removexattr(proc, older[i]);
	free(older);
	return r;
}

int lfs_xattr_store(struct lfs_fs *fs, uint32_t stage_id, const char *proc, const char *name,
                    const void *value, size_t size, int flags)
{
	char bname[BACKING_XATTR_MAX];
	int r = backing_xattr_name(fs, stage_id, name, bname);
	if (r < 0)
		return r;
	uint8_t *sealed = malloc(size + LFS_XATTR_VALUE_OVERHEAD);
	const struct lfs_epoch_keys *k;
	if (!sealed)
		return -ENOMEM;
	if ((r = lfs_keyring_get(fs->kr, stage_id, &k)) == 0) {
		r = lfs_xattr_value_seal(k->xattr_value, bname, value, size, sealed);
		lfs_keyring_put(fs->kr);
		if (r == 0)
			r = set_over_older(fs, stage_id, proc, name, bname, sealed,
			                   size + LFS_XATTR_VALUE_OVERHEAD, flags);
	}
	free(sealed);
	return r;
}

void lfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                     size_t size, int flags)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	char proc[LFS_PROC_PATH_MAX];
	if (fs->stage && fs->stage->setxattr(fs->stage->ctx, req, inode, name, value, size))
		return;
	int type = fs->acl ? lfs_acl_type(name) : -1;
	int ifd = lfs_inode_pin(fs, inode);
	int r = ifd < 0 ? ifd : 0;
	/* A change: the attribute the kernel judged it by must be this
	 * file's (FORMAT.md 14.9). */
	if (r == 0 && (r = lfs_attr_bind(fs, inode, ifd)) < 0)
		unpin_of(req, ino);
	if (r == 0) {
		lfs_proc_path(ifd, proc);
		if (type >= 0) {
			r = lfs_acl_setxattr(req, inode, ifd, proc, type, value, size);
			lfs_acl_changed(inode); /* also after a failure: it may be there */
		} else
			r = lfs_xattr_store(fs, inode->stage_id, proc, name, value, size, flags);
		unpin_of(req, ino);
	}
	fuse_reply_err(req, -r);
}

/* Sealed values that fit here are read in one call of this size; larger
 * ones are read again with room for any (ERANGE). The kernel zeroes a
 * buffer of the size asked for before every read (XATTR_SIZE_MAX: 64 KiB,
 * a page allocation and clearing per call), which was a fair share of a
 * getxattr of an ACL that is not there: ls -l asks for one per file. */
#define SMALL_SEALED 4096

static ssize_t get_sealed(const char *proc, const char *bname, uint8_t *sealed)
{
	ssize_t n = getxattr(proc, bname, sealed, SMALL_SEALED);
	if (n < 0 && errno == ERANGE)
		n = getxattr(proc, bname, sealed, XATTR_SIZE_MAX);
	return n;
}

int lfs_xattr_load(struct lfs_fs *fs, uint32_t stage_id, const char *proc, const char *name,
                   uint8_t **out)
{
	char bname[BACKING_XATTR_MAX];
	uint32_t epochs[LFS_MAX_EPOCHS];
	*out = NULL;
	int ne = xattr_epochs(fs, stage_id, epochs);
	int r = ne < 0 ? ne : backing_xattr_name(fs, epochs[0], name, bname);
	if (r < 0)
		return r;
	uint8_t *sealed = malloc(XATTR_SIZE_MAX);
	if (!sealed)
		return -ENOMEM;
	ssize_t n = get_sealed(proc, bname, sealed);
	int saved = errno;
	uint32_t epoch = epochs[0];
	for (int i = 1; n < 0 && saved == ENODATA && i < ne; i++) {
		if (backing_xattr_name(fs, epochs[i], name, bname) < 0)
			continue;
		n = get_sealed(proc, bname, sealed);
		saved = errno;
		epoch = epochs[i];
	}
	uint8_t *plain = n < 0 ? NULL : malloc((size_t)n + 1);
	const struct lfs_epoch_keys *k;
	if (n < 0)
		r = -saved;
	else if (!plain)
		r = -ENOMEM;
	else if ((r = lfs_keyring_get(fs->kr, epoch, &k)) == 0) {
		r = lfs_xattr_value_open(k->xattr_value, bname, sealed, (size_t)n, plain);
		lfs_keyring_put(fs->kr);
		if (r == -EBADMSG) {
			lfs_err("xattr %s of %s does not authenticate (vault %s)", name, proc,
			        fs->vault_path);
			r = -EIO;
		}
	}
	free(sealed);
	if (r < 0 && plain) {
		sodium_memzero(plain, (size_t)n + 1);
		free(plain);
	} else {
		*out = plain;
	}
	return r;
}

int lfs_xattr_present(struct lfs_fs *fs, uint32_t stage_id, const char *proc, const char *name)
{
	char bname[BACKING_XATTR_MAX];
	uint32_t epochs[LFS_MAX_EPOCHS];
	int ne = xattr_epochs(fs, stage_id, epochs);
	if (ne < 0)
		return ne;
	for (int i = 0; i < ne; i++) {
		int r = backing_xattr_name(fs, epochs[i], name, bname);
		if (r < 0)
			return r;
		if (getxattr(proc, bname, NULL, 0) >= 0)
			return 1;
		if (errno != ENODATA)
			return -errno;
	}
	return 0;
}

void lfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	char proc[LFS_PROC_PATH_MAX];
	uint8_t *plain = NULL;
	if (fs->stage && fs->stage->getxattr(fs->stage->ctx, req, inode, name, size))
		return;
	/* EOPNOTSUPP (not ENODATA) for namespaces that are not stored: ls and
	 * other tools then stop asking for SELinux labels on this filesystem,
	 * which saves a round trip per file in ls -l. */
	int r = proc_of_for(req, ino, proc, false);
	if (r == 0) {
		r = lfs_acl_known_absent(fs, inode, name)
		        ? -ENODATA
		        : lfs_xattr_load(fs, inode->stage_id, proc, name, &plain);
		unpin_of(req, ino);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)r);
	else if ((size_t)r > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, (const char *)plain, (size_t)r);
	if (plain) {
		sodium_memzero(plain, r > 0 ? (size_t)r : 0);
		free(plain);
	}
}

void lfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	char proc[LFS_PROC_PATH_MAX];
	int pr = proc_of_for(req, ino, proc, false);
	if (pr < 0) {
		fuse_reply_err(req, -pr);
		return;
	}
	char *raw = malloc(XATTR_LIST_MAX);
	char *out = malloc(XATTR_LIST_MAX);
	ssize_t n = raw ? listxattr(proc, raw, XATTR_LIST_MAX) : -1;
	int saved = errno;
	unpin_of(req, ino);
	if (!raw || !out || n < 0) {
		fuse_reply_err(req, !raw || !out ? ENOMEM : saved);
		free(raw);
		free(out);
		return;
	}
	uint32_t epochs[LFS_MAX_EPOCHS];
	int ne = xattr_epochs(fs, lfs_inode_of(req, ino)->stage_id, epochs);
	int r = ne < 0 ? ne : 0;
	size_t used = 0;
	for (ssize_t i = 0; r == 0 && i < n; i += (ssize_t)strlen(raw + i) + 1) {
		const char *bn = raw + i;
		char plain[LFS_NAME_MAX + 1];
		size_t plen;
		if (strncmp(bn, USER_PREFIX, USER_PREFIX_LEN) != 0)
			continue;
		int d = -EBADMSG;
		for (int e = 0; e < ne && d < 0; e++) {
			const struct lfs_epoch_keys *k;
			if (lfs_keyring_get(fs->kr, epochs[e], &k) < 0)
				continue;
			d = lfs_xattr_name_decrypt(k->xattr_name_mac, k->xattr_name_enc,
			                           bn + USER_PREFIX_LEN,
			                           strlen(bn + USER_PREFIX_LEN), plain, &plen);
			lfs_keyring_put(fs->kr);
		}
		if (d < 0)
			continue;
		/* An ACL's stored name stands for its full name; user.* names
		 * get their prefix back. */
		const char *full = NULL;
		bool reserved = lfs_xattr_name_reserved(plain, plen, &full);
		if (reserved && !fs->acl)
			continue;
		const char *prefix = reserved ? "" : USER_PREFIX;
		const char *rest = reserved ? full : plain;
		size_t rlen = reserved ? strlen(full) : plen;
		if (used + strlen(prefix) + rlen + 1 > XATTR_LIST_MAX)
			break;
		memcpy(out + used, prefix, strlen(prefix));
		memcpy(out + used + strlen(prefix), rest, rlen + 1);
		used += strlen(prefix) + rlen + 1;
	}
	/* A staging directory's user.lethefs.ttl and .expires (getfattr -d). */
	if (r == 0 && fs->stage && fs->stage->listxattr)
		used += fs->stage->listxattr(fs->stage->ctx, lfs_inode_of(req, ino), out + used,
		                             XATTR_LIST_MAX - used);
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (size == 0)
		fuse_reply_xattr(req, used);
	else if (used > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, out, used);
	free(raw);
	free(out);
}

int lfs_xattr_remove(struct lfs_fs *fs, uint32_t stage_id, const char *proc, const char *name)
{
	char bname[BACKING_XATTR_MAX];
	uint32_t epochs[LFS_MAX_EPOCHS];
	int ne = xattr_epochs(fs, stage_id, epochs);
	int r = ne < 0 ? ne : backing_xattr_name(fs, epochs[0], name, bname);
	if (r < 0)
		return r;
	r = removexattr(proc, bname) < 0 ? -errno : 0;
	for (int i = 1; r == -ENODATA && i < ne; i++)
		if (backing_xattr_name(fs, epochs[i], name, bname) == 0)
			r = removexattr(proc, bname) < 0 ? -errno : 0;
	return r;
}

void lfs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char proc[LFS_PROC_PATH_MAX];
	if (!strncmp(name, "user.lethefs.", 13)) {
		fuse_reply_err(req, EPERM); /* staging attributes are not removable */
		return;
	}
	int r = proc_of(req, ino, proc);
	if (r == 0) {
		r = lfs_xattr_remove(lfs_req_fs(req), lfs_inode_of(req, ino)->stage_id, proc, name);
		if (lfs_acl_type(name) >= 0)
			lfs_acl_changed(lfs_inode_of(req, ino));
		unpin_of(req, ino);
		/* Removing an ACL that is not there succeeds, as on ext4. */
		if (r == -ENODATA && lfs_req_fs(req)->acl && lfs_acl_type(name) >= 0)
			r = 0;
	}
	fuse_reply_err(req, -r);
}
