/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "refile.h"
#include "../common/bytes.h"
#include "../common/fileutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

/* Blocks per read/seal/write round: 1 MiB of plaintext, large enough that
 * system calls are noise beside the crypto. */
#define CHUNK_BLOCKS 256

struct keys {
	struct lfs_aead_key old_k, new_k;
};

/* Derives both file keys, holding each epoch's keys only as long as that
 * takes. */
static int take_keys(const struct lfs_layout *l, struct lfs_keyring *kr,
                     const struct lfs_file_header *old_h, const struct lfs_file_header *new_h,
                     struct keys *k)
{
	const struct lfs_epoch_keys *e;
	int r = lfs_keyring_get(kr, old_h->epoch, &e);
	if (r < 0)
		return r;
	r = lfs_file_key(&k->old_k, l->cipher, e->content, old_h->file_id);
	lfs_keyring_put(kr);
	if (r < 0)
		return r;
	if ((r = lfs_keyring_get(kr, new_h->epoch, &e)) < 0) {
		lfs_aead_key_wipe(&k->old_k);
		return r;
	}
	r = lfs_file_key(&k->new_k, l->cipher, e->content, new_h->file_id);
	lfs_keyring_put(kr);
	if (r < 0)
		lfs_aead_key_wipe(&k->old_k);
	return r;
}

/* A hole of a sparse file: stored as zeros, read as zeros, left alone. */
static bool is_hole(const struct lfs_layout *l, const struct lfs_file_header *h, bool final,
                    const uint8_t *in, size_t len)
{
	return (h->flags & LFS_HDR_FLAG_SPARSE) && !final && len == l->block_disk &&
	       sodium_is_zero(in, len);
}

/* Re-seals the chunk's blocks under new_h in disk; returns how many
 * changed (a replay finds some, or all, done already), or -errno. */
static int redo_chunk(const struct lfs_layout *l, const struct keys *k,
                      const struct lfs_file_header *old_h, const struct lfs_file_header *new_h,
                      bool replay, uint64_t b0, uint64_t nb, uint64_t last, uint8_t *disk,
                      size_t got)
{
	int changed = 0;
	uint8_t plain[LFS_BLOCK_SIZE];
	uint8_t nonces[CHUNK_BLOCKS * LFS_AEAD_NONCE_MAX];
	randombytes_buf(nonces, nb * l->nonce_len);
	int r = 0;
	for (uint64_t i = 0; r == 0 && i < nb; i++) {
		size_t off = (size_t)(i * l->block_disk);
		size_t len = got - off < l->block_disk ? got - off : l->block_disk;
		uint64_t b = b0 + i;
		bool final = b == last;
		uint8_t *blk = disk + off;
		if (is_hole(l, old_h, final, blk, len))
			continue;
		int n = -1;
		if (replay)
			n = lfs_block_open(l, &k->new_k, new_h, b, final, blk, len, plain);
		if (n >= 0)
			continue; /* already done before the crash */
		n = lfs_block_open(l, &k->old_k, old_h, b, final, blk, len, plain);
		if (n < 0) {
			r = -EIO;
			break;
		}
		memcpy(blk, nonces + i * l->nonce_len, l->nonce_len);
		if ((r = lfs_block_seal(l, &k->new_k, new_h, b, final, plain, (size_t)n, blk)) < 0)
			break;
		changed++;
	}
	sodium_memzero(plain, sizeof(plain));
	return r < 0 ? r : changed;
}

/* The re-sealing; *wrote says whether anything was written (a replay or
 * an undo that finds everything done writes nothing, and needs no sync). */
