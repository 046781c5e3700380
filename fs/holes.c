/* SPDX-License-Identifier: Apache-2.0 */
/* Holes of encrypted files (see holes.h and FORMAT.md 6.5). A plaintext
 * block is a hole when the file is SPARSE, the block is not the last, and
 * its whole stored range reads as zeros (a hole of the backing file, or
 * zeros written there). Everything else, sealed zero blocks included, is
 * data: SEEK_DATA may call a hole data, never the other way round. */
#define _GNU_SOURCE
#include "holes.h"
#include "filelayout.h"
#include "fileio.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>

#define BS ((uint64_t)LFS_BLOCK_SIZE)
/* ext4 counts st_blocks in 512-byte units, a 4 KiB block at a time. */
#define SECTORS_PER_BLOCK (LFS_BLOCK_SIZE / 512)

struct holemap {
	struct lfs_layout lay; /* the file's (its header version) */
	const struct lfs_layout *l;
	int fd;
	uint64_t backing; /* backing size */
	uint64_t size;    /* plaintext size */
	uint64_t last;    /* last block: always data */
};

static int map_begin(struct holemap *m, struct lfs_fs *fs, struct lfs_inode *inode, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	int r = lfs_inode_layout(fs, inode, fd, &m->lay);
	if (r < 0)
		return r;
	m->l = &m->lay;
	m->fd = fd;
	m->backing = (uint64_t)st.st_size;
	lfs_plain_size(m->l, m->backing, &m->size);
	m->last = m->size ? (m->size - 1) / BS : 0;
	return 0;
}

/* Block index holding backing offset off (the header counts as block 0). */
static uint64_t block_at(const struct holemap *m, uint64_t off)
{
	return off <= m->l->hdr_len ? 0 : (off - m->l->hdr_len) / m->l->block_disk;
}

/* 1 if block b (not the last) is stored as zeros only, 0 if not. */
static int stored_as_zeros(const struct holemap *m, uint64_t b)
{
	uint8_t buf[LFS_BLOCK_SIZE + 64];
	size_t want = m->l->block_disk, got;
	if (b >= m->last || want > sizeof(buf))
		return 0;
	int r = lfs_pread_full(m->fd, buf, want, (off_t)lfs_block_offset(m->l, b), &got);
	if (r < 0)
		return r;
	if (got != want)
		return 0;
	for (size_t i = 0; i < want; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* Next block at or after b (b < last) that the backing file may hold as a
 * hole (whence SEEK_HOLE) or as data (SEEK_DATA), found by the backing
 * file's own lseek so that long runs are skipped without reading them. */
static uint64_t backing_next(const struct holemap *m, uint64_t b, int whence)
{
	off_t at = lseek(m->fd, (off_t)lfs_block_offset(m->l, b), whence);
	if (at < 0)
		return m->last; /* ENXIO: no more data (or holes) before EOF */
	uint64_t nb = block_at(m, (uint64_t)at);
	return nb < b ? b : nb;
}

static off_t seek_sparse(const struct holemap *m, uint64_t off, int whence)
{
	uint64_t b = off / BS;
	while (b < m->last) {
		int z = stored_as_zeros(m, b);
		if (z < 0)
			return z;
		if ((whence == SEEK_DATA) == !z)
			break;
		/* Skip ahead to where the backing file may change state; the
		 * block found there is checked by the next round. */
		uint64_t next = backing_next(m, b + 1, whence == SEEK_DATA ? SEEK_DATA : SEEK_HOLE);
		b = next > b + 1 ? next : b + 1;
		if (b > m->last)
			b = m->last;
	}
	if (whence == SEEK_HOLE && b >= m->last)
		return (off_t)m->size; /* the virtual hole at EOF */
	uint64_t at = b * BS;
	return (off_t)(at > off ? at : off);
}

off_t lfs_holes_seek(struct lfs_fs *fs, struct lfs_inode *inode, int fd, off_t off, int whence)
{
	uint16_t flags;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	int r = lfs_fileio_header_flags(fs, inode, fd, &flags);
	if (r < 0)
		return r;
	struct holemap m;
	pthread_rwlock_rdlock(&inode->io_lock);
	off_t res = map_begin(&m, fs, inode, fd);
	if (res == 0 && (off < 0 || (uint64_t)off >= m.size))
		res = -ENXIO;
	else if (res == 0 && !(flags & LFS_HDR_FLAG_SPARSE))
		res = whence == SEEK_DATA ? off : (off_t)m.size; /* never had a hole */
	else if (res == 0)
		res = seek_sparse(&m, (uint64_t)off, whence);
	pthread_rwlock_unlock(&inode->io_lock);
	return res;
}

/* Writes sealed zeros over [from, to), which lies inside the file. */
static int write_zeros(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t from,
                       uint64_t to)
{
	const size_t chunk = 1 << 20;
	char *zeros = calloc(1, chunk);
	if (!zeros)
		return -ENOMEM;
	int r = 0;
	while (r == 0 && from < to) {
		size_t n = to - from < chunk ? (size_t)(to - from) : chunk;
		ssize_t w = lfs_fileio_write(fs, inode, fd, zeros, n, from);
		r = w < 0 ? (int)w : 0;
		from += n;
	}
	free(zeros);
	return r;
}

/* The punch itself, under the exclusive io_lock: blocks [b0, b1) become
 * backing holes (b1 never past the current last block). */
static int punch_blocks(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t b0,
                        uint64_t b1)
{
	struct holemap m;
	pthread_rwlock_wrlock(&inode->io_lock);
	int r = map_begin(&m, fs, inode, fd);
	if (r == 0 && b1 > m.last)
		b1 = m.last;
	if (r == 0 && b0 < b1) {
		off_t start = (off_t)lfs_block_offset(m.l, b0);
		off_t len = (off_t)((b1 - b0) * m.l->block_disk);
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, start, len) < 0)
			r = -errno;
	}
	pthread_rwlock_unlock(&inode->io_lock);
	return r;
}

