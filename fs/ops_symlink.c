/* SPDX-License-Identifier: Apache-2.0 */
/* Symbolic links through the mount: readlink, and the backing side of
 * creating and removing them. Targets whose encoding does not fit in a
 * backing symlink live in a sidecar in the tree's root (fs/longlink.c, FORMAT.md
 * section 8.1); this file finds the tree root a symlink belongs to. */
#define _GNU_SOURCE
#include "ops.h"
#include "fileio.h"
#include "longlink.h"
#include "tree.h"
#include "symlink.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

int lfs_symlink_make(struct lfs_fs *fs, uint32_t stage_id, int pfd, const char *backing,
                     const char *target)
{
	size_t len = strlen(target);
	if (len > LFS_LINK_TARGET_MAX)
		return -ENAMETOOLONG;
	char *enc = malloc(lfs_link_encoded_len(len) + 1);
	if (!enc)
		return -ENOMEM;
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(fs->kr, stage_id, &k);
	if (r == 0) {
		r = lfs_link_encrypt(k->link, target, len, enc);
		lfs_keyring_put(fs->kr);
	}
	int tfd = r == 0 ? lfs_tree_fd(fs, stage_id) : -1;
	if (r == 0 && tfd < 0)
		r = tfd;
	if (r == 0)
		r = lfs_link_make(tfd, pfd, backing, enc, len);
	if (tfd >= 0)
		close(tfd);
	free(enc);
	return r;
}

bool lfs_symlink_release_begin(int pfd, const char *backing, struct lfs_link_release *rel)
{
	rel->is_long = lfs_link_last_long(pfd, backing, rel->hash);
	return rel->is_long;
}

void lfs_symlink_release_end(struct lfs_fs *fs, uint32_t stage_id,
                             const struct lfs_link_release *rel)
{
	if (!rel->is_long)
		return;
	int tfd = lfs_tree_fd(fs, stage_id);
	if (tfd < 0)
		return;
	lfs_link_drop(tfd, rel->hash);
	close(tfd);
}

/* The encoding of the symlink inode (inline or from its sidecar). */
static ssize_t read_encoding(struct lfs_fs *fs, struct lfs_inode *inode, char *enc)
{
	int tfd = lfs_tree_fd(fs, inode->stage_id);
	if (tfd < 0)
		return tfd;
	int ifd = lfs_inode_pin(fs, inode);
	ssize_t n = ifd < 0 ? ifd : lfs_link_read(tfd, ifd, "", enc);
	if (ifd >= 0)
		lfs_inode_unpin(fs, inode);
	close(tfd);
	return n;
}

/* A format-2 symlink is a regular backing file whose contents are its
 * target (docs/FORMAT.md 14.3): read like any file's. */
static void readlink_v2(fuse_req_t req, struct lfs_fs *fs, struct lfs_inode *inode)
{
	char *plain = sodium_malloc(LFS_LINK_TARGET_MAX + 2);
	int ifd = plain ? lfs_inode_pin(fs, inode) : -ENOMEM;
	ssize_t n = ifd;
	if (ifd >= 0) {
		char proc[LFS_PROC_PATH_MAX];
		lfs_proc_path(ifd, proc);
		int fd = open(proc, O_RDONLY | O_CLOEXEC);
		n = fd < 0 ? -errno
		           : lfs_fileio_read(fs, inode, fd, plain, LFS_LINK_TARGET_MAX + 1, 0);
		if (fd >= 0)
			close(fd);
		lfs_inode_unpin(fs, inode);
	}
	if (n == 0 || n > LFS_LINK_TARGET_MAX)
		n = -EIO; /* lookup checked the size; changed since */
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
	} else {
		plain[n] = '\0';
		fuse_reply_readlink(req, plain);
	}
	sodium_free(plain); /* wipes */
}

void lfs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	pthread_mutex_lock(&inode->meta_lock);
	bool v2 = inode->fmt == 2;
	pthread_mutex_unlock(&inode->meta_lock);
	if (v2) {
		readlink_v2(req, fs, inode);
		return;
	}
	char *enc = malloc(LFS_LINK_ENC_MAX + 1);
	char *plain = sodium_malloc(LFS_LINK_ENC_MAX + 1);
	ssize_t n = enc && plain ? read_encoding(fs, inode, enc) : -ENOMEM;
	int r = n < 0 ? (int)n : 0;
	/* No epoch is stored with a target. Below a staging directory it is
	 * the directory's key; elsewhere, during a rotation, it may still be
	 * under the previous epoch. */
	if (r == 0 && inode->stage_id) {
		const struct lfs_epoch_keys *k;
		r = lfs_keyring_get(fs->kr, inode->stage_id, &k);
		if (r == 0) {
			r = lfs_link_decrypt(k->link, enc, (size_t)n, plain);
			lfs_keyring_put(fs->kr);
		}
	} else if (r == 0) {
		uint32_t epoch;
		r = lfs_link_decrypt_any(fs->kr, enc, (size_t)n, plain, &epoch);
	}
	if (r == -EBADMSG || (n == -EIO)) {
		lfs_err("symlink target of inode %llu does not authenticate",
		        (unsigned long long)inode->ino);
		r = -EIO;
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		plain[r] = '\0';
		fuse_reply_readlink(req, plain);
	}
	free(enc);
	sodium_free(plain); /* wipes */
}
