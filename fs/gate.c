/* SPDX-License-Identifier: Apache-2.0 */
/* The gate: every FUSE request passes here before its handler.
 *
 * Unlocked, everything passes. Locked, every operation fails with EACCES
 * except stat of the mount root and statfs (which reveal only what the
 * backing directory shows anyway), so that boot-time tools and df keep
 * working on a locked mount. Handles opened before a lock stay revoked
 * forever: using one fails with EIO, even after a new unlock, because the
 * program holding it was cut off mid-use and must notice.
 *
 * Releases and forgets always pass: they free memory and descriptors. */
#include "gate.h"
#include "ops.h"
#include "dirnames.h"
#include "sharedwb.h"

#include <errno.h>
#include <time.h>
#include <sodium.h>

/* Key material passes through the stack of every handler that encrypts
 * or decrypts (libsodium's hash finalisation leaves its output buffer
 * behind, for one). A handler's stack frames are wiped when it returns,
 * so that a lock leaves no derived key in an idle worker's stack.
 *
 * The wipe starts where the handler's first frame began (both are called
 * from the same wrapper below) and must reach past its deepest frame. No
 * function has a frame over 16 KiB (buffers that large are on the heap),
 * and gcc's numbers (-fstack-usage, -fcallgraph-info) give the deepest
 * chain of handler frames: about 20 KiB (a write that extends a file,
 * rewriting a block, meeting a corrupt one and logging it; a getxattr
 * needed 66 KiB before its 64 KiB buffer moved to the heap). 32 KiB
 * leaves 12 KiB for libc's and libsodium's frames, which the compiler does
 * not see; scripts/stack-depth.py (make stack, run by make test) redoes
 * this sum at every build and fails when it no longer holds. */
#define HANDLER_STACK_WIPE (32 * 1024)

static void wipe_stack(void)
{
	sodium_stackzero(HANDLER_STACK_WIPE);
}

static int64_t now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t lfs_fs_idle_seconds(struct lfs_fs *fs)
{
	return now_seconds() - atomic_load_explicit(&fs->last_active, memory_order_relaxed);
}

void lfs_fs_touch(struct lfs_fs *fs)
{
	atomic_store(&fs->last_active, now_seconds());
}

static void touch(struct lfs_fs *fs)
{
	int64_t now = now_seconds();
	/* One store per second at most: this runs on every request. */
	if (atomic_load_explicit(&fs->last_active, memory_order_relaxed) != now)
		atomic_store_explicit(&fs->last_active, now, memory_order_relaxed);
}

static void count(fuse_req_t req, enum lfs_op op)
{
	lfs_op_counted(&lfs_req_fs(req)->requests, op);
}

/* Operations that reach names, contents or keys without a handle. */
static bool refuse(fuse_req_t req)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	touch(fs);
	if (atomic_load(&fs->access) == LFS_ACCESS_UNLOCKED)
		return false;
	fuse_reply_err(req, EACCES);
	return true;
}

/* Operations on attributes, which the kernel also sends while flushing
 * dirty pages during a lock. */
static bool refuse_attr(fuse_req_t req)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	touch(fs);
	if (atomic_load(&fs->access) != LFS_ACCESS_LOCKED)
		return false;
	fuse_reply_err(req, EACCES);
	return true;
}

/* Operations through an open handle. */
static bool refuse_handle(fuse_req_t req, struct fuse_file_info *fi)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	touch(fs);
	const struct lfs_fh_base *h = (const struct lfs_fh_base *)(uintptr_t)fi->fh;
	if (h->lock_gen != atomic_load(&fs->lock_gen)) {
		fuse_reply_err(req, EIO);
		return true;
	}
	/* Opened below a staging directory that has been shredded since. */
	if (h->stage_id && atomic_load(&fs->access) == LFS_ACCESS_UNLOCKED &&
	    !lfs_keyring_has(fs->kr, h->stage_id)) {
		fuse_reply_err(req, EIO);
		return true;
	}
	if (atomic_load(&fs->access) != LFS_ACCESS_LOCKED)
		return false;
	fuse_reply_err(req, EACCES);
	return true;
}

/* Name operations on a directory hold its io_lock shared (unused
 * otherwise for directories) so that a rotation converting the directory's
 * names (rotation/redir.c, exclusive) never runs beside a lookup or a create
 * computing names under the old epoch; in shared mode, while a rotation
 * runs, also its cross-host name lock (another host may be the walker). */
