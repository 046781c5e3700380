/* SPDX-License-Identifier: Apache-2.0 */
/* Formats and records of objects (attr.h). */
#define _GNU_SOURCE
#include "attr.h"
#include "attr_iattr.h"
#include "heldtimes.h"
#include "iattr.h"
#include "filelayout.h"
#include "holes.h"
#include "dirnames.h"
#include "longlink.h"
#include "../common/fileutil.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

/* The flags of epoch (or staging id), -EACCES when locked, -EIO when the
 * ring does not hold it. */
static int epoch_flags(struct lfs_fs *fs, uint32_t epoch)
{
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(fs->kr, epoch, &k);
	if (r < 0)
		return r;
	int f = (int)k->flags;
	lfs_keyring_put(fs->kr);
	return f;
}

int lfs_attr_new_format2(struct lfs_fs *fs, uint32_t stage_id)
{
	int f = epoch_flags(fs, stage_id);
	return f < 0 ? f : (f & LFS_EPOCH_FORMAT2) != 0;
}

/* Whether a directory's epoch (flags f) lets a format-1 object with no
 * epoch of its own be in it: not of format 2, or a format-1 epoch still in
 * the ring (a rotation upgrading the vault, which converts such objects
 * moved from a directory not converted yet into one converted already
 * before it retires that epoch: rotation/walk.c, docs/ROTATION.md). */
static bool v1_flags_ok(struct lfs_fs *fs, int f)
{
	return f >= 0 && (!(f & LFS_EPOCH_FORMAT2) || lfs_keyring_has_format1(fs->kr));
}

/* Whether a format-1 object that has no usable epoch of its own (an empty
 * file, a symlink, a special file, a file or directory whose header or
 * .lethefs.dir does not authenticate) may be in parent (v1_flags_ok).
 * 1 yes, 0 no, -EACCES locked. */
static int v1_allowed_in(struct lfs_fs *fs, struct lfs_inode *parent, int pfd)
{
	if (!parent)
		return 1;
	struct lfs_dirmeta m;
	int r = lfs_dir_meta(fs, parent, pfd, &m);
	if (r < 0)
		return r == -EACCES ? r : 0;
	int f = epoch_flags(fs, m.epoch);
	if (f == -EACCES)
		return f;
	return v1_flags_ok(fs, f);
}

static const char *type_name(uint8_t type)
{
	static const char *const names[] = {
	    "?",    "regular file", "directory",        "symlink",
	    "FIFO", "socket",       "character device", "block device"};
	return type <= LFS_IREC_BLK ? names[type] : "?";
}

/* Why a load refused the object: reported by the caller (a mount logs and
 * audits it, fsck prints it). */
struct verdict {
	char why[112];
	bool degraded; /* served, but not as stored (a missing inode attribute) */
};

static int refuse(struct verdict *v, const char *why)
{
	snprintf(v->why, sizeof(v->why), "%s", why);
	return -EIO;
}

/* A backing directory: its .lethefs.dir. Called with in->meta_lock. */
static int load_dir(struct lfs_fs *fs, struct lfs_inode *in, int fd, int v1_ok, struct verdict *v)
{
	uint8_t raw[LFS_DIRMETA_MAX];
	size_t len = 0;
	struct lfs_dirmeta m;
	if (lfs_dirmeta_read(fd, raw, &len, &m) < 0) {
		if (!v1_ok)
			return refuse(v, "directory metadata missing or malformed");
		in->fmt = 1; /* as format 1 always did: opendir fails with EIO */
		return 0;
	}
	const struct lfs_epoch_keys *k;
	int r = lfs_keyring_get(fs->kr, m.epoch, &k);
	if (r == -EACCES)
		return r;
	if (m.version == 1) {
		bool only2 = r == 0 && (k->flags & LFS_EPOCH_FORMAT2);
		if (r == 0)
			lfs_keyring_put(fs->kr);
		if (only2 || (r < 0 && !v1_ok))
			return refuse(v, "format-1 directory where only format 2 may be");
		in->fmt = 1;
		in->dirmeta = m;
		in->have_dirmeta = true;
		return 0;
	}
	if (r < 0)
		return refuse(v, "directory of an epoch the keyring does not hold");
	struct lfs_irec rec;
	r = lfs_dirmeta_open(raw, len, k, &rec);
	lfs_keyring_put(fs->kr);
	if (r < 0)
		return refuse(v, "directory record does not authenticate");
	if (rec.type != LFS_IREC_DIR) {
		char why[96];
		snprintf(why, sizeof(why), "backing directory whose record says %s",
		         type_name(rec.type));
		return refuse(v, why);
	}
	in->rec = rec;
	in->have_rec = true;
	in->dirmeta = m;
	in->have_dirmeta = true;
	in->type = S_IFDIR;
	in->fmt = 2;
	return 0;
}

