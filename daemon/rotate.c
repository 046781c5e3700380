/* SPDX-License-Identifier: Apache-2.0 */
/* The rotation worker: see rotate.h and docs/ROTATION.md. */
#define _GNU_SOURCE
#include "rotate.h"
#include "session.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../fs/dirnames.h"
#include "../fs/redir.h"
#include "../fs/refile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <sodium.h>

#define MAX_DEPTH 512

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void audit(struct lfs_rotation *r, const char *outcome, const char *k1, long long v1,
		  const char *k2, long long v2)
{
	struct lfs_audit_detail d[] = {{"mountpoint", r->s->mountpoint, 0}, {k1, NULL, v1},
				       {k2, NULL, v2}};
	lfs_session_audit(r->s, "rotate", outcome, NULL, d, k2 ? 3 : 2);
}

/* Reads the epochs and decides the state; with lock held. */
static void refresh_epochs(struct lfs_rotation *r)
{
	uint32_t ep[LFS_MAX_EPOCHS], cur = 0;
	int n = lfs_keyring_epochs(r->s->kr, ep, LFS_MAX_EPOCHS, &cur);
	if (n < 0) {
		if (r->state == LFS_ROT_RUNNING)
			r->state = LFS_ROT_PAUSED;
		return;
	}
	r->nold = 0;
	for (int i = 0; i < n; i++)
		if (ep[i] != cur && r->nold < 8)
			r->old_epochs[r->nold++] = ep[i];
	r->target = cur;
	if (r->nold == 0) {
		r->state = LFS_ROT_IDLE;
	} else if (r->state == LFS_ROT_IDLE || r->state == LFS_ROT_PAUSED) {
		r->state = LFS_ROT_RUNNING;
		if (!r->started)
			r->started = time(NULL);
	}
}

static int store_keyring(struct lfs_rotation *r)
{
	uint8_t ring[LFS_KEYRING_MAX_FILE_LEN];
	size_t len;
	int e = lfs_keyring_seal(r->s->kr, ring, &len);
	if (e == 0)
		e = lfs_replace_file(r->s->vault->dirfd, LFS_KEYRING_FILE_NAME, ring, len, 0600);
	return e;
}

static void store_state(struct lfs_rotation *r)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "lethefs-rotation 1\nstarted=%lld\n",
			 (long long)r->started);
	lfs_replace_file(r->s->vault->dirfd, LFS_ROTATION_FILE, buf, (size_t)n, 0600);
}

int lfs_rotation_request(struct lfs_rotation *r, uint32_t *epoch)
{
	pthread_mutex_lock(&r->lock);
	refresh_epochs(r);
	int e = 0;
	if (!lfs_keyring_is_unlocked(r->s->kr))
		e = -EACCES;
	else if (r->state == LFS_ROT_RUNNING)
		e = -EBUSY;
	uint32_t prev = r->target, ne = 0;
	if (e == 0 && (e = lfs_keyring_add_epoch(r->s->kr, &ne)) == 0) {
		/* On disk before anything is encrypted under it: a crash must
		 * never leave data under a key that exists nowhere else. The
		 * keyring's write lock (inside add_epoch) already made every
		 * new header wait; until the store succeeds, undo on failure. */
		if ((e = store_keyring(r)) < 0) {
			lfs_keyring_set_current(r->s->kr, prev);
			lfs_keyring_drop_epoch(r->s->kr, ne);
		}
	}
	if (e == 0) {
		*epoch = ne;
		r->started = time(NULL);
		r->completed = 0;
		r->files_done = r->bytes_done = r->files_total = r->bytes_total = 0;
		r->dirs_done = r->links_done = r->xattrs_done = r->errors = r->passes = 0;
		r->active_seconds = 0;
		r->state = LFS_ROT_IDLE;
		refresh_epochs(r);
		store_state(r);
		pthread_cond_signal(&r->wake);
	}
	pthread_mutex_unlock(&r->lock);
	if (e == 0) {
		lfs_info("rotation started: new data-key epoch %u", ne);
		audit(r, "started", "epoch", ne, "previous_epoch", prev);
	}
	return e;
}

/* --- one object at a time ------------------------------------------- */

