/* SPDX-License-Identifier: Apache-2.0 */
/* Name-space operations on existing objects: hard links, unlink, rmdir
 * and rename. */
#define _GNU_SOURCE
#include "ops.h"
#include "attr.h"
#include "dirnames.h"
#include "rename_dir.h"
#include "rename_record.h"
#include "stage_hooks.h"
#include "../cluster/backing.h"
#include "../cluster/moves.h"
#include "../common/fileutil.h"
#include "../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

/* Pins two inodes (possibly the same one) or neither. */
static int pin_two(struct lfs_fs *fs, struct lfs_inode *a, struct lfs_inode *b, int *fa, int *fb)
{
	*fa = lfs_inode_pin(fs, a);
	if (*fa < 0)
		return *fa;
	*fb = lfs_inode_pin(fs, b);
	if (*fb < 0) {
		lfs_inode_unpin(fs, a);
		return *fb;
	}
	return 0;
}

/* A rename or a link begins: counted for the rotation (fs.h), after
 * waiting out a count it has asked to hold names still for. The barrier is
 * looked at before the count is touched, so that waiting renames do not
 * spoil the count they wait for; one that counted itself just as the
 * barrier went up takes it back (the count then sees it end) and waits.
 * Shared mounts, while this host knows of a rotation: told to other
 * hosts' walkers too (cluster/moves.h; *told), which may wait for a
 * walker's count; one that began before this host knew is "untold" until
 * it ends (daemon/shared.c waits for those before its record names the
 * new epoch, which the walker waits for). 0, or -errno: the move fails,
 * ended already. */
static int move_begin(struct lfs_fs *fs, bool *told)
{
	for (;;) {
		while (atomic_load(&fs->moves_barrier))
			usleep(2000);
		atomic_fetch_add(&fs->moves_begun, 1);
		if (!atomic_load(&fs->moves_barrier))
			break;
		atomic_fetch_add(&fs->moves_ended, 1);
	}
	*told = false;
	if (!fs->xmoves)
		return 0;
	/* Untold first, then the keyring: a record naming the new epoch
	 * comes after the keyring has it, so it waits for this move. */
	atomic_fetch_add(&fs->moves_untold, 1);
	if (!lfs_fs_rotating(fs))
		return 0;
	atomic_fetch_sub(&fs->moves_untold, 1);
	int r = lfs_xmoves_begin(fs->xmoves);
	if (r < 0) {
		lfs_warn("rename or link refused: cannot tell other hosts' rotation of it: %s",
		         strerror(-r));
		atomic_fetch_add(&fs->moves_ended, 1);
		return r;
	}
	*told = true;
	return 0;
}

static void move_end(struct lfs_fs *fs, bool told)
{
	if (told)
		lfs_xmoves_end(fs->xmoves);
	else if (fs->xmoves)
		atomic_fetch_sub(&fs->moves_untold, 1);
	atomic_fetch_add(&fs->moves_ended, 1);
}

void lfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent_ino, const char *name)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	struct lfs_inode *parent = lfs_inode_of(req, parent_ino);
	struct lfs_bname b;
	struct fuse_entry_param e;
	char proc[LFS_PROC_PATH_MAX];
	int ifd, pfd;
	bool told;
	int r = move_begin(fs, &told);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = pin_two(fs, inode, parent, &ifd, &pfd);
	if (r < 0) {
		move_end(fs, told);
		fuse_reply_err(req, -r);
		return;
	}
	/* A hard link would let one object be reached under two keys' names. */
	if (inode->stage_id != parent->stage_id || inode->stage_root ||
	    lfs_stage_hook_in_root(fs, req, parent, pfd))
		r = -EXDEV;
	if (r == 0)
		r = lfs_bname_for_new(fs, parent, pfd, name, &b);
	if (r == 0) {
		lfs_proc_path(ifd, proc);
		if (linkat(AT_FDCWD, proc, pfd, b.name, AT_SYMLINK_FOLLOW) < 0)
			r = -errno;
	}
	if (r == 0)
		r = lfs_lookup_backing(fs, parent, pfd, b.name, &e);
	lfs_inode_unpin(fs, parent);
	lfs_inode_unpin(fs, inode);
	move_end(fs, told);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

/* In a sticky directory the kernel lets a user remove or rename another's
 * entry only when they own the entry (or the directory), judged on the
 * mode and owner it has cached: for a file served from an inode attribute
 * not yet matched to its header, those may be another file's (FORMAT.md
 * 14.9). The attribute is checked here first, as an open would. Costs
 * nothing outside sticky directories. */
