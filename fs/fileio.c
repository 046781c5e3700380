/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "fileio.h"
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

#define BS ((uint64_t)LFS_BLOCK_SIZE)
/* Gaps up to this size are filled with sealed zeros instead of holes. */
#define LFS_FILL_GAP_MAX (8ULL << 20)
/* How long a write past EOF waits for reordered writes to close its gap. */
#define LFS_GAP_WAIT_MS 20
/* Only gaps up to this size are waited for: the kernel keeps at most a few
 * dozen MiB of one file's writeback in flight. */
#define LFS_GAP_WAIT_MAX (64ULL << 20)

/* Everything one operation needs about the file, gathered once. */
struct io {
	struct lfs_fs *fs;
	struct lfs_inode *inode;
	const struct lfs_layout *l;
	int fd;
	uint64_t backing;  /* backing file size */
	uint64_t size;	   /* plaintext size */
	const struct lfs_epoch_keys *keys; /* held from the keyring */
	struct lfs_aead_key key;
	/* Fresh nonces drawn in batches: one generator call per 64 blocks
	 * rather than per block. Each is handed out once. */
	uint8_t nonces[64 * LFS_AEAD_NONCE_MAX];
	size_t nonces_left;
};

static void report_corrupt(struct io *io, uint64_t block)
{
	char proc[LFS_PROC_PATH_MAX], path[PATH_MAX];
	lfs_proc_path(io->fd, proc);
	ssize_t n = readlink(proc, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = '\0';
	lfs_err("integrity check failed: block %llu of backing file %s (vault %s)",
		(unsigned long long)block, n > 0 ? path : "?", io->fs->vault_path);
}

static int io_stat(struct io *io)
{
	struct stat st;
	if (fstat(io->fd, &st) < 0)
		return -errno;
	io->backing = (uint64_t)st.st_size;
	lfs_plain_size(io->l, io->backing, &io->size);
	return 0;
}

static void io_release_keys(struct io *io)
{
	if (io->keys) {
		lfs_aead_key_wipe(&io->key);
		lfs_keyring_put(io->fs->kr);
		io->keys = NULL;
	}
}

static int io_take_keys(struct io *io, uint32_t epoch)
{
	int r = lfs_keyring_get(io->fs->kr, epoch, &io->keys);
	if (r < 0) {
		io->keys = NULL;
		return r;
	}
	return 0;
}

/* Loads and authenticates the header (cached in the inode), then derives
 * the per-file key. For a file with no header yet, *exists is false. */
static int io_open_header(struct io *io, bool *exists)
{
	struct lfs_inode *in = io->inode;
	pthread_mutex_lock(&in->meta_lock);
	int r = 0;
	*exists = io->backing > 0;
	if (*exists && !in->have_header) {
		uint8_t raw[LFS_FILE_HDR_LEN];
		size_t got;
		struct lfs_file_header h;
		r = lfs_pread_full(io->fd, raw, sizeof(raw), 0, &got);
		/* A header naming another cipher than the vault's is not ours. */
		if (r == 0 && (got != sizeof(raw) || lfs_header_parse(raw, got, &h) < 0 ||
			       h.cipher != io->l->cipher))
			r = -EIO;
		if (r == 0 && (r = io_take_keys(io, h.epoch)) == 0) {
			if (lfs_header_verify(raw, io->keys->hdr_mac) < 0) {
				r = -EIO;
			} else {
				in->header = h;
				in->have_header = true;
			}
			io_release_keys(io);
		}
		if (r == -EIO)
			lfs_err("file header of inode %llu in vault %s is corrupt",
				(unsigned long long)in->ino, io->fs->vault_path);
	}
	pthread_mutex_unlock(&in->meta_lock);
	if (r < 0 || !*exists)
		return r;
	if ((r = io_take_keys(io, in->header.epoch)) < 0)
		return r;
	lfs_file_key(&io->key, io->l->cipher, io->keys->content, in->header.file_id);
	return 0;
}

static int write_header(struct io *io)
{
	uint8_t raw[LFS_FILE_HDR_LEN];
	lfs_header_encode(&io->inode->header, io->keys->hdr_mac, raw);
	return lfs_pwrite_full(io->fd, raw, sizeof(raw), 0);
}

/* Gives an empty file its header: a fresh file id under the current epoch.
 * With store false the caller writes it (together with the first blocks). */
static int io_create_header(struct io *io, bool store)
{
	struct lfs_inode *in = io->inode;
	/* Below a staging directory, its key (stage_id); else the current. */
	int r = io_take_keys(io, in->stage_id);
	if (r < 0)
		return r;
	pthread_mutex_lock(&in->meta_lock);
	lfs_header_new(&in->header, io->l->cipher, io->keys->epoch);
	in->have_header = true;
	pthread_mutex_unlock(&in->meta_lock);
	lfs_file_key(&io->key, io->l->cipher, io->keys->content, in->header.file_id);
	return store ? write_header(io) : 0;
}

static uint64_t last_block(uint64_t size)
{
	return (size - 1) / BS;
}

/* Reads and opens block b as sealed with the given final flag. */
static int read_block_as(struct io *io, uint64_t b, bool final, uint8_t *plain, uint8_t *scratch,
			 bool report)
{
	uint64_t off = lfs_block_offset(io->l, b);
	uint64_t want = io->backing - off < io->l->block_disk ? io->backing - off
								  : io->l->block_disk;
	size_t got;
	int r = lfs_pread_full(io->fd, scratch, want, (off_t)off, &got);
	if (r < 0)
		return r;
	r = lfs_block_open(io->l, &io->key, &io->inode->header, b, final, scratch, got, plain);
	if (r < 0) {
		if (report)
			report_corrupt(io, b);
		return -EIO;
	}
	return r;
}

/* Reads and opens block b of a file whose plaintext size is io->size. */
static int read_block(struct io *io, uint64_t b, uint8_t *plain, uint8_t *scratch)
{
	return read_block_as(io, b, b == last_block(io->size), plain, scratch, true);
}

static void seal_block(struct io *io, uint64_t b, bool final, const uint8_t *plain, size_t len,
		       uint8_t *out)
{
	size_t nl = io->l->nonce_len, batch = sizeof(io->nonces) / nl;
	if (io->nonces_left == 0) {
		randombytes_buf(io->nonces, batch * nl);
		io->nonces_left = batch;
	}
	io->nonces_left--;
	memcpy(out, io->nonces + io->nonces_left * nl, nl);
	lfs_block_seal(io->l, &io->key, &io->inode->header, b, final, plain, len, out);
}

/* Re-seals block b with new length len (zero-padding or cutting) and a new
 * final flag, in place. */
static int reseal_block(struct io *io, uint64_t b, size_t len, bool final)
{
	uint8_t plain[LFS_BLOCK_SIZE];
	uint8_t *disk = malloc(io->l->block_disk);
	if (!disk)
		return -ENOMEM;
	int r = read_block(io, b, plain, disk);
	if (r >= 0) {
		if ((size_t)r < len)
			memset(plain + r, 0, len - (size_t)r);
		seal_block(io, b, final, plain, len, disk);
		r = lfs_pwrite_full(io->fd, disk, len + io->l->overhead,
				    (off_t)lfs_block_offset(io->l, b));
	}
	sodium_memzero(plain, sizeof(plain));
	free(disk);
	return r < 0 ? r : 0;
}

static int set_sparse(struct io *io)
{
	struct lfs_inode *in = io->inode;
	if (in->header.flags & LFS_HDR_FLAG_SPARSE)
		return 0;
	pthread_mutex_lock(&in->meta_lock);
	in->header.flags |= LFS_HDR_FLAG_SPARSE;
	pthread_mutex_unlock(&in->meta_lock);
	return write_header(io);
}

/* Seals full zero blocks from..to-1 (none of them final) and writes them. */
static int write_zero_blocks(struct io *io, uint64_t from, uint64_t to)
{
	static const uint8_t zeros[LFS_BLOCK_SIZE];
	const size_t batch = 64;
	uint8_t *out = malloc(batch * io->l->block_disk);
	if (!out)
		return -ENOMEM;
	int r = 0;
	for (uint64_t b = from; r == 0 && b < to; b += batch) {
		size_t n = to - b < batch ? (size_t)(to - b) : batch;
		for (size_t i = 0; i < n; i++)
			seal_block(io, b + i, false, zeros, LFS_BLOCK_SIZE,
				   out + i * io->l->block_disk);
		r = lfs_pwrite_full(io->fd, out, n * io->l->block_disk,
				    (off_t)lfs_block_offset(io->l, b));
	}
	free(out);
	return r;
}

/* Grows the file to new_size (> io->size) with zeros. Whole blocks in the
 * gap become holes; the new last block is always a real sealed block so
 * that the final-block check keeps working. */
static int extend_to(struct io *io, uint64_t new_size)
{
	int r;
	lfs_debug("extend inode %llu from %llu to %llu", (unsigned long long)io->inode->ino,
		  (unsigned long long)io->size, (unsigned long long)new_size);
	uint64_t m = last_block(new_size);
	uint64_t first_new = 0;
	if (io->size > 0) {
		uint64_t l = last_block(io->size);
		if (l == m) {
			r = reseal_block(io, l, (size_t)(new_size - l * BS), true);
			if (r == 0) {
				io->size = new_size;
				io->backing = lfs_backing_size(io->l, new_size);
			}
			return r;
		}
		if ((r = reseal_block(io, l, LFS_BLOCK_SIZE, false)) < 0)
			return r;
		first_new = l + 1;
	}
	if (m > first_new && (m - first_new) * BS <= LFS_FILL_GAP_MAX) {
		/* A small gap is usually a reordered write (the kernel and our
		 * worker threads may deliver a file's writes out of order), not
		 * a real hole: fill it with sealed zeros so that the file keeps
		 * rejecting zeroed blocks. */
		if ((r = write_zero_blocks(io, first_new, m)) < 0)
			return r;
	} else if (m > first_new) {
		/* Flag first: a crash must never leave holes in a file whose
		 * header says it has none (that would read as tampering). */
		if ((r = set_sparse(io)) < 0)
			return r;
		if (ftruncate(io->fd, (off_t)lfs_block_offset(io->l, m)) < 0)
			return -errno;
	}
	uint8_t zeros[LFS_BLOCK_SIZE] = {0};
	uint8_t *disk = malloc(io->l->block_disk);
	if (!disk)
		return -ENOMEM;
	size_t len = (size_t)(new_size - m * BS);
	seal_block(io, m, true, zeros, len, disk);
	r = lfs_pwrite_full(io->fd, disk, len + io->l->overhead,
			    (off_t)lfs_block_offset(io->l, m));
	free(disk);
	if (r == 0) {
		io->size = new_size;
		io->backing = lfs_backing_size(io->l, new_size);
	}
	return r;
}

static int io_begin(struct io *io, struct lfs_fs *fs, struct lfs_inode *inode, int fd)
{
	memset(io, 0, sizeof(*io));
	io->fs = fs;
	io->inode = inode;
	io->l = &fs->layout;
	io->fd = fd;
	return io_stat(io);
}

ssize_t lfs_fileio_read(struct lfs_fs *fs, struct lfs_inode *inode, int fd, char *buf,
			size_t size, uint64_t off)
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
	uint8_t *disk = malloc(disk_end - disk_off);
	size_t got = 0;
	r = disk ? lfs_pread_full(fd, disk, disk_end - disk_off, (off_t)disk_off, &got) : -ENOMEM;
	if (r == 0 && got != disk_end - disk_off)
		r = -EIO; /* shrank under us: only possible from outside lethefs */
	uint8_t plain[LFS_BLOCK_SIZE];
	size_t done = 0;
	for (uint64_t b = b0; r == 0 && b <= b1; b++) {
		size_t in_off = (size_t)(lfs_block_offset(io.l, b) - disk_off);
		size_t in_len = got - in_off < io.l->block_disk ? got - in_off : io.l->block_disk;
		bool final = b == last_block(io.size);
		int n = lfs_block_open(io.l, &io.key, &inode->header, b, final, disk + in_off,
				       in_len, plain);
		if (n < 0) {
			report_corrupt(&io, b);
			r = -EIO;
			break;
		}
		uint64_t from = b == b0 ? off - b * BS : 0;
		uint64_t to = b == b1 ? end - b * BS : BS;
		if (to > (uint64_t)n)
			to = (uint64_t)n;
		memcpy(buf + done, plain + from, to - from);
		done += to - from;
	}
	sodium_memzero(plain, sizeof(plain));
	free(disk);
	io_release_keys(&io);
	pthread_rwlock_unlock(&inode->io_lock);
	return r < 0 ? r : (ssize_t)done;
}