int lfs_holes_punch(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t off, uint64_t len)
{
	struct holemap m;
	if (len == 0 || off + len < off)
		return -EINVAL;
	int r = map_begin(&m, fs, inode, fd);
	if (r < 0 || off >= m.size)
		return r;
	uint64_t end = off + len < m.size ? off + len : m.size;
	/* Whole blocks inside the range, the last block excepted, become
	 * holes; the rest of the range is overwritten with sealed zeros. */
	uint64_t b0 = (off + BS - 1) / BS, b1 = end / BS;
	if (b1 > m.last)
		b1 = m.last;
	if (b0 >= b1)
		return write_zeros(fs, inode, fd, off, end);
	if ((r = write_zeros(fs, inode, fd, off, b0 * BS)) < 0 ||
	    (r = write_zeros(fs, inode, fd, b1 * BS, end)) < 0)
		return r;
	/* Crash safety: the flag is on disk before any hole is. */
	if ((r = lfs_fileio_mark_sparse(fs, inode, fd)) < 0)
		return r;
	return punch_blocks(fs, inode, fd, b0, b1);
}

int lfs_holes_zero(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t off, uint64_t len,
                   bool keep_size)
{
	struct holemap m;
	if (len == 0 || off + len < off)
		return -EINVAL;
	int r = map_begin(&m, fs, inode, fd);
	if (r < 0)
		return r;
	uint64_t end = off + len;
	uint64_t old_size = m.size;
	/* Growing writes zeros past the old end already (as truncate does). */
	if (!keep_size && end > old_size && (r = lfs_fileio_truncate(fs, inode, fd, end)) < 0)
		return r;
	if (end > old_size)
		end = old_size;
	return off < end ? write_zeros(fs, inode, fd, off, end) : 0;
}

blkcnt_t lfs_holes_blocks(const struct lfs_layout *l, const struct stat *backing)
{
	uint64_t plain;
	lfs_plain_size(l, (uint64_t)backing->st_size, &plain);
	uint64_t nblocks = (plain + BS - 1) / BS;
	/* A backing file without holes stores every block: count them all,
	 * also while the backing filesystem has not allocated them yet. */
	uint64_t stored = (uint64_t)backing->st_blocks * 512;
	if (stored < (uint64_t)backing->st_size) {
		/* Holes: count the whole blocks the allocated bytes can hold
		 * (the header's share is noise), at least the last block,
		 * which is always stored. */
		uint64_t held = stored / l->block_disk;
		if (held < nblocks)
			nblocks = held ? held : (plain ? 1 : 0);
	}
	return (blkcnt_t)(nblocks * SECTORS_PER_BLOCK);
}
