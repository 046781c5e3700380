/* SPDX-License-Identifier: Apache-2.0 */
/* Name-space operations: lookup, creating entries, symlink targets,
 * statfs. Attributes (getattr, setattr): ops_attr.c. Links, removal and
 * rename: ops_link.c. */
#define _GNU_SOURCE
#include "ops.h"
#include "../cluster/backing.h"
#include "../common/fileutil.h"
#include "attr.h"
#include "dirnames.h"
#include "heldtimes.h"
#include "longlink.h"
#include "prefetch.h"
#include "sharedwb.h"
#include "stage_hooks.h"
#include "symlink.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <sodium.h>

void lfs_fill_entry_timeouts(struct lfs_fs *fs, struct fuse_entry_param *e)
{
	e->attr_timeout = fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
}

double lfs_attr_timeout(struct lfs_fs *fs, struct lfs_inode *inode, off_t plain_size)
{
	/* The kernel does not ask again for st_blocks after a write into its
	 * writeback cache (it trusts its own size and times, but blocks come
	 * from here). A file being written that is still empty here may hold
	 * data in that cache only: never let the kernel keep "0 blocks" for
	 * it, so that every stat reaches the daemon, which has the kernel
	 * flush what lies past EOF first. Once the daemon has data, cached
	 * attributes never say 0 blocks, and each write that grows the file
	 * here drops them (lfs_op_write); a timeout of 0 for every file being
	 * written would cost a GETATTR per write(2) instead. */
	if (fs->writeback && S_ISREG(inode->type) && plain_size == 0 &&
	    atomic_load(&inode->writers) > 0)
		return 0;
	return fs->attr_timeout;
}

/* A reply after which the kernel writes into its cache: a CREATE (tar,
 * cp: the data follows at once) or the GETATTR with a handle that the
 * kernel sends before a buffered write, when the attributes it holds have
 * expired. With the timeout of 0 above, every write(2) into a new file
 * cost that GETATTR and then the GETXATTR of security.capability that an
 * attribute refresh brings back (S_NOSEC), and every create a GETATTR for
 * the permission check of its open: 2 to 4 round trips of a file's 10
 * to 12 in a tar extract (docs/PERFORMANCE.md, "Tree operations").
 * Here the kernel may keep the attributes for LIVE_TIMEOUT, so the writes
 * of one burst and the open's check need no request, and st_blocks is
 * counted as one block, never 0: the kernel's next write puts data in
 * its cache that the daemon does not see, and "0 blocks" is what GNU tar
 * -S reads as "all hole" (DESIGN.md, "Honest st_blocks"). So within
 * LIVE_TIMEOUT of such a reply a stat may show fewer blocks than the file
 * holds (as a file that had data may show for attr_timeout), never 0;
 * after it, the stat reaches the daemon, which flushes and counts
 * exactly. A file left empty drops the kernel's copy at its release. */
#define LIVE_TIMEOUT 0.01
#define LIVE_BLOCKS  8 /* one 4 KiB block, in 512-byte units */

double lfs_attr_live(struct lfs_fs *fs, struct lfs_inode *inode, struct stat *st)
{
	double t = lfs_attr_timeout(fs, inode, st->st_size);
	if (t != 0 || !fs->writeback || !S_ISREG(inode->type) || st->st_size != 0 ||
	    atomic_load(&inode->writers) == 0)
		return t;
	if (st->st_blocks < LIVE_BLOCKS)
		st->st_blocks = LIVE_BLOCKS;
	atomic_store(&inode->live_floor, true);
	return fs->attr_timeout < LIVE_TIMEOUT ? fs->attr_timeout : LIVE_TIMEOUT;
}

/* A staging marker stands for the directory VAULT/staging/ID/: the inode
 * is that directory's. A marker whose directory was shredded is absent. */
static int follow_marker(struct lfs_fs *fs, int *fd, struct stat *st, uint32_t *id)
{
	if (!lfs_stage_hook_is_marker(fs, *fd, "", id))
		return 0;
	int dfd = fs->stage->open_dir(fs->stage->ctx, *id);
	if (dfd < 0)
		return -ENOENT;
	if (fstatat(dfd, "", st, AT_EMPTY_PATH) < 0) {
		int r = -errno;
		close(dfd);
		return r;
	}
	close(*fd);
	*fd = dfd;
	return 1;
}

