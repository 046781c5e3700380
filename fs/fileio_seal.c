/* SPDX-License-Identifier: Apache-2.0 */
/* The whole blocks of a large write, sealed on several cores at once
 * (docs/PERFORMANCE.md, "Sequential I/O (issue 17)").
 *
 * A write request of the kernel's writeback is up to 1 MiB: 256 blocks,
 * each sealed on its own (its own random nonce, its number and the file's
 * header in the associated data). The file's io_lock holds every other
 * write of the file back meanwhile, so one file's writes used one core.
 * Sealing is pure computation on the request's buffer, so the blocks are
 * split into items that the handler's thread and the sealing pool's
 * helpers take in turn (common/workpool.h); the helpers clear the stack
 * the cipher used after each job. The caller writes nothing unless every
 * block sealed. */
#define _GNU_SOURCE
#include "fileio_int.h"
#include "../common/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sodium.h>

/* Blocks per item at most (the nonces of an item are drawn in one call)
 * and at least (a helper's wake-up costs about as much as sealing a few
 * blocks). */
#define SEAL_ITEM_MAX 64
#define SEAL_ITEM_MIN 16

struct seal_job {
	struct io *io;
	const uint8_t *plain; /* block `first`'s plaintext; the others follow */
	uint8_t *out;         /* its stored form; the others follow */
	uint64_t first, final_block;
	size_t count, per_item;
	atomic_int err;
};

static void seal_item(void *arg, size_t item)
{
	struct seal_job *j = arg;
	const struct lfs_layout *l = j->io->l;
	size_t from = item * j->per_item;
	size_t n = j->count - from < j->per_item ? j->count - from : j->per_item;
	uint8_t nonces[SEAL_ITEM_MAX * LFS_AEAD_NONCE_MAX];
	/* A fresh random nonce for every block, as seal_block draws them. */
	randombytes_buf(nonces, n * l->nonce_len);
	for (size_t k = 0; k < n; k++) {
		uint64_t b = j->first + from + k;
		uint8_t *dst = j->out + (from + k) * l->block_disk;
		memcpy(dst, nonces + k * l->nonce_len, l->nonce_len);
		if (lfs_block_seal(l, &j->io->key, &j->io->inode->header, b, b == j->final_block,
		                   j->plain + (from + k) * BS, (size_t)BS, dst) < 0) {
			lfs_err("cannot seal block %llu of inode %llu: the cipher failed",
			        (unsigned long long)b, (unsigned long long)j->io->inode->ino);
			atomic_store(&j->err, -EIO);
			return;
		}
	}
}

int seal_whole_blocks(struct io *io, uint64_t first, size_t count, const uint8_t *plain,
                      uint64_t final_block, uint8_t *out)
{
	if (count < 2 * SEAL_ITEM_MIN) {
		for (size_t k = 0; k < count; k++) {
			uint64_t b = first + k;
			int r = seal_block(io, b, b == final_block, plain + k * BS, (size_t)BS,
			                   out + k * io->l->block_disk);
			if (r < 0)
				return r;
		}
		return 0;
	}
	/* About four items per request, so that a thread that got less of
	 * a core than the others is not waited for long. */
	size_t per = (count + 3) / 4;
	per = per < SEAL_ITEM_MIN ? SEAL_ITEM_MIN : per > SEAL_ITEM_MAX ? SEAL_ITEM_MAX : per;
	struct seal_job j = {.io = io,
	                     .plain = plain,
	                     .out = out,
	                     .first = first,
	                     .final_block = final_block,
	                     .count = count,
	                     .per_item = per};
	atomic_init(&j.err, 0);
	size_t items = (count + per - 1) / per, i;
	struct lfs_workjob job;
	lfs_workpool_post(&io->fs->sealers, &job, items, seal_item, &j);
	while ((i = lfs_workjob_take(&job)) < items)
		seal_item(&j, i); /* (called directly: make stack sees it) */
	lfs_workpool_wait(&io->fs->sealers, &job);
	return atomic_load(&j.err);
}