/* Reads up to LFS_FILE_HDR_MAX bytes (the header) of the regular backing
 * file open on fd (O_PATH) from offset 0, without touching its access
 * time: through
 * rfd when the caller has a readable descriptor of it (an open writer's,
 * or the one a create just made it with), else through one opened for the
 * purpose. On a network engine the open and close are round trips of their
 * own, two of the three of a re-read (docs/PERFORMANCE.md, "Records read
 * again after this host's own changes"); a read through a descriptor that
 * is already open is as fresh, since shared mode already relies on reads
 * through open descriptors seeing other hosts' writes (docs/SHARED.md). */
static int read_head(int fd, int rfd, uint8_t *raw, size_t *got)
{
	if (rfd >= 0 && lfs_pread_full(rfd, raw, LFS_FILE_HDR_MAX, 0, got) == 0)
		return 0;
	*got = 0;
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(fd, proc);
	int ofd = open(proc, O_RDONLY | O_NOATIME | O_CLOEXEC);
	if (ofd < 0 && errno == EPERM) /* O_NOATIME: not the owner, not root */
		ofd = open(proc, O_RDONLY | O_CLOEXEC);
	if (ofd < 0)
		return -errno;
	int r = lfs_pread_full(ofd, raw, LFS_FILE_HDR_MAX, 0, got);
	close(ofd);
	return r;
}

/* A format-2 file's backing size must suit its record's type: a special
 * file is its header alone, a symlink one block holding its target. */
static const char *bad_size(struct lfs_fs *fs, const struct lfs_irec *rec, uint64_t size)
{
	struct lfs_layout l;
	uint64_t plain;
	lfs_layout_init(&l, fs->layout.cipher, LFS_FILE_V2);
	switch (rec->type) {
	case LFS_IREC_REG:
		return NULL; /* a malformed size reads as EIO where it is cut */
	case LFS_IREC_LNK:
		return lfs_plain_size(&l, size, &plain) && plain >= 1 &&
		               plain <= LFS_LINK_TARGET_MAX
		           ? NULL
		           : "symlink whose target is missing or too long";
	case LFS_IREC_DIR:
		return "regular backing file whose record says directory";
	default:
		return size == l.hdr_len ? NULL : "special file with contents";
	}
}

/* A regular backing file. Called with in->meta_lock (and its io_lock
 * shared: the header may be being rewritten). */