struct names_hold {
	struct lfs_fs *fs;
	struct lfs_inode *in;
	int lockfd;
};

/* The directory is referenced for the hold's length: once the handler has
 * replied, the kernel may forget it (an rm -rf: OPENDIR answered, the
 * directory listed, closed and removed, its FORGET handled on another
 * thread) before this thread unlocks it. Without the reference that
 * unlock touched a freed inode (03-tools.bats, a daemon crash in
 * pthread_rwlock_unlock found under load). */
static struct names_hold names_lock(fuse_req_t req, fuse_ino_t dir)
{
	struct names_hold h = {lfs_req_fs(req), lfs_inode_of(req, dir), -1};
	lfs_inode_ref(h.fs, h.in);
	pthread_rwlock_rdlock(&h.in->io_lock);
	h.lockfd = lfs_dir_name_lock(h.fs, h.in);
	return h;
}

/* Takes the hold, not the request: the handler has replied (and freed
 * the request) by then. */
static void names_unlock(struct names_hold h)
{
	lfs_dir_name_unlock(h.lockfd);
	pthread_rwlock_unlock(&h.in->io_lock);
	lfs_inode_release(h.fs, h.in);
}

/* Requests on a format-1 symlink or special file hold its io_lock shared
 * (unused otherwise for them): a rotation that replaces its backing object
 * (a new one renamed over its name) takes it exclusively, so that no
 * request meets the object between that rename and the inode's moving
 * onto the new object (fs/inode_repoint.c). Referenced for the hold's
 * length, as names_lock does. Format-2 objects are converted in place,
 * under the io_lock that their own reads take. NULL: nothing held. */
static struct lfs_inode *node_lock(fuse_req_t req, fuse_ino_t ino)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *in = lfs_inode_of(req, ino);
	if (in == &fs->root || in->type == S_IFREG || in->type == S_IFDIR)
		return NULL;
	pthread_mutex_lock(&in->meta_lock);
	bool v1 = in->fmt == 1;
	pthread_mutex_unlock(&in->meta_lock);
	if (!v1)
		return NULL;
	lfs_inode_ref(fs, in);
	pthread_rwlock_rdlock(&in->io_lock);
	return in;
}

static void node_unlock(struct lfs_fs *fs, struct lfs_inode *in)
{
	if (!in)
		return;
	pthread_rwlock_unlock(&in->io_lock);
	lfs_inode_release(fs, in);
}

/* Shared mounts: what reads or depends on a file's content or size waits
 * for its queued writes first (fs/sharedwb.h). Name changes wait for every
 * queue while any is busy (the renamed or removed file may be one). */
static void settle(fuse_req_t req, fuse_ino_t ino)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	if (fs->shared_wb && ino != FUSE_ROOT_ID)
		lfs_swb_wait(lfs_inode_of(req, ino));
}

static void settle_names(fuse_req_t req)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	if (fs->shared_wb && lfs_swb_busy(fs))
		lfs_swb_drain_all(fs);
}

static void g_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count(req, LFS_OP_LOOKUP);
	if (!refuse(req)) {
		struct names_hold dir = names_lock(req, parent);
		lfs_op_lookup(req, parent, name);
		names_unlock(dir);
	}
	wipe_stack();
}

static void g_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count(req, LFS_OP_GETATTR);
	settle(req, ino);
	if (fi && fi->fh ? refuse_handle(req, fi) : ino != FUSE_ROOT_ID && refuse_attr(req))
		return;
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *node = node_lock(req, ino);
	lfs_op_getattr(req, ino, fi);
	node_unlock(fs, node);
	wipe_stack();
}

static void g_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
                      struct fuse_file_info *fi)
{
	count(req, LFS_OP_SETATTR);
	settle(req, ino);
	if (!(fi && fi->fh ? refuse_handle(req, fi) : refuse_attr(req))) {
		struct lfs_fs *fs = lfs_req_fs(req);
		struct lfs_inode *node = node_lock(req, ino);
		lfs_op_setattr(req, ino, attr, valid, fi);
		node_unlock(fs, node);
	}
	wipe_stack();
}

static void g_readlink(fuse_req_t req, fuse_ino_t ino)
{
	count(req, LFS_OP_READLINK);
	if (!refuse(req)) {
		struct lfs_fs *fs = lfs_req_fs(req);
		struct lfs_inode *node = node_lock(req, ino);
		lfs_op_readlink(req, ino);
		node_unlock(fs, node);
	}
	wipe_stack();
}

