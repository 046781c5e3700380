/* SPDX-License-Identifier: Apache-2.0 */
/* FUSE requests counted by operation (status: fuse_requests), so that the
 * round trips a workload costs can be read off a running mount instead of
 * a -d log. One relaxed atomic add per request: no lock, no ordering. */
#ifndef LETHEFS_OPCOUNT_H
#define LETHEFS_OPCOUNT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Every request the operation table handles (fs/gate.c). The names are
 * the JSON members and Prometheus labels: kept, never renamed. */
enum lfs_op {
	LFS_OP_INIT,
	LFS_OP_LOOKUP,
	LFS_OP_FORGET,
	LFS_OP_BATCH_FORGET,
	LFS_OP_GETATTR,
	LFS_OP_SETATTR,
	LFS_OP_READLINK,
	LFS_OP_MKNOD,
	LFS_OP_MKDIR,
	LFS_OP_SYMLINK,
	LFS_OP_LINK,
	LFS_OP_UNLINK,
	LFS_OP_RMDIR,
	LFS_OP_RENAME,
	LFS_OP_STATFS,
	LFS_OP_OPENDIR,
	LFS_OP_READDIR,
	LFS_OP_READDIRPLUS,
	LFS_OP_RELEASEDIR,
	LFS_OP_FSYNCDIR,
	LFS_OP_CREATE,
	LFS_OP_OPEN,
	LFS_OP_READ,
	LFS_OP_WRITE,
	LFS_OP_FLUSH,
	LFS_OP_RELEASE,
	LFS_OP_FSYNC,
	LFS_OP_FALLOCATE,
	LFS_OP_LSEEK,
	LFS_OP_SETXATTR,
	LFS_OP_GETXATTR,
	LFS_OP_LISTXATTR,
	LFS_OP_REMOVEXATTR,
	LFS_OP_COUNT
};

struct lfs_op_counters {
	_Atomic uint64_t n[LFS_OP_COUNT];
};

static inline void lfs_op_counted(struct lfs_op_counters *c, enum lfs_op op)
{
	atomic_fetch_add_explicit(&c->n[op], 1, memory_order_relaxed);
}

/* The operation's lower-case name ("lookup", "batch_forget"). */
const char *lfs_op_name(enum lfs_op op);

/* Appends ,"fuse_requests":{"init":N,...} to buf at *used; -1 when it
 * does not fit (buf unchanged beyond *used). */
int lfs_op_counters_json(struct lfs_op_counters *c, char *buf, size_t len, size_t *used);

#endif
