/* SPDX-License-Identifier: Apache-2.0 */
/* Open files: create, open, read, write, sync, allocate. Contents go
 * through fs/fileio.h; this file only adapts it to FUSE. */
#define _GNU_SOURCE
#include "ops.h"
#include "../cluster/backing.h"
#include "../journal/journal.h"
#include "attr.h"
#include "directread.h"
#include "durable.h"
#include "dirnames.h"
#include "fileio.h"
#include "holes.h"
#include "rawio.h"
#include "sharedwb.h"
#include "stage_hooks.h"
#include "writebehind.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <sodium.h>

/* Flags that describe the plaintext view only: the backing file is always
 * read-write (partial blocks need reading), never appending (block offsets
 * differ from plaintext offsets), and truncation is done by fileio. O_DIRECT
 * is the kernel's business on the plaintext side (it bypasses its page cache
 * for that handle and keeps the cache coherent around each direct request);
 * on the backing side headers and sealed blocks sit at offsets and lengths
 * that no O_DIRECT alignment rule allows, and the kernel may write other
 * handles' dirty pages through this descriptor. See docs/DESIGN.md. */
#define VIEW_ONLY_FLAGS (O_ACCMODE | O_APPEND | O_TRUNC | O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT)

/* flags may carry O_NOFOLLOW: set for names in a backing directory, not for
 * /proc/self/fd links (which must be followed). */
static int open_backing(int dirfd, const char *name, int flags, mode_t mode)
{
	int base = (flags & ~VIEW_ONLY_FLAGS) | O_CLOEXEC;
	int fd = openat(dirfd, name, base | O_RDWR | (flags & (O_CREAT | O_EXCL)), mode);
	/* A read-only plaintext open of a file the daemon may not write (a
	 * non-root daemon on a 0444 file, or a vault on read-only storage
	 * mounted with -o ro) can still be served. */
	if (fd < 0 && (errno == EACCES || errno == EROFS) && (flags & O_ACCMODE) == O_RDONLY)
		fd = openat(dirfd, name, base | O_RDONLY, mode);
	return fd < 0 ? -errno : fd;
}

/* The open flags that change what the backing file does and that only an
 * open can set: durability and access times. (Not the others the kernel
 * passes: its O_LARGEFILE, whose value glibc calls 0 on 64-bit systems,
 * was in every create and made each one reopen its file, a round trip on a
 * network engine; O_NONBLOCK, which GNU tar gives every file it extracts,
 * changes nothing for a regular file.) */
#define BACKING_OPEN_FLAGS (O_SYNC | O_DSYNC | O_NOATIME)

/* A new format-2 file's descriptor with the open flags that matter to the
 * backing file (BACKING_OPEN_FLAGS): then reopened. Returns 0 or a
 * negative errno (*fd kept). */
static int reopen_with_flags(int *fd, int flags)
{
	int extra = flags & BACKING_OPEN_FLAGS;
	if (!extra)
		return 0;
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(*fd, proc);
	int nfd = open_backing(AT_FDCWD, proc, flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL), 0);
	if (nfd < 0)
		return nfd;
	close(*fd);
	*fd = nfd;
	return 0;
}

static int new_handle(struct lfs_fs *fs, struct lfs_inode *inode, struct fuse_file_info *fi, int fd)
{
	struct lfs_handle *h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->base.lock_gen = atomic_load(&fs->lock_gen);
	h->base.stage_id = inode->stage_id;
	/* Below a staging directory with a quota, writes go straight to the
	 * daemon so that EDQUOT reaches write(2) instead of a later close. */
	if (inode->stage_id && fs->stage && fs->stage->has_quota(fs->stage->ctx, inode->stage_id))
		fi->direct_io = 1;
	h->fd = fd;
	/* Other hosts' writers (-o shared) and network backings keep the
	 * backing cache's semantics: direct reads only on local disks. */
	atomic_init(&h->direct_fd, !fs->shared && lfs_backing_direct_reads(fs->backing)
	                               ? LFS_DIRECT_NONE
	                               : LFS_DIRECT_OFF);
	h->writer = (fi->flags & O_ACCMODE) != O_RDONLY;
	atomic_init(&h->wb_next, 0);
	h->writebehind = h->writer && !fs->shared && lfs_backing_direct_reads(fs->backing);
	/* Shared mounts queue writes (fs/sharedwb.h), except through handles
	 * whose writes must be durable or uncached when write(2) returns. */
	h->queued = h->writer && fs->shared_wb && !(fi->flags & (O_SYNC | O_DSYNC | O_DIRECT));
	h->wb_seen = fs->shared_wb ? lfs_swb_open_seen(inode) : 0;
	h->sync_writes = (fi->flags & (O_SYNC | O_DSYNC)) != 0;
	h->direct_io = fi->direct_io;
	if (h->writer) {
		atomic_fetch_add(&inode->writers, 1);
		pthread_mutex_lock(&inode->meta_lock);
		if (inode->wfd < 0)
			inode->wfd = fd; /* (read-write: open_backing) */
		pthread_mutex_unlock(&inode->meta_lock);
	}
	atomic_fetch_add(&fs->open_files, 1);
	/* From now on the kernel may cache its pages: a lock drops them. */
	lfs_inode_note_open(fs, inode);
	fi->fh = (uintptr_t)h;
	/* Only this daemon changes the backing files, so cached pages stay
	 * valid across opens; unless other hosts write them too (-o shared):
	 * then close-to-open, the pages dropped at each open. (Anything that
	 * removes keys from a live mount must also drop the kernel's cached
	 * pages.) */
	fi->keep_cache = !fs->shared;
	return 0;
}