/* Builds the sealed blocks b0..b1 for a write of size bytes at off into the
 * file of plaintext size io->size (off <= io->size). */
static int seal_range(struct io *io, const char *buf, size_t size, uint64_t off, uint8_t *out,
		      uint64_t new_size)
{
	uint64_t b0 = off / BS, b1 = (off + size - 1) / BS;
	uint64_t final_b = last_block(new_size);
	uint8_t plain[LFS_BLOCK_SIZE];
	uint8_t *scratch = malloc(io->l->block_disk);
	if (!scratch)
		return -ENOMEM;
	int r = 0;
	for (uint64_t b = b0; b <= b1; b++) {
		uint64_t start = b == b0 ? off - b * BS : 0;
		uint64_t stop = b == b1 ? off + size - b * BS : BS;
		uint64_t existing = b * BS < io->size ? io->size - b * BS : 0;
		if (existing > BS)
			existing = BS;
		const uint8_t *src = (const uint8_t *)buf + (b * BS + start - off);
		size_t len = (size_t)stop;
		uint8_t *dst = out + (b - b0) * io->l->block_disk;
		if (start == 0 && stop >= existing) {
			seal_block(io, b, b == final_b, src, len, dst);
			continue;
		}
		/* Partial block: merge with what is there (zeros past EOF). */
		memset(plain, 0, sizeof(plain));
		if (existing > 0 && (r = read_block(io, b, plain, scratch)) < 0)
			break;
		memcpy(plain + start, src, (size_t)(stop - start));
		if (len < existing)
			len = (size_t)existing;
		seal_block(io, b, b == final_b, plain, len, dst);
		r = 0;
	}
	sodium_memzero(plain, sizeof(plain));
	free(scratch);
	return r;
}

