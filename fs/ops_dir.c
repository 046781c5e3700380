/* SPDX-License-Identifier: Apache-2.0 */
/* Directory listing. Offsets are the backing directory's own telldir
 * cookies, so a listing stays correct while entries come and go. Entries
 * that are not user data (metadata, sidecars) are hidden; entries whose
 * names do not authenticate are skipped and logged (fsck reports them).
 *
 * A rotation renames every entry of a directory it converts. Each READDIR
 * call holds the directory's io_lock shared (and in shared mode, while a
 * rotation runs, its cross-host name lock: fs/gate.c), so that no
 * conversion runs in the middle of a call; it starts by comparing the directory's metadata
 * with the one the listing used: if the names moved since its previous
 * call, the backing stream starts again and what was returned already is
 * skipped (fs/dirseen.h). In shared mode a host may not know yet that
 * another has begun a rotation: names its metadata does not explain make
 * the call read the keyring and the metadata again under the lock, once,
 * before they count as not authentic. */
#define _GNU_SOURCE
#include "ops.h"
#include "dirnames.h"
#include "dirseen.h"
#include "names.h"
#include "prefetch.h"
#include "stage_hooks.h"
#include "../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include <unistd.h>

/* Entries of a READDIRPLUS reply looked up at once (plus_reply): enough
 * for the helpers of fs->lookups to overlap their disk reads, few enough
 * to keep a listing's scratch memory small (about 45 KiB). */
#define PLUS_BATCH 64

/* One entry of a READDIRPLUS batch: named by the listing, looked up by
 * any thread of the pool, added to the reply in listing order. */
struct plus_item {
	char bname[LFS_BACKING_NAME_MAX + 1];
	char plain[LFS_NAME_MAX + 1];
	off_t next; /* the listing's position after this entry */
	int r;      /* the lookup's result: 0, or -errno (the entry is skipped) */
	bool dot;
	bool named;   /* plain holds the name (else the item decrypts it) */
	bool locked;  /* the item found the vault locked: listed again later */
	bool badname; /* its name did not authenticate (or its epoch is unknown) */
	struct fuse_entry_param e;
};

struct lfs_dirp {
	struct lfs_fh_base base;
	DIR *dp;
	struct dirent *entry; /* read but not yet returned */
	off_t offset;
	off_t returned; /* the position after the last entry the kernel got */
	struct lfs_dirmeta meta;
	bool v2;                 /* format-2 objects may be here (see add_entry) */
	struct plus_item *batch; /* PLUS_BATCH, at the first READDIRPLUS */
	struct lfs_dirseen seen; /* names returned (a restart skips them) */
	unsigned bad;            /* this call's names that did not authenticate */
	bool quiet;              /* not logged yet: a second look may explain them */
};

static struct lfs_dirp *dirp_of(struct fuse_file_info *fi)
{
	return (struct lfs_dirp *)(uintptr_t)fi->fh;
}

void lfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lfs_inode *inode = lfs_inode_of(req, ino);
	struct lfs_dirp *d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct lfs_fs *fs = lfs_req_fs(req);
	int ifd = lfs_inode_pin(fs, inode);
	/* Shared: the metadata as it is now (another host's rotation). */
	if (ifd >= 0 && fs->shared)
		lfs_dir_meta_forget(inode, ifd);
	int r = ifd < 0 ? ifd : lfs_dir_meta(fs, inode, ifd, &d->meta);
	/* A directory removed (or replaced by a rename) while open: its
	 * metadata is gone with it, and it lists as empty, as on ext4. */
	struct stat st;
	if (r == -EIO && fstat(ifd, &st) == 0 && st.st_nlink == 0)
		r = 0;
	int fd = r < 0 ? -1 : openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && fd < 0)
		r = -errno;
	if (ifd >= 0)
		lfs_inode_unpin(fs, inode);
	if (r == 0 && !(d->dp = fdopendir(fd))) {
		r = -errno;
		close(fd);
	}
	if (r < 0) {
		free(d);
		fuse_reply_err(req, -r);
		return;
	}
	lfs_dirseen_init(&d->seen);
	d->base.lock_gen = atomic_load(&fs->lock_gen);
	d->base.stage_id = inode->stage_id;
	atomic_fetch_add(&fs->open_dirs, 1);
	lfs_prefetch_arm(inode);
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = 0;
	fuse_reply_open(req, fi);
}

static bool is_dot(const char *n)
{
	return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* The plaintext name of the listing's current entry ("." and ".." as they
 * are). 0, -1 to skip the entry, -2 when the vault is locked. */