static int load_reg(struct lfs_fs *fs, struct lfs_inode *in, int fd, int rfd, const struct stat *st,
                    const struct lfs_attr_at *at, int v1_ok, struct verdict *v)
{
	uint8_t raw[LFS_FILE_HDR_MAX];
	size_t got = 0;
	struct lfs_irec arec;
	const char *awhy = NULL;
	/* -o iattr: the inode attribute, from the backing inode the lookup's
	 * stat has read already, instead of the header (FORMAT.md 14.9); its
	 * binding is checked by whatever acts on the file (lfs_attr_bind). */
	int ar = fs->iattr ? lfs_iattr_read_at(fs, fd, at ? at->dirfd : -1, at ? at->name : NULL,
	                                       &arec, in->iattr_bind, &awhy)
	                   : 0;
	if (ar < 0 && ar != -EIO)
		return ar;
	/* An unusable one (of an epoch a rotation retired while a crash had
	 * left it beside a new unflagged header, or planted): the header
	 * decides; a flagged one reads it again and refuses it. */
	bool stray = ar == -EIO;
	/* A format-2 file is never shorter than its header: one that is (an
	 * empty file planted under the name, which kept the xattr) is for the
	 * header path to refuse. */
	if (ar == 1 && (uint64_t)st->st_size < LFS_FILE_HDR_V2_LEN)
		ar = 0;
	if (ar == 1) {
		in->rec = arec;
		in->have_rec = true;
		in->rec_ctime = st->st_ctim;
		in->type = S_IFREG;
		in->fmt = 2;
		in->iattr_src = true;
		in->iattr_bound = false;
		return 0;
	}
	int r = read_head(fd, rfd, raw, &got);
	if (r < 0)
		return r;
	int ver = got == 0 ? (int)LFS_FILE_V1 : lfs_header_version(raw, got);
	struct lfs_file_header h;
	const struct lfs_epoch_keys *k;
	if (ver == LFS_FILE_V2) {
		if (lfs_header_parse(raw, got, &h) < 0 || h.cipher != fs->layout.cipher)
			return refuse(v, "malformed file header");
		if ((r = lfs_keyring_get(fs->kr, h.epoch, &k)) == -EACCES)
			return r;
		if (r < 0)
			return refuse(v, "file of an epoch the keyring does not hold");
		struct lfs_irec rec;
		r = lfs_header_verify(raw, &h, k, &rec);
		lfs_keyring_put(fs->kr);
		if (r < 0)
			return refuse(v, "file record does not authenticate");
		const char *why = bad_size(fs, &rec, (uint64_t)st->st_size);
		if (why)
			return refuse(v, why);
		in->iattr_src = false;
		if (stray && !(h.flags & LFS_HDR_FLAG_IATTR))
			lfs_iattr_drop(fd); /* means nothing beside this header */
		if (h.flags & LFS_HDR_FLAG_IATTR) {
			/* The attribute is the record (the header's is stale). */
			if (rec.type != LFS_IREC_REG)
				return refuse(v,
				              "inode attribute flag on a file that is not regular");
			ar = lfs_iattr_for_header(fs, fd, &h, &rec, &arec, &awhy);
			if (ar == -EIO)
				return refuse(v, awhy);
			if (ar < 0)
				return ar;
			if (ar == 0) {
				snprintf(v->why, sizeof(v->why), "%s", awhy);
				v->degraded = true;
			}
			rec = arec;
			in->iattr_src = true;
			in->iattr_bound = true;
			memcpy(in->iattr_bind, h.file_id, LFS_IATTR_BIND_LEN);
		}
		in->header = h;
		in->have_header = true;
		in->rec = rec;
		in->have_rec = true;
		in->rec_ctime = st->st_ctim;
		in->type = lfs_irec_ifmt(rec.type);
		in->fmt = 2;
		return 0;
	}
	/* Format 1: accepted under its own epoch when that is not of format
	 * 2, or, with no authentic header (empty, or damaged: reads then fail
	 * as they always did), where its directory allows format 1. */
	int own = 0; /* 1: its epoch allows format 1, -1: it does not */
	if (ver == LFS_FILE_V1 && got > 0 && lfs_header_parse(raw, got, &h) == 0 &&
	    h.cipher == fs->layout.cipher) {
		if ((r = lfs_keyring_get(fs->kr, h.epoch, &k)) == -EACCES)
			return r;
		if (r == 0) {
			if (lfs_header_verify(raw, &h, k, NULL) == 0)
				own = (k->flags & LFS_EPOCH_FORMAT2) ? -1 : 1;
			lfs_keyring_put(fs->kr);
		}
		if (own > 0) {
			in->header = h;
			in->have_header = true;
		}
	}
	if (own < 0 || (own == 0 && !v1_ok))
		return refuse(v, "format-1 file where only format 2 may be");
	in->type = S_IFREG;
	in->fmt = 1;
	return 0;
}

