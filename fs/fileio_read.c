/* SPDX-License-Identifier: Apache-2.0 */
/* Reads of a file's encrypted contents: the blocks a request covers are
 * read in one call (through the cache, or a direct descriptor for large
 * ranges), each opened and authenticated, and nothing reaches the caller
 * unless every block does. In shared mode a failed read is tried once more
 * with the file's length held and a fresh header. Writes: fileio.c. */
#define _GNU_SOURCE
#include "fileio.h"
#include "fileio_int.h"
#include "directread.h"
#include "filelayout.h"
#include "filelock.h"
#include "../cluster/backing.h"
#include "../cluster/rangelock.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

static ssize_t read_once(struct lfs_fs *fs, struct lfs_inode *inode, int fd, int dfd, char *buf,
                         size_t size, uint64_t off, bool report);

ssize_t lfs_fileio_read(struct lfs_fs *fs, struct lfs_inode *inode, int fd, char *buf, size_t size,
                        uint64_t off)
{
	return lfs_fileio_read_direct(fs, inode, fd, -1, buf, size, off);
}

ssize_t lfs_fileio_read_direct(struct lfs_fs *fs, struct lfs_inode *inode, int fd, int dfd,
                               char *buf, size_t size, uint64_t off)
{
	if (!fs->shared)
		return read_once(fs, inode, fd, dfd, buf, size, off, true);
	/* Shared: read without cross-host locks; what fails its check may be
	 * another host's update in progress (or a header it replaced), so it
	 * is read again with the file's length held and a fresh header. Only
	 * what fails then is corrupt. */
	ssize_t r = read_once(fs, inode, fd, -1, buf, size, off, false);
	if (r != -EIO)
		return r;
	io_forget_header(inode);
	int lr = lfs_range_lock(fd, false, LFS_FLOCK_SIZE, 1, true);
	r = read_once(fs, inode, fd, -1, buf, size, off, true);
	if (lr == 0)
		lfs_range_unlock(fd, LFS_FLOCK_SIZE, 1);
	return r;
}

/* Backing read-ahead of a small read (-o random_ra_kb, directread.h): on
 * exclusive mounts of local disks, as direct reads, and only for files
 * of at most an eighth of the machine's memory. A file that size read at
 * random keeps what was read ahead cached until it is asked for; of a
 * larger one (a database), most of each chunk would be evicted unread:
 * up to chunk / 8 KiB times the disk bytes for nothing. */
static size_t ra_chunk(const struct lfs_fs *fs, size_t len, uint64_t backing)
{
	static uint64_t ram_eighth;
	if (!fs->random_ra || fs->shared || len >= fs->random_ra ||
	    !lfs_backing_direct_reads(fs->backing))
		return 0;
	uint64_t cap = __atomic_load_n(&ram_eighth, __ATOMIC_RELAXED);
	if (!cap) {
		long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
		cap = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz / 8 : 1;
		__atomic_store_n(&ram_eighth, cap, __ATOMIC_RELAXED);
	}
	return backing <= cap ? fs->random_ra : 0;
}

static ssize_t read_once(struct lfs_fs *fs, struct lfs_inode *inode, int fd, int dfd, char *buf,
                         size_t size, uint64_t off, bool report)
{
	struct io io;
	bool exists = false;
	pthread_rwlock_rdlock(&inode->io_lock);
	int r = io_begin(&io, fs, inode, fd);
	if (r == 0)
		r = io_open_header(&io, &exists);
	if (r < 0 || !exists || off >= io.size) {
		io_release_keys(&io);
		pthread_rwlock_unlock(&inode->io_lock);
		return r < 0 ? r : 0;
	}
	uint64_t end = off + size < io.size ? off + size : io.size;
	uint64_t b0 = off / BS, b1 = (end - 1) / BS;
	uint64_t disk_off = lfs_block_offset(io.l, b0);
	uint64_t disk_end = lfs_block_offset(io.l, b1 + 1);
	if (disk_end > io.backing)
		disk_end = io.backing;
	size_t len = (size_t)(disk_end - disk_off), got = 0;
	uint8_t *mem = NULL, *disk = NULL;
	if (dfd >= 0 && len >= LFS_DIRECT_READ_MIN) {
		r = lfs_direct_pread(dfd, len, disk_off, &disk, &got);
		if (r == -EINVAL) /* alignment refused: read through the cache */
			r = 0;
	}
	if (!disk && r == 0) {
		mem = disk = malloc(len);
		r = disk ? lfs_cached_pread(fd, disk, len, disk_off, ra_chunk(fs, len, io.backing),
		                            &got)
		         : -ENOMEM;
	}
	if (r == 0 && got != len)
		r = -EIO; /* shrank under us: only possible from outside lethefs */
	uint8_t plain[LFS_BLOCK_SIZE] = {0}; /* once per request: cppcheck takes it for read */
	size_t done = 0;
	for (uint64_t b = b0; r == 0 && b <= b1; b++) {
		size_t in_off = (size_t)(lfs_block_offset(io.l, b) - disk_off);
		size_t in_len = got - in_off < io.l->block_disk ? got - in_off : io.l->block_disk;
		bool final = b == last_block(io.size);
		uint64_t from = b == b0 ? off - b * BS : 0;
		uint64_t to = b == b1 ? end - b * BS : BS;
		/* A block wanted whole is opened straight into the reply: no
		 * copy. Nothing of buf reaches the caller unless every block
		 * of the request authenticates (a failed block is wiped by
		 * lfs_aead_open, and the request fails). */
		bool whole = from == 0 && in_len > io.l->overhead && in_len - io.l->overhead == to;
		uint8_t *dst = whole ? (uint8_t *)buf + done : plain;
		int n = lfs_block_open(io.l, &io.key, &inode->header, b, final, disk + in_off,
		                       in_len, dst);
		if (n < 0) {
			if (report)
				io_report_corrupt(&io, b);
			r = -EIO;
			break;
		}
		if (to > (uint64_t)n)
			to = (uint64_t)n;
		if (!whole)
			memcpy(buf + done, plain + from, to - from);
		done += to - from;
	}
	sodium_memzero(plain, sizeof(plain));
	free(mem);
	io_release_keys(&io);
	pthread_rwlock_unlock(&inode->io_lock);
	return r < 0 ? r : (ssize_t)done;
}