struct walk {
	struct lfs_rotation *r;
	struct lfs_fs *fs;
	bool count_only;
	uint64_t found; /* objects of older epochs seen this pass */
	uint64_t files, bytes;
	double t0;
};

static bool is_old(struct lfs_rotation *r, uint32_t epoch)
{
	return epoch != r->target && !lfs_epoch_is_staging(epoch);
}

static int write_journal(struct lfs_rotation *r, struct lfs_rotjournal *j, int opath_fd)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[LFS_ROTJ_HANDLE_MAX];
	} h;
	int mnt;
	h.fh.handle_bytes = LFS_ROTJ_HANDLE_MAX;
	j->handle_len = 0;
	if (r->s->fs->handle_mount_fd >= 0 &&
	    name_to_handle_at(opath_fd, "", &h.fh, &mnt, AT_EMPTY_PATH) == 0) {
		j->handle_type = h.fh.handle_type;
		j->handle_len = h.fh.handle_bytes;
		memcpy(j->handle, h.fh.f_handle, h.fh.handle_bytes);
	}
	uint8_t buf[LFS_ROTJ_MAX_LEN];
	size_t len = lfs_rotjournal_encode(j, buf);
	/* fsync'd (file and vault directory) before the target is touched. */
	return lfs_replace_file(r->s->vault->dirfd, LFS_ROTATION_JOURNAL, buf, len, 0600);
}

static void drop_journal(struct lfs_rotation *r)
{
	unlinkat(r->s->vault->dirfd, LFS_ROTATION_JOURNAL, 0);
}

/* The inode for a backing object, registered in the table so that FUSE
 * requests on it share our io_lock and our updates of its caches. */
static struct lfs_inode *inode_for(struct lfs_fs *fs, int dirfd, const char *name)
{
	if (!name)
		return &fs->root;
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	int err = 0;
	struct lfs_inode *in = lfs_inode_get(fs, fd, &st, &err);
	if (!in)
		close(fd);
	return in;
}

static void inode_done(struct lfs_fs *fs, struct lfs_inode *in)
{
	if (in != &fs->root)
		lfs_inode_forget(fs, in, 1);
}