/* The write itself; write_locked undoes a failed growth. */
static ssize_t write_unsafe(struct io *io, const char *buf, size_t size, uint64_t off)
{
	bool exists = false;
	int r = io_open_header(io, &exists);
	/* A new file written from offset 0 (the usual case) gets its header
	 * in the same pwrite as its first blocks. */
	size_t prefix = !exists && off == 0 ? LFS_FILE_HDR_LEN : 0;
	if (r == 0 && !exists)
		r = io_create_header(io, prefix == 0);
	if (r == 0 && off > io->size)
		r = extend_to(io, off);
	if (r < 0)
		return r;
	uint64_t new_size = off + size > io->size ? off + size : io->size;
	uint64_t b0 = off / BS, b1 = (off + size - 1) / BS;
	/* The old last block stops being final when the file grows past it. */
	if (io->size > 0 && new_size > io->size && last_block(io->size) < b0 &&
	    (r = reseal_block(io, last_block(io->size), LFS_BLOCK_SIZE, false)) < 0)
		return r;
	size_t nblocks = (size_t)(b1 - b0 + 1);
	uint8_t *out = malloc(prefix + nblocks * io->l->block_disk);
	if (!out)
		return -ENOMEM;
	if (prefix)
		lfs_header_encode(&io->inode->header, io->keys->hdr_mac, out);
	r = seal_range(io, buf, size, off, out + prefix, new_size);
	if (r == 0) {
		uint64_t disk_len = (nblocks - 1) * io->l->block_disk +
				    (new_size - b1 * BS < BS ? new_size - b1 * BS : BS) +
				    io->l->overhead;
		r = lfs_pwrite_full(io->fd, out, prefix + disk_len,
				    (off_t)(lfs_block_offset(io->l, b0) - prefix));
	}
	free(out);
	return r < 0 ? r : (ssize_t)size;
}