static int entry_name(struct lfs_fs *fs, struct lfs_inode *dir, struct lfs_dirp *d,
                      char plain[LFS_NAME_MAX + 1])
{
	const char *bname = d->entry->d_name;
	if (is_dot(bname)) {
		snprintf(plain, LFS_NAME_MAX + 1, "%s", bname);
		return 0;
	}
	int r = lfs_entry_name(fs, dirfd(d->dp), &d->meta, bname, plain);
	if (r == -EBADMSG || r == -EIO)
		d->bad++;
	if (r == -EBADMSG && !d->quiet)
		lfs_warn("skipping entry '%s' whose name does not authenticate (inode %llu)", bname,
		         (unsigned long long)dir->ino);
	if (r < 0)
		return r == -EACCES ? -2 : -1;
	/* Returned before the listing started again (fs/dirseen.h). */
	if (!is_dot(bname) && lfs_dirseen_has(&d->seen, plain))
		return -1;
	return 0;
}

/* Adds one entry to a READDIR reply buffer. Returns the bytes it took (more
 * than left when it did not fit), -1 to skip the entry, -2 when locked;
 * plain: its name. */
static int add_entry(fuse_req_t req, struct lfs_inode *dir, struct lfs_dirp *d, char *p,
                     size_t left, off_t next, char plain[LFS_NAME_MAX + 1])
{
	struct lfs_fs *fs = lfs_req_fs(req);
	const char *bname = d->entry->d_name;
	int r = entry_name(fs, dir, d, plain);
	if (r < 0)
		return r;
	uint32_t sid;
	if (d->entry->d_type == DT_LNK && lfs_stage_hook_is_marker(fs, dirfd(d->dp), bname, &sid)) {
		/* A staging directory; gone once shredded. */
		if (!lfs_stage_hook_live(fs, sid))
			return -1;
		d->entry->d_type = DT_DIR;
	}
	/* Where format 2 may be, a regular backing file may be any type but a
	 * directory (its record says which): unknown here. */
	unsigned char type = d->entry->d_type;
	if (type == DT_REG && d->v2)
		type = DT_UNKNOWN;
	struct stat st = {.st_ino = d->entry->d_ino, .st_mode = (mode_t)type << 12};
	return (int)fuse_add_direntry(req, p, left, plain, &st, next);
}

/* Reads the positioned listing d into buf (size bytes) from *used on.
 * Returns 0 or an errno. */
static int list_names(fuse_req_t req, struct lfs_inode *dir, struct lfs_dirp *d, char *buf,
                      size_t size, size_t *used_io)
{
	size_t used = *used_io;
	int err = 0;
	char plain[LFS_NAME_MAX + 1];
	for (;;) {
		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		off_t next = d->entry->d_off;
		int n = add_entry(req, dir, d, buf + used, size - used, next, plain);
		if (n == -2) {
			err = EACCES;
			break;
		}
		if (n > 0 && (size_t)n > size - used)
			break; /* keep the entry for the next call */
		if (n > 0) {
			used += (size_t)n;
			d->returned = next;
			lfs_dirseen_add(&d->seen, plain);
		}
		d->entry = NULL;
		d->offset = next;
	}
	sodium_memzero(plain, sizeof(plain));
	*used_io = used;
	return err;
}

/* Why collect stopped. */
enum collected { NEXT_TOO_BIG, BATCH_FULL, LISTING_END, NAME_LOCKED };

/* Reads the listing's next entries whose replies fit in room bytes, with
 * their names, into d->batch; "." and ".." need no lookup. Each taken
 * entry counts as returned (d->offset moves past it). *n: how many. */
static enum collected collect(fuse_req_t req, struct lfs_inode *dir, struct lfs_dirp *d,
                              size_t room, size_t *n, int *err)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	*n = 0;
	while (*n < PLUS_BATCH) {
		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				*err = errno;
				return LISTING_END;
			}
		}
		struct plus_item *it = &d->batch[*n];
		/* A plain encoding is decrypted by the item's lookup, on any
		 * thread of the pool: its length is known from the backing
		 * name's, and the reply's room from that. */
		const char *bname = d->entry->d_name;
		int plen = lfs_classify_entry(bname) == LFS_ENTRY_NAME
		               ? lfs_name_plain_len(strlen(bname))
		               : -1;
		int r = 0;
		it->named = plen < 0;
		it->badname = false; /* (a named one counted in d->bad already) */
		if (it->named) {
			r = entry_name(fs, dir, d, it->plain);
		} else {
			memset(it->plain, 'x', (size_t)plen); /* (for its length) */
			it->plain[plen] = '\0';
		}
		if (r == -2) {
			*err = EACCES;
			return NAME_LOCKED; /* the entry stays for a later call */
		}
		if (r == 0) {
			size_t len = fuse_add_direntry_plus(req, NULL, 0, it->plain, NULL, 0);
			if (len > room)
				return NEXT_TOO_BIG; /* kept for the next call */
			room -= len;
			snprintf(it->bname, sizeof(it->bname), "%s", d->entry->d_name);
			it->next = d->entry->d_off;
			it->dot = is_dot(it->bname);
			if (it->dot) {
				memset(&it->e, 0, sizeof(it->e));
				it->e.attr.st_ino = d->entry->d_ino;
				it->e.attr.st_mode = (mode_t)d->entry->d_type << 12;
			}
			it->r = 0;
			it->locked = false;
			(*n)++;
		}
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	return BATCH_FULL;
}

