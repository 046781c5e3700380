/* SPDX-License-Identifier: Apache-2.0 */
/* One regular file's conversion to the target epoch (rotation phase
 * "file"): journal, re-seal every block in place (refile.c), new header. */
#define _GNU_SOURCE
#include "convert.h"
#include "record.h"
#include "refile.h"
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

/* Reads and authenticates a file header; -ENODATA for an empty file. */
int lfs_rot_read_header(struct lfs_fs *fs, int fd, uint8_t raw[LFS_FILE_HDR_LEN],
                        struct lfs_file_header *h, uint64_t *plain)
{
	struct stat st;
	size_t got;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0)
		return -ENODATA;
	lfs_plain_size(&fs->layout, (uint64_t)st.st_size, plain);
	int e = lfs_pread_full(fd, raw, LFS_FILE_HDR_LEN, 0, &got);
	if (e < 0)
		return e;
	if (got != LFS_FILE_HDR_LEN || lfs_header_parse(raw, got, h) < 0)
		return -EIO;
	if (lfs_epoch_is_staging(h->epoch))
		return 0; /* not ours to check or rotate */
	const struct lfs_epoch_keys *k;
	if ((e = lfs_keyring_get(fs->kr, h->epoch, &k)) < 0)
		return e;
	e = lfs_header_verify(raw, k->hdr_mac) < 0 ? -EIO : 0;
	lfs_keyring_put(fs->kr);
	return e;
}

static int new_header_raw(struct lfs_fs *fs, const struct lfs_file_header *h, uint8_t *raw)
{
	const struct lfs_epoch_keys *k;
	int e = lfs_keyring_get(fs->kr, h->epoch, &k);
	if (e == 0) {
		lfs_header_encode(h, k->hdr_mac, raw);
		lfs_keyring_put(fs->kr);
	}
	return e;
}

/* The re-sealing, each run of blocks under a block record of its own
 * (fs/overwrite.h), naming the file as the conversion's record does. */
static int refile_recorded(struct lfs_fs *fs, int fd, const struct lfs_file_header *oh,
                           const struct lfs_file_header *nh, bool (*keep_going)(void *ctx),
                           void *ctx, uint64_t *plain)
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
		e = lfs_refile(&fs->layout, fs->kr, &w, fd, oh, nh, false, keep_going, ctx, plain);
		if (e == 0 && w.kept)
			e = -EIO; /* converted, but a record stays: finish at recovery */
	}
	if (key)
		sodium_free(key);
	free(t);
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

int lfs_rot_convert_file(struct walk *w, int dirfd, const char *name, const char *rel)
{
	struct lfs_fs *fs = w->fs;
	struct lfs_inode *in = lfs_inode_hold(fs, dirfd, name);
	if (!in)
		return -errno ? -errno : -ENOENT;
	pthread_rwlock_wrlock(&in->io_lock);
	int ifd = lfs_inode_pin(fs, in);
	char proc[LFS_PROC_PATH_MAX];
	int fd = -1, e = ifd;
	if (ifd >= 0) {
		lfs_proc_path(ifd, proc);
		fd = open(proc, O_RDWR | O_CLOEXEC);
		e = fd < 0 ? -errno : 0;
	}
	/* Shared: other hosts' writes and truncations wait, and their reads
	 * retry, until the file is under one header again (fs/filelock.h).
	 * Released when fd is closed. */
	if (e == 0 && fs->shared)
		e = lfs_range_lock(fd, true, LFS_FLOCK_SIZE, 1, true);
	uint8_t old_raw[LFS_FILE_HDR_LEN], new_raw[LFS_FILE_HDR_LEN];
	struct lfs_file_header oh = {0}, nh;
	struct stat st;
	uint64_t plain = 0;
	unsigned slot = 0;
	if (e == 0)
		e = lfs_rot_read_header(fs, fd, old_raw, &oh, &plain);
	if (e == 0 && in->tail_broken)
		e = -EIO; /* an update of it waits for recovery */
	if (e == -ENODATA || (e == 0 && !lfs_rot_is_old(w->r, oh.epoch))) {
		e = 0; /* emptied or rewritten under the new epoch meanwhile */
		goto out;
	}
	if (e == 0 && fstat(fd, &st) < 0)
		e = -errno;
	if (e == 0) {
		lfs_header_new(&nh, fs->layout.cipher, w->r->target);
		nh.flags = oh.flags;
		e = new_header_raw(fs, &nh, new_raw);
	}
	if (e == 0)
		e = lfs_rot_record_begin(fs, LFS_JK_ROTATE_FILE, fd, rel, old_raw, new_raw,
					 LFS_FILE_HDR_LEN, &slot);
	if (e == 0) {
		e = refile_recorded(fs, fd, &oh, &nh, still_going, w, &plain);
		/* Contents did not change: keep the times the user sees. */
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		if (e == 0 && futimens(fd, ts) < 0)
			lfs_warn("rotation: cannot restore the times of %s: %s",
			         rel[0] ? rel : "d/", strerror(errno));
		if (e == 0) {
			pthread_mutex_lock(&in->meta_lock);
			in->header = nh;
			in->have_header = true;
			pthread_mutex_unlock(&in->meta_lock);
			lfs_rot_record_end(fs, slot);
			pthread_mutex_lock(&w->r->lock);
			w->r->files_done++;
			w->r->bytes_done += plain;
			pthread_mutex_unlock(&w->r->lock);
		}
		else
			/* The record stays for the next recovery, which finishes
			 * the file; until then nothing else may change it. */
			fail_file(fs, in, slot);
	}
out:
	if (fd >= 0)
		close(fd);
	if (ifd >= 0)
		lfs_inode_unpin(fs, in);
	pthread_rwlock_unlock(&in->io_lock);
	lfs_inode_release(fs, in);
	return e;
}