static void g_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	count(req, LFS_OP_MKNOD);
	if (!refuse(req)) {
		struct names_hold dir = names_lock(req, parent);
		lfs_op_mknod(req, parent, name, mode, rdev);
		names_unlock(dir);
	}
	wipe_stack();
}

static void g_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	count(req, LFS_OP_MKDIR);
	if (!refuse(req)) {
		struct names_hold dir = names_lock(req, parent);
		lfs_op_mkdir(req, parent, name, mode);
		names_unlock(dir);
	}
	wipe_stack();
}

static void g_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	count(req, LFS_OP_SYMLINK);
	if (!refuse(req)) {
		struct names_hold dir = names_lock(req, parent);
		lfs_op_symlink(req, link, parent, name);
		names_unlock(dir);
	}
	wipe_stack();
}

static void g_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	count(req, LFS_OP_LINK);
	settle(req, ino);
	if (!refuse(req)) {
		struct names_hold dir = names_lock(req, parent);
		struct lfs_inode *node = node_lock(req, ino);
		lfs_op_link(req, ino, parent, name);
		node_unlock(dir.fs, node);
		names_unlock(dir);
	}
	wipe_stack();
}

static void g_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count(req, LFS_OP_UNLINK);
	settle_names(req);
	if (!refuse(req)) {
		struct names_hold dir = names_lock(req, parent);
		lfs_op_unlink(req, parent, name);
		names_unlock(dir);
	}
	wipe_stack();
}

static void g_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	count(req, LFS_OP_RMDIR);
	if (!refuse(req)) {
		struct names_hold dir = names_lock(req, parent);
		lfs_op_rmdir(req, parent, name);
		names_unlock(dir);
	}
	wipe_stack();
}

static void g_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                     const char *newname, unsigned int flags)
{
	count(req, LFS_OP_RENAME);
	settle_names(req);
	if (!refuse(req)) {
		struct names_hold a = names_lock(req, parent);
		struct names_hold b = {NULL, NULL, -1};
		if (newparent != parent)
			b = names_lock(req, newparent);
		lfs_op_rename(req, parent, name, newparent, newname, flags);
		if (b.in)
			names_unlock(b);
		names_unlock(a);
	}
	wipe_stack();
}

static void g_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count(req, LFS_OP_OPENDIR);
	if (!refuse(req)) {
		struct names_hold dir = names_lock(req, ino);
		lfs_op_opendir(req, ino, fi);
		names_unlock(dir);
	}
	wipe_stack();
}

static void g_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                      struct fuse_file_info *fi)
{
	count(req, LFS_OP_READDIR);
	if (!refuse_handle(req, fi)) {
		struct names_hold dir = names_lock(req, ino);
		lfs_op_readdir(req, ino, size, off, fi);
		names_unlock(dir);
	}
	wipe_stack();
}

static void g_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                          struct fuse_file_info *fi)
{
	count(req, LFS_OP_READDIRPLUS);
	if (!refuse_handle(req, fi)) {
		struct names_hold dir = names_lock(req, ino);
		lfs_op_readdirplus(req, ino, size, off, fi);
		names_unlock(dir);
	}
	wipe_stack();
}

static void g_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	count(req, LFS_OP_FSYNCDIR);
	if (!refuse_handle(req, fi))
		lfs_op_fsyncdir(req, ino, datasync, fi);
	wipe_stack();
}

static void g_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                     struct fuse_file_info *fi)
{
	count(req, LFS_OP_CREATE);
	if (!refuse(req)) {
		struct names_hold dir = names_lock(req, parent);
		lfs_op_create(req, parent, name, mode, fi);
		names_unlock(dir);
	}
	wipe_stack();
}

static void g_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count(req, LFS_OP_OPEN);
	settle(req, ino);
	if (!refuse(req))
		lfs_op_open(req, ino, fi);
	wipe_stack();
}

static void g_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
	count(req, LFS_OP_READ);
	settle(req, ino);
	if (!refuse_handle(req, fi))
		lfs_op_read(req, ino, size, off, fi);
	wipe_stack();
}

static void g_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	count(req, LFS_OP_WRITE);
	if (!refuse_handle(req, fi))
		lfs_op_write(req, ino, buf, size, off, fi);
	wipe_stack();
}

static void g_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count(req, LFS_OP_FLUSH);
	if (!refuse_handle(req, fi))
		lfs_op_flush(req, ino, fi);
	wipe_stack();
}