static int sticky_bind(struct lfs_fs *fs, struct lfs_inode *dir, int dfd, const char *bname)
{
	pthread_mutex_lock(&dir->meta_lock);
	bool sticky = dir->fmt == 2 && dir->have_rec && (dir->rec.mode & S_ISVTX);
	pthread_mutex_unlock(&dir->meta_lock);
	struct stat st;
	if (!sticky || fstatat(dfd, bname, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return 0;
	struct lfs_inode *in = lfs_inode_find(fs, &st);
	if (!in)
		return 0; /* not looked up: the kernel has not judged it */
	int fd = openat(dfd, bname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int r = fd < 0 ? 0 : lfs_attr_bind(fs, in, fd);
	if (fd >= 0)
		close(fd);
	lfs_inode_release(fs, in);
	return r;
}

void lfs_op_unlink(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *parent = lfs_inode_of(req, parent_ino);
	struct lfs_bname b;
	int pfd = lfs_inode_pin(fs, parent);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	int r = lfs_bname_make(fs, parent, pfd, name, &b);
	/* One stat of the name tells the checks below apart: a staging marker
	 * and a long target's reference are symlinks, a quota charge is for a
	 * regular file. (Each unlink of an rm -rf made a readlinkat and an
	 * fstatat before; now the fstatat alone for anything but a symlink.)
	 * A name that does not stat is left to unlinkat's answer. */
	struct stat st;
	bool lnk = false, reg = false;
	if (r == 0 && fstatat(pfd, b.name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		lnk = S_ISLNK(st.st_mode);
		reg = S_ISREG(st.st_mode);
	}
	uint32_t sid;
	if (r == 0 && lnk && lfs_stage_hook_is_marker(fs, pfd, b.name, &sid))
		r = -EISDIR;
	if (r == 0)
		r = sticky_bind(fs, parent, pfd, b.name);
	/* Quota: a file's last name going frees its bytes. */
	bool charge = r == 0 && parent->stage_id && reg && st.st_nlink == 1;
	/* Its size before it goes (its header says how to count it). */
	uint64_t plain = charge ? lfs_backing_plain_size(fs, pfd, b.name, (uint64_t)st.st_size) : 0;
	struct lfs_link_release rel = {0};
	if (r == 0 && lnk)
		lfs_symlink_release_begin(pfd, b.name, &rel);
	if (r == 0 && unlinkat(pfd, b.name, 0) < 0)
		r = -errno;
	if (r == 0)
		lfs_symlink_release_end(fs, parent->stage_id, &rel);
	if (r == 0 && charge)
		lfs_stage_hook_charge(fs, parent, -(int64_t)plain);
	if (r == 0)
		lfs_bname_drop_sidecar(pfd, &b);
	lfs_inode_unpin(fs, parent);
	fuse_reply_err(req, -r);
}

/* Whether a backing directory holds nothing but lethefs metadata. */
static int backing_dir_is_empty(int dirfd)
{
	int err = 0;
	DIR *d = lfs_opendir_fd(dirfd, &err);
	if (!d)
		return err;
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    lfs_classify_entry(de->d_name) != LFS_ENTRY_META)
			r = -ENOTEMPTY;
	closedir(d);
	return r;
}

/* The inode of the directory open on fd (an O_PATH descriptor, kept by
 * the caller), with its io_lock taken shared, for an operation that
 * removes or replaces the directory: a rotation converting it (its
 * io_lock exclusively) writes its new metadata beside the old one, and
 * such an operation waits for it, else it finds a temporary file
 * (ENOTEMPTY), or takes the directory from under the conversion (a
 * rename onto it then left the replaced directory behind, as a hidden
 * temporary, until the next recovery). The inode is added to the table
 * when the kernel does not know it, since the rotation's conversion
 * holds one of its own (lfs_inode_hold): both then meet on the same lock.
 * Shared mounts: also the directory's cross-host name lock, which another
 * host's conversion of it write-locks (fs/dirnames.h; now: after reading
 * the keyring again, when this host may not know of the rotation yet).
 * in NULL (nothing held) when fd cannot be used. */
struct dir_holder {
	struct lfs_inode *in;
	int lockfd;
};

static struct dir_holder dir_hold(struct lfs_fs *fs, int fd, bool now)
{
	struct dir_holder h = {NULL, -1};
	struct stat st;
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return h;
	if (fstat(own, &st) < 0 || !S_ISDIR(st.st_mode)) {
		close(own);
		return h;
	}
	int err = 0;
	h.in = lfs_inode_get(fs, own, &st, &err); /* owns it */
	if (!h.in)
		return h;
	pthread_rwlock_rdlock(&h.in->io_lock);
	h.lockfd = now ? lfs_dir_name_lock_now(fs, h.in) : lfs_dir_name_lock(fs, h.in);
	return h;
}

static void dir_unhold(struct lfs_fs *fs, struct dir_holder *h)
{
	if (!h->in)
		return;
	lfs_dir_name_unlock(h->lockfd);
	pthread_rwlock_unlock(&h->in->io_lock);
	lfs_inode_release(fs, h->in);
	h->in = NULL;
	h->lockfd = -1;
}

/* rmdir's steps from the check that the directory dfd (pfd/name) is
 * empty: renamed to tmp, emptied of its metadata, removed; put back when
 * the removal fails (*late: after it was found empty). */
static int remove_dir(struct lfs_fs *fs, int pfd, const char *name, int dfd, const char *tmp,
                      bool *late)
{
	*late = false;
	struct lfs_dirmeta m;
	uint8_t raw[LFS_DIRMETA_MAX];
	size_t raw_len = 0;
	int r = backing_dir_is_empty(dfd);
	if (r == 0)
		r = lfs_backing_rename_noreplace(fs->backing, pfd, name, pfd, tmp, false, NULL);
	if (r < 0)
		return r;
	/* Keep the metadata so it can be put back if the removal fails. */
	int have_meta = lfs_dirmeta_read(dfd, raw, &raw_len, &m) == 0;
	int e = lfs_empty_backing_dir(dfd);
	if (e == 0 && unlinkat(pfd, tmp, AT_REMOVEDIR) < 0)
		e = -errno;
	if (e < 0) {
		if (have_meta)
			lfs_dirmeta_store_raw(dfd, raw, raw_len);
		int pb =
		    lfs_backing_rename_noreplace(fs->backing, pfd, tmp, pfd, name, false, NULL);
		if (pb < 0)
			lfs_err("rmdir: cannot put back directory %s (left as %s): %s", name, tmp,
			        strerror(-pb));
		*late = true;
	}
	return e;
}

void lfs_op_rmdir(fuse_req_t req, fuse_ino_t parent_ino, const char *name)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *parent = lfs_inode_of(req, parent_ino);
	struct lfs_bname b;
	int pfd = lfs_inode_pin(fs, parent);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	int r = lfs_bname_make(fs, parent, pfd, name, &b);
	int dfd = -1;
	uint32_t sid;
	if (r == 0 && lfs_stage_hook_is_marker(fs, pfd, b.name, &sid)) {
		/* A staging directory: removing it is a manual shred. */
		r = fs->stage->rmdir(fs->stage->ctx, req, sid);
		if (r == 0 && unlinkat(pfd, b.name, 0) < 0)
			r = -errno;
		if (r == 0)
			lfs_bname_drop_sidecar(pfd, &b);
		lfs_inode_unpin(fs, parent);
		fuse_reply_err(req, -r);
		return;
	}
	/* The commit point is a rename of the (checked empty) directory to a
	 * hidden temporary name: from then on it is gone for every reader,
	 * and a crash while its metadata and itself are removed leaves only a
	 * hidden leftover (docs/FORMAT.md section 12), never a directory
	 * without its id under its name. */
	char tmp[64];
	snprintf(tmp, sizeof(tmp), LFS_TMP_PREFIX "%08x%08x", randombytes_random(),
	         randombytes_random());
	if (r == 0) {
		dfd = openat(pfd, b.name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			r = errno == ENOTDIR ? -ENOTDIR : -errno;
	}
	/* Not while a rotation converts it (dir_hold). */
	struct dir_holder child = {NULL, -1};
	if (r == 0)
		child = dir_hold(fs, dfd, false);
	bool late = false;
	if (r == 0)
		r = remove_dir(fs, pfd, b.name, dfd, tmp, &late);
	/* Shared: a metadata file that came in while the directory was
	 * emptied is another host's conversion of it, begun before this host
	 * knew of the rotation: once more, after it (ENOTEMPTY otherwise,
	 * for a directory that is empty). */
	if (r == -ENOTEMPTY && late && fs->shared && child.in && child.lockfd < 0) {
		dir_unhold(fs, &child);
		child = dir_hold(fs, dfd, true);
		r = remove_dir(fs, pfd, b.name, dfd, tmp, &late);
	}
	dir_unhold(fs, &child);
	if (r == 0)
		lfs_bname_drop_sidecar(pfd, &b);
	if (dfd >= 0)
		close(dfd);
	lfs_inode_unpin(fs, parent);
	fuse_reply_err(req, -r);
}

void lfs_op_rename(fuse_req_t req, fuse_ino_t parent_ino, const char *name, fuse_ino_t newp_ino,
                   const char *newname, unsigned int flags)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *parent = lfs_inode_of(req, parent_ino);
	struct lfs_inode *newparent = lfs_inode_of(req, newp_ino);
	struct lfs_bname from, to;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	int pfd, npfd;
	bool told;
	int r = move_begin(fs, &told);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	r = pin_two(fs, parent, newparent, &pfd, &npfd);
	if (r < 0) {
		move_end(fs, told);
		fuse_reply_err(req, -r);
		return;
	}
	/* Across a staging boundary: EXDEV, so that mv copies (re-encrypting
	 * under the destination's key) and deletes. */
	if (parent->stage_id != newparent->stage_id)
		r = -EXDEV;
	if (r == 0)
		r = lfs_bname_make(fs, parent, pfd, name, &from);
	/* Into staging_root only a staging directory may move (it keeps its
	 * TTL); anything else gets EXDEV, so that mv copies it in through
	 * mkdir, which makes it a staging directory. */
	uint32_t sid;
	if (r == 0 && lfs_stage_hook_in_root(fs, req, newparent, npfd) &&
	    !lfs_stage_hook_is_marker(fs, pfd, from.name, &sid))
		r = -EXDEV;
	if (r == 0)
		r = lfs_bname_for_new(fs, newparent, npfd, newname, &to);
	if (r == 0)
		r = sticky_bind(fs, parent, pfd, from.name);
	if (r == 0)
		r = sticky_bind(fs, newparent, npfd, to.name);
	/* An exchange moves the other entry the other way. */
	if (r == 0 && (flags & RENAME_EXCHANGE) && lfs_stage_hook_in_root(fs, req, parent, pfd) &&
	    !lfs_stage_hook_is_marker(fs, npfd, to.name, &sid))
		r = -EXDEV;
	/* A long symlink replaced by the rename loses its sidecar (unless the
	 * rename is a no-op between two names of one object). */
	struct lfs_link_release rel = {0};
	struct stat sst, dst;
	if (r == 0 && !(flags & RENAME_EXCHANGE) &&
	    fstatat(pfd, from.name, &sst, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(npfd, to.name, &dst, AT_SYMLINK_NOFOLLOW) == 0 && sst.st_ino != dst.st_ino)
		lfs_symlink_release_begin(npfd, to.name, &rel);
	if (r == 0 && (flags & RENAME_NOREPLACE))
		r = lfs_fs_rename_noreplace(fs, pfd, from.name, npfd, to.name);
	else if (r == 0 && renameat2(pfd, from.name, npfd, to.name, flags) < 0)
		r = -errno;
	/* Onto an empty directory: the backing one still holds its
	 * .lethefs.dir, so it takes the protocol of rename_dir.c. */
	if (r == -ENOTEMPTY && flags == 0) {
		/* Not while a rotation converts the target (dir_hold). */
		int tfd = openat(npfd, to.name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* (Shared: the keyring read again first, as rmdir does when it
		 * meets another host's conversion. Here it would only find out
		 * once the target is gone: rare enough to pay for it always.) */
		struct dir_holder target = {NULL, -1};
		if (tfd >= 0)
			target = dir_hold(fs, tfd, fs->shared);
		r = lfs_rename_over_empty_dir(fs, pfd, from.name, npfd, to.name);
		dir_unhold(fs, &target);
		if (tfd >= 0)
			close(tfd);
	}
	if (r == 0) {
		lfs_symlink_release_end(fs, newparent->stage_id, &rel);
		/* Parked descriptors reopen by path on some backing filesystems:
		 * the moved objects' new places. */
		lfs_inode_moved(fs, newparent, npfd, to.name);
		if (flags & RENAME_EXCHANGE)
			lfs_inode_moved(fs, parent, pfd, from.name);
	}
	/* The old name's sidecar goes unless the old name still exists
	 * (exchange) or is the very same entry. */
	if (r == 0 && !(flags & RENAME_EXCHANGE) &&
	    !(parent == newparent && strcmp(from.name, to.name) == 0))
		lfs_bname_drop_sidecar(pfd, &from);
	lfs_inode_unpin(fs, newparent);
	lfs_inode_unpin(fs, parent);
	move_end(fs, told);
	fuse_reply_err(req, -r);
}