/* Anything else in the backing store (a symlink, a FIFO, a socket, a
 * device node) is of format 1. Called with in->meta_lock. */
static int load_other(struct lfs_inode *in, const struct stat *st, int v1_ok, struct verdict *v)
{
	if (!v1_ok) {
		char why[96];
		snprintf(why, sizeof(why), "backing %s where only format 2 may be",
		         type_name(lfs_irec_type_of(st->st_mode)));
		return refuse(v, why);
	}
	in->type = st->st_mode & S_IFMT;
	in->fmt = 1;
	return 0;
}

bool lfs_attr_loaded(const struct lfs_inode *in)
{
	return in->fmt == 1 || (in->fmt == 2 && in->have_rec);
}

/* Loads in (its meta_lock held) by the backing object's type. */
static int load_locked(struct lfs_fs *fs, struct lfs_inode *in, int fd, int rfd,
                       const struct stat *st, const struct lfs_attr_at *at, int v1_ok,
                       struct verdict *v)
{
	if (S_ISDIR(st->st_mode))
		return load_dir(fs, in, fd, v1_ok, v);
	if (S_ISREG(st->st_mode))
		return load_reg(fs, in, fd, rfd, st, at, v1_ok, v);
	return load_other(in, st, v1_ok, v);
}

/* lfs_attr_load; rfd: a readable descriptor of the object, or -1 for
 * in's open writer's, if any (fs.h: wfd, usable under io_lock, which a
 * regular file's load holds). */
static int attr_load(struct lfs_fs *fs, struct lfs_inode *parent, int pfd, const char *bname,
                     struct lfs_inode *in, int fd, int rfd, const struct stat *st)
{
	pthread_mutex_lock(&in->meta_lock);
	bool done = lfs_attr_loaded(in);
	pthread_mutex_unlock(&in->meta_lock);
	if (done)
		return 0;
	int v1_ok = v1_allowed_in(fs, parent, pfd);
	if (v1_ok < 0)
		return v1_ok;
	bool reg = S_ISREG(st->st_mode);
	struct verdict v = {"", false};
	if (reg)
		pthread_rwlock_rdlock(&in->io_lock);
	pthread_mutex_lock(&in->meta_lock);
	int r = 0;
	if (!lfs_attr_loaded(in)) {
		uint8_t before = in->fmt;
		struct lfs_attr_at at = {pfd, bname};
		int hint = rfd >= 0 || !reg ? rfd : in->wfd;
		r = load_locked(fs, in, fd, hint, st, bname && pfd >= 0 ? &at : NULL, v1_ok, &v);
		/* A record that was dropped (after a recovery) comes back from
		 * an object of the same format, or not at all. */
		if (r == 0 && before && in->fmt != before) {
			in->fmt = before;
			in->have_rec = false;
			r = refuse(&v, "object changed format under its inode");
		}
	}
	pthread_mutex_unlock(&in->meta_lock);
	if (reg)
		pthread_rwlock_unlock(&in->io_lock);
	if (r == -EIO && v.why[0])
		lfs_attr_report(fs, fd, st, v.why);
	else if (r == 0 && v.degraded)
		lfs_attr_report_as(fs, fd, st, v.why, "degraded");
	return r;
}

int lfs_attr_load(struct lfs_fs *fs, struct lfs_inode *parent, int pfd, const char *bname,
                  struct lfs_inode *in, int fd, const struct stat *st)
{
	return attr_load(fs, parent, pfd, bname, in, fd, -1, st);
}

