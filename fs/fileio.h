/* SPDX-License-Identifier: Apache-2.0 */
/* Encrypted file contents on a backing descriptor: read, write, truncate
 * and allocate at any plaintext offset. Uses the inode's io_lock so that
 * read-modify-write of partial blocks is safe under concurrent writers.
 * No FUSE here: results are byte counts or negative errnos. */
#ifndef LETHEFS_FILEIO_H
#define LETHEFS_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs.h"

ssize_t lfs_fileio_read(struct lfs_fs *fs, struct lfs_inode *inode, int fd, char *buf, size_t size,
                        uint64_t off);
/* The same, reading large ranges of sealed blocks through dfd, a direct
 * (O_DIRECT) descriptor of the same file (fs/directread.h), when dfd >= 0.
 * Header and file size still come from fd. */
ssize_t lfs_fileio_read_direct(struct lfs_fs *fs, struct lfs_inode *inode, int fd, int dfd,
                               char *buf, size_t size, uint64_t off);
ssize_t lfs_fileio_write(struct lfs_fs *fs, struct lfs_inode *inode, int fd, const char *buf,
                         size_t size, uint64_t off);
/* The same, also giving the file's plaintext size just before the write
 * (as the write found it, under the inode's lock): a caller that needs
 * it spends no stat of its own. */
ssize_t lfs_fileio_write_sized(struct lfs_fs *fs, struct lfs_inode *inode, int fd, const char *buf,
                               size_t size, uint64_t off, uint64_t *before);
int lfs_fileio_truncate(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t size);
/* mode 0 and FALLOC_FL_KEEP_SIZE; anything else is -EOPNOTSUPP (punch hole
 * and zero range are in holes.h). */
int lfs_fileio_fallocate(struct lfs_fs *fs, struct lfs_inode *inode, int fd, int mode, uint64_t off,
                         uint64_t len);
/* Verifies every block of a file (fsck). Returns the number of corrupt
 * blocks, or a negative errno; bad_block receives the first bad one. */
long lfs_fileio_verify(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint64_t *bad_block);

/* For holes.c: the authenticated header's flags (0 without a header), and
 * setting LFS_HDR_FLAG_SPARSE durably (written and fdatasync'ed). Both take
 * the inode's io_lock themselves. */
int lfs_fileio_header_flags(struct lfs_fs *fs, struct lfs_inode *inode, int fd, uint16_t *flags);
int lfs_fileio_mark_sparse(struct lfs_fs *fs, struct lfs_inode *inode, int fd);

#endif
