/* SPDX-License-Identifier: Apache-2.0 */
/* Having the kernel write back the dirty pages of a file past the end the
 * daemon knows (stat's st_blocks and lseek's holes must count them), with
 * a bounded wait.
 *
 * The invalidation that makes the kernel write them back is asked from
 * another thread, never waited for longer than FLUSH_WAIT_MS: libfuse
 * warns that invalidating from the path of an operation on the same inode
 * can deadlock, and a GETATTR the kernel sent from chown(2) (which holds the
 * inode's lock) was seen blocked in it for good, waiting on a page under
 * writeback. Past the wait the handler answers from the daemon's own view
 * (what the disk holds), as it does when too many flushes are under way.
 *
 * Those threads are the two of a persistent pool (common/bounded.h), not
 * one started per flush: a tree extract asks for a flush per created file,
 * and a thread per flush was a clone3 and a locked 512 KiB stack each
 * (docs/PERFORMANCE.md, issue 17). Nothing else changes: at most two
 * flushes at once, a stuck one included (its slot stays busy until the
 * kernel lets it return); the same 2 s wait; the flush only makes the
 * kernel send WRITEs the daemon serves as any other, so what is durable,
 * and when, is as before. */
#define _GNU_SOURCE
#include "ops.h"

#include "../common/bounded.h"

/* Flushes at once (LFS_BOUNDED_SLOTS, stuck ones included): worker threads
 * stay free to serve the writes the kernel sends meanwhile. */
#define FLUSH_WAIT_MS 2000

static struct lfs_bounded flushers = LFS_BOUNDED_INIT;

struct flush_args {
	struct fuse_session *se;
	fuse_ino_t ino;
	off_t from;
};

static void flush_call(void *arg)
{
	const struct flush_args *a = arg;
	fuse_lowlevel_notify_inval_inode(a->se, a->ino, a->from, 0);
}

void lfs_flush_kernel_pages(struct lfs_fs *fs, fuse_ino_t ino, struct lfs_inode *inode,
                            uint64_t from)
{
	if (!fs->writeback || !fs->se || !S_ISREG(inode->type) || atomic_load(&inode->writers) == 0)
		return;
	struct flush_args a = {.se = fs->se, .ino = ino, .from = (off_t)(from & ~(uint64_t)4095)};
	(void)lfs_bounded_call(&flushers, flush_call, &a, sizeof(a), FLUSH_WAIT_MS);
}
