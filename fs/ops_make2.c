/* SPDX-License-Identifier: Apache-2.0 */
/* Creating format-2 objects through the mount (docs/FORMAT.md 14.4). Every
 * object is built whole under a hidden temporary name in its directory:
 * a regular backing file (a regular file, a symlink holding its target, a
 * FIFO, a socket, a device node) with its header, or a backing directory
 * with its .lethefs.dir; the inherited ACL is stored on it; then one
 * rename without replacement puts it in place. A crash leaves either no
 * object or the whole one under its name, and at most a hidden leftover.
 * The backing object is the daemon's, 0600 or 0700: its type, mode and
 * owner are in the record. */
#define _GNU_SOURCE
#include "ops.h"
#include "attr.h"
#include "longlink.h"
#include "obj2.h"
#include "../cluster/backing.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The umask or the parent's default ACL (stored on the new object open on
 * fd), applied to *mode: with ACLs on, the kernel leaves both to us.
 * Returns 1 when nothing was inherited (lfs_acl_inherit). */
static int finish_mode(fuse_req_t req, struct lfs_inode *parent, int pfd, int fd, mode_t *mode)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	return fs->acl ? lfs_acl_inherit(req, parent, pfd, fd, mode) : 1;
}

/* Writes the object's record (and a symlink's target, a directory's
 * .lethefs.dir) into the temporary object open on made->fd; made keeps
 * the header or directory metadata written. */
static int write_object(struct lfs_fs *fs, uint32_t stage_id, struct lfs_made *made,
                        const char *link)
{
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(fs->kr, stage_id, &k);
	if (r < 0)
		return r;
	if (made->dir) {
		uint8_t raw[LFS_DIRMETA_MAX];
		lfs_dirmeta_new(&made->dirmeta, k->epoch, 2);
		int n = lfs_dirmeta_encode(&made->dirmeta, k, &made->rec, raw);
		lfs_keyring_put(fs->kr);
		return n < 0 ? n : lfs_dirmeta_store_raw(made->fd, raw, (size_t)n);
	}
	/* A regular file of the vault's own epoch (not a staging
	 * directory's) on a mount with -o iattr: its record goes into an
	 * inode attribute too, which is then the authoritative one (FORMAT.md
	 * 14.9). Both are set on the hidden object before it gets its name,
	 * so no crash can leave the flag without the attribute. */
	bool iattr = fs->iattr && stage_id == 0 && !link && made->rec.type == LFS_IREC_REG;
	r = lfs_obj2_write(made->fd, fs->layout.cipher, k, &made->rec, link,
	                   link ? strlen(link) : 0, iattr ? LFS_HDR_FLAG_IATTR : 0, &made->header);
	lfs_keyring_put(fs->kr);
	if (r == 0 && iattr)
		r = lfs_iattr_write(fs, made->fd, made->header.epoch, made->header.file_id,
		                    &made->rec);
	return r;
}

static void remove_tmp(int pfd, const char *tmp, bool dir, int fd)
{
	if (dir && fd >= 0)
		unlinkat(fd, LFS_DIRMETA_NAME, 0);
	unlinkat(pfd, tmp, dir ? AT_REMOVEDIR : 0);
}

int lfs_make2(fuse_req_t req, struct lfs_inode *parent, int pfd, const char *backing, mode_t mode,
              dev_t rdev, const char *link, struct lfs_made *made)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	memset(made, 0, sizeof(*made));
	made->fd = -1;
	made->dir = S_ISDIR(mode);
	if (link) {
		if (strlen(link) > LFS_LINK_TARGET_MAX)
			return -ENAMETOOLONG;
		mode = S_IFLNK | 0777;
	}
	int r = lfs_new_record(req, parent, pfd, mode, rdev, &made->rec);
	if (r < 0)
		return r;
	char tmp[LFS_OBJ2_TMP_LEN];
	lfs_obj2_tmp_name(tmp);
	int fd;
	if (made->dir)
		fd = mkdirat(pfd, tmp, 0700) < 0
		         ? -1
		         : openat(pfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	else
		fd = openat(pfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		if (made->dir)
			unlinkat(pfd, tmp, AT_REMOVEDIR);
		return r;
	}
	made->fd = fd;
	mode_t m = lfs_irec_ifmt(made->rec.type) | made->rec.mode;
	if (!link)
		r = finish_mode(req, parent, pfd, fd, &m);
	made->noacl = r == 1 || link; /* nothing inherited: it has no ACL */
	if (r > 0)
		r = 0;
	made->rec.mode = (uint16_t)(m & 07777);
	if (r == 0)
		r = write_object(fs, parent->stage_id, made, link);
	/* On disk before its name can be (FORMAT.md 12.11): a symlink's target
	 * and a special node's record live in its backing file, which no
	 * fsync of the application reaches, so an fsync of the directory
	 * must find them durable; a regular file's header on a -o powersafe
	 * mount, so that a power cut before the file's first fsync leaves no
	 * name or one that opens, never a name without a header (hidden,
	 * refused by fsck, and EIO to whoever creates that name again). A
	 * directory's .lethefs.dir is synced where it is written. */
	if (r == 0 && !made->dir && (link || made->rec.type != LFS_IREC_REG || fs->powersafe) &&
	    fsync(fd) < 0)
		r = -errno;
	if (r == 0)
		r = lfs_backing_publish(fs->backing, pfd, tmp, backing, made->dir);
	if (r < 0) {
		remove_tmp(pfd, tmp, made->dir, fd);
		close(fd);
		made->fd = -1;
		return r;
	}
	return 0;
}
