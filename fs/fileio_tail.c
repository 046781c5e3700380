/* SPDX-License-Identifier: Apache-2.0 */
/* Changes of a file's last block or of its length, each one tail update
 * under a journal record (fs/tail.h; docs/FORMAT.md "Crash safety"). The
 * order of the steps is what recovery relies on:
 *
 *   1. build everything in memory: the old and new pivot, the record;
 *   2. reserve the backing space (fallocate, where the backing filesystem
 *      has it; not on GlusterFS in shared mode: see reserve), so that a
 *      full disk fails the update before it starts;
 *   3. write the record;
 *   4. a new file's header, or the SPARSE flag before any hole;
 *   5. the blocks after the pivot, in ascending order (the check block,
 *      the new last one, is written last of them);
 *   6. the pivot;
 *   7. clear the record.
 *
 * A growth whose new blocks follow the pivot directly (an append, the
 * common case) writes 6 with 5, in one call: the new pivot first, then
 * the blocks, the check block last. Its record then keeps the old pivot
 * too, so that recovery can undo an update cut short after the pivot was
 * re-sealed (the check block not yet written): one backing call less per
 * append (a round trip on a network engine). A write lands as a prefix:
 * where the check block authenticates, everything before it is there.
 *
 * A failure in 4-6 (ENOSPC where space could not be reserved, EIO) is
 * undone at once: the old length and the old pivot come back, so a failed
 * write costs only the new data. */
#define _GNU_SOURCE
#include "fileio_int.h"
#include "durable.h"
#include "tail.h"
#include "../cluster/backing.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../journal/target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>

/* Gaps up to this size are filled with sealed zeros instead of holes. */
#define LFS_FILL_GAP_MAX (8ULL << 20)

struct tail_txn {
	struct lfs_tail t;
	uint8_t *old_pivot, *new_pivot; /* ciphertext, block_disk bytes each */
	struct lfs_journal_record *rec;
	unsigned slot;
	bool journaled;
	bool pivot_with_body; /* steps 5 and 6 in one write (see above) */
	/* The pivot holds bytes an fsync made durable (fs/durable.h): the
	 * record keeps the old pivot too and is synced before step 4, and the
	 * file is synced before step 7, so that a power loss that tears the
	 * pivot's rewrite finds it in the record. */
	bool durable;
};

static int txn_init(struct io *io, struct tail_txn *x)
{
	memset(x, 0, sizeof(*x));
	x->t.check_block = x->t.pivot_block = LFS_TAIL_NONE;
	x->old_pivot = malloc(io->l->block_disk);
	x->new_pivot = malloc(io->l->block_disk);
	if (!x->old_pivot || !x->new_pivot)
		return -ENOMEM;
	x->t.old_pivot = x->old_pivot;
	x->t.new_pivot = x->new_pivot;
	memcpy(x->t.file_id, io->inode->header.file_id, LFS_FILE_ID_LEN);
	x->t.old_backing = io->backing;
	return 0;
}

static void txn_free(struct tail_txn *x)
{
	free(x->old_pivot);
	free(x->new_pivot);
	free(x->rec);
}

/* Step 3. Without a journal (a view that writes nothing else, such as a
 * test harness) the update runs unprotected. */
