/* SPDX-License-Identifier: Apache-2.0 */
/* Write-behind of a file written sequentially in large requests
 * (docs/PERFORMANCE.md, "Sequential I/O (issue 17)").
 *
 * The sealed blocks go into the backing filesystem's page cache; its own
 * writeback starts only past the system's background dirty threshold (10%
 * of memory by default), so a 1 GiB write followed by fsync(2) first
 * seals everything and only then has the disk write it: the two add up.
 * Started early, the disk writes what lies behind the writer while the
 * daemon seals what follows. This changes when data reaches the disk, not
 * what reaches it or in what order updates are made: nothing here waits
 * for the disk, and fsync(2) still syncs the backing file. */
#ifndef LETHEFS_WRITEBEHIND_H
#define LETHEFS_WRITEBEHIND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Writes of at least this size are taken for a sequential stream. */
#define LFS_WRITEBEHIND_MIN_REQUEST (128u * 1024)
/* Writeback is started in pieces of at least this size, */
#define LFS_WRITEBEHIND_STEP (8ull << 20)
/* and never for the last this many bytes before the write that asks:
 * the block an append seals again (the old last one) stays out of it. */
#define LFS_WRITEBEHIND_MARGIN (4ull << 20)

/* After a write of size bytes at plaintext offset off into the backing
 * file fd: starts the writeback (sync_file_range, SYNC_FILE_RANGE_WRITE)
 * of what lies from *next to LFS_WRITEBEHIND_MARGIN before off, once that
 * is LFS_WRITEBEHIND_STEP or more, and advances *next (shared by the
 * threads writing through one open file). Backing offsets of a block are
 * beyond its plaintext offsets, so the range stays behind the write.
 * Advisory: a failure changes nothing but the timing. */
void lfs_writebehind(int fd, _Atomic uint64_t *next, uint64_t off, size_t size);

#endif