void lfs_op_create(fuse_req_t req, fuse_ino_t parent_ino, const char *name, mode_t mode,
                   struct fuse_file_info *fi)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *parent = lfs_inode_of(req, parent_ino);
	struct lfs_bname b;
	struct fuse_entry_param e;
	struct lfs_made made = {.fd = -1};
	int fd = -1;
	bool created = false, have_entry = false;
	int pfd = lfs_inode_pin(fs, parent);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	int r = lfs_bname_for_new(fs, parent, pfd, name, &b);
	/* Only staging directories in staging_root: a file there would have
	 * no TTL. An existing one may still be opened. */
	if (r == 0 && lfs_stage_hook_in_root(fs, req, parent, pfd) &&
	    faccessat(pfd, b.name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		r = -EPERM;
	int v2 = r == 0 ? lfs_attr_new_format2(fs, parent->stage_id) : 0;
	if (v2 < 0)
		r = v2;
	if (r == 0 && v2) {
		/* Format 2: built whole with its record (ops_make2.c). */
		r = lfs_make2(req, parent, pfd, b.name, S_IFREG | (mode & 07777), 0, NULL, &made);
		created = r == 0;
		if (r == 0) {
			/* The entry from what was made (before a reopen closes
			 * its descriptor): no lookup, no header read. */
			fd = made.fd;
			r = lfs_made_entry(fs, parent, b.name, &made, &e);
			have_entry = r == 0;
		}
		if (r == 0)
			r = reopen_with_flags(&fd, fi->flags);
		else if (r == -EEXIST && !(fi->flags & O_EXCL))
			r = open_backing(pfd, b.name, fi->flags | O_NOFOLLOW, mode);
		if (r > 0) {
			fd = r;
			r = 0;
		}
	} else if (r == 0) {
		/* Exclusive first, so that we know whether we made the file (and
		 * must remove it if the create fails later). */
		r = open_backing(pfd, b.name, fi->flags | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
		created = r >= 0;
		if (r == -EEXIST && !(fi->flags & O_EXCL))
			r = open_backing(pfd, b.name, fi->flags | O_NOFOLLOW, mode);
		if (r >= 0) {
			fd = r;
			r = 0;
			if (created)
				r = lfs_new_object(req, parent, pfd, b.name, S_IFREG | mode);
		}
	}
	if (r == 0 && !have_entry) {
		r = lfs_lookup_backing(fs, parent, pfd, b.name, &e);
		have_entry = r == 0;
	}
	struct lfs_inode *inode = have_entry ? lfs_inode_of(req, e.ino) : NULL;
	int ifd = inode ? lfs_inode_pin(fs, inode) : -1; /* held while open */
	if (r == 0 && ifd < 0)
		r = ifd;
	if (r == 0 && (fi->flags & O_TRUNC))
		r = lfs_fileio_truncate(fs, inode, fd, 0);
	if (r == 0)
		r = new_handle(fs, inode, fi, fd);
	if (r == 0)
		e.attr_timeout = lfs_attr_live(fs, inode, &e.attr);
	if (r < 0) {
		/* Do not leave behind a file the caller was told was not
		 * created. */
		if (fd >= 0)
			close(fd);
		if (created && fd >= 0) {
			unlinkat(pfd, b.name, 0);
			lfs_bname_drop_sidecar(pfd, &b);
		}
		if (ifd >= 0)
			lfs_inode_unpin(fs, inode);
		if (inode)
			lfs_inode_forget(fs, inode, 1);
		lfs_inode_unpin(fs, parent);
		fuse_reply_err(req, -r);
		return;
	}
	lfs_inode_unpin(fs, parent);
	fuse_reply_create(req, &e, fi);
}

void lfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	char proc[LFS_PROC_PATH_MAX];
	int ifd = lfs_inode_pin(fs, inode); /* held while the file is open */
	if (ifd < 0) {
		fuse_reply_err(req, -ifd);
		return;
	}
	lfs_proc_path(ifd, proc);
	/* Contents are served only when an inode attribute the lookup read is
	 * this file's (FORMAT.md 14.9): exec and reads included. */
	int r = lfs_attr_bind(fs, inode, ifd);
	int fd = r < 0 ? r : open_backing(AT_FDCWD, proc, fi->flags & ~O_NOFOLLOW, 0);
	if (r == 0)
		r = fd < 0 ? fd : 0;
	/* Opening needs no key, but serving plaintext does: refuse early when
	 * locked so that the error comes at open, not at first read. */
	const struct lfs_epoch_keys *k;
	if (r == 0 && (r = lfs_keyring_get(fs->kr, inode->stage_id, &k)) == 0)
		lfs_keyring_put(fs->kr);
	uint64_t before = r == 0 && (fi->flags & O_TRUNC) ? lfs_plain_size_of(fs, inode, fd) : 0;
	if (r == 0 && (fi->flags & O_TRUNC))
		r = lfs_fileio_truncate(fs, inode, fd, 0);
	if (r == 0 && before)
		lfs_stage_hook_charge(fs, inode, -(int64_t)before);
	if (r == 0)
		r = new_handle(fs, inode, fi, fd);
	/* Attributes the kernel cached before this writer came stay valid
	 * for up to attr_timeout: drop them (see lfs_attr_timeout). */
	if (r == 0 && fs->writeback && fs->se && lfs_handle_of(fi)->writer)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		lfs_inode_unpin(fs, inode);
		fuse_reply_err(req, -r);
		return;
	}
	fuse_reply_open(req, fi);
}