static int txn_begin(struct io *io, struct tail_txn *x)
{
	struct lfs_fs *fs = io->fs;
	if (!fs->journal)
		return 0;
	/* The caller holds the keyring (io->keys), so the key stays valid. */
	const uint8_t *key = lfs_keyring_journal_key(fs->kr);
	if (!key)
		return -EACCES;
	x->rec = calloc(1, sizeof(*x->rec));
	if (!x->rec)
		return -ENOMEM;
	x->rec->kind = LFS_JK_TAIL;
	/* (io_stat has just stat'ed the descriptor) */
	int r = lfs_journal_target_of_known(io->fd, io->dev, io->ino,
	                                    fs->data_path ? fs->data_path : "",
	                                    fs->handle_mount_fd >= 0, &x->rec->target);
	if (r < 0)
		return r;
	/* A growth's record carries the new pivot only: the pivot is written
	 * last, so a crash leaves the old one intact whenever the update must
	 * be undone, and a torn pivot is rewritten from the record. A cut's
	 * record also carries the old one: a cut written but not yet made
	 * (its new last block in place, the length not cut) is undone by
	 * putting it back when another host has appended meanwhile
	 * (fs/tail.h, lfs_tail_recover_any). The undo of a failed write while
	 * the daemon runs has it in memory (x->old_pivot). */
	struct lfs_tail rt = x->t;
	if (x->t.new_backing >= x->t.old_backing && !x->pivot_with_body && !x->durable)
		rt.old_pivot_len = 0;
	x->rec->payload_len = (uint32_t)lfs_tail_encode(&rt, x->rec->payload);
	r = lfs_journal_begin(fs->journal, key, x->rec, x->durable, &x->slot);
	x->journaled = r == 0;
	return r;
}

/* Step 7, or the undo of a failed update. A record that cannot be cleared,
 * or an update that cannot be undone, leaves the record for the next
 * recovery and stops further updates of this file until then. */
static int txn_end(struct io *io, struct tail_txn *x, int r, bool can_undo)
{
	bool keep = false;
	/* Done, but on disk only once the file is synced: until then a
	 * power loss may keep any part of the rewritten pivot, which only the
	 * record can mend. A sync that fails is the disk's error, reported
	 * by the file's next fsync (fs/durable.h); the update stands. */
	if (r == 0 && x->journaled && x->durable && fdatasync(io->fd) < 0)
		lfs_durable_failed(io->inode, errno);
	if (r < 0 && x->journaled) {
		int u = can_undo ? lfs_tail_undo(io->fd, io->l, &x->t) : -EIO;
		/* The undo rewrote the old pivot in place: with the durable
		 * order it must be on disk before the (synced) record that can
		 * mend a torn one goes; if it cannot be synced, the record
		 * stays for the next recovery. */
		if (u == 0 && x->durable && fdatasync(io->fd) < 0)
			u = -errno;
		if (u < 0) {
			keep = true;
			lfs_err("inode %llu: a failed update of the file's end could not be undone "
			        "(%s); it is finished at the next mount or unlock",
			        (unsigned long long)io->inode->ino, strerror(-u));
		}
	}
	if (x->journaled && keep)
		lfs_journal_keep(io->fs->journal, x->slot);
	else if (x->journaled && lfs_journal_end(io->fs->journal, x->slot) < 0)
		keep = true;
	if (keep)
		io->inode->tail_broken = true;
	return r;
}

/* Step 2: reserves [from, to) of the backing file without changing its
 * length. Filesystems without fallocate just skip it. */
static int reserve(struct io *io, uint64_t from, uint64_t to)
{
	/* On GlusterFS the reservation is a round trip of its own for every
	 * growth. A shared mount there runs with the engine's write-behind
	 * off and direct I/O (docs/SHARED.md), so a full brick fails the
	 * write itself, and the undo of a failed update (steps 4-6) keeps it
	 * from costing more than the write's data. Not so on engines that
	 * cache writes (NFS, CephFS, GlusterFS with its write-behind, other
	 * FUSE engines): they meet a full disk only when they write back,
	 * after the update was acknowledged and its record cleared, and the
	 * file's end is then lost (tests/integration/57-engine-full.bats). */
	if (io->fs->shared && io->fs->backing &&
	    strcmp(io->fs->backing->fstype, "fuse.glusterfs") == 0)
		return 0;
	/* The 4 KiB backing block that holds the current end has its space
	 * already (every filesystem lethefs runs on reserves at least that
	 * much): an append that stays inside it needs no call. */
	uint64_t end_block = io->backing & ~(uint64_t)4095;
	uint64_t allocated = (io->backing + 4095) & ~(uint64_t)4095;
	if (to <= allocated || to <= from)
		return 0;
	/* Past it, the reservation starts at that block, not after it: with
	 * delayed allocation (ext4) the block holding the end may be written
	 * but not yet placed, and reserving only what follows would place the
	 * new blocks before it, elsewhere on the disk. A small file would
	 * then lie in two pieces (its header, written at its creation, away
	 * from its data) and every read of it would seek twice
	 * (docs/PERFORMANCE.md, "Small files in one piece"). */
	if (from <= allocated)
		from = end_block;
	if (fallocate(io->fd, FALLOC_FL_KEEP_SIZE, (off_t)from, (off_t)(to - from)) == 0)
		return 0;
	if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG || errno == EIO)
		return -errno;
	return 0;
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
		for (size_t i = 0; r == 0 && i < n; i++)
			r = seal_block(io, b + i, false, zeros, LFS_BLOCK_SIZE,
			               out + i * io->l->block_disk);
		if (r == 0)
			r = lfs_pwrite_full(io->fd, out, n * io->l->block_disk,
			                    (off_t)lfs_block_offset(io->l, b));
	}
	free(out);
	return r;
}

