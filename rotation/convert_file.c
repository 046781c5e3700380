/* SPDX-License-Identifier: Apache-2.0 */
/* One regular file's conversion to the target epoch (rotation phase
 * "file"): journal, re-seal every block in place (refile.c), new header;
 * a format-1 file toward a format-2 epoch is converted to format 2
 * instead (upconvert.h). */
#define _GNU_SOURCE
#include "convert.h"
#include "record.h"
#include "refile.h"
#include "upconvert.h"
#include "../cluster/rangelock.h"
#include "../fs/attr.h"
#include "../fs/filelock.h"
#include "../fs/heldtimes.h"
#include "../fs/iattr.h"
#include "walk.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../journal/target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

int lfs_rot_read_header(struct lfs_fs *fs, int fd, uint8_t raw[LFS_FILE_HDR_MAX],
                        struct lfs_file_header *h, struct lfs_irec *rec, uint64_t *plain)
{
	struct stat st;
	size_t got;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0)
		return -ENODATA;
	int e = lfs_pread_full(fd, raw, LFS_FILE_HDR_MAX, 0, &got);
	if (e < 0)
		return e;
	int v = lfs_header_version(raw, got);
	if (v < 0 || lfs_header_parse(raw, got, h) < 0 || h->cipher != fs->layout.cipher)
		return -EIO;
	struct lfs_layout l;
	lfs_layout_init(&l, fs->layout.cipher, (unsigned)v);
	lfs_plain_size(&l, (uint64_t)st.st_size, plain);
	if (lfs_epoch_is_staging(h->epoch))
		return 0; /* not ours to check or rotate */
	const struct lfs_epoch_keys *k;
	if ((e = lfs_keyring_get(fs->kr, h->epoch, &k)) < 0)
		return e;
	e = lfs_header_verify(raw, h, k, rec) < 0 ? -EIO : 0;
	lfs_keyring_put(fs->kr);
	return e;
}

bool lfs_rot_target_format2(struct walk *w)
{
	const struct lfs_epoch_keys *k;
	if (lfs_keyring_get(w->fs->kr, w->r->target, &k) < 0)
		return false;
	bool v2 = (k->flags & LFS_EPOCH_FORMAT2) != 0;
	lfs_keyring_put(w->fs->kr);
	return v2;
}

static int new_header_raw(struct lfs_fs *fs, const struct lfs_file_header *h,
                          const struct lfs_irec *rec, uint8_t *raw)
{
	const struct lfs_epoch_keys *k;
	int e = lfs_keyring_get(fs->kr, h->epoch, &k);
	if (e == 0) {
		e = lfs_header_encode(h, k, rec, raw);
		lfs_keyring_put(fs->kr);
	}
	return e;
}

/* A conversion that failed or stopped half way (a block that authenticates
 * under neither header, an I/O error, a lock or the unmount between two
 * chunks): its record stays for the next recovery (at the unlock, before
 * the gate opens, or the next mount), which finishes it, and the file takes
 * no other change until then, since its blocks are under two headers. */
static void fail_file(struct lfs_fs *fs, struct lfs_inode *in, unsigned slot)
{
	lfs_journal_keep(fs->journal, slot);
	in->tail_broken = true;
}

static bool still_going(void *ctx)
{
	return lfs_rot_keep_going(ctx);
}

static void count_done(struct walk *w, uint64_t plain)
{
	pthread_mutex_lock(&w->r->lock);
	w->r->files_done++;
	w->r->bytes_done += plain;
	pthread_mutex_unlock(&w->r->lock);
}

/* What the re-sealing of one file writes through: block records naming
 * the file as the conversion's record does (fs/overwrite.h). */
struct sealer {
	struct lfs_journal_target *t;
	uint8_t *key;
	struct lfs_overwriter w;
};