/* The handle's direct descriptor for a read of size bytes, or -1: small
 * reads, and handles on a backing without direct I/O, use the cache. */
static int direct_fd_for(struct lfs_handle *h, size_t size)
{
	if (size < LFS_DIRECT_READ_MIN)
		return -1;
	int dfd = atomic_load(&h->direct_fd);
	if (dfd != LFS_DIRECT_NONE)
		return dfd; /* open, or LFS_DIRECT_OFF */
	int n = lfs_direct_reopen(h->fd);
	int expected = LFS_DIRECT_NONE;
	if (atomic_compare_exchange_strong(&h->direct_fd, &expected, n >= 0 ? n : LFS_DIRECT_OFF))
		return n >= 0 ? n : -1;
	/* Another reader of this handle got there first. */
	if (n >= 0)
		close(n);
	return expected >= 0 ? expected : -1;
}

void lfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct lfs_handle *h = lfs_handle_of(fi);
	ssize_t n = lfs_fileio_read_direct(lfs_req_fs(req), lfs_inode_of(req, ino), h->fd,
	                                   direct_fd_for(h, size), buf, size, (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	sodium_memzero(buf, (size_t)(n > 0 ? n : 0));
	free(buf);
}

/* An fsync's work once the queued writes are settled: the backing file
 * synced, then what the journal must make durable. A positive errno or 0. */
static int sync_file(struct lfs_fs *fs, struct lfs_inode *inode, int fd, bool datasync)
{
	int r = datasync ? fdatasync(fd) : fsync(fd);
	/* A failed sync of the durable path and one of this fsync make one
	 * error, reported once. */
	int err = r < 0 ? errno : 0, derr = lfs_durable_take_error(inode);
	if (err == 0)
		err = derr;
	/* A finished update's record that may still be on disk must not
	 * outlive this fsync: a power loss after a later torn rewrite would
	 * let recovery undo the update, fsync'd bytes and all. */
	if (err == 0 && fs->journal && (r = lfs_journal_settle(fs->journal)) < 0)
		err = -r;
	if (err == 0)
		lfs_durable_all(inode);
	return err;
}

void lfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                  struct fuse_file_info *fi)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	int fd = lfs_handle_of(fi)->fd;
	int64_t growth = 0;
	/* A writer without CAP_FSETID on a set-id file (rawio.h): the bits go
	 * before the data changes, as the kernel orders it on ext4. */
	if (lfs_rawio_kill_suidgid()) {
		int k = lfs_kill_suidgid(req, inode, false);
		if (k < 0) {
			fuse_reply_err(req, -k);
			return;
		}
		if (k > 0 && fs->se) /* only then: a write or fallocate must not cost a GETATTR */
			fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	}
	uint64_t cur = 0, end = (uint64_t)off + size;
	/* A staging quota is charged before the write (to refuse it); else
	 * the write itself tells the size it found, without a stat here.
	 * What is queued counts as written. */
	if (inode->stage_id) {
		/* The queue's end before the size: a worker ending between
		 * them would leave a size from before its writes and no end
		 * (charged twice). A write not queued lands after the queue. */
		uint64_t queued = fs->shared_wb ? lfs_swb_queued_end(inode) : 0;
		cur = lfs_plain_size_of(fs, inode, fd);
		if (queued > cur)
			cur = queued;
		growth = end > cur ? (int64_t)(end - cur) : 0;
		int r = lfs_stage_hook_charge(fs, inode, growth);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
	}
	/* fi->flags: the write's own, O_DSYNC for an RWF_DSYNC write too. */
	bool sync_now = lfs_handle_of(fi)->direct_io && (fi->flags & (O_SYNC | O_DSYNC));
	ssize_t n = 1;
	if (lfs_handle_of(fi)->queued && !sync_now) {
		n = lfs_swb_write(fs, inode, &lfs_handle_of(fi)->wb_seen, fd, buf, size,
		                  (uint64_t)off, growth);
		if (n == 0) {
			fuse_reply_write(req, size);
			return;
		}
	} else if (fs->shared_wb) {
		/* After what other handles queued, and failing as they did. */
		n = lfs_swb_settle(inode, &lfs_handle_of(fi)->wb_seen, false);
		n = n < 0 ? n : 1;
	}
	/* (A refused write's charge goes back once, below.) */
	uint64_t found = 0;
	if (n > 0)
		n = lfs_fileio_write_sized(fs, inode, fd, buf, size, (uint64_t)off, &found);
	if (!inode->stage_id)
		cur = found;
	if (n < 0)
		lfs_stage_hook_charge(fs, inode, -growth);
	if (n > 0 && sync_now) {
		int e = sync_file(fs, inode, fd, (fi->flags & O_SYNC) != O_SYNC);
		n = e ? -e : n;
	}
	if (n > 0 && lfs_handle_of(fi)->sync_writes)
		lfs_durable_all(inode);
	if (n > 0 && lfs_handle_of(fi)->writebehind)
		lfs_writebehind(fd, &lfs_handle_of(fi)->wb_next, (uint64_t)off, size);
	/* The file grew here: st_blocks the kernel cached is now too small
	 * (see lfs_attr_timeout). Attributes only, no pages: safe here. */
	if (n > 0 && end > cur && fs->writeback && fs->se) {
		atomic_store(&inode->live_floor, false); /* (dropped here) */
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	}
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

