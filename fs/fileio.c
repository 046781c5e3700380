/* SPDX-License-Identifier: Apache-2.0 */
/* Encrypted file contents: what every operation on them shares (an io's
 * keys, header, blocks read and sealed: fileio_int.h) and the write path.
 * Reads: fileio_read.c; length and shape: fileio_size.c; changes of the
 * last block: fileio_tail.c; whole blocks sealed in parallel:
 * fileio_seal.c. */
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
#include "../common/monotonic.h"

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

/* How long a write past EOF waits for reordered writes to close its gap. */
#define LFS_GAP_WAIT_MS 20
/* Only gaps up to this size are waited for: the kernel keeps at most a few
 * dozen MiB of one file's writeback in flight. */
#define LFS_GAP_WAIT_MAX (64ULL << 20)

void io_report_corrupt(struct io *io, uint64_t block)
{
	char proc[LFS_PROC_PATH_MAX], path[PATH_MAX];
	lfs_proc_path(io->fd, proc);
	ssize_t n = readlink(proc, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = '\0';
	lfs_err("integrity check failed: block %llu of backing file %s (vault %s)",
	        (unsigned long long)block, n > 0 ? path : "?", io->fs->vault_path);
}

int io_stat(struct io *io)
{
	struct stat st;
	if (fstat(io->fd, &st) < 0)
		return -errno;
	io->backing = (uint64_t)st.st_size;
	io->dev = (uint64_t)st.st_dev;
	io->ino = (uint64_t)st.st_ino;
	lfs_plain_size(io->l, io->backing, &io->size);
	return 0;
}

void io_release_keys(struct io *io)
{
	if (io->keys) {
		lfs_aead_key_wipe(&io->key);
		lfs_keyring_put(io->fs->kr);
		io->keys = NULL;
	}
}

int io_take_keys(struct io *io, uint32_t epoch)
{
	int r = lfs_keyring_get(io->fs->kr, epoch, &io->keys);
	if (r < 0) {
		io->keys = NULL;
		return r;
	}
	return 0;
}

/* Loads and authenticates the header (cached in the inode), then derives
 * the per-file key. For a format-1 file with no header yet, *exists is
 * false; a format-2 file always has one (its inode record). */
int io_open_header(struct io *io, bool *exists)
{
	struct lfs_inode *in = io->inode;
	pthread_mutex_lock(&in->meta_lock);
	int r = 0;
	*exists = io->backing > 0;
	if (*exists && !in->have_header) {
		uint8_t raw[LFS_FILE_HDR_MAX];
		size_t got, want = io->l->hdr_len;
		struct lfs_file_header h;
		struct lfs_irec rec;
		r = lfs_pread_full(io->fd, raw, want, 0, &got);
		/* A header naming another cipher than the vault's, or of
		 * another version than the file's, is not ours. */
		if (r == 0 && (got != want || lfs_header_parse(raw, got, &h) < 0 ||
		               h.cipher != io->l->cipher || h.version != io->l->version))
			r = -EIO;
		if (r == 0 && (r = io_take_keys(io, h.epoch)) == 0) {
			if (lfs_header_verify(raw, &h, io->keys, &rec) < 0) {
				r = -EIO;
			} else if (h.flags & LFS_HDR_FLAG_IATTR) {
				r = lfs_iattr_take_header(io->fs, in, io->fd, &h, &rec);
			} else {
				in->header = h;
				in->have_header = true;
				in->iattr_src = false; /* a stray attribute means nothing */
				if (h.version == LFS_FILE_V2) {
					in->rec = rec;
					in->have_rec = true;
				}
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
	return lfs_file_key(&io->key, io->l->cipher, io->keys->content, in->header.file_id);
}

/* The header as it must be on disk now (a version-2 header with the
 * inode's record, sealed again). Returns its length. */
int io_encode_header(struct io *io, uint8_t out[LFS_FILE_HDR_MAX])
{
	struct lfs_inode *in = io->inode;
	pthread_mutex_lock(&in->meta_lock);
	struct lfs_file_header h = in->header;
	struct lfs_irec rec = in->rec;
	bool have_rec = in->have_rec;
	pthread_mutex_unlock(&in->meta_lock);
	if (h.version == LFS_FILE_V2 && !have_rec)
		return -EIO;
	return lfs_header_encode(&h, io->keys, &rec, out);
}

int io_write_header(struct io *io)
{
	uint8_t raw[LFS_FILE_HDR_MAX];
	int n = io_encode_header(io, raw);
	return n < 0 ? n : lfs_pwrite_full(io->fd, raw, (size_t)n, 0);
}

/* Gives an empty format-1 file its header in memory: a fresh file id under
 * the current epoch (or the staging key below a staging directory). The
 * caller writes it, under the tail update that gives the file its first
 * block. (A format-2 file got its header when it was created.) While a
 * rotation upgrades the vault the current epoch is of format 2, which no
 * version-1 header may name (it would be refused, and the rotation would
 * take the file for converted): the newest format-1 epoch then, an old one
 * the rotation converts the file from before it retires it. */
int io_create_header(struct io *io)
{
	struct lfs_inode *in = io->inode;
	if (io->l->version != LFS_FILE_V1)
		return -EIO;
	int r = io_take_keys(io, in->stage_id);
	uint32_t v1epoch;
	if (r == 0 && !in->stage_id && (io->keys->flags & LFS_EPOCH_FORMAT2)) {
		io_release_keys(io);
		r = lfs_keyring_format1_epoch(io->fs->kr, &v1epoch);
		/* (None: a vault of format 2, which refuses format-1 files
		 * where it finds them: as before.) */
		r = io_take_keys(io, r == 0 ? v1epoch : in->stage_id);
	}
	if (r < 0)
		return r;
	pthread_mutex_lock(&in->meta_lock);
	lfs_header_new(&in->header, io->l->cipher, io->keys->epoch, LFS_FILE_V1);
	in->have_header = true;
	pthread_mutex_unlock(&in->meta_lock);
	return lfs_file_key(&io->key, io->l->cipher, io->keys->content, in->header.file_id);
}

/* Reads and opens block b as sealed with the given final flag. */
int read_block_as(struct io *io, uint64_t b, bool final, uint8_t *plain, uint8_t *scratch,
                  bool report)
{
	uint64_t off = lfs_block_offset(io->l, b);
	uint64_t want =
	    io->backing - off < io->l->block_disk ? io->backing - off : io->l->block_disk;
	size_t got;
	int r = 0;
	if (io->known_disk && io->known_block == b && io->known_len == want) {
		memcpy(scratch, io->known_disk, want);
		got = want;
	} else {
		r = lfs_pread_full(io->fd, scratch, want, (off_t)off, &got);
	}
	if (r < 0)
		return r;
	r = lfs_block_open(io->l, &io->key, &io->inode->header, b, final, scratch, got, plain);
	if (r < 0) {
		if (report)
			io_report_corrupt(io, b);
		return -EIO;
	}
	return r;
}

/* Reads and opens block b of a file whose plaintext size is io->size. */
int read_block(struct io *io, uint64_t b, uint8_t *plain, uint8_t *scratch)
{
	return read_block_as(io, b, b == last_block(io->size), plain, scratch, true);
}

/* Returns 0, or -EIO when the cipher failed: out must not be written. */
int seal_block(struct io *io, uint64_t b, bool final, const uint8_t *plain, size_t len,
               uint8_t *out)
{
	size_t nl = io->l->nonce_len, batch = sizeof(io->nonces) / nl;
	if (io->nonces_left == 0) {
		randombytes_buf(io->nonces, batch * nl);
		io->nonces_left = batch;
	}
	io->nonces_left--;
	memcpy(out, io->nonces + io->nonces_left * nl, nl);
	int r = lfs_block_seal(io->l, &io->key, &io->inode->header, b, final, plain, len, out);
	if (r < 0)
		lfs_err("cannot seal block %llu of inode %llu: the cipher failed",
		        (unsigned long long)b, (unsigned long long)io->inode->ino);
	return r;
}

int io_begin(struct io *io, struct lfs_fs *fs, struct lfs_inode *inode, int fd)
{
	memset(io, 0, sizeof(*io));
	io->fs = fs;
	io->inode = inode;
	io->l = &io->lay;
	io->fd = fd;
	int r = lfs_inode_layout(fs, inode, fd, &io->lay);
	return r < 0 ? r : io_stat(io);
}

/* Shared mode: io_begin without its stat, the size this daemon last
 * left the file at (known_size) standing in for it. lock_for_write only
 * uses it to choose the length's lock (a wrong guess takes the write lock
 * where the read lock would do, never the reverse for a growing write: it
 * stats again under the lock and upgrades), so the stat it needs anyway
 * under the lock is the only one. */
static int io_begin_hinted(struct io *io, struct lfs_fs *fs, struct lfs_inode *inode, int fd)
{
	memset(io, 0, sizeof(*io));
	io->fs = fs;
	io->inode = inode;
	io->l = &io->lay;
	io->fd = fd;
	int r = lfs_inode_layout(fs, inode, fd, &io->lay);
	pthread_mutex_lock(&inode->meta_lock);
	io->size = inode->known_size;
	pthread_mutex_unlock(&inode->meta_lock);
	return r;
}

/* Drops the cached header: another host may have replaced it (a file cut
 * to nothing and written again, a rotation). */
void io_forget_header(struct lfs_inode *inode)
{
	pthread_mutex_lock(&inode->meta_lock);
	inode->have_header = false;
	pthread_mutex_unlock(&inode->meta_lock);
}

/* Builds the sealed blocks b0..b1 for a write of size bytes at off into the
 * file of plaintext size io->size (off <= io->size). */
int seal_range(struct io *io, const char *buf, size_t size, uint64_t off, uint8_t *out,
               uint64_t new_size)
{
	uint64_t b0 = off / BS, b1 = (off + size - 1) / BS;
	uint64_t final_b = last_block(new_size);
	uint8_t plain[LFS_BLOCK_SIZE];
	uint8_t *scratch = malloc(io->l->block_disk);
	if (!scratch)
		return -ENOMEM;
	/* The blocks the write covers whole, [w0, w1), go to the sealing
	 * pool together; a partial head or tail is merged here. */
	uint64_t w0 = off % BS == 0 ? b0 : b0 + 1;
	uint64_t w1 = (off + size) % BS == 0 ? b1 + 1 : b1;
	int r = 0;
	if (w1 > w0)
		r = seal_whole_blocks(io, w0, (size_t)(w1 - w0),
		                      (const uint8_t *)buf + (w0 * BS - off), final_b,
		                      out + (w0 - b0) * io->l->block_disk);
	for (uint64_t b = b0; r == 0 && b <= b1; b++) {
		if (b >= w0 && b < w1)
			continue;
		uint64_t start = b == b0 ? off - b * BS : 0;
		uint64_t stop = b == b1 ? off + size - b * BS : BS;
		uint64_t existing = b * BS < io->size ? io->size - b * BS : 0;
		if (existing > BS)
			existing = BS;
		const uint8_t *src = (const uint8_t *)buf + (b * BS + start - off);
		size_t len = (size_t)stop;
		uint8_t *dst = out + (b - b0) * io->l->block_disk;
		if (start == 0 && stop >= existing) {
			if ((r = seal_block(io, b, b == final_b, src, len, dst)) < 0)
				break;
			continue;
		}
		/* Partial block: merge with what is there (zeros past EOF). */
		memset(plain, 0, sizeof(plain));
		if (existing > 0 && (r = read_block(io, b, plain, scratch)) < 0)
			break;
		memcpy(plain + start, src, (size_t)(stop - start));
		if (len < existing)
			len = (size_t)existing;
		r = seal_block(io, b, b == final_b, plain, len, dst);
		if (r < 0)
			break;
	}
	sodium_memzero(plain, sizeof(plain));
	free(scratch);
	return r;
}

/* Stored blocks that exist already, rewritten in place under a journal
 * record so that a write a kill cuts in the middle of a block cannot cost
 * the block (fs/overwrite.h). */
static int io_overwrite(struct io *io, uint64_t b0, const uint8_t *disk, size_t len, bool durable)
{
	struct lfs_fs *fs = io->fs;
	struct lfs_overwrite o = {.disk_h = io->inode->header,
	                          .seal_h = io->inode->header,
	                          .final_block = last_block(io->size)};
	if (!fs->journal)
		return lfs_overwrite_write(NULL, io->l, io->fd, &o, b0, disk, len);
	/* The caller holds the keyring (io->keys), so the key stays valid. */
	const uint8_t *key = lfs_keyring_journal_key(fs->kr);
	if (!key)
		return -EACCES;
	struct lfs_journal_target *t = malloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	/* (io_stat has just stat'ed the descriptor) */
	int r = lfs_journal_target_of_known(io->fd, io->dev, io->ino,
	                                    fs->data_path ? fs->data_path : "",
	                                    fs->handle_mount_fd >= 0, t);
	if (r == 0) {
		struct lfs_overwriter w = {.journal = fs->journal,
		                           .key = key,
		                           .target = t,
		                           .kr = fs->kr,
		                           .durable = durable};
		r = lfs_overwrite_write(&w, io->l, io->fd, &o, b0, disk, len);
		if (w.sync_err)
			lfs_durable_failed(io->inode, w.sync_err);
		if (w.kept)
			io->inode->tail_broken = true; /* until the next recovery */
	}
	free(t);
	return r;
}

/* Whether rewriting [off, off + size) in place leaves bytes an fsync
 * made durable as they were (fs/durable.h). The old plaintext of a block
 * is read only when the write covers all of its durable bytes; one that
 * cannot be read counts as kept (the safe answer). */
static bool rewrite_keeps_durable(struct io *io, const char *buf, size_t size, uint64_t off)
{
	if (!io->fs->powersafe)
		return false;
	uint64_t ds = lfs_durable_size(io->inode, io->size);
	if (ds > io->size)
		ds = io->size;
	uint64_t b0 = off / BS, b1 = (off + size - 1) / BS;
	bool kept = false;
	uint8_t old[LFS_BLOCK_SIZE];
	uint8_t *scratch = NULL;
	for (uint64_t b = b0; b <= b1 && b * BS < ds && !kept; b++) {
		uint64_t start = b * BS, stop = (b + 1) * BS;
		uint64_t dend = stop < ds ? stop : ds;
		uint64_t from = off > start ? off : start;
		uint64_t to = off + size < stop ? off + size : stop;
		if (from > start || to < dend) {
			kept = true;
			break;
		}
		if (!scratch && !(scratch = malloc(io->l->block_disk)))
			kept = true;
		else if (read_block(io, b, old, scratch) < 0)
			kept = true;
		else
			kept = lfs_durable_kept(old, (const uint8_t *)buf + (start - off), start,
			                        dend, from, to);
	}
	sodium_memzero(old, sizeof(old));
	free(scratch);
	return kept;
}

/* Seals and writes blocks that exist already and stay where they are in
 * the file (none of them changes from last to not last or back): each
 * authenticates on its own, so they are rewritten in place. */
int io_write_blocks(struct io *io, const char *buf, size_t size, uint64_t off)
{
	uint64_t b0 = off / BS, b1 = (off + size - 1) / BS;
	size_t nblocks = (size_t)(b1 - b0 + 1);
	uint8_t *out = malloc(nblocks * io->l->block_disk);
	if (!out)
		return -ENOMEM;
	bool durable = rewrite_keeps_durable(io, buf, size, off);
	int r = seal_range(io, buf, size, off, out, io->size);
	if (r == 0) {
		uint64_t end = lfs_block_offset(io->l, b1 + 1);
		if (end > io->backing)
			end = io->backing;
		r = io_overwrite(io, b0, out, end - lfs_block_offset(io->l, b0), durable);
	}
	free(out);
	return r;
}

/* A write that does not change the file's length rewrites whole blocks
 * in place (each authenticates on its own); one that does goes through a
 * tail update. */
static ssize_t write_locked(struct io *io, const char *buf, size_t size, uint64_t off)
{
	bool exists = false;
	int r = io_open_header(io, &exists);
	if (r < 0)
		return r;
	if (io->inode->tail_broken)
		return -EIO;
	if (off + size > io->size)
		r = tail_grow(io, off + size, buf, size, off);
	else
		r = io_write_blocks(io, buf, size, off);
	return r < 0 ? r : (ssize_t)size;
}

void io_publish_size(struct lfs_inode *inode, uint64_t size)
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
	struct timespec deadline = lfs_monotonic_after_ms(LFS_GAP_WAIT_MS);
	pthread_mutex_lock(&inode->meta_lock);
	while (inode->known_size < off &&
	       pthread_cond_timedwait(&inode->size_changed, &inode->meta_lock, &deadline) == 0)
		;
	pthread_mutex_unlock(&inode->meta_lock);
}

/* Shared mode: the cross-host locks of a write (fs/filelock.h). The
 * file's length is read-held while the write keeps it (and its blocks
 * write-held), write-held when it changes it; a fresh header is read under
 * them. Returns 0 with io restated, or a negative errno. */
static int lock_for_write(struct io *io, uint64_t off, size_t size, bool *size_held_w,
                          bool *blocks_held)
{
	*size_held_w = *blocks_held = false;
	/* A write past the end as last seen (io_begin's stat): the length's
	 * write lock at once, rather than a read lock, a stat, an unlock and
	 * the write lock (three round trips less on a network engine). Held
	 * for writing, the length excludes every other host's writer, so it
	 * also covers a write that no longer grows the file once restated. */
	if (off + size > io->size) {
		int r = lfs_range_lock(io->fd, true, LFS_FLOCK_SIZE, 1, true);
		*size_held_w = r == 0;
		if (r == 0)
			r = io_stat(io);
		io_forget_header(io->inode);
		return r;
	}
	int r = lfs_range_lock(io->fd, false, LFS_FLOCK_SIZE, 1, true);
	if (r == 0)
		r = io_stat(io);
	if (r == 0 && off + size > io->size) {
		/* It changes the end: exclusive, then look again. */
		lfs_range_unlock(io->fd, LFS_FLOCK_SIZE, 1);
		r = lfs_range_lock(io->fd, true, LFS_FLOCK_SIZE, 1, true);
		*size_held_w = r == 0;
		if (r == 0)
			r = io_stat(io);
	} else if (r == 0) {
		uint64_t from = lfs_block_offset(io->l, off / BS);
		uint64_t to = lfs_block_offset(io->l, (off + size - 1) / BS + 1);
		r = lfs_range_lock(io->fd, true, from, to - from, true);
		*blocks_held = r == 0;
	}
	io_forget_header(io->inode);
	return r;
}

static void unlock_write(struct io *io, uint64_t off, size_t size, bool blocks_held)
{
	if (blocks_held) {
		uint64_t from = lfs_block_offset(io->l, off / BS);
		uint64_t to = lfs_block_offset(io->l, (off + size - 1) / BS + 1);
		lfs_range_unlock(io->fd, from, to - from);
	}
	lfs_range_unlock(io->fd, LFS_FLOCK_SIZE, 1);
}

ssize_t lfs_fileio_write(struct lfs_fs *fs, struct lfs_inode *inode, int fd, const char *buf,
                         size_t size, uint64_t off)
{
	uint64_t before;
	return lfs_fileio_write_sized(fs, inode, fd, buf, size, off, &before);
}

ssize_t lfs_fileio_write_sized(struct lfs_fs *fs, struct lfs_inode *inode, int fd, const char *buf,
                               size_t size, uint64_t off, uint64_t *before)
{
	*before = 0;
	if (size == 0)
		return 0;
	if (off + size < off || off + size > (uint64_t)INT64_MAX / 2)
		return -EFBIG;
	struct io io;
	pthread_rwlock_wrlock(&inode->io_lock);
	ssize_t r = fs->shared ? io_begin_hinted(&io, fs, inode, fd) : io_begin(&io, fs, inode, fd);
	if (fs->shared) {
		/* No waiting for this daemon's reordered writes: another host's
		 * growth never reaches known_size, so it would only delay. */
		bool size_w = false, blocks = false;
		if (r == 0)
			r = lock_for_write(&io, off, size, &size_w, &blocks);
		*before = io.size;
		if (r == 0)
			r = write_locked(&io, buf, size, off);
		unlock_write(&io, off, size, blocks);
		if (r >= 0)
			io_publish_size(inode, io.size > off + size ? io.size : off + size);
		io_release_keys(&io);
		pthread_rwlock_unlock(&inode->io_lock);
		return r;
	}
	lfs_debug("write inode %llu off %llu size %zu (file size %llu)",
	          (unsigned long long)inode->ino, (unsigned long long)off, size,
	          (unsigned long long)io.size);
	if (r == 0 && off > io.size && off - io.size <= LFS_GAP_WAIT_MAX) {
		pthread_rwlock_unlock(&inode->io_lock);
		wait_for_gap(inode, off);
		pthread_rwlock_wrlock(&inode->io_lock);
		r = io_begin(&io, fs, inode, fd);
	}
	*before = io.size;
	if (r == 0)
		r = write_locked(&io, buf, size, off);
	if (r >= 0)
		io_publish_size(inode, io.size > off + size ? io.size : off + size);
	io_release_keys(&io);
	pthread_rwlock_unlock(&inode->io_lock);
	return r;
}
