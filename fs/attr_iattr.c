/* SPDX-License-Identifier: Apache-2.0 */
/* Inode attributes on the backing store (attr.h, FORMAT.md 14.9): read,
 * written, and checked against the header before anything acts on them. */
#define _GNU_SOURCE
#include "attr_iattr.h"
#include "iattr.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../common/xattrat.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <sodium.h>

void lfs_attr_report(struct lfs_fs *fs, int fd, const struct stat *st, const char *why)
{
	lfs_attr_report_as(fs, fd, st, why, "refused");
}

void lfs_attr_report_as(struct lfs_fs *fs, int fd, const struct stat *st, const char *why,
                        const char *outcome)
{
	pthread_mutex_lock(&fs->report_lock);
	bool seen = false;
	unsigned n = fs->nreported < LFS_REPORTED_MAX ? fs->nreported : LFS_REPORTED_MAX;
	for (unsigned i = 0; i < n && !seen; i++)
		seen = fs->reported[i].dev == st->st_dev && fs->reported[i].ino == st->st_ino;
	if (!seen) {
		unsigned slot = fs->nreported++ % LFS_REPORTED_MAX;
		fs->reported[slot].dev = st->st_dev;
		fs->reported[slot].ino = st->st_ino;
	}
	pthread_mutex_unlock(&fs->report_lock);
	if (seen)
		return;
	char proc[LFS_PROC_PATH_MAX], path[PATH_MAX];
	lfs_proc_path(fd, proc);
	ssize_t n2 = readlink(proc, path, sizeof(path) - 1);
	path[n2 > 0 ? n2 : 0] = '\0';
	lfs_err("backing object %s (vault %s) %s: %s", n2 > 0 ? path : "?", fs->vault_path, outcome,
	        why);
	struct lfs_audit_detail d[] = {{"path", n2 > 0 ? path : "?", 0}, {"reason", why, 0}};
	lfs_event_emit(&fs->events, "tamper", outcome, NULL, d, 2);
}

/* The raw attribute of the regular backing file open on fd, or -errno.
 * Read by name when the caller knows where it found fd (dirfd/name) and
 * the kernel has getxattrat: that costs a one-component walk, where the
 * O_PATH descriptor can only be read through a /proc/self/fd/N walk. Any
 * answer but a value, none, or one too long (the name renamed away by a
 * rotation meanwhile, no such call) reads by descriptor. A name that held
 * another object between the caller's open and this read gives no more
 * than whoever writes the backing store can do to fd's own attribute: the
 * value still has to authenticate, a lookup serves it unbound, and what
 * acts on the file binds it to fd's header first (lfs_attr_bind); an
 * answer of none lets the header (read by fd) decide. */
static ssize_t read_raw(int fd, int dirfd, const char *name, uint8_t *raw, size_t size)
{
	if (dirfd >= 0 && name) {
		ssize_t n = lfs_getxattrat(dirfd, name, LFS_IATTR_NAME, raw, size);
		if (n >= 0 || n == -ENODATA || n == -ENOTSUP || n == -ERANGE)
			return n;
	}
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(fd, proc);
	ssize_t n = getxattr(proc, LFS_IATTR_NAME, raw, size);
	return n < 0 ? -errno : n;
}

int lfs_iattr_read(struct lfs_fs *fs, int fd, struct lfs_irec *rec, uint8_t bind[12],
                   const char **why)
{
	return lfs_iattr_read_at(fs, fd, -1, NULL, rec, bind, why);
}

int lfs_iattr_read_at(struct lfs_fs *fs, int fd, int dirfd, const char *name, struct lfs_irec *rec,
                      uint8_t bind[12], const char **why)
{
	uint8_t raw[LFS_IATTR_LEN + 1];
	ssize_t n = read_raw(fd, dirfd, name, raw, sizeof(raw));
	if (n < 0) {
		if (n == -ENODATA || n == -ENOTSUP)
			return 0;
		if (n != -ERANGE)
			return (int)n;
		n = (ssize_t)sizeof(raw); /* too long: malformed */
	}
	uint32_t epoch;
	*why = "inode attribute malformed";
	if (lfs_iattr_epoch(raw, (size_t)n, &epoch) < 0)
		return -EIO;
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(fs->kr, epoch, &k);
	if (r == -EACCES)
		return r;
	*why = "inode attribute of an epoch the keyring does not hold";
	if (r < 0)
		return -EIO;
	r = lfs_iattr_open(k->iattr, raw, (size_t)n, rec, bind);
	lfs_keyring_put(fs->kr);
	*why = "inode attribute does not authenticate";
	return r < 0 ? -EIO : 1;
}

void lfs_iattr_drop(int fd)
{
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(fd, proc);
	(void)removexattr(proc, LFS_IATTR_NAME);
}