static int build_new_pivot(struct io *io, struct tail_txn *x, uint64_t new_size, const char **buf,
                           size_t *size, uint64_t *off);

/* The pivot of a growth: the old last block m as it must become, from the
 * write's data when the write covers it, else from its old content padded
 * with zeros. Advances buf, size and off past block m. */
static int build_grow_pivot(struct io *io, struct tail_txn *x, uint64_t new_size, const char **buf,
                            size_t *size, uint64_t *off)
{
	uint64_t m = last_block(io->size);
	uint64_t at = lfs_block_offset(io->l, m);
	size_t got;
	x->t.pivot_block = m;
	x->t.old_pivot_len = (uint32_t)(io->backing - at);
	int r = lfs_pread_full(io->fd, x->old_pivot, x->t.old_pivot_len, (off_t)at, &got);
	if (r == 0 && got != x->t.old_pivot_len)
		r = -EIO;
	if (r < 0)
		return r;
	/* The block is opened from these bytes below (seal_range's merge or
	 * read_block): the very bytes the record keeps as the old pivot. */
	io->known_disk = x->old_pivot;
	io->known_block = m;
	io->known_len = x->t.old_pivot_len;
	r = build_new_pivot(io, x, new_size, buf, size, off);
	io->known_disk = NULL;
	return r;
}

/* The new pivot proper (build_grow_pivot has read the old one). */
static int build_new_pivot(struct io *io, struct tail_txn *x, uint64_t new_size, const char **buf,
                           size_t *size, uint64_t *off)
{
	uint64_t m = last_block(io->size), n = last_block(new_size);
	int r;
	size_t len = (size_t)(m == n ? new_size - m * BS : BS);
	x->t.new_pivot_len = (uint32_t)(len + io->l->overhead);
	if (*size && *off / BS == m) {
		uint64_t stop = (m + 1) * BS < new_size ? (m + 1) * BS : new_size;
		size_t part = (size_t)(stop - *off);
		r = seal_range(io, *buf, part, *off, x->new_pivot, new_size);
		*buf += part;
		*size -= part;
		*off += part;
		return r;
	}
	/* On the stack and wiped, as seal_range's merge buffer: a
	 * sodium_malloc here cost every appending write request an mmap, an
	 * mlock, three mprotects and an munmap, and each of those a TLB
	 * flush on every core (docs/PERFORMANCE.md, "Sequential I/O"). The
	 * daemon's memory is locked (mlockall), so the stack never reaches
	 * swap. The old ciphertext is read into new_pivot, overwritten by
	 * the seal. */
	uint8_t plain[LFS_BLOCK_SIZE];
	r = read_block(io, m, plain, x->new_pivot);
	if (r >= 0) {
		memset(plain + r, 0, LFS_BLOCK_SIZE - (size_t)r);
		r = seal_block(io, m, m == n, plain, len, x->new_pivot);
	}
	sodium_memzero(plain, sizeof(plain));
	return r;
}

