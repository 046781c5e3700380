/* SPDX-License-Identifier: Apache-2.0 */
/* A file's length and shape: truncate, fallocate, the verify pass of fsck,
 * the header flags (fs/fileio_read.c reads the contents, fs/fileio.c
 * writes them). */
#define _GNU_SOURCE
#include "fileio.h"
#include "fileio_int.h"
#include "attr_iattr.h"
#include "durable.h"
#include "filelayout.h"
#include "filelock.h"
#include "overwrite.h"
#include "../cluster/rangelock.h"
#include "../journal/target.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <sodium.h>

/* Truncation of a format-2 file to 0: the blocks go (one ftruncate to the
 * header's length), then the header gets a fresh file id, so that a file
 * emptied and rewritten does not accumulate block writes under one key
 * (as a format-1 file, whose header goes, does not). A crash between the
 * two leaves an empty file under its old id. */
static int truncate_v2_to_zero(struct io *io)
{
	struct lfs_inode *in = io->inode;
	bool exists;
	if (io->backing == io->l->hdr_len)
		return 0;
	int r = io_open_header(io, &exists);
	if (r < 0)
		return r;
	if (ftruncate(io->fd, (off_t)io->l->hdr_len) < 0)
		return -errno;
	/* -o powersafe: the blocks are gone on disk before the header that no
	 * longer opens them (FORMAT.md 12.11). A power cut between the two
	 * kept the old length and blocks under the new file id: every byte of
	 * the file EIO, where the old contents or none were due. A sync that
	 * fails is the disk's error, reported by the file's next fsync
	 * (fs/durable.h); the truncation stands. */
	if (io->fs->powersafe && fdatasync(io->fd) < 0)
		lfs_durable_failed(in, errno);
	io->size = 0;
	io->backing = io->l->hdr_len;
	io_release_keys(io);
	if ((r = io_take_keys(io, in->stage_id)) < 0)
		return r;
	pthread_mutex_lock(&in->meta_lock);
	struct lfs_file_header old = in->header;
	bool iattr = (old.flags & LFS_HDR_FLAG_IATTR) != 0;
	struct lfs_irec rec = in->rec;
	lfs_header_new(&in->header, io->l->cipher, io->keys->epoch, LFS_FILE_V2);
	/* A file with an inode attribute: the new header goes down without
	 * the flag (holding the record, so that it alone is right after a
	 * crash), then the attribute bound to the new file id, then the flag
	 * (lfs_iattr_adopt; FORMAT.md 14.9). */
	in->header.flags = old.flags & ~LFS_HDR_FLAG_IATTR;
	pthread_mutex_unlock(&in->meta_lock);
	if ((r = io_write_header(io)) == 0 && iattr) {
		struct lfs_file_header h = in->header;
		int a = lfs_iattr_adopt(io->fs, io->fd, &h, &rec);
		pthread_mutex_lock(&in->meta_lock);
		if (a == 0) {
			in->header = h;
			memcpy(in->iattr_bind, h.file_id, sizeof(in->iattr_bind));
			in->iattr_bound = true;
		} else {
			in->iattr_src = false; /* the unflagged header is the record */
		}
		pthread_mutex_unlock(&in->meta_lock);
		if (a < 0)
			lfs_warn(
			    "inode %llu emptied; its inode attribute could not be renewed (%s): "
			    "served from its header",
			    (unsigned long long)in->ino, strerror(-a));
	}
	if (r < 0) {
		lfs_warn("inode %llu emptied, but its header kept its file id (%s)",
		         (unsigned long long)in->ino, strerror(-r));
		pthread_mutex_lock(&in->meta_lock);
		in->header = old;
		pthread_mutex_unlock(&in->meta_lock);
	}
	return 0;
}

static int truncate_locked(struct io *io, uint64_t size)
{
	bool exists = false;
	if (io->inode->tail_broken)
		return -EIO;
	if (size == 0 && io->l->version == LFS_FILE_V2)
		return truncate_v2_to_zero(io);
	if (size == 0) {
		/* One system call: atomic, no record needed. */
		if (ftruncate(io->fd, 0) < 0)
			return -errno;
		pthread_mutex_lock(&io->inode->meta_lock);
		io->inode->have_header = false;
		pthread_mutex_unlock(&io->inode->meta_lock);
		io->size = io->backing = 0;
		return 0;
	}
	int r = io_open_header(io, &exists);
	if (r < 0 || size == io->size)
		return r;
	return size > io->size ? tail_grow(io, size, NULL, 0, size) : tail_shrink(io, size);
}

int lfs_fileio_truncate(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t size)
{
	if (size > (uint64_t)INT64_MAX / 2)
		return -EFBIG;
	struct io io;
	pthread_rwlock_wrlock(&inode->io_lock);
	/* Shared: the length is another host's too (fs/filelock.h). */
	int lr = fs->shared ? lfs_range_lock(fd, true, LFS_FLOCK_SIZE, 1, true) : -1;
	if (lr == 0)
		io_forget_header(inode);
	int r = io_begin(&io, fs, inode, fd);
	if (r == 0)
		r = truncate_locked(&io, size);
	if (lr == 0)
		lfs_range_unlock(fd, LFS_FLOCK_SIZE, 1);
	if (r == 0)
		io_publish_size(inode, size);
	io_release_keys(&io);
	pthread_rwlock_unlock(&inode->io_lock);
	return r;
}