/* Reads and authenticates a file header; -ENODATA for an empty file. */
static int read_header(struct lfs_fs *fs, int fd, uint8_t raw[LFS_FILE_HDR_LEN],
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

static int convert_file(struct walk *w, int dirfd, const char *name, const char *rel)
{
	struct lfs_fs *fs = w->fs;
	struct lfs_inode *in = inode_for(fs, dirfd, name);
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
	struct lfs_rotjournal j;
	struct lfs_file_header oh, nh;
	struct stat st;
	uint64_t plain = 0;
	memset(&j, 0, sizeof(j));
	if (e == 0)
		e = read_header(fs, fd, j.old_raw, &oh, &plain);
	if (e == -ENODATA || (e == 0 && !is_old(w->r, oh.epoch))) {
		e = 0; /* emptied or rewritten under the new epoch meanwhile */
		goto out;
	}
	if (e == 0 && fstat(fd, &st) < 0)
		e = -errno;
	if (e == 0) {
		lfs_header_new(&nh, fs->layout.cipher, w->r->target);
		nh.flags = oh.flags;
		e = new_header_raw(fs, &nh, j.new_raw);
	}
	if (e == 0) {
		j.kind = LFS_ROTJ_FILE;
		j.dev = (uint64_t)st.st_dev;
		j.ino = (uint64_t)st.st_ino;
		snprintf(j.path, sizeof(j.path), "%s", rel);
		e = write_journal(w->r, &j, ifd);
	}
	if (e == 0) {
		e = lfs_refile(&fs->layout, fs->kr, fd, &oh, &nh, false, &plain);
		/* Contents did not change: keep the times the user sees. */
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		if (e == 0)
			futimens(fd, ts);
		if (e == 0) {
			pthread_mutex_lock(&in->meta_lock);
			in->header = nh;
			in->have_header = true;
			pthread_mutex_unlock(&in->meta_lock);
			drop_journal(w->r);
			pthread_mutex_lock(&w->r->lock);
			w->r->files_done++;
			w->r->bytes_done += plain;
			pthread_mutex_unlock(&w->r->lock);
		}
		/* On failure the journal stays: the next unlock replays it. */
	}
out:
	if (fd >= 0)
		close(fd);
	if (ifd >= 0)
		lfs_inode_unpin(fs, in);
	pthread_rwlock_unlock(&in->io_lock);
	inode_done(fs, in);
	return e;
}

static int convert_dir(struct walk *w, int parentfd, const char *name, const char *rel,
		       uint32_t *epoch)
{
	struct lfs_fs *fs = w->fs;
	struct lfs_inode *in = inode_for(fs, parentfd, name);
	if (!in)
		return -ENOENT;
	pthread_rwlock_wrlock(&in->io_lock);
	int ifd = lfs_inode_pin(fs, in), dfd = -1, e = ifd < 0 ? ifd : 0;
	struct lfs_dirmeta om, nm;
	if (e == 0)
		e = lfs_dirmeta_load(ifd, &om);
	if (e == 0)
		*epoch = om.epoch;
	if (e == 0 && is_old(w->r, om.epoch)) {
		struct lfs_rotjournal j;
		struct stat st;
		memset(&j, 0, sizeof(j));
		nm = om;
		nm.epoch = w->r->target;
		dfd = openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		e = dfd < 0 || fstat(dfd, &st) < 0 ? -errno : 0;
		if (e == 0) {
			j.kind = LFS_ROTJ_DIR;
			j.dev = (uint64_t)st.st_dev;
			j.ino = (uint64_t)st.st_ino;
			lfs_dirmeta_encode(&om, j.old_raw);
			lfs_dirmeta_encode(&nm, j.new_raw);
			snprintf(j.path, sizeof(j.path), "%s", rel);
			e = write_journal(w->r, &j, ifd);
		}
		unsigned renamed = 0, skipped = 0;
		if (e == 0)
			e = lfs_redir_convert(fs->kr, dfd, &om, &nm, &renamed, &skipped);
		if (e == 0) {
			pthread_mutex_lock(&in->meta_lock);
			in->dirmeta = nm;
			in->have_dirmeta = true;
			pthread_mutex_unlock(&in->meta_lock);
			drop_journal(w->r);
			*epoch = nm.epoch;
			pthread_mutex_lock(&w->r->lock);
			w->r->dirs_done++;
			pthread_mutex_unlock(&w->r->lock);
			if (skipped)
				lfs_warn("rotation: %u names of backing directory %s authenticate "
					 "under no live epoch (see fsck)",
					 skipped, rel[0] ? rel : "d/");
		}
	}
	if (dfd >= 0)
		close(dfd);
	if (ifd >= 0)
		lfs_inode_unpin(fs, in);
	pthread_rwlock_unlock(&in->io_lock);
	inode_done(fs, in);
	return e;
}

/* Symlinks are replaced by name, so the directory's names must not move
 * meanwhile: its io_lock exclusively. */
static int convert_link(struct walk *w, struct lfs_inode *dir, int dirfd, const char *name)
{
	pthread_rwlock_wrlock(&dir->io_lock);
	int e = lfs_relink(w->fs->kr, dirfd, name);
	pthread_rwlock_unlock(&dir->io_lock);
	if (e == 1) {
		pthread_mutex_lock(&w->r->lock);
		w->r->links_done++;
		pthread_mutex_unlock(&w->r->lock);
	}
	return e < 0 ? e : 0;
}

/* xattrs carry no epoch: any user.* attribute whose name does not
 * authenticate under the current epoch is re-encrypted from the live
 * epoch it does authenticate under. Returns how many are (or, counting,
 * would be) converted. */
static int convert_xattrs(struct walk *w, const char *proc, bool count_only)
{
	char list[65536], plain[LFS_XATTR_NAME_MAX + 1];
	ssize_t n = listxattr(proc, list, sizeof(list));
	if (n <= 0)
		return 0;
	uint32_t ep[LFS_MAX_EPOCHS], cur = 0;
	int ne = lfs_keyring_epochs(w->fs->kr, ep, LFS_MAX_EPOCHS, &cur), found = 0;
	if (ne < 0)
		return ne;
	for (char *p = list; p < list + n; p += strlen(p) + 1) {
		if (strncmp(p, "user.", 5) != 0)
			continue;
		const char *enc = p + 5;
		size_t plen = 0;
		uint32_t hit = 0;
		for (int pass = 0; pass < 2 && !hit; pass++) {
			for (int i = 0; i < ne && !hit; i++) {
				if ((pass == 0) != (ep[i] == cur))
					continue;
				const struct lfs_epoch_keys *k;
				if (lfs_keyring_get(w->fs->kr, ep[i], &k) < 0)
					continue;
				if (lfs_xattr_name_decrypt(k->xattr_name_mac, k->xattr_name_enc, enc,
							   strlen(enc), plain, &plen) == 0)
					hit = ep[i];
				lfs_keyring_put(w->fs->kr);
			}
		}
		if (!hit || hit == cur)
			continue;
		found++;
		if (count_only)
			continue;
		uint8_t val[65536 + LFS_XATTR_VALUE_OVERHEAD], clear[65536];
		ssize_t vl = getxattr(proc, p, val, sizeof(val));
		const struct lfs_epoch_keys *k;
		int vr = -EIO;
		if (vl >= LFS_XATTR_VALUE_OVERHEAD && lfs_keyring_get(w->fs->kr, hit, &k) == 0) {
			vr = lfs_xattr_value_open(k->xattr_value, p, val, (size_t)vl, clear);
			lfs_keyring_put(w->fs->kr);
		}
		char nb[5 + LFS_ENCNAME_MAX] = "user.";
		if (vr >= 0 && lfs_keyring_get(w->fs->kr, cur, &k) == 0) {
			lfs_xattr_name_encrypt(k->xattr_name_mac, k->xattr_name_enc, plain, plen,
					       nb + 5);
			lfs_xattr_value_seal(k->xattr_value, nb, clear, (size_t)vr, val);
			lfs_keyring_put(w->fs->kr);
			/* New first, then the old: a crash between leaves both, and
			 * the next pass removes the old one. */
			if (setxattr(proc, nb, val, (size_t)vr + LFS_XATTR_VALUE_OVERHEAD, 0) == 0)
				removexattr(proc, p);
		}
		sodium_memzero(clear, sizeof(clear));
	}
	sodium_memzero(plain, sizeof(plain));
	if (found && !count_only) {
		pthread_mutex_lock(&w->r->lock);
		w->r->xattrs_done += (uint64_t)found;
		pthread_mutex_unlock(&w->r->lock);
	}
	return found;
}

static void note_error(struct walk *w, const char *what, const char *rel, int e)
{
	lfs_warn("rotation: cannot convert %s %s: %s", what, rel[0] ? rel : "d/", strerror(-e));
	pthread_mutex_lock(&w->r->lock);
	w->r->errors++;
	pthread_mutex_unlock(&w->r->lock);
}

static bool keep_going(struct walk *w)
{
	return !atomic_load(&w->r->stop) && lfs_keyring_is_unlocked(w->fs->kr);
}

/* Visits the directory parentfd/name (name NULL: the root). */
static void walk_dir(struct walk *w, int parentfd, const char *name, const char *rel, int depth)
{
	uint32_t epoch = 0;
	if (depth > MAX_DEPTH || !keep_going(w))
		return;
	int dfd = name ? openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
		       : openat(parentfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	struct lfs_dirmeta m;
	if (lfs_dirmeta_load(dfd, &m) == 0)
		epoch = m.epoch;
	if (lfs_epoch_is_staging(epoch)) {
		/* Hook for staging directories: their own key, not rotated. */
		close(dfd);
		return;
	}
	if (is_old(w->r, epoch)) {
		w->found++;
		if (!w->count_only) {
			int e = convert_dir(w, parentfd, name, rel, &epoch);
			if (e < 0)
				note_error(w, "directory", rel, e);
		}
	}
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(dfd, proc);
	int nx = convert_xattrs(w, proc, w->count_only);
	w->found += nx > 0 ? (uint64_t)nx : 0;
	struct lfs_inode *dir = w->count_only ? NULL : inode_for(w->fs, parentfd, name);
	int lfd = dup(dfd);
	DIR *d = lfd < 0 ? NULL : fdopendir(lfd);
	if (!d && lfd >= 0)
		close(lfd);
	struct dirent *de;
	char sub[LFS_ROTJ_PATH_MAX];
	while (d && keep_going(w) && (de = readdir(d)) != NULL) {
		enum lfs_entry_kind kind = lfs_classify_entry(de->d_name);
		if (kind != LFS_ENTRY_NAME && kind != LFS_ENTRY_LONG)
			continue;
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		if (S_ISDIR(st.st_mode)) {
			walk_dir(w, dfd, de->d_name, sub, depth + 1);
		} else if (S_ISREG(st.st_mode) && st.st_size > 0) {
			int fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			uint8_t raw[LFS_FILE_HDR_LEN];
			struct lfs_file_header h;
			uint64_t plain = 0;
			int e = fd < 0 ? -errno : read_header(w->fs, fd, raw, &h, &plain);
			if (fd >= 0) {
				lfs_proc_path(fd, proc);
				int x = convert_xattrs(w, proc, w->count_only);
				w->found += x > 0 ? (uint64_t)x : 0;
				close(fd);
			}
			if (e == 0 && is_old(w->r, h.epoch)) {
				w->found++;
				w->files++;
				w->bytes += plain;
				if (!w->count_only && (e = convert_file(w, dfd, de->d_name, sub)) < 0)
					note_error(w, "file", sub, e);
			} else if (e < 0 && e != -EACCES && !w->count_only) {
				note_error(w, "file", sub, e);
			}
		} else if (S_ISLNK(st.st_mode) && !w->count_only && dir) {
			int e = convert_link(w, dir, dfd, de->d_name);
			if (e < 0)
				note_error(w, "symlink", sub, e);
		} else if (S_ISLNK(st.st_mode)) {
			/* Counting: a symlink is old if it does not open under the
			 * current epoch; cheap enough to check with the keys. */
			char enc[PATH_MAX], out[PATH_MAX];
			ssize_t n = readlinkat(dfd, de->d_name, enc, sizeof(enc) - 1);
			uint32_t ep = 0;
			if (n > 0 && lfs_link_decrypt_any(w->fs->kr, enc, (size_t)n, out, &ep) >= 0 &&
			    ep != w->r->target)
				w->found++;
			sodium_memzero(out, sizeof(out));
		}
	}
	if (d)
		closedir(d);
	if (dir)
		inode_done(w->fs, dir);
	close(dfd);
}

/* Retires every epoch but the target: removed from the keyring file
 * first (a crash leaves it on disk and the next pass retires it again),
 * then wiped in memory. */
static void retire(struct lfs_rotation *r)
{
	uint32_t ep[LFS_MAX_EPOCHS], cur = 0;
	int n = lfs_keyring_epochs(r->s->kr, ep, LFS_MAX_EPOCHS, &cur);
	for (int i = 0; i < n; i++) {
		if (ep[i] == cur)
			continue;
		int e = lfs_keyring_drop_epoch(r->s->kr, ep[i]);
		if (e == 0)
			e = store_keyring(r);
		if (e < 0) {
			lfs_err("rotation: cannot retire epoch %u: %s", ep[i], strerror(-e));
			continue;
		}
		lfs_info("rotation: epoch %u destroyed", ep[i]);
		audit(r, "epoch-destroyed", "epoch", ep[i], "current_epoch", cur);
		pthread_mutex_lock(&r->lock);
		r->last_retired = ep[i];
		pthread_mutex_unlock(&r->lock);
	}
}

static void run_pass(struct lfs_rotation *r)
{
	struct walk w = {.r = r, .fs = r->s->fs, .count_only = true};
	walk_dir(&w, r->s->fs->root.fd, NULL, "", 0);
	if (!keep_going(&w))
		return;
	pthread_mutex_lock(&r->lock);
	/* Totals: what is left now plus what this rotation already did. */
	r->files_total = r->files_done + w.files;
	r->bytes_total = r->bytes_done + w.bytes;
	r->passes++;
	uint64_t errors_before = r->errors;
	pthread_mutex_unlock(&r->lock);
	if (w.found == 0) {
		retire(r);
		pthread_mutex_lock(&r->lock);
		r->completed = time(NULL);
		r->state = LFS_ROT_IDLE;
		refresh_epochs(r);
		pthread_mutex_unlock(&r->lock);
		unlinkat(r->s->vault->dirfd, LFS_ROTATION_FILE, 0);
		lfs_info("rotation completed: every object is under epoch %u", r->target);
		audit(r, "completed", "epoch", r->target, "files", (long long)r->files_done);
		return;
	}
	w.count_only = false;
	w.found = 0;
	double t0 = now_mono();
	pthread_mutex_lock(&r->lock);
	r->pass_start = t0;
	pthread_mutex_unlock(&r->lock);
	walk_dir(&w, r->s->fs->root.fd, NULL, "", 0);
	pthread_mutex_lock(&r->lock);
	r->active_seconds += now_mono() - t0;
	r->pass_start = 0;
	/* A pass that converted nothing and failed on something will fail
	 * the same way again: stop and say so. */
	if (r->errors > errors_before && r->errors - errors_before >= w.found &&
	    r->state == LFS_ROT_RUNNING)
		r->state = LFS_ROT_FAILED;
	pthread_mutex_unlock(&r->lock);
	if (r->state == LFS_ROT_FAILED)
		audit(r, "failure", "epoch", r->target, "errors", (long long)r->errors);
}

static void *rotate_thread(void *arg)
{
	struct lfs_rotation *r = arg;
	while (!atomic_load(&r->stop)) {
		pthread_mutex_lock(&r->lock);
		refresh_epochs(r);
		bool work = r->state == LFS_ROT_RUNNING;
		if (!work) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&r->wake, &r->lock, &ts);
		}
		pthread_mutex_unlock(&r->lock);
		if (work)
			run_pass(r);
		sodium_stackzero(64 * 1024);
	}
	return NULL;
}