/* The attributes of an object whose O_PATH descriptor was just opened by
 * name. With -o shared on a FUSE-based engine (GlusterFS), whose client
 * mount has entry and attribute timeouts of 0 (docs/SHARED.md), that open
 * revalidated the name with a LOOKUP of the engine, whose reply carried
 * the object's attributes; the kernel may ask again only in a later
 * jiffy, so a plain fstat here would cost a second round trip (GETATTR)
 * for attributes at most that old. AT_STATX_DONT_SYNC takes the kernel's
 * copy: as fresh as a plain fstat within the same jiffy. Only there:
 * on another FUSE engine (ceph-fuse, a client mounted with longer
 * timeouts) the open may come from the kernel's cache and the copy be
 * older than close-to-open allows (a stale size was seen on a FUSE engine
 * with an entry timeout of 30 s), and local disks and NFS need not refresh
 * attributes on open: a plain fstat. */
static void statx_to_stat(const struct statx *x, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
	st->st_ino = x->stx_ino;
	st->st_mode = x->stx_mode;
	st->st_nlink = x->stx_nlink;
	st->st_uid = x->stx_uid;
	st->st_gid = x->stx_gid;
	st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
	st->st_size = (off_t)x->stx_size;
	st->st_blksize = x->stx_blksize;
	st->st_blocks = (blkcnt_t)x->stx_blocks;
	st->st_atim = (struct timespec){x->stx_atime.tv_sec, x->stx_atime.tv_nsec};
	st->st_mtim = (struct timespec){x->stx_mtime.tv_sec, x->stx_mtime.tv_nsec};
	st->st_ctim = (struct timespec){x->stx_ctime.tv_sec, x->stx_ctime.tv_nsec};
}

static int stat_just_opened(struct lfs_fs *fs, int fd, struct stat *st)
{
	if (!fs->shared || !fs->backing || strcmp(fs->backing->fstype, "fuse.glusterfs") != 0)
		return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	struct statx x;
	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC,
	          STATX_BASIC_STATS, &x) < 0)
		return -1;
	statx_to_stat(&x, st);
	return 0;
}