struct plus_job {
	struct lfs_fs *fs;
	struct lfs_inode *dir;
	int dirfd;
	const struct lfs_dirmeta *meta;
	struct plus_item *items;
	const struct lfs_dirseen *seen;
	bool quiet;
	bool learn_acl; /* lfs_acl_wanted: ls -l will ask each entry's ACL */
};

/* One entry's name (when collect left it) and lookup, on any thread of
 * the pool (lfs_workpool_run). A name that does not authenticate skips
 * the entry, as collect does; a locked vault stops the reply there. */
static void lookup_item(void *arg, size_t i)
{
	struct plus_job *j = arg;
	struct plus_item *it = &j->items[i];
	if (it->dot)
		return;
	if (!it->named) {
		int r = lfs_entry_name(j->fs, j->dirfd, j->meta, it->bname, it->plain);
		it->badname = r == -EBADMSG || r == -EIO;
		if (r == -EBADMSG && !j->quiet)
			lfs_warn(
			    "skipping entry '%s' whose name does not authenticate (inode %llu)",
			    it->bname, (unsigned long long)j->dir->ino);
		if (r < 0) {
			it->locked = r == -EACCES;
			it->r = r;
			return;
		}
		/* Returned before the listing started again (fs/dirseen.h). */
		if (lfs_dirseen_has(j->seen, it->plain)) {
			it->r = -EEXIST;
			return;
		}
	}
	it->r = lfs_lookup_backing(j->fs, j->dir, j->dirfd, it->bname, &it->e);
	if (it->r == 0 && j->learn_acl && it->e.ino != FUSE_ROOT_ID)
		lfs_acl_learn(j->fs, (struct lfs_inode *)(uintptr_t)it->e.ino);
}

/* Adds the looked-up items [0, n) in listing order from buf + *used.
 * Entries that vanished meanwhile are skipped (*skipped). An entry that
 * does not fit after all (sizes were reckoned by collect) or whose name
 * found the vault locked (*locked), and those after it, give their
 * lookups back and are listed again by the next call, from the position
 * before it (from: where the batch began). Returns false then. */
static bool add_items(fuse_req_t req, struct lfs_dirp *d, size_t n, off_t from, char *buf,
                      size_t size, size_t *used, bool *skipped, bool *locked)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	for (size_t i = 0; i < n; i++) {
		struct plus_item *it = &d->batch[i];
		if (it->r < 0 && !it->locked) {
			*skipped = true;
			continue;
		}
		size_t len = it->locked ? SIZE_MAX
		                        : fuse_add_direntry_plus(req, buf + *used, size - *used,
		                                                 it->plain, &it->e, it->next);
		if (len <= size - *used) {
			*used += len;
			d->returned = it->next;
			if (!it->dot)
				lfs_dirseen_add(&d->seen, it->plain);
			continue;
		}
		*locked = it->locked;
		off_t at = i == 0 ? from : d->batch[i - 1].next;
		for (size_t k = i; k < n; k++)
			if (d->batch[k].r == 0 && d->batch[k].e.ino)
				lfs_inode_forget(fs, lfs_inode_of(req, d->batch[k].e.ino), 1);
		seekdir(d->dp, at);
		d->entry = NULL;
		d->offset = at;
		return false;
	}
	return true;
}

/* A READDIRPLUS reply: the entries that fit, each looked up (its record
 * read and authenticated) by the lookup pool's threads and this one at
 * once, then added in listing order (docs/PERFORMANCE.md, "Tree work at
 * many files"). */
static int list_plus(fuse_req_t req, struct lfs_inode *dir, struct lfs_dirp *d, char *buf,
                     size_t size, size_t *used_io)
{
	struct lfs_fs *fs = lfs_req_fs(req);
	struct plus_job job = {fs,       dir,      dirfd(d->dp), &d->meta,
	                       d->batch, &d->seen, d->quiet,     lfs_acl_wanted(fs)};
	size_t used = *used_io;
	int err = 0;
	for (;;) {
		size_t n = 0;
		off_t from = d->offset;
		enum collected why = collect(req, dir, d, size - used, &n, &err);
		lfs_workpool_run(&fs->lookups, n, lookup_item, &job);
		bool skipped = false, locked = false;
		bool fitted = add_items(req, d, n, from, buf, size, &used, &skipped, &locked);
		for (size_t i = 0; i < n; i++) {
			d->bad += d->batch[i].badname;
			d->batch[i].badname = false;
			sodium_memzero(d->batch[i].plain, sizeof(d->batch[i].plain));
		}
		if (locked)
			err = EACCES;
		/* More may fit: a full batch, or room left by skipped entries. */
		if (!fitted || why == LISTING_END || why == NAME_LOCKED ||
		    (why == NEXT_TOO_BIG && (!skipped || n == 0)))
			break;
	}
	*used_io = used;
	return err;
}