/* After a write that grew the file failed part-way (typically ENOSPC),
 * cuts the backing file back to its old length and makes the old last block
 * final again, so that what the file held before stays readable. The old
 * last block may already have been re-sealed as non-final and padded, so
 * both forms are tried. */
static void restore_tail(struct io *io, uint64_t old_size)
{
	if (old_size == 0) {
		if (ftruncate(io->fd, 0) == 0) {
			pthread_mutex_lock(&io->inode->meta_lock);
			io->inode->have_header = false;
			pthread_mutex_unlock(&io->inode->meta_lock);
		}
		return;
	}
	uint64_t l = last_block(old_size);
	size_t len = (size_t)(old_size - l * BS);
	uint8_t plain[LFS_BLOCK_SIZE];
	uint8_t *disk = malloc(io->l->block_disk);
	struct stat st;
	if (disk && fstat(io->fd, &st) == 0) {
		io->backing = (uint64_t)st.st_size;
		if ((read_block_as(io, l, false, plain, disk, false) >= 0 ||
		     read_block_as(io, l, true, plain, disk, false) >= 0) &&
		    ftruncate(io->fd, (off_t)lfs_backing_size(io->l, old_size)) == 0) {
			seal_block(io, l, true, plain, len, disk);
			if (lfs_pwrite_full(io->fd, disk, len + io->l->overhead,
					    (off_t)lfs_block_offset(io->l, l)) < 0)
				lfs_err("cannot restore the last block of inode %llu",
					(unsigned long long)io->inode->ino);
		}
	}
	sodium_memzero(plain, sizeof(plain));
	free(disk);
	io->size = old_size;
	io->backing = lfs_backing_size(io->l, old_size);
	lfs_warn("write failed; inode %llu kept at its previous size %llu",
		 (unsigned long long)io->inode->ino, (unsigned long long)old_size);
}

