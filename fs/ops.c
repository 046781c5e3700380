/* The operation table and connection set-up. */
#include "ops.h"
#include "../common/log.h"

void lfs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct lfs_fs *fs = userdata;
	/* The kernel's writeback cache batches small writes into large ones,
	 * which matters here: every write pays for a block seal. */
	if (fs->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* Locks are left to the kernel (no getlk/setlk/flock handlers), which
	 * gives local-filesystem semantics for this mount. */
	conn->want &= ~(unsigned)(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	if (fs->max_write)
		conn->max_write = fs->max_write;
	lfs_debug("connection: max_write %u, max_readahead %u, writeback %s", conn->max_write,
		  conn->max_readahead, (conn->want & FUSE_CAP_WRITEBACK_CACHE) ? "on" : "off");
}

const struct fuse_lowlevel_ops lfs_fuse_ops = {
	.init = lfs_op_init,
	.lookup = lfs_op_lookup,
	.forget = lfs_op_forget,
	.forget_multi = lfs_op_forget_multi,
	.getattr = lfs_op_getattr,
	.setattr = lfs_op_setattr,
	.readlink = lfs_op_readlink,
	.mknod = lfs_op_mknod,
	.mkdir = lfs_op_mkdir,
	.symlink = lfs_op_symlink,
	.link = lfs_op_link,
	.unlink = lfs_op_unlink,
	.rmdir = lfs_op_rmdir,
	.rename = lfs_op_rename,
	.statfs = lfs_op_statfs,
	.opendir = lfs_op_opendir,
	.readdir = lfs_op_readdir,
	.readdirplus = lfs_op_readdirplus,
	.releasedir = lfs_op_releasedir,
	.fsyncdir = lfs_op_fsyncdir,
	.create = lfs_op_create,
	.open = lfs_op_open,
	.read = lfs_op_read,
	.write = lfs_op_write,
	.flush = lfs_op_flush,
	.release = lfs_op_release,
	.fsync = lfs_op_fsync,
	.fallocate = lfs_op_fallocate,
	.setxattr = lfs_op_setxattr,
	.getxattr = lfs_op_getxattr,
	.listxattr = lfs_op_listxattr,
	.removexattr = lfs_op_removexattr,
};