int lfs_iattr_write(struct lfs_fs *fs, int fd, uint32_t epoch, const uint8_t *file_id,
                    const struct lfs_irec *rec)
{
	const struct lfs_epoch_keys *k;
	uint8_t raw[LFS_IATTR_LEN];
	int r = lfs_keyring_get(fs->kr, epoch, &k);
	if (r < 0)
		return r;
	r = lfs_iattr_seal(k->iattr, epoch, file_id, rec, raw);
	lfs_keyring_put(fs->kr);
	if (r < 0)
		return r;
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(fd, proc);
	return setxattr(proc, LFS_IATTR_NAME, raw, sizeof(raw), 0) < 0 ? -errno : 0;
}

int lfs_iattr_for_header(struct lfs_fs *fs, int fd, const struct lfs_file_header *h,
                         const struct lfs_irec *hrec, struct lfs_irec *rec, const char **why)
{
	uint8_t bind[LFS_IATTR_BIND_LEN];
	int r = lfs_iattr_read(fs, fd, rec, bind, why);
	if (r == 1 && sodium_memcmp(bind, h->file_id, LFS_IATTR_BIND_LEN) != 0) {
		*why = "inode attribute belongs to another file";
		return -EIO;
	}
	if (r == 0) {
		/* Lost (a copy without xattrs, or deleted): the header's record,
		 * which every change of the attribute rewrites first
		 * (lfs_attr_store), so it says what the attribute said: no
		 * rollback beyond a replay of the header itself (FORMAT.md 14.9). */
		*rec = *hrec;
		*why = "inode attribute missing: served from the file header's record";
	}
	return r;
}