static ssize_t write_locked(struct io *io, const char *buf, size_t size, uint64_t off)
{
	uint64_t old_size = io->size;
	ssize_t r = write_unsafe(io, buf, size, off);
	if (r < 0 && r != -EIO && r != -EACCES && off + size > old_size)
		restore_tail(io, old_size);
	return r;
}

static void publish_size(struct lfs_inode *inode, uint64_t size)
{
	pthread_mutex_lock(&inode->meta_lock);
	inode->known_size = size;
	pthread_cond_broadcast(&inode->size_changed);
	pthread_mutex_unlock(&inode->meta_lock);
}

/* The kernel's writeback and our worker threads can hand us a file's
 * writes out of order, so a sequential writer's chunk may arrive before the
 * one ahead of it. Filling such a gap (with holes or sealed zeros) would be
 * wasted work or would weaken the file's hole protection, so a write that
 * lands a little past EOF waits a few milliseconds for the gap to close.
 * Correctness never depends on this: after the wait it proceeds anyway. */
static void wait_for_gap(struct lfs_inode *inode, uint64_t off)
{
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += LFS_GAP_WAIT_MS * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&inode->meta_lock);
	while (inode->known_size < off &&
	       pthread_cond_timedwait(&inode->size_changed, &inode->meta_lock, &deadline) == 0)
		;
	pthread_mutex_unlock(&inode->meta_lock);
}

ssize_t lfs_fileio_write(struct lfs_fs *fs, struct lfs_inode *inode, int fd, const char *buf,
			 size_t size, uint64_t off)
{
	if (size == 0)
		return 0;
	if (off + size < off || off + size > (uint64_t)INT64_MAX / 2)
		return -EFBIG;
	struct io io;
	pthread_rwlock_wrlock(&inode->io_lock);
	ssize_t r = io_begin(&io, fs, inode, fd);
	lfs_debug("write inode %llu off %llu size %zu (file size %llu)",
		  (unsigned long long)inode->ino, (unsigned long long)off, size,
		  (unsigned long long)io.size);
	if (r == 0 && off > io.size && off - io.size <= LFS_GAP_WAIT_MAX) {
		pthread_rwlock_unlock(&inode->io_lock);
		wait_for_gap(inode, off);
		pthread_rwlock_wrlock(&inode->io_lock);
		r = io_begin(&io, fs, inode, fd);
	}
	if (r == 0)
		r = write_locked(&io, buf, size, off);
	if (r >= 0)
		publish_size(inode, io.size > off + size ? io.size : off + size);
	io_release_keys(&io);
	pthread_rwlock_unlock(&inode->io_lock);
	return r;
}

static int truncate_locked(struct io *io, uint64_t size)
{
	bool exists = false;
	if (size == 0) {
		if (ftruncate(io->fd, 0) < 0)
			return -errno;
		pthread_mutex_lock(&io->inode->meta_lock);
		io->inode->have_header = false;
		pthread_mutex_unlock(&io->inode->meta_lock);
		return 0;
	}
	int r = io_open_header(io, &exists);
	if (r == 0 && !exists)
		r = io_create_header(io, true);
	if (r < 0 || size == io->size)
		return r;
	if (size > io->size)
		return extend_to(io, size);
	uint64_t m = last_block(size);
	if ((r = reseal_block(io, m, (size_t)(size - m * BS), true)) < 0)
		return r;
	if (ftruncate(io->fd, (off_t)lfs_backing_size(io->l, size)) < 0)
		return -errno;
	return 0;
}

int lfs_fileio_truncate(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t size)
{
	if (size > (uint64_t)INT64_MAX / 2)
		return -EFBIG;
	struct io io;
	pthread_rwlock_wrlock(&inode->io_lock);
	int r = io_begin(&io, fs, inode, fd);
	if (r == 0)
		r = truncate_locked(&io, size);
	if (r == 0)
		publish_size(inode, size);
	io_release_keys(&io);
	pthread_rwlock_unlock(&inode->io_lock);
	return r;
}

int lfs_fileio_fallocate(struct lfs_fs *fs, struct lfs_inode *inode, int fd, int mode,
			 uint64_t off, uint64_t len)
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
