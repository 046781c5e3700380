/* SPDX-License-Identifier: Apache-2.0 */
#include "durable.h"
#include "fs.h"

#include <pthread.h>

uint64_t lfs_durable_size(struct lfs_inode *in, uint64_t size_now)
{
	pthread_mutex_lock(&in->meta_lock);
	if (!in->durable_known) {
		in->durable_known = true;
		in->durable_size = size_now;
	}
	uint64_t d = in->durable_size;
	pthread_mutex_unlock(&in->meta_lock);
	return d;
}

void lfs_durable_all(struct lfs_inode *in)
{
	pthread_mutex_lock(&in->meta_lock);
	in->durable_known = false;
	pthread_mutex_unlock(&in->meta_lock);
}

void lfs_durable_failed(struct lfs_inode *in, int err)
{
	pthread_mutex_lock(&in->meta_lock);
	if (!in->durable_err)
		in->durable_err = err;
	pthread_mutex_unlock(&in->meta_lock);
}

int lfs_durable_take_error(struct lfs_inode *in)
{
	pthread_mutex_lock(&in->meta_lock);
	int e = in->durable_err;
	in->durable_err = 0;
	pthread_mutex_unlock(&in->meta_lock);
	return e;
}

/* Equal runs shorter than this are what two unrelated blocks share by
 * chance (any 8 bytes match with odds of 2^-64 per place). */
#define KEPT_RUN 8

bool lfs_durable_kept(const uint8_t *old_plain, const uint8_t *new_plain, uint64_t block_start,
                      uint64_t durable_end, uint64_t from, uint64_t to)
{
	if (durable_end <= block_start)
		return false;
	/* Durable bytes outside the write stay as they were. */
	if (from > block_start || to < durable_end)
		return true;
	size_t n = (size_t)(durable_end - block_start);
	size_t need = n < KEPT_RUN ? n : KEPT_RUN, run = 0;
	for (size_t i = 0; i < n; i++) {
		run = old_plain[i] == new_plain[i] ? run + 1 : 0;
		if (run >= need)
			return true;
	}
	return false;
}
