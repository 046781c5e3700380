/* SPDX-License-Identifier: Apache-2.0 */
/* Write-behind of shared mounts (-o shared; docs/SHARED.md, "Writes are
 * acknowledged before they reach the engine", docs/PERFORMANCE.md issue 16).
 *
 * Without the kernel's writeback cache (which shared mode must turn off:
 * it trusts its own file size) every write(2) waits for its WRITE request,
 * and on a network engine every request pays the length's byte-range lock,
 * a stat, the header, the journal record, its clearing and the unlock, a
 * round trip each, before the data. Here a WRITE is copied into a bounded
 * queue of its inode and acknowledged at once; a worker thread writes the
 * queue through the ordinary write path (lfs_fileio_write_sized), contiguous
 * requests through one handle joined into one call, so that those costs are
 * paid once per several MiB and the next requests arrive while the previous
 * ones travel to the engine.
 *
 * The error model is the kernel's writeback cache's (which exclusive mounts
 * use) and GlusterFS's own write-behind's: a failed deferred write is
 * reported once, by the next FLUSH (close(2)) or FSYNC of the file, and
 * every WRITE fails with it until then. Everything that reads or depends on
 * the file's content or size waits for the queue first (lfs_swb_wait: the
 * gate does it for the requests naming the inode, fs/gate.c); a lock of the
 * vault and the unmount wait for every queue (lfs_swb_drain_all). */
#ifndef LETHEFS_SHAREDWB_H
#define LETHEFS_SHAREDWB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lfs_fs;
struct lfs_inode;

/* Two segments per inode: one filled by WRITEs while the worker writes the
 * other. A WRITE that does not fit waits (back-pressure). */
#define LFS_SWB_SEGMENT (4u << 20)
/* Queues of all inodes together hold at most this much; an inode that
 * would go beyond writes synchronously, as without write-behind. */
#define LFS_SWB_TOTAL (32u << 20)
/* Extents (runs of contiguous writes through one handle) per segment. */
#define LFS_SWB_EXTENTS 64

/* Queues size bytes of buf for offset off through backing descriptor fd
 * (kept open by its handle until lfs_swb_wait has returned: release waits).
 * charged: the staging quota charge already made for it, refunded if the
 * deferred write fails. seen: the handle's count of failures reported
 * (lfs_swb_settle). Returns 0 when queued (acknowledge it), 1 when the
 * caller must write it itself (what was queued before is written by then),
 * or a negative errno: a deferred write failed and the handle has not
 * reported it yet, or it failed while this was queued behind it. */
int lfs_swb_write(struct lfs_fs *fs, struct lfs_inode *inode, uint64_t *seen, int fd,
                  const char *buf, size_t size, uint64_t off, int64_t charged);
/* The end of what is queued for inode (0: nothing), for quota charging. */
uint64_t lfs_swb_queued_end(struct lfs_inode *inode);
/* The count of failures a handle opened now starts from (its *seen):
 * every deferred write of inode that failed so far, less the latest while
 * no handle has reported it. So errors are reported to the handles open
 * when they happen and, while no one has reported it, to handles opened
 * since, as the kernel's errseq does. */
uint64_t lfs_swb_open_seen(struct lfs_inode *inode);
/* Waits until what was queued for inode when called is written: never
 * for a writer that keeps queueing. */
void lfs_swb_wait(struct lfs_inode *inode);
/* Waits as lfs_swb_wait, then returns a failure the handle whose count is
 * *seen has not reported (a negative errno) or 0; report: it is reported
 * now (FLUSH, FSYNC: once per handle). */
int lfs_swb_settle(struct lfs_inode *inode, uint64_t *seen, bool report);
/* Waits for every inode's queue (a lock of the vault, the unmount, a
 * rename or unlink while any queue is busy). */
void lfs_swb_drain_all(struct lfs_fs *fs);
/* Whether any queue is being written (cheap: one atomic load). */
int lfs_swb_busy(struct lfs_fs *fs);
/* The last writer of inode has gone: its buffers are wiped and freed. */
void lfs_swb_idle(struct lfs_fs *fs, struct lfs_inode *inode);
/* inode is freed: its queue (idle by then) goes too. */
void lfs_swb_destroy(struct lfs_fs *fs, struct lfs_inode *inode);

#endif