void lfs_rotation_init(struct lfs_rotation *r, struct lfs_session *s)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	unsigned char *buf = NULL;
	size_t len = 0;
	if (lfs_read_small_file(s->vault->dirfd, LFS_ROTATION_FILE, 256, &buf, &len) == 0) {
		long long t = 0;
		char tmp[257];
		memcpy(tmp, buf, len);
		tmp[len] = '\0';
		if (sscanf(tmp, "lethefs-rotation 1\nstarted=%lld", &t) == 1)
			r->started = (time_t)t;
		free(buf);
	}
}

int lfs_rotation_start(struct lfs_rotation *r)
{
	int e = pthread_create(&r->thread, NULL, rotate_thread, r);
	r->running = e == 0;
	return -e;
}

void lfs_rotation_stop(struct lfs_rotation *r)
{
	if (r->running) {
		atomic_store(&r->stop, 1);
		pthread_mutex_lock(&r->lock);
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		r->running = false;
	}
}

/* --- crash recovery -------------------------------------------------- */

static int open_target(struct lfs_rotation *r, const struct lfs_rotjournal *j, int flags)
{
	struct lfs_fs *fs = r->s->fs;
	int fd = -1;
	if (j->handle_len && fs->handle_mount_fd >= 0) {
		struct {
			struct file_handle fh;
			unsigned char bytes[LFS_ROTJ_HANDLE_MAX];
		} h;
		h.fh.handle_bytes = j->handle_len;
		h.fh.handle_type = j->handle_type;
		memcpy(h.fh.f_handle, j->handle, j->handle_len);
		fd = open_by_handle_at(fs->handle_mount_fd, &h.fh, flags | O_CLOEXEC);
	}
	if (fd < 0)
		fd = j->path[0] ? openat(fs->root.fd, j->path, flags | O_NOFOLLOW | O_CLOEXEC)
				: openat(fs->root.fd, ".", flags | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_dev != j->dev ||
			(uint64_t)st.st_ino != j->ino)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

void lfs_rotation_recover(struct lfs_rotation *r)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct lfs_rotjournal j;
	if (lfs_read_small_file(r->s->vault->dirfd, LFS_ROTATION_JOURNAL, LFS_ROTJ_MAX_LEN, &buf,
				&len) < 0)
		return;
	int e = lfs_rotjournal_decode(buf, len, &j);
	free(buf);
	if (e < 0) {
		lfs_warn("rotation: discarding an incomplete journal (nothing was converted yet)");
		drop_journal(r);
		return;
	}
	int fd = open_target(r, &j, j.kind == LFS_ROTJ_FILE ? O_RDWR : O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		/* Removed since: nothing left to finish. */
		lfs_warn("rotation: journal target %s is gone", j.path[0] ? j.path : "d/");
		drop_journal(r);
		return;
	}
	if (j.kind == LFS_ROTJ_FILE) {
		struct lfs_file_header oh, nh;
		struct stat st;
		fstat(fd, &st);
		struct timespec ts[2] = {st.st_atim, st.st_mtim};
		lfs_header_parse(j.old_raw, LFS_FILE_HDR_LEN, &oh);
		lfs_header_parse(j.new_raw, LFS_FILE_HDR_LEN, &nh);
		e = lfs_refile(&r->s->fs->layout, r->s->kr, fd, &oh, &nh, true, NULL);
		futimens(fd, ts);
	} else {
		struct lfs_dirmeta om, nm;
		e = lfs_dirmeta_decode(j.old_raw, LFS_DIRMETA_LEN, &om);
		if (e == 0)
			e = lfs_dirmeta_decode(j.new_raw, LFS_DIRMETA_LEN, &nm);
		if (e == 0)
			e = lfs_redir_convert(r->s->kr, fd, &om, &nm, NULL, NULL);
	}
	close(fd);
	if (e < 0) {
		lfs_err("rotation: cannot finish the interrupted conversion of %s: %s",
			j.path[0] ? j.path : "d/", strerror(-e));
		return;
	}
	lfs_info("rotation: finished the interrupted conversion of %s", j.path[0] ? j.path : "d/");
	audit(r, "resumed", "journal_kind", j.kind, NULL, 0);
	drop_journal(r);
}