static int sealer_open(struct lfs_fs *fs, int fd, struct sealer *s)
{
	memset(s, 0, sizeof(*s));
	s->t = malloc(sizeof(*s->t));
	s->key = sodium_malloc(LFS_JOURNAL_KEY_LEN);
	int e = s->t && s->key ? 0 : -ENOMEM;
	if (e == 0)
		e = lfs_keyring_copy_journal_key(fs->kr, s->key);
	if (e == 0)
		e = lfs_journal_target_of(fd, fs->data_path ? fs->data_path : "",
		                          fs->handle_mount_fd >= 0, s->t);
	/* Each run in the durable order (its record synced first, the file
	 * synced before it is cleared), on every mount: the blocks a rotation
	 * re-seals hold data synced long ago, and one torn by a power loss
	 * with no record on disk opens under neither key (FORMAT.md 12.11;
	 * what it costs: PERFORMANCE.md, "A key rotation in the durable
	 * order"). */
	s->w = (struct lfs_overwriter){
	    .journal = fs->journal, .key = s->key, .target = s->t, .kr = fs->kr, .durable = true};
	return e;
}

static void sealer_close(struct sealer *s)
{
	if (s->key)
		sodium_free(s->key);
	free(s->t);
}

/* The re-sealing, each run of blocks under a block record of its own. */
static int refile_recorded(struct lfs_fs *fs, const struct lfs_layout *l, int fd,
                           const struct lfs_file_header *oh, const struct lfs_file_header *nh,
                           const uint8_t *new_raw, bool (*keep_going)(void *ctx), void *ctx,
                           uint64_t *plain)
{
	struct sealer s;
	int e = sealer_open(fs, fd, &s);
	if (e == 0) {
		e = lfs_refile(l, fs->kr, &s.w, fd, oh, nh, new_raw, false, keep_going, ctx, plain);
		if (e == 0 && s.w.kept)
			e = -EIO; /* converted, but a record stays: finish at recovery */
		if (e == 0 && s.w.sync_err)
			e = -s.w.sync_err; /* not known to be durable: settled as a failure */
	}
	sealer_close(&s);
	return e;
}

/* Attempts (each a second's worth of backing-store trouble apart at most)
 * to finish, else to undo, a conversion that failed half way on the live
 * mount. */
#define SETTLE_TRIES 3

static void settle_pause(int attempt)
{
	struct timespec ts = {0, (long)(50 * 1000 * 1000) << attempt};
	nanosleep(&ts, NULL);
}

/* A conversion that failed half way (an I/O error, a full disk, the new
 * header not written): its blocks are under two headers, and a reader of
 * either header would fail on the others. Rather than leave the file so
 * until the next mount, the live mount runs the record's recovery on it
 * now (lfs_rot_apply_file, as daemon/recover.c would), retried; if the
 * backing store keeps refusing, the conversion is undone instead (every
 * block back under the old header, which is still the one on disk). Returns
 * 1 finished (the file is under the new header), 0 undone (under the old
 * one), or a negative errno: neither, the record stays for the next
 * recovery and the file reads EIO, never another file's or stale data,
 * where its blocks are under the other header. */
static int settle_file(struct lfs_fs *fs, int fd, const struct lfs_layout *l,
                       const uint8_t *old_raw, const struct lfs_file_header *oh,
                       const uint8_t *new_raw, const struct lfs_file_header *nh)
{
	uint8_t payload[2 * LFS_FILE_HDR_MAX];
	memcpy(payload, old_raw, l->hdr_len);
	memcpy(payload + l->hdr_len, new_raw, l->hdr_len);
	int e = -EIO;
	for (int i = 0; i < SETTLE_TRIES && e < 0; i++) {
		struct sealer s;
		if (i > 0)
			settle_pause(i);
		if ((e = sealer_open(fs, fd, &s)) == 0)
			e = lfs_rot_apply_file(fs->layout.cipher, fs->kr, &s.w, fd, payload,
			                       2 * l->hdr_len);
		sealer_close(&s);
		if (e == -EACCES)
			return e; /* locked meanwhile: the unlock's recovery finishes it */
	}
	if (e == 0)
		return 1;
	/* Undone: the same re-sealing the other way (old and new swapped),
	 * blocks already under the old header left as they are. A crash in
	 * the middle leaves the record, whose recovery finishes the
	 * conversion forward: every block opens under one of its headers. */
	for (int i = 0; i < SETTLE_TRIES && e < 0; i++) {
		struct sealer s;
		settle_pause(i);
		if ((e = sealer_open(fs, fd, &s)) == 0)
			e = lfs_refile(l, fs->kr, &s.w, fd, nh, oh, old_raw, true, NULL, NULL,
			               NULL);
		sealer_close(&s);
		if (e == -EACCES)
			return e;
	}
	return e;
}

