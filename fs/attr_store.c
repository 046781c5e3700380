/* SPDX-License-Identifier: Apache-2.0 */
/* Records changed (attr.h: lfs_attr_store, lfs_attr_change): a format-2
 * object's mode, owner and group rewritten in its .lethefs.dir, header or
 * inode attribute. (Split from attr.c, which loads them.) */
#define _GNU_SOURCE
#include "attr.h"
#include "attr_iattr.h"
#include "iattr.h"
#include "dirnames.h"
#include "../common/fileutil.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* .lethefs.dir replaced with rec, the directory's times kept. */
static int store_dir(struct lfs_fs *fs, struct lfs_inode *in, int ifd, const struct lfs_irec *rec)
{
	struct lfs_dirmeta m;
	int r = lfs_dir_meta(fs, in, ifd, &m);
	if (r < 0)
		return r;
	if (m.version != 2)
		return -EIO;
	const struct lfs_epoch_keys *k;
	uint8_t raw[LFS_DIRMETA_MAX];
	if ((r = lfs_keyring_get(fs->kr, m.epoch, &k)) < 0)
		return r;
	int n = lfs_dirmeta_encode(&m, k, rec, raw);
	lfs_keyring_put(fs->kr);
	if (n < 0)
		return n;
	int dfd = openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (dfd < 0)
		return -errno;
	if (fstat(dfd, &st) < 0) {
		r = -errno;
		close(dfd);
		return r;
	}
	r = lfs_dirmeta_replace(dfd, raw, (size_t)n);
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	if (r == 0 && futimens(dfd, ts) < 0)
		lfs_warn("cannot keep the times of directory inode %llu: %s",
		         (unsigned long long)in->ino, strerror(errno));
	close(dfd);
	return r;
}

/* The header rewritten in place with rec (one pwrite at offset 0), the
 * file's times kept. The caller holds in's io_lock exclusively. */
static int store_reg(struct lfs_fs *fs, struct lfs_inode *in, int ifd, const struct lfs_irec *rec)
{
	/* An open writer's descriptor when there is one (fs.h: it stays open
	 * while io_lock is held), else one of its own. */
	pthread_mutex_lock(&in->meta_lock);
	int wfd = in->wfd;
	pthread_mutex_unlock(&in->meta_lock);
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(ifd, proc);
	int fd = wfd >= 0 ? wfd : open(proc, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	uint8_t raw[LFS_FILE_HDR_MAX];
	size_t got = 0;
	struct lfs_file_header h;
	int r = fstat(fd, &st) < 0 ? -errno : 0;
	pthread_mutex_lock(&in->meta_lock);
	bool have = in->have_header;
	h = in->header;
	pthread_mutex_unlock(&in->meta_lock);
	if (r == 0 && !have) {
		r = lfs_pread_full(fd, raw, LFS_FILE_HDR_MAX, 0, &got);
		if (r == 0 && (lfs_header_parse(raw, got, &h) < 0 || h.version != LFS_FILE_V2))
			r = -EIO;
	}
	const struct lfs_epoch_keys *k;
	if (r == 0 && (r = lfs_keyring_get(fs->kr, h.epoch, &k)) == 0) {
		struct lfs_irec cur;
		/* A header read now must be authentic before it is rewritten. */
		if (!have && lfs_header_verify(raw, &h, k, &cur) < 0)
			r = -EIO;
		int n = r == 0 ? lfs_header_encode(&h, k, rec, raw) : r;
		lfs_keyring_put(fs->kr);
		r = n < 0 ? n : lfs_pwrite_full(fd, raw, (size_t)n, 0);
	}
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	if (r == 0 && futimens(fd, ts) < 0)
		lfs_warn("cannot keep the times of inode %llu: %s", (unsigned long long)in->ino,
		         strerror(errno));
	if (r == 0 && !have) {
		pthread_mutex_lock(&in->meta_lock);
		in->header = h;
		in->have_header = true;
		pthread_mutex_unlock(&in->meta_lock);
	}
	if (fd != wfd)
		close(fd);
	return r;
}

int lfs_attr_store(struct lfs_fs *fs, struct lfs_inode *in, int ifd, const struct lfs_irec *rec)
{
	pthread_mutex_lock(&in->meta_lock);
	bool iattr = in->iattr_src;
	pthread_mutex_unlock(&in->meta_lock);
	/* With an inode attribute, the header's record is rewritten first and
	 * the attribute (the record) after: the header then always says what
	 * the attribute says or what a change not yet acknowledged asked for,
	 * never an older mode, and a copy that lost the attribute (a backup
	 * without xattrs) is served from it (FORMAT.md 14.9). */
	int r = S_ISDIR(in->type) ? store_dir(fs, in, ifd, rec) : store_reg(fs, in, ifd, rec);
	if (r == 0 && iattr && !S_ISDIR(in->type))
		r = lfs_iattr_store(fs, in, ifd, rec);
	if (r == 0) {
		pthread_mutex_lock(&in->meta_lock);
		in->rec = *rec;
		in->have_rec = true;
		pthread_mutex_unlock(&in->meta_lock);
	}
	return r;
}

int lfs_attr_change(struct lfs_fs *fs, struct lfs_inode *in, int ifd, int mode, uid_t uid,
                    gid_t gid)
{
	struct stat st;
	/* Loaded before the exclusive lock: a reload takes it shared. (The
	 * stat only loads: an inode loaded already needs none.) */
	pthread_mutex_lock(&in->meta_lock);
	bool ready = lfs_attr_loaded(in);
	pthread_mutex_unlock(&in->meta_lock);
	int r = ready ? 0 : lfs_attr_fstat(fs, in, ifd, &st);
	if (r == 0)
		r = lfs_attr_bind(fs, in, ifd); /* the attribute is this file's */
	if (r < 0)
		return r;
	/* A format-1 symlink or node: the gate holds its io_lock shared
	 * (fs/gate.c, node_lock), and its mode and owner are the backing
	 * object's. */
	pthread_mutex_lock(&in->meta_lock);
	bool node1 = in->fmt == 1 && in->type != S_IFREG && in->type != S_IFDIR;
	pthread_mutex_unlock(&in->meta_lock);
	if (node1)
		return -ENOTSUP;
	pthread_rwlock_wrlock(&in->io_lock);
	pthread_mutex_lock(&in->meta_lock);
	bool v2 = in->fmt == 2 && in->have_rec;
	struct lfs_irec rec = in->rec;
	pthread_mutex_unlock(&in->meta_lock);
	if (!v2) {
		r = in->fmt == 2 ? -EIO : -ENOTSUP;
	} else {
		struct lfs_irec old = rec;
		if (mode >= 0)
			rec.mode = (uint16_t)(mode & 07777);
		if (uid != (uid_t)-1)
			rec.uid = (uint32_t)uid;
		if (gid != (gid_t)-1)
			rec.gid = (uint32_t)gid;
		/* A change to what the record says already (tar as root giving
		 * a file the owner it has): the record stays as it is, and a
		 * chown that changes nothing marks the change time as chown(2)
		 * does (one call instead of the header's open, stat, write,
		 * times and close). */
		if (rec.mode == old.mode && rec.uid == old.uid && rec.gid == old.gid)
			r = fchownat(ifd, "", (uid_t)-1, (gid_t)-1,
			             AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0
			        ? -errno
			        : 0;
		else
			r = lfs_attr_store(fs, in, ifd, &rec);
	}
	pthread_rwlock_unlock(&in->io_lock);
	return r;
}