int lfs_lookup_backing(struct lfs_fs *fs, struct lfs_inode *parent, int dirfd, const char *backing,
                       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	uint64_t mark = lfs_times_mark(); /* (before the stat) */
	int fd = openat(dirfd, backing, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	/* Out of descriptors: park idle ones and try once more. */
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && lfs_fs_shed_fds(fs))
		fd = openat(dirfd, backing, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (stat_just_opened(fs, fd, &e->attr) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	/* Whoever writes the backing store could put a device node (a
	 * disk, /dev/mem) under any authenticated name. */
	if ((S_ISCHR(e->attr.st_mode) || S_ISBLK(e->attr.st_mode)) && !fs->allow_dev) {
		close(fd);
		lfs_warn("backing entry %s is a device node (%u:%u): refused, the mount has no "
		         "-o dev",
		         backing, major(e->attr.st_rdev), minor(e->attr.st_rdev));
		return -EACCES;
	}
	uint32_t sid = 0;
	int marker = S_ISLNK(e->attr.st_mode) ? follow_marker(fs, &fd, &e->attr, &sid) : 0;
	if (marker < 0) {
		close(fd);
		return marker;
	}
	int err = 0;
	bool pinned = false;
	struct lfs_inode *inode = lfs_inode_get_pinned(fs, fd, &e->attr, &err, &pinned);
	if (!inode)
		return -err;
	bool restaged =
	    lfs_inode_set_stage(fs, inode, marker > 0 ? sid : parent->stage_id, marker > 0);
	/* A directory known here as an ordinary one that another host has
	 * since adopted as staging (the same backing directory, now behind a
	 * marker): its .lethefs.dir was replaced (the staging key's epoch, a
	 * new directory id, its record sealed under that key). The cached one
	 * must go, as an adoption on this host drops it (staging/ops_stage.c):
	 * a negative lookup re-reads it only while a rotation runs, so names
	 * looked up or made in it would otherwise be the old ones. */
	if (restaged && marker > 0) {
		pthread_mutex_lock(&inode->meta_lock);
		inode->have_dirmeta = false;
		inode->have_rec = false;
		pthread_mutex_unlock(&inode->meta_lock);
	}
	/* (a staging directory lives elsewhere than its marker's name) */
	if (inode != &fs->root && marker == 0)
		lfs_inode_set_path(fs, inode, parent, backing);
	/* Its format and (format 2) its record, read once, before the reply
	 * names the inode; then the plaintext view. */
	int ifd = pinned ? inode->fd : lfs_inode_pin(fs, inode);
	int r = ifd < 0 ? ifd : 0;
	/* Shared write-behind (fs/sharedwb.h): writes already acknowledged
	 * land first, as for GETATTR. The size stat'ed before them would
	 * shrink the kernel's (a LOOKUP's or READDIRPLUS's attributes are
	 * taken when no WRITE was answered since the request was sent), and
	 * an O_APPEND writer's next write would land there, over them. */
	if (r == 0 && fs->shared_wb && S_ISREG(e->attr.st_mode) &&
	    __atomic_load_n(&inode->swb, __ATOMIC_ACQUIRE)) {
		lfs_swb_wait(inode);
		if (fstatat(ifd, "", &e->attr, AT_EMPTY_PATH) < 0)
			r = -errno;
	}
	if (r == 0)
		r = lfs_attr_load(fs, parent, dirfd, marker == 0 ? backing : NULL, inode, ifd,
		                  &e->attr);
	if (r == 0)
		r = lfs_attr_stat(fs, inode, ifd, &e->attr, mark);
	if (ifd >= 0)
		lfs_inode_unpin(fs, inode);
	if (r < 0) {
		lfs_inode_forget(fs, inode, 1);
		return r;
	}
	e->ino = (fuse_ino_t)(uintptr_t)inode;
	if (inode == &fs->root)
		e->ino = FUSE_ROOT_ID;
	lfs_fill_entry_timeouts(fs, e);
	e->attr_timeout = lfs_attr_timeout(fs, inode, e->attr.st_size);
	return 0;
}

int lfs_do_lookup(fuse_req_t req, struct lfs_inode *parent, const char *name,
                  struct fuse_entry_param *e)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_bname b;
	int pfd = lfs_inode_pin(fs, parent);
	if (pfd < 0)
		return pfd;
	/* A walk that listed parent now looks its entries up one by one. */
	lfs_prefetch_start(parent, pfd);
	int r = lfs_bname_make(fs, parent, pfd, name, &b);
	if (r == 0)
		r = lfs_lookup_backing(fs, parent, pfd, b.name, e);
	/* Shared: another host's rotation may have moved the directory's
	 * names to a new epoch since its metadata was cached. A walker
	 * converts directories only once every unlocked host creates under
	 * the new epoch (rotation/coord.c), i.e. once this host's keyring
	 * holds it beside the old one: with one epoch known here, no
	 * conversion can be under way, and a cached epoch since retired
	 * fails lfs_bname_make's key look-up, which reloads. So the reload
	 * (several backing calls, each a round trip on a network engine) is
	 * paid only while a rotation runs, not by every create's negative
	 * lookup. */
	if (r == -ENOENT && fs->shared && lfs_fs_rotating(fs) &&
	    lfs_dir_meta_reload(fs, parent, pfd) &&
	    (r = lfs_bname_make(fs, parent, pfd, name, &b)) == 0)
		r = lfs_lookup_backing(fs, parent, pfd, b.name, e);
	lfs_inode_unpin(fs, parent);
	return r;
}

void lfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int r = lfs_do_lookup(req, lfs_inode_of(req, parent), name, &e);
	if (r == -ENOENT) {
		/* A negative entry the kernel may cache: creates go through
		 * the kernel, which drops it. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = lfs_req_fs(req)->entry_timeout;
		fuse_reply_entry(req, &e);
	} else if (r < 0) {
		fuse_reply_err(req, -r);
	} else {
		fuse_reply_entry(req, &e);
	}
}

void lfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	lfs_inode_forget(lfs_req_fs(req), lfs_inode_of(req, ino), nlookup);
	fuse_reply_none(req);
}

void lfs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		lfs_inode_forget(lfs_req_fs(req), lfs_inode_of(req, forgets[i].ino),
		                 forgets[i].nlookup);
	fuse_reply_none(req);
}

/* mkdir is made atomic: the directory is built under a temporary name with
 * its metadata, then renamed into place, so no directory ever exists
 * without the id its children's names depend on. */
static int make_dir(fuse_req_t req, struct lfs_inode *parent, int pfd, const char *backing,
                    mode_t mode)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	uint32_t epoch = parent->stage_id;
	char tmp[64];
	snprintf(tmp, sizeof(tmp), LFS_TMP_PREFIX "%08x%08x", randombytes_random(),
	         randombytes_random());
	if (mkdirat(pfd, tmp, mode) < 0)
		return -errno;
	int dfd = openat(pfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = dfd < 0 ? -errno : 0;
	if (r == 0) {
		struct lfs_dirmeta m;
		uint8_t raw[LFS_DIRMETA_MAX];
		/* Inside a staging directory, its key; else the current epoch. */
		lfs_dirmeta_new(&m, epoch ? epoch : fs->kr->current_epoch, 1);
		int n = lfs_dirmeta_encode(&m, NULL, NULL, raw);
		r = n < 0 ? n : lfs_dirmeta_store_raw(dfd, raw, (size_t)n);
		close(dfd);
	}
	/* Owner, inherited ACL and mode before the name appears: mkdirat
	 * left the kernel's unmasked mode (0777 with ACLs on), which a crash
	 * after the rename must not leave behind. */
	if (r == 0)
		r = lfs_new_object(req, parent, pfd, tmp, S_IFDIR | mode);
	if (r == 0)
		r = lfs_backing_publish(fs->backing, pfd, tmp, backing, true);
	if (r < 0) {
		int d2 = openat(pfd, tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (d2 >= 0) {
			unlinkat(d2, LFS_DIRMETA_NAME, 0);
			close(d2);
		}
		unlinkat(pfd, tmp, AT_REMOVEDIR);
	}
	return r;
}

static void make_node(fuse_req_t req, fuse_ino_t parent_ino, const char *name, mode_t mode,
                      dev_t rdev, const char *link)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *parent = lfs_inode_of(req, parent_ino);
	struct lfs_bname b;
	struct fuse_entry_param e;
	int pfd = lfs_inode_pin(fs, parent);
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	/* nodev: no device nodes, neither served nor made. */
	int r = (S_ISCHR(mode) || S_ISBLK(mode)) && !fs->allow_dev
	            ? -EPERM
	            : lfs_bname_for_new(fs, parent, pfd, name, &b);
	int staged = 0;
	if (r == 0 && S_ISDIR(mode)) {
		staged = fs->stage ? fs->stage->mkdir(fs->stage->ctx, req, parent, pfd, name,
		                                      b.name, mode & 07777)
		                   : 0;
		r = staged < 0 ? staged : 0;
	} else if (r == 0 && lfs_stage_hook_in_root(fs, req, parent, pfd)) {
		r = -EPERM; /* only staging directories in staging_root */
	}
	/* Format 2: built whole with its record (ops_make2.c). */
	int v2 = r == 0 && !staged ? lfs_attr_new_format2(fs, parent->stage_id) : 0;
	if (v2 < 0)
		r = v2;
	bool have_entry = false;
	if (r == 0 && v2) {
		struct lfs_made made;
		r = lfs_make2(req, parent, pfd, b.name, mode, rdev, link, &made);
		if (r == 0) { /* the entry from what was made: no lookup */
			r = lfs_made_entry(fs, parent, b.name, &made, &e);
			have_entry = r == 0;
			close(made.fd);
		}
	} else if (r == 0 && !staged) {
		if (link)
			r = lfs_symlink_make(fs, parent->stage_id, pfd, b.name, link);
		else if (S_ISDIR(mode))
			r = make_dir(req, parent, pfd, b.name, mode & 07777);
		else
			r = mknodat(pfd, b.name, mode, rdev) < 0 ? -errno : 0;
	}
	/* A directory got its owner and mode in make_dir, before its name;
	 * a format-2 object its record in lfs_make2. */
	if (r == 0 && !staged && !v2 && !S_ISDIR(mode)) {
		r = lfs_new_object(req, parent, pfd, b.name, mode);
		if (r < 0) { /* never leave behind what the caller is told failed */
			unlinkat(pfd, b.name, 0);
			lfs_bname_drop_sidecar(pfd, &b);
		}
	}
	if (r == 0 && !have_entry)
		r = lfs_lookup_backing(fs, parent, pfd, b.name, &e);
	lfs_inode_unpin(fs, parent);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

void lfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	make_node(req, parent, name, mode, rdev, NULL);
}

void lfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	make_node(req, parent, name, S_IFDIR | mode, 0, NULL);
}

void lfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	make_node(req, parent, name, S_IFLNK, 0, link);
}

void lfs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	struct statvfs sv;
	int fd = lfs_inode_pin(fs, inode);
	int r = fd < 0 ? fd : (fstatvfs(fd, &sv) < 0 ? -errno : 0);
	if (fd >= 0)
		lfs_inode_unpin(fs, inode);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	sv.f_namemax = LFS_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}