static bool same_meta(const struct lfs_dirmeta *a, const struct lfs_dirmeta *b)
{
	return a->epoch == b->epoch && a->alt_epoch == b->alt_epoch && a->version == b->version &&
	       !memcmp(a->dirid, b->dirid, sizeof(a->dirid));
}

/* The directory's metadata now (read again if a forget dropped it). If
 * its names moved since the listing last used it, the backing stream
 * starts again from its beginning, what was returned already to be
 * skipped. The kernel's position stays where it is: its next call asks
 * for the position after the last entry it got, which the listing now
 * stands for (a cookie of the old stream, meaningless in the new one,
 * must not be sought: skipped entries after it would have moved the
 * listing's own position past it). Returns whether it did. A directory whose metadata cannot be
 * read (removed while open) keeps listing what it has. */
static bool follow_meta(struct lfs_fs *fs, struct lfs_inode *dir, struct lfs_dirp *d)
{
	struct lfs_dirmeta now;
	if (lfs_dir_meta(fs, dir, dirfd(d->dp), &now) < 0 || same_meta(&now, &d->meta))
		return false;
	d->meta = now;
	rewinddir(d->dp);
	d->entry = NULL;
	d->offset = d->returned;
	if (!lfs_dirseen_restart(&d->seen))
		lfs_warn("directory inode %llu: its listing started again after a rotation "
		         "converted it, without memory to skip every entry it returned: "
		         "some may be listed twice",
		         (unsigned long long)dir->ino);
	return true;
}

static int list(fuse_req_t req, struct lfs_inode *dir, struct lfs_dirp *d, char *buf, size_t size,
                size_t *used, bool plus)
{
	return plus ? list_plus(req, dir, d, buf, size, used)
	            : list_names(req, dir, d, buf, size, used);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
                       struct fuse_file_info *fi, bool plus)
{
	struct lfs_dirp *d = dirp_of(fi);
	struct lfs_inode *dir = lfs_inode_of(req, ino);
	struct lfs_fs *fs = lfs_req_fs(req);
	/* Each entry is looked up here: have the headers read ahead. */
	if (plus)
		lfs_prefetch_start(dir, dirfd(d->dp));
	if (plus && !d->batch && !(d->batch = calloc(PLUS_BATCH, sizeof(*d->batch)))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	char *buf = calloc(1, size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (offset == 0) {
		/* From the beginning (a rewinddir): a listing of its own. */
		if (d->offset != 0 || d->entry)
			rewinddir(d->dp);
		d->entry = NULL;
		d->offset = 0;
		lfs_dirseen_clear(&d->seen);
	} else if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	d->returned = offset;
	follow_meta(fs, dir, d);
	d->v2 = d->meta.version == 2 || lfs_keyring_format(fs->kr) == 2;
	d->bad = 0;
	/* Without the cross-host lock (fs/gate.c takes it while this host
	 * knows of a rotation), another host may be converting right now. */
	d->quiet = fs->shared && !lfs_fs_rotating(fs);
	int lockfd = -1;
	size_t used = 0;
	int err = list(req, dir, d, buf, size, &used, plus);
	if (d->bad && d->quiet && err == 0) {
		/* Another host's rotation may have begun and converted this
		 * directory since its metadata was read: look again, under
		 * the lock that waits for a conversion under way. */
		unsigned bad = d->bad;
		lockfd = lfs_dir_name_lock_now(fs, dir);
		d->bad = 0;
		d->quiet = false;
		if (follow_meta(fs, dir, d))
			err = list(req, dir, d, buf, size, &used, plus);
		else
			lfs_warn("skipping %u entries of directory inode %llu whose names do "
			         "not authenticate",
			         bad, (unsigned long long)dir->ino);
	}
	lfs_dir_name_unlock(lockfd);
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void lfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void lfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                        struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void lfs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct lfs_dirp *d = dirp_of(fi);
	closedir(d->dp);
	free(d->batch);
	lfs_dirseen_free(&d->seen);
	free(d);
	atomic_fetch_sub(&lfs_req_fs(req)->open_dirs, 1);
	fuse_reply_err(req, 0);
}

void lfs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	int fd = dirfd(dirp_of(fi)->dp);
	int r = datasync ? fdatasync(fd) : fsync(fd);
	fuse_reply_err(req, r < 0 ? errno : 0);
}