static void g_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	count(req, LFS_OP_FSYNC);
	if (!refuse_handle(req, fi))
		lfs_op_fsync(req, ino, datasync, fi);
	wipe_stack();
}

static void g_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                        struct fuse_file_info *fi)
{
	count(req, LFS_OP_FALLOCATE);
	settle(req, ino);
	if (!refuse_handle(req, fi))
		lfs_op_fallocate(req, ino, mode, offset, length, fi);
	wipe_stack();
}

static void g_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
                    struct fuse_file_info *fi)
{
	count(req, LFS_OP_LSEEK);
	settle(req, ino);
	if (!refuse_handle(req, fi))
		lfs_op_lseek(req, ino, off, whence, fi);
	wipe_stack();
}

static void g_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                       size_t size, int flags)
{
	count(req, LFS_OP_SETXATTR);
	if (!refuse(req)) {
		struct lfs_fs *fs = lfs_req_fs(req);
		struct lfs_inode *node = node_lock(req, ino);
		lfs_op_setxattr(req, ino, name, value, size, flags);
		node_unlock(fs, node);
	}
	wipe_stack();
}

static void g_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	count(req, LFS_OP_GETXATTR);
	if (!refuse(req)) {
		struct lfs_fs *fs = lfs_req_fs(req);
		struct lfs_inode *node = node_lock(req, ino);
		lfs_op_getxattr(req, ino, name, size);
		node_unlock(fs, node);
	}
	wipe_stack();
}

static void g_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	count(req, LFS_OP_LISTXATTR);
	if (!refuse(req)) {
		struct lfs_fs *fs = lfs_req_fs(req);
		struct lfs_inode *node = node_lock(req, ino);
		lfs_op_listxattr(req, ino, size);
		node_unlock(fs, node);
	}
	wipe_stack();
}

static void g_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	count(req, LFS_OP_REMOVEXATTR);
	if (!refuse(req)) {
		struct lfs_fs *fs = lfs_req_fs(req);
		struct lfs_inode *node = node_lock(req, ino);
		lfs_op_removexattr(req, ino, name);
		node_unlock(fs, node);
	}
	wipe_stack();
}

/* Not gated, only counted: connection set-up, and what frees memory and
 * descriptors or reveals only what df shows. */
static void c_init(void *userdata, struct fuse_conn_info *conn)
{
	lfs_op_counted(&((struct lfs_fs *)userdata)->requests, LFS_OP_INIT);
	lfs_op_init(userdata, conn);
}

static void c_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	count(req, LFS_OP_FORGET);
	lfs_op_forget(req, ino, nlookup);
}

static void c_forget_multi(fuse_req_t req, size_t n, struct fuse_forget_data *forgets)
{
	count(req, LFS_OP_BATCH_FORGET);
	lfs_op_forget_multi(req, n, forgets);
}

static void c_statfs(fuse_req_t req, fuse_ino_t ino)
{
	count(req, LFS_OP_STATFS);
	lfs_op_statfs(req, ino);
}

static void c_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count(req, LFS_OP_RELEASEDIR);
	lfs_op_releasedir(req, ino, fi);
}

static void c_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count(req, LFS_OP_RELEASE);
	lfs_op_release(req, ino, fi);
}

const struct fuse_lowlevel_ops lfs_gated_ops = {
    .init = c_init,
    .lookup = g_lookup,
    .forget = c_forget,
    .forget_multi = c_forget_multi,
    .getattr = g_getattr,
    .setattr = g_setattr,
    .readlink = g_readlink,
    .mknod = g_mknod,
    .mkdir = g_mkdir,
    .symlink = g_symlink,
    .link = g_link,
    .unlink = g_unlink,
    .rmdir = g_rmdir,
    .rename = g_rename,
    .statfs = c_statfs,
    .opendir = g_opendir,
    .readdir = g_readdir,
    .readdirplus = g_readdirplus,
    .releasedir = c_releasedir,
    .fsyncdir = g_fsyncdir,
    .create = g_create,
    .open = g_open,
    .read = g_read,
    .write = g_write,
    .flush = g_flush,
    .release = c_release,
    .fsync = g_fsync,
    .fallocate = g_fallocate,
    .lseek = g_lseek,
    .setxattr = g_setxattr,
    .getxattr = g_getxattr,
    .listxattr = g_listxattr,
    .removexattr = g_removexattr,
};
