/* SPDX-License-Identifier: Apache-2.0 */
#include "opcount.h"

#include <stdio.h>

static const char *const names[LFS_OP_COUNT] = {
    [LFS_OP_INIT] = "init",
    [LFS_OP_LOOKUP] = "lookup",
    [LFS_OP_FORGET] = "forget",
    [LFS_OP_BATCH_FORGET] = "batch_forget",
    [LFS_OP_GETATTR] = "getattr",
    [LFS_OP_SETATTR] = "setattr",
    [LFS_OP_READLINK] = "readlink",
    [LFS_OP_MKNOD] = "mknod",
    [LFS_OP_MKDIR] = "mkdir",
    [LFS_OP_SYMLINK] = "symlink",
    [LFS_OP_LINK] = "link",
    [LFS_OP_UNLINK] = "unlink",
    [LFS_OP_RMDIR] = "rmdir",
    [LFS_OP_RENAME] = "rename",
    [LFS_OP_STATFS] = "statfs",
    [LFS_OP_OPENDIR] = "opendir",
    [LFS_OP_READDIR] = "readdir",
    [LFS_OP_READDIRPLUS] = "readdirplus",
    [LFS_OP_RELEASEDIR] = "releasedir",
    [LFS_OP_FSYNCDIR] = "fsyncdir",
    [LFS_OP_CREATE] = "create",
    [LFS_OP_OPEN] = "open",
    [LFS_OP_READ] = "read",
    [LFS_OP_WRITE] = "write",
    [LFS_OP_FLUSH] = "flush",
    [LFS_OP_RELEASE] = "release",
    [LFS_OP_FSYNC] = "fsync",
    [LFS_OP_FALLOCATE] = "fallocate",
    [LFS_OP_LSEEK] = "lseek",
    [LFS_OP_SETXATTR] = "setxattr",
    [LFS_OP_GETXATTR] = "getxattr",
    [LFS_OP_LISTXATTR] = "listxattr",
    [LFS_OP_REMOVEXATTR] = "removexattr",
};

const char *lfs_op_name(enum lfs_op op)
{
	return (unsigned)op < LFS_OP_COUNT ? names[op] : "unknown";
}

int lfs_op_counters_json(struct lfs_op_counters *c, char *buf, size_t len, size_t *used)
{
	size_t u = *used;
	for (int op = 0; op < LFS_OP_COUNT; op++) {
		unsigned long long v = atomic_load_explicit(&c->n[op], memory_order_relaxed);
		int n = snprintf(buf + u, len - u, "%s\"%s\":%llu",
		                 op ? "," : ",\"fuse_requests\":{", names[op], v);
		if (n < 0 || (size_t)n >= len - u)
			return -1;
		u += (size_t)n;
	}
	if (len - u < 2)
		return -1;
	buf[u++] = '}';
	buf[u] = '\0';
	*used = u;
	return 0;
}