int lfs_attr_check(struct lfs_fs *fs, const struct lfs_dirmeta *pm, int fd, const struct stat *st,
                   uint8_t *fmt, struct lfs_irec *rec, char *why, size_t whylen)
{
	int v1_ok = 1;
	if (pm) {
		int f = epoch_flags(fs, pm->epoch);
		if (f == -EACCES)
			return f;
		v1_ok = v1_flags_ok(fs, f);
	}
	struct lfs_inode in;
	struct verdict v = {"", false};
	memset(&in, 0, sizeof(in));
	pthread_mutex_init(&in.meta_lock, NULL);
	int r = load_locked(fs, &in, fd, -1, st, NULL, v1_ok, &v);
	pthread_mutex_destroy(&in.meta_lock);
	if (r == 0 && v.degraded)
		r = -EIO; /* fsck reports it (a mount serves the fail-safe view) */
	*fmt = in.fmt;
	if (r == 0 && in.have_rec)
		*rec = in.rec;
	snprintf(why, whylen, "%s", v.why);
	return r;
}

int lfs_attr_stat(struct lfs_fs *fs, struct lfs_inode *in, int fd, struct stat *st, uint64_t mark)
{
	return lfs_attr_stat_rfd(fs, in, fd, -1, st, mark);
}

int lfs_attr_stat_rfd(struct lfs_fs *fs, struct lfs_inode *in, int fd, int rfd, struct stat *st,
                      uint64_t mark)
{
	/* Shared: another host's chmod or chown rewrote the file's header in
	 * place, which moved the backing change time. The record is read
	 * again then, so that this host shows and enforces the new mode and
	 * owner at its next stat (the kernel asks at every permission check:
	 * attribute timeout 0), at no backing call while nothing changed. */
	if (fs->shared && S_ISREG(st->st_mode)) {
		pthread_mutex_lock(&in->meta_lock);
		if (in->fmt == 2 && in->have_rec &&
		    (in->rec_ctime.tv_sec != st->st_ctim.tv_sec ||
		     in->rec_ctime.tv_nsec != st->st_ctim.tv_nsec))
			in->have_rec = false;
		pthread_mutex_unlock(&in->meta_lock);
	}
	lfs_times_settle(in, fd, st, mark); /* a rotation's conversion */
	int r = attr_load(fs, NULL, -1, NULL, in, fd, rfd, st);
	if (r < 0)
		return r;
	lfs_times_apply(in, fd, st, mark);
	pthread_mutex_lock(&in->meta_lock);
	uint8_t fmt = in->fmt;
	struct lfs_irec rec = in->rec;
	pthread_mutex_unlock(&in->meta_lock);
	if (fmt != 2) {
		lfs_stat_to_plain(fs, st);
		lfs_link_fix_size(fd, st);
		return 0;
	}
	if (S_ISREG(st->st_mode)) {
		struct lfs_layout l;
		uint64_t plain;
		bool data = rec.type == LFS_IREC_REG || rec.type == LFS_IREC_LNK;
		lfs_layout_init(&l, fs->layout.cipher, LFS_FILE_V2);
		lfs_plain_size(&l, (uint64_t)st->st_size, &plain);
		/* st_blocks from the backing stat (holes.h), before its size
		 * becomes the plaintext's; nodes without contents have none. */
		st->st_blocks = data ? lfs_holes_blocks(&l, st) : 0;
		st->st_size = data ? (off_t)plain : 0;
	}
	lfs_irec_to_stat(&rec, st);
	return 0;
}

uint64_t lfs_backing_plain_size(struct lfs_fs *fs, int dirfd, const char *name, uint64_t backing)
{
	uint8_t head[5];
	size_t got = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || lfs_pread_full(fd, head, sizeof(head), 0, &got) < 0)
		got = 0;
	if (fd >= 0)
		close(fd);
	struct lfs_layout l;
	uint64_t plain = 0;
	lfs_layout_init(&l, fs->layout.cipher,
	                lfs_header_version(head, got) == LFS_FILE_V2 ? LFS_FILE_V2 : LFS_FILE_V1);
	lfs_plain_size(&l, backing, &plain);
	return plain;
}

int lfs_attr_fstat(struct lfs_fs *fs, struct lfs_inode *in, int ifd, struct stat *st)
{
	uint64_t mark = lfs_times_mark();
	if (fstatat(ifd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return lfs_attr_stat(fs, in, ifd, st, mark);
}