/* Steps 4-5: a new file's header (and the SPARSE flag before a hole),
 * then the gap (sealed zeros or a hole) and the data blocks up to the new
 * last block, which is sealed as final. */
static int write_body(struct io *io, bool new_file, uint64_t first, uint64_t data_from,
                      uint64_t new_size, const char *buf, size_t size, uint64_t off, bool hole,
                      const struct tail_txn *x)
{
	struct lfs_inode *in = io->inode;
	int r = 0;
	if (hole && !(in->header.flags & LFS_HDR_FLAG_SPARSE)) {
		/* Before the hole exists: a crash must never leave holes in a
		 * file whose header says it has none. */
		pthread_mutex_lock(&in->meta_lock);
		in->header.flags |= LFS_HDR_FLAG_SPARSE;
		pthread_mutex_unlock(&in->meta_lock);
		new_file = true; /* the header must be (re)written */
	}
	uint64_t n = last_block(new_size);
	bool prefix = new_file && data_from == 0;
	if (new_file && !prefix && (r = io_write_header(io)) < 0)
		return r;
	if (data_from > first) {
		if (hole) {
			if (ftruncate(io->fd, (off_t)lfs_block_offset(io->l, data_from)) < 0)
				return -errno;
		} else if ((r = write_zero_blocks(io, first, data_from)) < 0) {
			return r;
		}
	}
	if (data_from > n)
		return 0;
	/* What goes before the blocks in the same write: a new file's header,
	 * or the new pivot (x->pivot_with_body: the block just before them). */
	size_t hdr = prefix ? io->l->hdr_len : x->pivot_with_body ? x->t.new_pivot_len : 0;
	uint64_t at = lfs_block_offset(io->l, data_from);
	size_t len = (size_t)(lfs_backing_size(io->l, new_size) - at);
	uint8_t *out = malloc(hdr + len);
	if (!out)
		return -ENOMEM;
	if (prefix && (r = io_encode_header(io, out)) < 0) {
		free(out);
		return r;
	}
	if (!prefix && x->pivot_with_body)
		memcpy(out, x->new_pivot, hdr);
	r = 0;
	if (size) {
		r = seal_range(io, buf, size, off, out + hdr, new_size);
	} else {
		static const uint8_t zeros[LFS_BLOCK_SIZE];
		r = seal_block(io, n, true, zeros, (size_t)(new_size - n * BS), out + hdr);
	}
	if (r == 0)
		r = lfs_pwrite_full(io->fd, out, hdr + len, (off_t)(at - hdr));
	free(out);
	return r;
}