/* --- status ----------------------------------------------------------- */

static const char *state_name(enum lfs_rotation_state s)
{
	switch (s) {
	case LFS_ROT_RUNNING:
		return "running";
	case LFS_ROT_PAUSED:
		return "paused";
	case LFS_ROT_FAILED:
		return "failed";
	default:
		return "idle";
	}
}

int lfs_rotation_status_json(struct lfs_rotation *r, char *buf, size_t len, size_t *used)
{
	pthread_mutex_lock(&r->lock);
	if (lfs_keyring_is_unlocked(r->s->kr))
		refresh_epochs(r);
	else if (r->state == LFS_ROT_RUNNING)
		r->state = LFS_ROT_PAUSED;
	double active = r->active_seconds + (r->pass_start > 0 ? now_mono() - r->pass_start : 0);
	double rate = active > 0.5 ? (double)r->bytes_done / active : 0;
	uint64_t left = r->bytes_total > r->bytes_done ? r->bytes_total - r->bytes_done : 0;
	long long eta = r->state != LFS_ROT_RUNNING ? 0
			: rate > 0		    ? (long long)((double)left / rate)
						    : -1;
	char olds[96] = "";
	size_t ol = 0;
	for (unsigned i = 0; i < r->nold && ol < sizeof(olds) - 12; i++)
		ol += (size_t)snprintf(olds + ol, sizeof(olds) - ol, "%s%u", i ? "," : "",
				       r->old_epochs[i]);
	int n = snprintf(buf + *used, len - *used,
			 ",\"rotation_state\":\"%s\",\"rotation_epoch\":%u,"
			 "\"rotation_old_epochs\":\"%s\",\"rotation_started\":%lld,"
			 "\"rotation_completed\":%lld,\"rotation_files_done\":%llu,"
			 "\"rotation_files_total\":%llu,\"rotation_bytes_done\":%llu,"
			 "\"rotation_bytes_total\":%llu,\"rotation_rate_bytes_per_second\":%.0f,"
			 "\"rotation_eta_seconds\":%lld,\"rotation_dirs_done\":%llu,"
			 "\"rotation_links_done\":%llu,\"rotation_xattrs_done\":%llu,"
			 "\"rotation_errors\":%llu,\"rotation_passes\":%llu,"
			 "\"rotation_last_retired_epoch\":%u",
			 state_name(r->state), r->target, olds, (long long)r->started,
			 (long long)r->completed, (unsigned long long)r->files_done,
			 (unsigned long long)r->files_total, (unsigned long long)r->bytes_done,
			 (unsigned long long)r->bytes_total, rate, eta,
			 (unsigned long long)r->dirs_done, (unsigned long long)r->links_done,
			 (unsigned long long)r->xattrs_done, (unsigned long long)r->errors,
			 (unsigned long long)r->passes, r->last_retired);
	pthread_mutex_unlock(&r->lock);
	if (n < 0 || (size_t)n >= len - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}
