/* SPDX-License-Identifier: Apache-2.0 */
/* Connection set-up and a shared helper. The operation table, with every handler behind the
 * lock gate, is in gate.c. */
#include "ops.h"
#include "attr.h"
#include "filelayout.h"
#include "../common/log.h"

#include <sys/stat.h>

uint64_t lfs_plain_size_of(struct lfs_fs *fs, struct lfs_inode *inode, int fd)
{
	struct stat st;
	struct lfs_layout l;
	uint64_t p = 0;
	if (fstat(fd, &st) == 0 && lfs_inode_layout(fs, inode, fd, &l) == 0)
		lfs_plain_size(&l, (uint64_t)st.st_size, &p);
	return p;
}

void lfs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct lfs_fs *fs = userdata;
	/* The kernel's writeback cache batches small writes into large ones,
	 * which matters here: every write pays for a block seal. */
	if (fs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* (No FUSE_CAP_CACHE_SYMLINKS: a lock drops pages only of the files
	 * opened since their lookup, fs.h LFS_SET_PAGED; cached targets would
	 * need the symlinks too.) */
	/* Locks are left to the kernel (no getlk/setlk/flock handlers), which
	 * gives local-filesystem semantics for this mount. */
	conn->want &= ~(unsigned)(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	/* Every listing with attributes (READDIRPLUS), not only its first
	 * part: in format 2 a regular backing file may hold any type but a
	 * directory (its header says which), so readdir reports DT_UNKNOWN
	 * and every walker (find, du, ls --color, tar, rsync) looks each entry
	 * up after listing it. Entries that come with the listing save that
	 * round trip per file, and their header reads overlap (prefetch.h).
	 * A format-1 vault keeps the kernel's choice: its types are known.
	 * (docs/PERFORMANCE.md, "Tree work at many files".) */
	if ((conn->capable & FUSE_CAP_READDIRPLUS) && lfs_keyring_format(fs->kr) != 1)
		conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	/* Clearing set-user-ID and set-group-ID bits when another user
	 * writes, truncates or chowns a file is left to the kernel, which
	 * then sends it as a mode change: the daemon writes as root, so the
	 * backing filesystem would never clear them itself. For the same
	 * reason open(O_TRUNC) is sent as open then truncate: with atomic
	 * O_TRUNC the kernel skips the mode change it sends with a truncation. */
	conn->want &= ~(unsigned)(FUSE_CAP_HANDLE_KILLPRIV | FUSE_CAP_ATOMIC_O_TRUNC);
	/* POSIX ACLs, enforced and cached by the kernel. It then leaves the
	 * umask to the filesystem (DONT_MASK), since a parent's default ACL
	 * replaces it (fs/ops_acl.c). */
	if (fs->acl && (conn->capable & FUSE_CAP_POSIX_ACL) && (conn->capable & FUSE_CAP_DONT_MASK))
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
	else
		fs->acl = false;
	if (fs->max_write)
		conn->max_write = fs->max_write;
	lfs_debug("connection: max_write %u, max_readahead %u, writeback %s", conn->max_write,
	          conn->max_readahead, (conn->want & FUSE_CAP_WRITEBACK_CACHE) ? "on" : "off");
}
