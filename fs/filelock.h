/* SPDX-License-Identifier: Apache-2.0 */
/* Cross-host locks on backing files in shared mode (docs/SHARED.md):
 * byte-range locks (cluster/rangelock.h), which the engine enforces
 * between hosts, at offsets of the backing file:
 *
 *   LFS_FLOCK_SIZE, one byte far beyond any data: the file's length and
 *     last block. Writes that keep the length read-lock it; every change
 *     of the length or the last block (a tail update, the header's
 *     creation, truncation), rotation's conversion and the recovery of a
 *     record write-lock it.
 *   the backing bytes of blocks: a write's read-modify-write of blocks
 *     write-locks them, so that two hosts writing disjoint ranges which
 *     share a block take turns on that block; a read that failed its
 *     check is retried with them read-locked.
 *
 * Within one daemon the inode's io_lock already orders these; the locks
 * order hosts. */
#ifndef LETHEFS_FILELOCK_H
#define LETHEFS_FILELOCK_H

#include <stdint.h>

#define LFS_FLOCK_SIZE (1ULL << 62)

#endif
