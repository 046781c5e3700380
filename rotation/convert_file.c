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
#include "../fs/filelock.h"
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

/* The re-sealing, each run of blocks under a block record of its own
 * (fs/overwrite.h), naming the file as the conversion's record does. */
static int refile_recorded(struct lfs_fs *fs, const struct lfs_layout *l, int fd,
                           const struct lfs_file_header *oh, const struct lfs_file_header *nh,
                           const uint8_t *new_raw, bool (*keep_going)(void *ctx), void *ctx,
                           uint64_t *plain)
{
	struct lfs_journal_target *t = malloc(sizeof(*t));
	uint8_t *key = sodium_malloc(LFS_JOURNAL_KEY_LEN);
	int e = t && key ? 0 : -ENOMEM;
	if (e == 0)
		e = lfs_keyring_copy_journal_key(fs->kr, key);
	if (e == 0)
		e = lfs_journal_target_of(fd, fs->data_path ? fs->data_path : "",
		                          fs->handle_mount_fd >= 0, t);
	if (e == 0) {
		struct lfs_overwriter w = {
		    .journal = fs->journal, .key = key, .target = t, .kr = fs->kr};
		e = lfs_refile(l, fs->kr, &w, fd, oh, nh, new_raw, false, keep_going, ctx, plain);
		if (e == 0 && w.kept)
			e = -EIO; /* converted, but a record stays: finish at recovery */
	}
	if (key)
		sodium_free(key);
	free(t);
	return e;
}

int lfs_rot_file_new_header(struct walk *w, const struct lfs_rot_file *f,
                            struct lfs_file_header *nh, uint8_t new_raw[LFS_FILE_HDR_MAX])
{
	lfs_header_new(nh, w->fs->layout.cipher, w->r->target, f->oh.version);
	nh->flags = f->oh.flags;
	return new_header_raw(w->fs, nh, &f->rec, new_raw);
}

void lfs_rot_file_done(struct walk *w, struct lfs_rot_file *f, const struct lfs_file_header *nh,
                       const char *rel)
{
	/* Contents did not change: keep the times the user sees. */
	struct timespec ts[2] = {f->st.st_atim, f->st.st_mtim};
	if (futimens(f->fd, ts) < 0)
		lfs_warn("rotation: cannot restore the times of %s: %s", rel[0] ? rel : "d/",
		         strerror(errno));
	pthread_mutex_lock(&f->in->meta_lock);
	f->in->header = *nh;
	f->in->have_header = true;
	pthread_mutex_unlock(&f->in->meta_lock);
	count_done(w, f->plain);
}

void lfs_rot_file_broken(struct lfs_rot_file *f)
{
	f->in->tail_broken = true;
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
	e = lfs_rot_record_begin(fs, LFS_JK_ROTATE_FILE, f->fd, rel, f->old_raw, l.hdr_len,
	                         new_raw, l.hdr_len, &slot);
	if (e < 0)
		return e;
	uint64_t plain = f->plain;
	e = refile_recorded(fs, &l, f->fd, &f->oh, &nh, new_raw, still_going, w, &plain);
	if (e < 0) {
		/* The record stays for the next recovery, which finishes the
		 * file; until then nothing else may change it. */
		fail_file(fs, f->in, slot);
		return e;
	}
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

int lfs_rot_file_open(struct walk *w, int dirfd, const char *name, bool try_lock,
                      struct lfs_rot_file *f)
{
	struct lfs_fs *fs = w->fs;
	memset(f, 0, sizeof(*f));
	f->ifd = f->fd = -1;
	f->in = lfs_inode_hold(fs, dirfd, name);
	if (!f->in)
		return -errno ? -errno : -ENOENT;
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
	if (f->ifd >= 0) {
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
	if (e == 0 && f->in->tail_broken)
		e = -EIO; /* an update of it waits for recovery */
	if (e == -ENODATA || (e == 0 && !lfs_rot_is_old(w->r, f->oh.epoch)))
		e = 1; /* emptied or rewritten under the new epoch meanwhile */
	if (e != 0)
		lfs_rot_file_close(w, f);
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