int lfs_rot_file_new_header(struct walk *w, const struct lfs_rot_file *f,
                            struct lfs_file_header *nh, uint8_t new_raw[LFS_FILE_HDR_MAX])
{
	lfs_header_new(nh, w->fs->layout.cipher, w->r->target, f->oh.version);
	/* A file with an inode attribute gets its new header without the
	 * flag, holding the attribute's record: right on its own after a
	 * crash; lfs_rot_file_done then binds a new attribute to it and sets
	 * the flag (FORMAT.md 14.9). */
	nh->flags = f->oh.flags & ~LFS_HDR_FLAG_IATTR;
	return new_header_raw(w->fs, nh, &f->rec, new_raw);
}

void lfs_rot_file_done(struct walk *w, struct lfs_rot_file *f, const struct lfs_file_header *nh,
                       const char *rel)
{
	/* Contents did not change: keep the times the user sees (those held
	 * since lfs_rot_file_open, or set through the mount meanwhile). */
	int t = lfs_times_release(f->in, f->fd);
	if (t < 0)
		lfs_warn("rotation: cannot restore the times of %s: %s", rel[0] ? rel : "d/",
		         strerror(-t));
	struct lfs_file_header h = *nh;
	/* With -o iattr, a regular file that had none gets its attribute too. */
	bool give = (f->oh.flags & LFS_HDR_FLAG_IATTR) ||
	            (w->fs->iattr && h.version == LFS_FILE_V2 && lfs_iattr_fits(&f->rec) &&
	             !lfs_epoch_is_staging(h.epoch));
	int a = give ? lfs_iattr_adopt(w->fs, f->fd, &h, &f->rec) : 1;
	if (a < 0)
		lfs_warn("rotation: %s keeps its record in its header only (the inode attribute "
		         "could not be written: %s)",
		         rel[0] ? rel : "d/", strerror(-a));
	pthread_mutex_lock(&f->in->meta_lock);
	f->in->header = h;
	f->in->have_header = true;
	if (a == 0) {
		memcpy(f->in->iattr_bind, h.file_id, sizeof(f->in->iattr_bind));
		f->in->iattr_src = true;
		f->in->iattr_bound = true;
	} else if (a < 0) {
		f->in->iattr_src = false; /* the unflagged header is the record */
	}
	pthread_mutex_unlock(&f->in->meta_lock);
	count_done(w, f->plain);
}

void lfs_rot_file_broken(struct lfs_rot_file *f)
{
	f->in->tail_broken = true;
}

int lfs_rot_file_settle(struct walk *w, struct lfs_rot_file *f, const struct lfs_file_header *nh,
                        const uint8_t *new_raw)
{
	struct lfs_layout l;
	lfs_layout_init(&l, w->fs->layout.cipher, f->oh.version);
	return settle_file(w->fs, f->fd, &l, f->old_raw, &f->oh, new_raw, nh);
}

