/* SPDX-License-Identifier: Apache-2.0 */
/* Holes of encrypted files: lseek SEEK_DATA/SEEK_HOLE, fallocate
 * PUNCH_HOLE and ZERO_RANGE, and st_blocks of the plaintext view. Holes
 * follow FORMAT.md 6.5: only a file whose authenticated header has the SPARSE
 * flag has any, the flag is set (durably) before the first one is made, and a
 * file's last block is never a hole. No FUSE here: results are offsets or
 * negative errnos. */
#ifndef LETHEFS_HOLES_H
#define LETHEFS_HOLES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fs.h"

/* whence is SEEK_DATA or SEEK_HOLE. Returns the plaintext offset, or
 * -ENXIO at or past the end of the file, as ext4 does. */
off_t lfs_holes_seek(struct lfs_fs *fs, struct lfs_inode *inode, int fd, off_t off, int whence);
/* FALLOC_FL_PUNCH_HOLE (always with KEEP_SIZE): the range reads as zeros;
 * whole blocks inside it that are not the last become holes. */
int lfs_holes_punch(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t off, uint64_t len);
/* FALLOC_FL_ZERO_RANGE: the range reads as zeros, stored as sealed zero
 * blocks (allocated, like ext4's unwritten extents); without keep_size the
 * file grows to cover it. */
int lfs_holes_zero(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t off, uint64_t len,
                   bool keep_size);
/* st_blocks of a regular file's plaintext view, in 512-byte units counted
 * per 4 KiB block like ext4, from its backing stat: every block a reader
 * gets data from counts, backing holes do not. */
blkcnt_t lfs_holes_blocks(const struct lfs_layout *l, const struct stat *backing);

#endif
