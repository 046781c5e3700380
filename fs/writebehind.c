/* SPDX-License-Identifier: Apache-2.0 */
/* Write-behind of sequential writes: see writebehind.h. */
#define _GNU_SOURCE
#include "writebehind.h"

#include <fcntl.h>

void lfs_writebehind(int fd, _Atomic uint64_t *next, uint64_t off, size_t size)
{
	if (size < LFS_WRITEBEHIND_MIN_REQUEST || off < LFS_WRITEBEHIND_MARGIN)
		return;
	uint64_t to = off - LFS_WRITEBEHIND_MARGIN;
	uint64_t from = atomic_load(next);
	/* A write before what was handed over already (a rewrite, or the
	 * kernel's writeback starting over at a lower offset) starts over
	 * there; one far behind is a new pass. */
	if (to <= from && from - to > LFS_WRITEBEHIND_STEP) {
		atomic_compare_exchange_strong(next, &from, to);
		return;
	}
	if (to < from || to - from < LFS_WRITEBEHIND_STEP)
		return;
	/* One thread hands each range over. */
	if (!atomic_compare_exchange_strong(next, &from, to))
		return;
	(void)sync_file_range(fd, (off64_t)from, (off64_t)(to - from), SYNC_FILE_RANGE_WRITE);
}