/* Same version: every block re-sealed in place under a new header. */
static int refile_in_place(struct walk *w, struct lfs_rot_file *f, const char *rel)
{
	struct lfs_fs *fs = w->fs;
	struct lfs_file_header nh;
	struct lfs_layout l;
	uint8_t new_raw[LFS_FILE_HDR_MAX];
	unsigned slot = 0;
	lfs_layout_init(&l, fs->layout.cipher, f->oh.version);
	int e = lfs_rot_file_new_header(w, f, &nh, new_raw);
	if (e < 0)
		return e;
	e = lfs_rot_record_begin(fs, LFS_JK_ROTATE_FILE, f->fd, rel, f->old_raw, l.hdr_len, new_raw,
	                         l.hdr_len, &slot);
	if (e < 0)
		return e;
	uint64_t plain = f->plain;
	e = refile_recorded(fs, &l, f->fd, &f->oh, &nh, new_raw, still_going, w, &plain);
	/* Stopped by a lock: the keys may be gone; the unlock's recovery
	 * finishes the file before the gate opens. Any other failure is
	 * settled here, on the live mount (issue 12, cause A). */
	int settled = 1;
	if (e == -EINTR || e == -EACCES)
		settled = e;
	else if (e < 0)
		settled = lfs_rot_file_settle(w, f, &nh, new_raw);
	if (settled == 0) {
		/* Undone: the file is as it was, under its old header. */
		lfs_warn("rotation: the conversion of %s failed (%s) and was undone; the next "
		         "pass tries again",
		         rel[0] ? rel : "(by handle)", strerror(-e));
		lfs_rot_record_end(fs, slot);
		return e;
	}
	if (settled < 0) {
		/* The record stays for the next recovery, which finishes the
		 * file; until then nothing else may change it. */
		fail_file(fs, f->in, slot);
		return e;
	}
	if (e < 0)
		lfs_info("rotation: the conversion of %s was finished after a failure (%s)",
		         rel[0] ? rel : "(by handle)", strerror(-e));
	lfs_rot_file_done(w, f, &nh, rel);
	lfs_rot_record_end(fs, slot);
	return 0;
}

/* A format-1 file toward a format-2 epoch: converted to format 2. */
static int upconvert(struct walk *w, struct lfs_inode *in, int fd, const uint8_t *old_raw,
                     const struct lfs_file_header *oh, uint64_t plain)
{
	struct lfs_fs *fs = w->fs;
	struct lfs_up_env env = {.kr = fs->kr,
	                         .cipher = fs->layout.cipher,
	                         .journal = fs->journal,
	                         .treefd = w->treefd,
	                         .data_path = fs->data_path,
	                         .handles = fs->handle_mount_fd >= 0};
	struct lfs_file_header nh;
	struct lfs_irec rec;
	int e = lfs_up_file(&env, fd, oh, w->r->target, &nh, &rec);
	if (e < 0) {
		/* Begun (the new header is the first thing copied): its record
		 * finishes it at the next recovery; until then hands off. */
		uint8_t cur[LFS_FILE_HDR_V1_LEN];
		size_t got = 0;
		if (lfs_pread_full(fd, cur, sizeof(cur), 0, &got) < 0 || got != sizeof(cur) ||
		    memcmp(cur, old_raw, sizeof(cur)) != 0)
			in->tail_broken = true;
		return e;
	}
	pthread_mutex_lock(&in->meta_lock);
	in->header = nh;
	in->have_header = true;
	in->rec = rec;
	in->have_rec = true;
	in->fmt = 2;
	pthread_mutex_unlock(&in->meta_lock);
	count_done(w, plain);
	return 0;
}

/* A file whose header says it has an inode attribute: the attribute's
 * record is the one carried over (FORMAT.md 14.9), or, when it is lost,
 * the header's own (f->rec already), which every change of the attribute
 * rewrites first: what a mount serves then. -EIO for an attribute that is
 * not this file's. */
static int attr_record(struct lfs_fs *fs, struct lfs_rot_file *f)
{
	struct lfs_irec rec;
	uint8_t bind[LFS_IATTR_BIND_LEN];
	const char *why = NULL;
	int r = lfs_iattr_read(fs, f->fd, &rec, bind, &why);
	if (r == 1 && sodium_memcmp(bind, f->oh.file_id, LFS_IATTR_BIND_LEN) != 0)
		r = -EIO;
	if (r < 0)
		return r;
	if (r == 1)
		f->rec = rec;
	return 0;
}