static int refile(const struct lfs_layout *l, struct lfs_keyring *kr, struct lfs_overwriter *w,
                  int fd, const struct lfs_file_header *old_h, const struct lfs_file_header *new_h,
                  const uint8_t *new_raw, bool replay, bool (*keep_going)(void *ctx), void *ctx,
                  uint64_t *plain_bytes, bool *wrote_out)
{
	if (old_h->version != l->version || new_h->version != l->version)
		return -EINVAL;
	struct stat st;
	uint64_t size;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!lfs_plain_size(l, (uint64_t)st.st_size, &size))
		return -EIO; /* malformed: fsck's business, not ours */
	struct keys k;
	int r = take_keys(l, kr, old_h, new_h, &k);
	if (r < 0)
		return r;
	uint8_t *disk = malloc(CHUNK_BLOCKS * l->block_disk);
	if (!disk)
		r = -ENOMEM;
	uint64_t nblocks = size ? (size - 1) / LFS_BLOCK_SIZE + 1 : 0;
	struct lfs_overwrite o = {
	    .disk_h = *old_h, .seal_h = *new_h, .final_block = nblocks ? nblocks - 1 : 0};
	/* The block records name the header on disk, which recovery checks
	 * (fs/overwrite.c): the old one, but for a conversion undone after a
	 * failure (convert_file.c), which runs from the new header back to the
	 * old one while the old one is still on disk. */
	uint8_t cur[LFS_FILE_HDR_MAX];
	size_t cur_len = 0;
	bool header_done = false, wrote = false;
	if (r == 0 && (r = lfs_pread_full(fd, cur, l->hdr_len, 0, &cur_len)) == 0 &&
	    cur_len == l->hdr_len && sodium_memcmp(cur, new_raw, l->hdr_len) == 0) {
		o.disk_h = *new_h;
		header_done = true;
	}
	for (uint64_t b = 0; r == 0 && b < nblocks; b += CHUNK_BLOCKS) {
		if (keep_going && !keep_going(ctx)) {
			r = -EINTR;
			break;
		}
		uint64_t nb = nblocks - b < CHUNK_BLOCKS ? nblocks - b : CHUNK_BLOCKS;
		uint64_t off = lfs_block_offset(l, b);
		size_t want = (size_t)((uint64_t)st.st_size - off < nb * l->block_disk
		                           ? (uint64_t)st.st_size - off
		                           : nb * l->block_disk);
		size_t got;
		r = lfs_pread_full(fd, disk, want, (off_t)off, &got);
		if (r == 0 && got != want)
			r = -EIO;
		int changed =
		    r == 0 ? redo_chunk(l, &k, old_h, new_h, replay, b, nb, nblocks - 1, disk, got)
		           : r;
		r = changed < 0 ? changed : 0;
		/* A chunk a replay finds done is not written again: nothing
		 * to gain, and a disk that refuses every write (an undo on a
		 * failing store) must not fail a file that is whole. */
		if (changed > 0) {
			r = lfs_overwrite_write(w, l, fd, &o, b, disk, got);
			wrote = true;
		}
	}
	/* The header goes last: until it is written, a reader of the old
	 * header would fail on re-sealed blocks, which is why the caller
	 * holds the inode's io_lock and the journal covers crashes. */
	if (r == 0 && !header_done) {
		r = lfs_pwrite_full(fd, new_raw, l->hdr_len, 0);
		wrote = true;
	}
	if (disk) {
		sodium_memzero(disk, CHUNK_BLOCKS * l->block_disk);
		free(disk);
	}
	lfs_aead_key_wipe(&k.old_k);
	lfs_aead_key_wipe(&k.new_k);
	if (r == 0 && plain_bytes)
		*plain_bytes = size;
	*wrote_out = wrote;
	return r;
}

int lfs_refile_unsynced(const struct lfs_layout *l, struct lfs_keyring *kr,
                        struct lfs_overwriter *w, int fd, const struct lfs_file_header *old_h,
                        const struct lfs_file_header *new_h, const uint8_t *new_raw, bool replay,
                        bool (*keep_going)(void *ctx), void *ctx, uint64_t *plain_bytes)
{
	bool wrote = false;
	return refile(l, kr, w, fd, old_h, new_h, new_raw, replay, keep_going, ctx, plain_bytes,
	              &wrote);
}

int lfs_refile(const struct lfs_layout *l, struct lfs_keyring *kr, struct lfs_overwriter *w, int fd,
               const struct lfs_file_header *old_h, const struct lfs_file_header *new_h,
               const uint8_t *new_raw, bool replay, bool (*keep_going)(void *ctx), void *ctx,
               uint64_t *plain_bytes)
{
	bool wrote = false;
	int r = refile(l, kr, w, fd, old_h, new_h, new_raw, replay, keep_going, ctx, plain_bytes,
	               &wrote);
	if (r == 0 && wrote && fdatasync(fd) < 0)
		r = -errno;
	return r;
}