void lfs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* On a backing filesystem whose close(2) cannot fail there is nothing
	 * to pass on: ENOSYS makes the kernel stop sending FLUSH on this mount
	 * (one round trip less per close). close(2) through the mount still
	 * reports write errors: the kernel writes the file's dirty pages and
	 * checks their errors before it would send a FLUSH (fuse_flush). */
	struct lfs_fs *fs = lfs_req_fs(req);
	/* Deferred write errors of a shared mount (fs/sharedwb.h), once;
	 * to writers only, as NFS's close(2) does: a reader's close (another
	 * user's, a cp of the file) neither fails nor learns of them. */
	if (fs->shared_wb && lfs_handle_of(fi)->writer) {
		int e = lfs_swb_settle(lfs_inode_of(req, ino), &lfs_handle_of(fi)->wb_seen, true);
		if (e < 0) {
			fuse_reply_err(req, -e);
			return;
		}
	}
	if (!fs->shared_wb && lfs_backing_close_is_silent(fs->backing)) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	/* Closing a duplicate reports delayed write errors of the backing
	 * filesystem (NFS, quota) at close(2), as a local file would. Without
	 * a spare descriptor there is nothing to report: not an error. */
	int dupfd = dup(lfs_handle_of(fi)->fd);
	int r = dupfd < 0 ? 0 : close(dupfd);
	fuse_reply_err(req, r < 0 ? errno : 0);
}

void lfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lfs_handle *h = lfs_handle_of(fi);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	/* Its descriptor may carry queued writes (FLUSH reported their
	 * errors; a handle closed without one keeps them for the next). */
	lfs_swb_wait(inode);
	if (h->writer) {
		if (atomic_fetch_sub(&inode->writers, 1) == 1) {
			lfs_swb_idle(lfs_req_fs(req), inode);
			/* Left empty: the block counted ahead of a write that
			 * never came goes (lfs_attr_live). */
			struct lfs_fs *fs = lfs_req_fs(req);
			if (atomic_exchange(&inode->live_floor, false) && fs->se)
				fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
		}
		pthread_mutex_lock(&inode->meta_lock);
		bool lent = inode->wfd == h->fd;
		pthread_mutex_unlock(&inode->meta_lock);
		/* Taken back under the exclusive io_lock: a header rewrite
		 * using it holds io_lock until it is done. */
		if (lent) {
			pthread_rwlock_wrlock(&inode->io_lock);
			pthread_mutex_lock(&inode->meta_lock);
			inode->wfd = -1;
			pthread_mutex_unlock(&inode->meta_lock);
			pthread_rwlock_unlock(&inode->io_lock);
		}
	}
	int dfd = atomic_load(&h->direct_fd);
	if (dfd >= 0)
		close(dfd);
	close(h->fd);
	free(h);
	atomic_fetch_sub(&lfs_req_fs(req)->open_files, 1);
	lfs_inode_unpin(lfs_req_fs(req), lfs_inode_of(req, ino));
	fuse_reply_err(req, 0);
}

void lfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int fd = lfs_handle_of(fi)->fd;
	/* What was queued first; a deferred write's error instead of a
	 * success (fs/sharedwb.h), once. */
	int e = lfs_req_fs(req)->shared_wb
	            ? lfs_swb_settle(lfs_inode_of(req, ino), &lfs_handle_of(fi)->wb_seen, true)
	            : 0;
	if (e < 0) {
		fuse_reply_err(req, -e);
		return;
	}
	fuse_reply_err(req, sync_file(lfs_req_fs(req), lfs_inode_of(req, ino), fd, datasync));
}

void lfs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	int fd = lfs_handle_of(fi)->fd;
	uint16_t flags = 0;
	int r = lfs_fileio_header_flags(fs, inode, fd, &flags);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/* Dirty pages inside a sparse file may fill its holes. */
	uint64_t size = lfs_plain_size_of(fs, inode, fd);
	uint64_t from = (flags & LFS_HDR_FLAG_SPARSE) && off >= 0 && (uint64_t)off < size
	                    ? (uint64_t)off
	                    : size;
	lfs_flush_kernel_pages(fs, ino, inode, from);
	off_t res = lfs_holes_seek(fs, inode, fd, off, whence);
	if (res < 0)
		fuse_reply_err(req, (int)-res);
	else
		fuse_reply_lseek(req, res);
}

static int fallocate_holes(struct lfs_fs *fs, struct lfs_inode *inode, int fd, int mode,
                           uint64_t off, uint64_t len)
{
	if (mode & FALLOC_FL_PUNCH_HOLE)
		return (mode & ~(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) ||
		               !(mode & FALLOC_FL_KEEP_SIZE)
		           ? -EOPNOTSUPP
		           : lfs_holes_punch(fs, inode, fd, off, len);
	if (mode & ~(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	int64_t growth = 0;
	if (!(mode & FALLOC_FL_KEEP_SIZE) && inode->stage_id) {
		uint64_t cur = lfs_plain_size_of(fs, inode, fd);
		growth = off + len > cur ? (int64_t)(off + len - cur) : 0;
		int r = lfs_stage_hook_charge(fs, inode, growth);
		if (r < 0)
			return r;
	}
	int r = lfs_holes_zero(fs, inode, fd, off, len, mode & FALLOC_FL_KEEP_SIZE);
	if (r < 0)
		lfs_stage_hook_charge(fs, inode, -growth);
	return r;
}

void lfs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                      struct fuse_file_info *fi)
{
	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	int fd = lfs_handle_of(fi)->fd;
	/* Under HANDLE_KILLPRIV_V2 the kernel clears no set-id bits before a
	 * fallocate, and FALLOCATE carries no kill flag: ext4 clears them
	 * unless the caller holds CAP_FSETID (file_modified). */
	if (lfs_rawio_killpriv_on()) {
		int k = lfs_kill_suidgid(req, inode, true);
		if (k < 0) {
			fuse_reply_err(req, -k);
			return;
		}
		if (k > 0 && fs->se) /* only then: a write or fallocate must not cost a GETATTR */
			fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	}
	int r = mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)
	            ? fallocate_holes(fs, inode, fd, mode, (uint64_t)offset, (uint64_t)length)
	            : lfs_fileio_fallocate(fs, inode, fd, mode, (uint64_t)offset, (uint64_t)length);
	fuse_reply_err(req, -r);
}