int lfs_rot_file_open(struct walk *w, int dirfd, const char *name, bool try_lock,
                      struct lfs_rot_file *f)
{
	struct lfs_fs *fs = w->fs;
	memset(f, 0, sizeof(*f));
	f->ifd = f->fd = -1;
	f->in = lfs_inode_hold(fs, dirfd, name);
	/* Removed or renamed away since the walk read its header: nothing to
	 * do here (wherever it went, the counting walk finds it). */
	if (!f->in)
		return errno == ENOENT || !errno ? 1 : -errno;
	if (!try_lock) {
		pthread_rwlock_wrlock(&f->in->io_lock);
	} else if (pthread_rwlock_trywrlock(&f->in->io_lock) != 0) {
		lfs_inode_release(fs, f->in);
		f->in = NULL;
		return -EBUSY;
	}
	f->ifd = lfs_inode_pin(fs, f->in);
	char proc[LFS_PROC_PATH_MAX];
	int e = f->ifd;
	/* The name is resolved again here: a FIFO or device node swapped in
	 * since the walk looked at it must not be opened (its open has
	 * effects of its own). The backing object's type, not the served
	 * one (format 2 keeps FIFOs in regular backing files). */
	struct stat bst;
	if (e >= 0 && fstat(f->ifd, &bst) < 0)
		e = -errno;
	else if (e >= 0 && !S_ISREG(bst.st_mode))
		e = -EINVAL;
	if (e >= 0) {
		lfs_proc_path(f->ifd, proc);
		f->fd = open(proc, O_RDWR | O_CLOEXEC);
		e = f->fd < 0 ? -errno : 0;
	}
	/* Shared: other hosts' writes and truncations wait, and their reads
	 * retry, until the file is under one header again (fs/filelock.h).
	 * Released when fd is closed. */
	if (e == 0 && fs->shared)
		e = lfs_range_lock(f->fd, true, LFS_FLOCK_SIZE, 1, true);
	if (e == 0 && fstat(f->fd, &f->st) < 0)
		e = -errno;
	if (e == 0)
		e = lfs_rot_read_header(fs, f->fd, f->old_raw, &f->oh, &f->rec, &f->plain);
	if (e == 0 && (f->oh.flags & LFS_HDR_FLAG_IATTR))
		e = attr_record(fs, f);
	if (e == 0 && f->in->tail_broken)
		e = -EIO; /* an update of it waits for recovery */
	if (e == -ENODATA || (e == 0 && !lfs_rot_is_old(w->r, f->oh.epoch)))
		e = 1; /* emptied or rewritten under the new epoch meanwhile */
	if (e != 0)
		lfs_rot_file_close(w, f);
	else
		lfs_times_hold(f->in, &f->st); /* stat shows these until done */
	return e;
}

bool lfs_rot_file_upconverts(struct walk *w, const struct lfs_rot_file *f)
{
	return f->oh.version == LFS_FILE_V1 && lfs_rot_target_format2(w);
}

int lfs_rot_file_convert(struct walk *w, struct lfs_rot_file *f, const char *rel)
{
	if (lfs_rot_file_upconverts(w, f))
		return upconvert(w, f->in, f->fd, f->old_raw, &f->oh, f->plain);
	return refile_in_place(w, f, rel);
}

void lfs_rot_file_close(struct walk *w, struct lfs_rot_file *f)
{
	if (!f->in)
		return;
	/* Not converted after all (a failure): the times go back too. */
	int t = f->fd >= 0 ? lfs_times_release(f->in, f->fd) : 0;
	if (t < 0)
		lfs_warn("rotation: cannot restore the times of a file: %s", strerror(-t));
	lfs_times_drop(f->in);
	if (f->fd >= 0)
		close(f->fd);
	if (f->ifd >= 0)
		lfs_inode_unpin(w->fs, f->in);
	pthread_rwlock_unlock(&f->in->io_lock);
	lfs_inode_release(w->fs, f->in);
	f->in = NULL;
	f->fd = f->ifd = -1;
}

int lfs_rot_convert_file(struct walk *w, int dirfd, const char *name, const char *rel)
{
	struct lfs_rot_file f;
	int e = lfs_rot_file_open(w, dirfd, name, false, &f);
	if (e != 0)
		return e > 0 ? 0 : e;
	e = lfs_rot_file_convert(w, &f, rel);
	lfs_rot_file_close(w, &f);
	return e;
}
