/* SPDX-License-Identifier: Apache-2.0 */
/* Read-ahead of a directory's file headers before a tree walk looks them
 * up (docs/PERFORMANCE.md, "Tree work at many files").
 *
 * Every lookup of a regular backing file reads its header (format 2 keeps
 * the type, mode and owner there: fs/attr.c). After the kernel dropped its
 * caches, a walk (du, ls -l, find, rm -rf) therefore waits for one random
 * disk read per file, one at a time. Once a directory is listed and the
 * first lookup in it arrives, one of two persistent threads asks the
 * kernel to read the headers of the directory's files ahead
 * (posix_fadvise WILLNEED, which queues the reads without waiting), so
 * that the disk serves many at once and the lookups find them in the page
 * cache. A hint only: nothing
 * read here is trusted or kept, and no secret is involved. */
#ifndef LETHEFS_PREFETCH_H
#define LETHEFS_PREFETCH_H

#include <stdbool.h>

#include "fs.h"

/* dir was opened for listing: its next lookup or readdirplus prefetches. */
void lfs_prefetch_arm(struct lfs_inode *dir);
/* If dir is armed, disarms it and starts the read-ahead of the headers in
 * the backing directory dirfd (any descriptor of it; not kept). Returns at
 * once; does nothing when enough prefetches already run. */
void lfs_prefetch_start(struct lfs_inode *dir, int dirfd);
/* Whether lfs_prefetch_start starts anything (the default), or nothing (a
 * mount with inode attributes, whose lookups read no header). */
void lfs_prefetch_enable(bool on);
/* Entries one prefetch visits at most (a flat directory of millions of
 * files is read ahead in its first part only). */
#define LFS_PREFETCH_MAX_ENTRIES 8192

#endif
