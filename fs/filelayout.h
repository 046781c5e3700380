/* SPDX-License-Identifier: Apache-2.0 */
/* Where a regular file's blocks lie: its layout (fs/content.h) comes from
 * its header's version, which each file carries (format 1 or 2), never
 * from the vault. Kept apart from attr.c so that the data path (fileio.c,
 * holes.c) needs nothing of the attributes. */
#ifndef LETHEFS_FILELAYOUT_H
#define LETHEFS_FILELAYOUT_H

#include "content.h"
#include "fs.h"

/* The layout of regular backing file in (its header's version), probing
 * its first bytes through fd (readable) when the inode has not been looked
 * up (fsck, rotation). An empty file is of version 1 (format 2 files
 * always have a header). */
int lfs_inode_layout(struct lfs_fs *fs, struct lfs_inode *in, int fd, struct lfs_layout *l);

#endif