int lfs_fileio_fallocate(struct lfs_fs *fs, struct lfs_inode *inode, int fd, int mode, uint64_t off,
                         uint64_t len)
{
	if (mode & ~FALLOC_FL_KEEP_SIZE)
		return -EOPNOTSUPP;
	if (len == 0)
		return -EINVAL;
	uint64_t end = off + len;
	if (end < off || end > (uint64_t)INT64_MAX / 2)
		return -EFBIG;
	struct io io;
	pthread_rwlock_wrlock(&inode->io_lock);
	int lr = fs->shared && !(mode & FALLOC_FL_KEEP_SIZE)
	             ? lfs_range_lock(fd, true, LFS_FLOCK_SIZE, 1, true)
	             : -1;
	if (lr == 0)
		io_forget_header(inode);
	int r = io_begin(&io, fs, inode, fd);
	if (r == 0 && !(mode & FALLOC_FL_KEEP_SIZE) && end > io.size)
		r = truncate_locked(&io, end);
	if (r == 0) {
		/* Reserve the backing space the range occupies once written.
		 * Always KEEP_SIZE on the backing file: its size defines the
		 * plaintext size, and preallocated tails are not blocks. */
		uint64_t b_from = lfs_block_offset(io.l, off / BS);
		uint64_t b_to = lfs_block_offset(io.l, (end + BS - 1) / BS);
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)b_from, (off_t)(b_to - b_from)) < 0)
			r = -errno;
	}
	if (lr == 0)
		lfs_range_unlock(fd, LFS_FLOCK_SIZE, 1);
	io_release_keys(&io);
	pthread_rwlock_unlock(&inode->io_lock);
	return r;
}

long lfs_fileio_verify(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t *bad_block)
{
	struct io io;
	bool exists = false;
	long bad = 0;
	pthread_rwlock_rdlock(&inode->io_lock);
	int r = io_begin(&io, fs, inode, fd);
	if (r == 0) {
		uint64_t check;
		if (!lfs_plain_size(io.l, io.backing, &check)) {
			bad++;
			*bad_block = io.size / BS;
		}
		r = io_open_header(&io, &exists);
	}
	if (r == 0 && exists) {
		uint8_t plain[LFS_BLOCK_SIZE];
		uint8_t *disk = malloc(io.l->block_disk);
		uint64_t nblocks = io.size ? last_block(io.size) + 1 : 0;
		for (uint64_t b = 0; disk && b < nblocks; b++) {
			if (read_block(&io, b, plain, disk) < 0) {
				if (bad++ == 0)
					*bad_block = b;
			}
		}
		sodium_memzero(plain, sizeof(plain));
		if (!disk)
			r = -ENOMEM;
		free(disk);
	}
	io_release_keys(&io);
	pthread_rwlock_unlock(&inode->io_lock);
	if (r == -EIO)
		return 1;
	return r < 0 ? r : bad;
}

/* For fs/holes.c (SEEK_DATA/SEEK_HOLE, punch hole): the authenticated
 * header's flags, 0 for a file without a header. */
int lfs_fileio_header_flags(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint16_t *flags)
{
	struct io io;
	bool exists = false;
	pthread_rwlock_rdlock(&inode->io_lock);
	int r = io_begin(&io, fs, inode, fd);
	if (r == 0)
		r = io_open_header(&io, &exists);
	*flags = r == 0 && exists ? inode->header.flags : 0;
	io_release_keys(&io);
	pthread_rwlock_unlock(&inode->io_lock);
	return r;
}

/* For fs/holes.c: sets the SPARSE flag of a file that has a header and
 * makes it durable before the caller makes holes, so that a crash can never
 * leave a hole in a file whose header on disk says it has none. */
int lfs_fileio_mark_sparse(struct lfs_fs *fs, struct lfs_inode *inode, int fd)
{
	struct io io;
	bool exists = false;
	pthread_rwlock_wrlock(&inode->io_lock);
	int r = io_begin(&io, fs, inode, fd);
	if (r == 0)
		r = io_open_header(&io, &exists);
	if (r == 0 && exists && !(inode->header.flags & LFS_HDR_FLAG_SPARSE)) {
		pthread_mutex_lock(&inode->meta_lock);
		inode->header.flags |= LFS_HDR_FLAG_SPARSE;
		pthread_mutex_unlock(&inode->meta_lock);
		r = io_write_header(&io);
		if (r == 0 && fdatasync(fd) < 0)
			r = -errno;
	}
	io_release_keys(&io);
	pthread_rwlock_unlock(&inode->io_lock);
	return r;
}