/* Reads and authenticates the header of fd: 0, or -EIO. */
static int read_header(struct lfs_fs *fs, int fd, struct lfs_file_header *h, struct lfs_irec *rec)
{
	char proc[LFS_PROC_PATH_MAX];
	uint8_t raw[LFS_FILE_HDR_MAX];
	size_t got = 0;
	lfs_proc_path(fd, proc);
	int rfd = open(proc, O_RDONLY | O_NOATIME | O_CLOEXEC);
	if (rfd < 0 && errno == EPERM)
		rfd = open(proc, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	int r = lfs_pread_full(rfd, raw, LFS_FILE_HDR_MAX, 0, &got);
	close(rfd);
	if (r < 0)
		return r;
	if (lfs_header_parse(raw, got, h) < 0 || h->version != LFS_FILE_V2 ||
	    h->cipher != fs->layout.cipher)
		return -EIO;
	const struct lfs_epoch_keys *k;
	if ((r = lfs_keyring_get(fs->kr, h->epoch, &k)) < 0)
		return r == -EACCES ? r : -EIO;
	r = lfs_header_verify(raw, h, k, rec) < 0 ? -EIO : 0;
	lfs_keyring_put(fs->kr);
	return r;
}

/* Whether two records show the same type, mode and owner: what the kernel
 * grants by. */
static bool same_view(const struct lfs_irec *a, const struct lfs_irec *b)
{
	return a->type == b->type && a->mode == b->mode && a->uid == b->uid && a->gid == b->gid;
}

/* A lookup reads the attribute by name (getxattrat, read_raw above): a
 * rename through the mount that put another file under that name between
 * the lookup's open and that read gave the inode the other file's
 * attribute. The descriptor's own attribute decides then: one bound to
 * this header is taken (the one of a backing-store swap is not: it names
 * the other file through the descriptor too). If it differs from what was
 * served, the kernel may have granted by the wrong mode: refused this once,
 * as a header without the flag is; the next call finds the right one. */
static int rebind_by_descriptor(struct lfs_fs *fs, struct lfs_inode *in, int fd,
                                const struct lfs_file_header *h, const char **why)
{
	struct lfs_irec rec;
	uint8_t bind[LFS_IATTR_BIND_LEN];
	const char *awhy = NULL;
	if (lfs_iattr_read(fs, fd, &rec, bind, &awhy) != 1 || rec.type != LFS_IREC_REG ||
	    sodium_memcmp(bind, h->file_id, LFS_IATTR_BIND_LEN) != 0)
		return -EIO; /* the attribute is another file's: *why stands */
	int r = 0;
	pthread_mutex_lock(&in->meta_lock);
	if (in->iattr_src && !in->iattr_bound) {
		if (!same_view(&rec, &in->rec))
			r = -EIO;
		in->rec = rec;
		memcpy(in->iattr_bind, bind, LFS_IATTR_BIND_LEN);
		in->iattr_bound = true;
		in->header = *h;
		in->have_header = true;
	}
	pthread_mutex_unlock(&in->meta_lock);
	*why = NULL; /* not a tamper: a name that changed hands */
	if (r < 0)
		lfs_warn("inode %llu: its attribute changed under its name (renamed over): "
		         "refused once, served as it is now",
		         (unsigned long long)in->ino);
	return r;
}

int lfs_attr_bind(struct lfs_fs *fs, struct lfs_inode *in, int fd)
{
	pthread_mutex_lock(&in->meta_lock);
	bool need = in->fmt == 2 && in->have_rec && in->iattr_src && !in->iattr_bound;
	pthread_mutex_unlock(&in->meta_lock);
	if (!need)
		return 0;
	struct lfs_file_header h;
	struct lfs_irec rec;
	pthread_rwlock_rdlock(&in->io_lock);
	int r = read_header(fs, fd, &h, &rec);
	const char *why = r == -EIO ? "file record does not authenticate" : NULL;
	bool other_file = false;
	pthread_mutex_lock(&in->meta_lock);
	if (r == 0 && in->iattr_src && !in->iattr_bound) {
		if (!(h.flags & LFS_HDR_FLAG_IATTR)) {
			/* No flag: the header is the record (an attribute left by
			 * a crash, or planted, means nothing). One that said
			 * otherwise may have let the kernel grant what the
			 * record does not: refused this once. */
			if (!same_view(&rec, &in->rec)) {
				why = "inode attribute on a file whose header has none";
				r = -EIO;
			}
			in->rec = rec;
			in->iattr_src = false;
			lfs_iattr_drop(fd); /* a leftover: removed, so it misleads no lookup */
			in->header = h;
			in->have_header = true;
		} else if (rec.type != LFS_IREC_REG ||
		           sodium_memcmp(h.file_id, in->iattr_bind, LFS_IATTR_BIND_LEN) != 0) {
			why = "inode attribute belongs to another file";
			other_file = true;
			r = -EIO;
		} else {
			in->iattr_bound = true;
			in->header = h;
			in->have_header = true;
		}
	}
	pthread_mutex_unlock(&in->meta_lock);
	if (other_file)
		r = rebind_by_descriptor(fs, in, fd, &h, &why);
	pthread_rwlock_unlock(&in->io_lock);
	if (why) {
		struct stat st;
		if (fstat(fd, &st) == 0)
			lfs_attr_report(fs, fd, &st, why);
		lfs_err("integrity check failed: inode %llu of vault %s: %s",
		        (unsigned long long)in->ino, fs->vault_path, why);
	}
	return r;
}

int lfs_iattr_store(struct lfs_fs *fs, struct lfs_inode *in, int ifd, const struct lfs_irec *rec)
{
	pthread_mutex_lock(&in->meta_lock);
	bool ok = in->iattr_bound && in->have_header;
	struct lfs_file_header h = in->header;
	pthread_mutex_unlock(&in->meta_lock);
	if (!ok)
		return -EIO; /* lfs_attr_bind first */
	return lfs_iattr_write(fs, ifd, h.epoch, h.file_id, rec);
}

int lfs_iattr_adopt(struct lfs_fs *fs, int fd, struct lfs_file_header *h,
                    const struct lfs_irec *rec)
{
	int r = lfs_iattr_write(fs, fd, h->epoch, h->file_id, rec);
	if (r < 0)
		return r;
	const struct lfs_epoch_keys *k;
	uint8_t raw[LFS_FILE_HDR_MAX];
	struct lfs_file_header fh = *h;
	fh.flags |= LFS_HDR_FLAG_IATTR;
	if ((r = lfs_keyring_get(fs->kr, fh.epoch, &k)) < 0)
		return r;
	int n = lfs_header_encode(&fh, k, rec, raw);
	lfs_keyring_put(fs->kr);
	r = n < 0 ? n : lfs_pwrite_full(fd, raw, (size_t)n, 0);
	if (r == 0)
		*h = fh;
	return r;
}

int lfs_iattr_take_header(struct lfs_fs *fs, struct lfs_inode *in, int fd,
                          const struct lfs_file_header *h, const struct lfs_irec *hrec)
{
	int r = 0;
	if (!in->have_rec) {
		/* No record loaded (fsck's verification of contents, or a lock
		 * dropped it): the attribute's, as a load takes it. */
		struct lfs_irec rec;
		const char *why;
		r = lfs_iattr_for_header(fs, fd, h, hrec, &rec, &why);
		if (r >= 0) {
			in->rec = rec;
			in->have_rec = true;
			in->iattr_src = true;
			memcpy(in->iattr_bind, h->file_id, LFS_IATTR_BIND_LEN);
		}
		r = r == -EACCES ? r : r < 0 ? -EIO : 0;
	}
	if (r == 0 &&
	    (!in->iattr_src || sodium_memcmp(h->file_id, in->iattr_bind, LFS_IATTR_BIND_LEN) != 0))
		r = -EIO;
	if (r == 0) {
		in->iattr_bound = true;
		in->header = *h;
		in->have_header = true;
	}
	return r;
}