int tail_grow(struct io *io, uint64_t new_size, const char *buf, size_t size, uint64_t off)
{
	struct lfs_inode *in = io->inode;
	bool new_file = io->backing == 0;
	int r = new_file ? io_create_header(io) : 0;
	if (r < 0)
		return r;
	bool has_pivot = io->size > 0;
	uint64_t m = has_pivot ? last_block(io->size) : 0, n = last_block(new_size);
	/* Blocks before the pivot that the write covers stay where they are:
	 * an ordinary overwrite in place, outside the record. */
	if (size && has_pivot && off / BS < m) {
		size_t part = (size_t)(m * BS - off);
		if ((r = io_write_blocks(io, buf, part, off)) < 0)
			return r;
		buf += part, size -= part, off += part;
	}
	struct tail_txn x;
	r = txn_init(io, &x);
	x.t.new_backing = lfs_backing_size(io->l, new_size);
	if (r == 0 && has_pivot)
		r = build_grow_pivot(io, &x, new_size, &buf, &size, &off);
	x.durable = io->fs->powersafe && has_pivot && m * BS < lfs_durable_size(in, io->size);
	uint64_t first = has_pivot ? m + 1 : 0;
	if (!has_pivot || n > m)
		x.t.check_block = n;
	uint64_t data_from = size ? off / BS : n;
	if (data_from < first)
		data_from = first;
	bool hole = (data_from - first) * BS > LFS_FILL_GAP_MAX;
	if (r == 0) {
		uint64_t res_from = has_pivot ? lfs_block_offset(io->l, m) : 0;
		if (hole) {
			r = reserve(io, res_from,
			            has_pivot ? res_from + io->l->block_disk : io->l->hdr_len);
			res_from = lfs_block_offset(io->l, data_from);
		}
		if (r == 0)
			r = reserve(io, res_from, x.t.new_backing);
	}
	/* The new blocks start right after the pivot, which is then a whole
	 * block (no longer the last): one write for both. */
	x.pivot_with_body = has_pivot && x.t.check_block != LFS_TAIL_NONE && !hole &&
	                    data_from == first && x.t.new_pivot_len == io->l->block_disk;
	if (r == 0)
		r = txn_begin(io, &x);
	if (r < 0) {
		txn_free(&x);
		goto fail;
	}
	if (x.t.check_block != LFS_TAIL_NONE)
		r = write_body(io, new_file, first, data_from, new_size, buf, size, off, hole, &x);
	if (r == 0 && has_pivot && !x.pivot_with_body)
		r = lfs_pwrite_full(io->fd, x.new_pivot, x.t.new_pivot_len,
		                    (off_t)lfs_block_offset(io->l, m));
	r = txn_end(io, &x, r, true);
	txn_free(&x);
	if (r == 0) {
		io->size = new_size;
		io->backing = lfs_backing_size(io->l, new_size);
		return 0;
	}
fail:
	/* The cached header may carry a SPARSE flag or a file id that never
	 * reached the disk: read it again next time. */
	pthread_mutex_lock(&in->meta_lock);
	in->have_header = false;
	pthread_mutex_unlock(&in->meta_lock);
	lfs_warn("write failed (%s); inode %llu kept at its previous size %llu", strerror(-r),
	         (unsigned long long)in->ino, (unsigned long long)io->size);
	return r;
}

int tail_shrink(struct io *io, uint64_t new_size)
{
	uint64_t m = last_block(new_size);
	uint64_t at = lfs_block_offset(io->l, m);
	struct tail_txn x;
	int r = txn_init(io, &x);
	uint8_t *plain = sodium_malloc(LFS_BLOCK_SIZE);
	if (r == 0 && !plain)
		r = -ENOMEM;
	size_t got = 0;
	if (r == 0) {
		/* The old pivot as stored, so that a failed cut can be undone. */
		x.t.old_pivot_len =
		    (uint32_t)(io->backing - at < io->l->block_disk ? io->backing - at
		                                                    : io->l->block_disk);
		r = lfs_pread_full(io->fd, x.old_pivot, x.t.old_pivot_len, (off_t)at, &got);
		if (r == 0 && got != x.t.old_pivot_len)
			r = -EIO;
	}
	if (r == 0 && (r = read_block(io, m, plain, x.new_pivot)) >= 0) {
		size_t len = (size_t)(new_size - m * BS);
		r = seal_block(io, m, true, plain, len, x.new_pivot);
		x.t.pivot_block = m;
		x.t.new_pivot_len = (uint32_t)(len + io->l->overhead);
		x.t.new_backing = lfs_backing_size(io->l, new_size);
		x.durable = io->fs->powersafe && m * BS < lfs_durable_size(io->inode, io->size);
		if (r == 0)
			r = txn_begin(io, &x);
	}
	sodium_free(plain);
	if (r < 0) {
		txn_free(&x);
		return r;
	}
	/* The new last block first, in place over the old one (no new space
	 * needed), then the cut: until the cut, the old block can be put back;
	 * after it, recovery redoes both. */
	r = lfs_pwrite_full(io->fd, x.new_pivot, x.t.new_pivot_len, (off_t)at);
	if (r == 0 && ftruncate(io->fd, (off_t)x.t.new_backing) < 0)
		r = -errno;
	r = txn_end(io, &x, r, true);
	txn_free(&x);
	if (r == 0) {
		io->size = new_size;
		io->backing = x.t.new_backing;
	}
	return r;
}
