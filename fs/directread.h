/* SPDX-License-Identifier: Apache-2.0 */
/* Large reads of sealed blocks past the backing filesystem's page cache
 * (O_DIRECT). A sequential read through the mount used to copy every byte
 * from the backing page cache into the daemon's buffer before opening it:
 * that copy was over half of the daemon's CPU time on a cold 1 GiB read
 * (docs/PERFORMANCE.md, "Sequential I/O"). Read directly, the disk fills the
 * buffer itself. The plaintext stays cached above, in the mount's page
 * cache, so the backing copy only duplicated it. Small reads (random 4 KiB
 * access) keep the backing page cache and its readahead. */
#ifndef LETHEFS_DIRECTREAD_H
#define LETHEFS_DIRECTREAD_H

#include <stddef.h>
#include <stdint.h>

/* Reads of at least this many backing bytes go direct: the kernel's
 * readahead sends 1 MiB requests; 4 KiB random reads stay buffered. */
#define LFS_DIRECT_READ_MIN (256u << 10)
/* Offsets, lengths and buffers are aligned to this: a multiple of every
 * logical block size the local filesystems use. */
#define LFS_DIRECT_ALIGN 4096u

/* A second, read-only descriptor of fd's file with O_DIRECT, or a negative
 * errno (-EINVAL: the backing filesystem has no direct I/O). */
int lfs_direct_reopen(int fd);

/* Reads len bytes at off from dfd (an lfs_direct_reopen descriptor) into
 * the calling thread's aligned buffer, covering the aligned range around
 * them. *data receives the byte at off (valid until this thread's next
 * call), *got how many bytes from off were read (fewer at the end of the
 * file). Returns 0 or a negative errno; -EINVAL means the filesystem
 * refused the alignment, and a buffered read should be used instead. */
int lfs_direct_pread(int dfd, size_t len, uint64_t off, uint8_t **data, size_t *got);

/* Reads len bytes at off from fd through the page cache, as
 * lfs_pread_full. With chunk > 0, a read whose pages are not all cached
 * (a read with RWF_NOWAIT stops short) first asks the kernel to read the
 * aligned chunk around it (POSIX_FADV_WILLNEED), in one request to the
 * disk rather than one per later miss. */
int lfs_cached_pread(int fd, uint8_t *buf, size_t len, uint64_t off, size_t chunk, size_t *got);

#endif
