/* SPDX-License-Identifier: Apache-2.0 */
/* One directory's conversion to the target epoch (rotation phase
 * "directory"): journal, rename every entry (redir.c), new .lethefs.dir;
 * and its symlinks, one at a time. A format-1 directory toward a format-2
 * epoch first has its entries without an epoch of their own (empty files,
 * symlinks, special files) converted to format 2 (upconvert.h), then
 * becomes of format 2 itself with its new .lethefs.dir. */
#define _GNU_SOURCE
#include "convert.h"
#include "record.h"
#include "redir.h"
#include "upconvert.h"
#include "../fs/dirnames.h"
#include "../cluster/rangelock.h"
#include "../fs/gate.h"
#include "../fs/heldtimes.h"
#include "../fs/tree.h"
#include "../common/fileutil.h"
#include "../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Backing names whose object was replaced and whose inode could not
 * follow it (the kernel's cached entries go once the directory is
 * unlocked). */
struct names {
	char **v;
	size_t n, cap;
};

static void names_add(struct names *ns, const char *name)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 16;
		char **v = realloc(ns->v, cap * sizeof(*v));
		if (!v)
			return; /* the entry times out in the kernel anyway */
		ns->v = v;
		ns->cap = cap;
	}
	if ((ns->v[ns->n] = strdup(name)) != NULL)
		ns->n++;
}

/* Whether the directory open on fd was removed (a descriptor of a removed
 * directory has no links left; a network engine may answer ENOENT or
 * ESTALE for it instead). */
static bool dir_gone(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return errno == ENOENT || errno == ESTALE;
	return st.st_nlink == 0;
}

struct lfs_inode *lfs_rot_hold_dir(struct lfs_fs *fs, int parentfd, const char *name, int dfd)
{
	struct lfs_inode *in = lfs_inode_hold(fs, parentfd, name);
	if (!in || !name)
		return in;
	struct stat st;
	if (fstat(dfd, &st) == 0 && in->dev == st.st_dev && in->ino == st.st_ino)
		return in;
	lfs_inode_release(fs, in);
	errno = ENOENT;
	return NULL;
}

bool lfs_rot_dir_vanished(int fd, int parentfd, const char *name)
{
	if (dir_gone(fd))
		return true;
	struct stat st, now;
	if (!name || fstat(fd, &st) < 0)
		return false;
	if (fstatat(parentfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT || errno == ESTALE;
	return now.st_dev != st.st_dev || now.st_ino != st.st_ino;
}

/* Every entry of the format-1 directory open on dfd that has no epoch of
 * its own becomes of format 2, each in one atomic step. */
static int up_entries(struct walk *w, int dfd, struct names *replaced)
{
	int err = 0;
	DIR *d = lfs_opendir_fd(dfd, &err);
	if (!d)
		return err;
	struct dirent *de;
	int e = 0;
	while (e == 0 && (de = readdir(d)) != NULL) {
		enum lfs_entry_kind kind = lfs_classify_entry(de->d_name);
		struct stat st;
		if ((kind != LFS_ENTRY_NAME && kind != LFS_ENTRY_LONG) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
			continue;
		if (S_ISREG(st.st_mode)) {
			if (st.st_size == 0)
				e = lfs_rot_up_empty(w, dfd, de->d_name, &st);
			continue;
		}
		bool forget = false;
		int n = lfs_rot_replace_node(w, w->treefd, dfd, de->d_name, true, &forget);
		if (forget)
			names_add(replaced, de->d_name);
		e = n < 0 ? n : 0;
	}
	closedir(d);
	return e;
}

/* The new .lethefs.dir image: version 2 (with the directory's record)
 * toward a format-2 epoch, else the old version. */
static int new_image(struct walk *w, struct lfs_inode *in, int dfd, const struct lfs_dirmeta *om,
                     struct lfs_dirmeta *nm, uint8_t raw[LFS_DIRMETA_MAX])
{
	*nm = *om;
	nm->epoch = w->r->target;
	nm->alt_epoch = 0;
	if (om->version == 1 && lfs_rot_target_format2(w)) {
		/* The image is of version 2: so is what the inode caches
		 * (with its record) once it is in place. A version 1 left
		 * there made the next rotation of this mount fail on every
		 * such directory (EIO: a version-2 image without a record). */
		int n = lfs_up_dir_image(w->fs->kr, dfd, nm, raw);
		if (n >= 0)
			nm->version = 2;
		return n;
	}
	pthread_mutex_lock(&in->meta_lock);
	struct lfs_irec rec = in->rec;
	bool have = in->have_rec;
	pthread_mutex_unlock(&in->meta_lock);
	if (nm->version == 2 && !have)
		return -EIO;
	const struct lfs_epoch_keys *k;
	int e = lfs_keyring_get(w->fs->kr, nm->epoch, &k);
	if (e < 0)
		return e;
	e = lfs_dirmeta_encode(nm, k, &rec, raw);
	lfs_keyring_put(w->fs->kr);
	return e;
}

void lfs_rot_keep_times(struct lfs_inode *in, int dfd)
{
	int e = lfs_times_release(in, dfd);
	if (e < 0 && e != -ENOENT && e != -ESTALE) /* (removed meanwhile) */
		lfs_warn("rotation: cannot keep the times of a directory: %s", strerror(-e));
}

/* Attempts to finish, else to undo, a conversion that failed half way on
 * the live mount, and the pause between two (a second in all at most). */
#define SETTLE_TRIES 3

static void settle_pause(int attempt)
{
	struct timespec ts = {0, (long)(50 * 1000 * 1000) << attempt};
	nanosleep(&ts, NULL);
}

/* A conversion that failed half way (a rename refused, .lethefs.dir not
 * replaced, or replaced but its directory not synced): some names may be
 * under the new epoch while the directory's cached metadata names the old
 * one, and the live mount would not find them. The record's recovery
 * (lfs_rot_apply_dir, as daemon/recover.c runs it) is applied now,
 * retried; if the backing store keeps refusing, the names go back under
 * the old epoch while .lethefs.dir is still the old one. Returns 1
 * finished, 0 undone, else a negative errno: neither, and the record stays
 * for the next recovery. */
static int settle_dir(struct lfs_fs *fs, int dfd, const uint8_t *old_img, size_t old_len,
                      const uint8_t *new_img, size_t new_len, const struct lfs_dirmeta *om,
                      const struct lfs_dirmeta *nm)
{
	uint8_t payload[2 * LFS_DIRMETA_MAX];
	memcpy(payload, old_img, old_len);
	memcpy(payload + old_len, new_img, new_len);
	int e = -EIO;
	for (int i = 0; i < SETTLE_TRIES && e < 0; i++) {
		if (i > 0)
			settle_pause(i);
		e = lfs_rot_apply_dir(fs->kr, dfd, payload, old_len + new_len);
		if (e == -EACCES)
			return e; /* locked meanwhile: the unlock's recovery finishes it */
	}
	if (e == 0)
		return 1;
	for (int i = 0; i < SETTLE_TRIES && e < 0; i++) {
		settle_pause(i);
		e = lfs_redir_undo(fs->kr, dfd, om, nm);
		if (e == -EACCES || e == -ESTALE)
			return e;
	}
	return e;
}

/* A directory left half converted keeps one more inode reference (its
 * cached metadata must stay: it names both epochs); returns whether it
 * took it. Given back by unsplit once the directory is converted. */
static bool split(struct lfs_rotation *r, struct lfs_inode *in)
{
	pthread_mutex_lock(&r->lock);
	bool held = false;
	for (unsigned i = 0; i < r->nsplit; i++)
		held = held || r->split[i] == in;
	bool take = !held && r->nsplit < sizeof(r->split) / sizeof(r->split[0]);
	if (take)
		r->split[r->nsplit++] = in;
	pthread_mutex_unlock(&r->lock);
	return take;
}

static void unsplit(struct lfs_rotation *r, struct lfs_inode *in)
{
	bool held = false;
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nsplit && !held; i++) {
		if (r->split[i] != in)
			continue;
		r->split[i] = r->split[--r->nsplit];
		held = true;
	}
	pthread_mutex_unlock(&r->lock);
	if (held)
		lfs_inode_release(r->env.fs, in);
}

int lfs_rot_convert_dir(struct walk *w, int parentfd, const char *name, int walkfd, const char *rel,
                        uint32_t *epoch)
{
	bool keep_ref = false;
	struct lfs_fs *fs = w->fs;
	struct lfs_inode *in = lfs_rot_hold_dir(fs, parentfd, name, walkfd);
	/* Removed or renamed away since the walk met it (an rmdir, a mv
	 * beside the rotation), or another object under its name now (a
	 * file renamed there after it, or exchanged with it: the file was
	 * taken for the directory, ENOTDIR, logged as "cannot convert
	 * directory ...: Input/output error"): not an error; wherever it
	 * went, the counting walk finds it. */
	if (!in)
		return errno == ENOENT ? 0 : -(errno ? errno : ENOENT);
	struct names replaced = {0};
	int ifd = lfs_inode_pin(fs, in), dfd = -1, metafd = -1, e = ifd < 0 ? ifd : 0;
	struct lfs_dirmeta om = {.epoch = *epoch}, nm;
	/* Loaded (a version-2 one authenticated, its record cached) before
	 * the exclusive lock. */
	if (e == 0)
		e = lfs_dir_meta(fs, in, ifd, &om);
	/* Removed since the walk met it: an rmdir renames the directory to a
	 * hidden name and empties it of its .lethefs.dir before it removes
	 * it, and a shared mount reads the metadata again while a rotation
	 * runs (its name lock drops the cached copy), which then fails (EIO).
	 * Nothing is left to convert (an rmdir found it empty); if the
	 * removal is undone, the counting walk finds it. */
	if (e < 0 && lfs_rot_dir_vanished(ifd, parentfd, name))
		e = -EALREADY;
	pthread_rwlock_wrlock(&in->io_lock);
	if (e == 0)
		*epoch = om.epoch;
	if (e == 0 && lfs_rot_is_old(w->r, om.epoch)) {
		uint8_t old_img[LFS_DIRMETA_MAX], new_img[LFS_DIRMETA_MAX];
		size_t old_len = 0;
		unsigned slot = 0;
		bool slot_taken = false, up = om.version == 1 && lfs_rot_target_format2(w);
		dfd = openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		e = dfd < 0 ? -errno : 0;
		/* Shared: other hosts' name operations on the directory wait
		 * (fs/dirnames.h, lfs_dir_name_lock), and read the new metadata
		 * once it is replaced. Released when closed. */
		if (e == 0 && fs->shared) {
			metafd = openat(dfd, LFS_DIRMETA_NAME, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
			e = metafd < 0 ? -errno : lfs_range_lock(metafd, true, 0, 1, true);
			/* The lock came after the load: convert what is there now. */
			if (e == 0 && (e = lfs_dirmeta_load(dfd, &om)) == 0) {
				up = om.version == 1 && lfs_rot_target_format2(w);
				if (!lfs_rot_is_old(w->r, om.epoch))
					e = -EALREADY;
			}
		}
		/* Its times as the plaintext view shows them, kept: renaming
		 * every entry changes the backing directory's. */
		struct stat dst;
		if (e == 0 && fstat(dfd, &dst) < 0)
			e = -errno;
		if (e == 0)
			lfs_times_hold(in, &dst); /* put back below, whatever happens */
		if (e == 0 && up)
			e = up_entries(w, dfd, &replaced);
		if (e == 0)
			e = lfs_dirmeta_read(dfd, old_img, &old_len, &om);
		int new_len = e == 0 ? new_image(w, in, dfd, &om, &nm, new_img) : e;
		e = new_len < 0 ? new_len : 0;
		if (e == 0) {
			e = lfs_rot_record_begin(fs, LFS_JK_ROTATE_DIR, dfd, rel, old_img, old_len,
			                         new_img, (size_t)new_len, &slot);
			slot_taken = e == 0;
		}
		unsigned renamed = 0, skipped = 0;
		if (e == 0)
			e = lfs_redir_convert(fs->kr, dfd, &om, &nm, new_img, (size_t)new_len,
			                      &renamed, &skipped);
		/* Removed meanwhile (an rmdir locks the parent's names, not the
		 * directory's, so one on another host is not held back): nothing
		 * is left to convert or to settle, and its record has no object. */
		if (e < 0 && e != -EACCES && dir_gone(dfd >= 0 ? dfd : ifd)) {
			if (slot_taken)
				lfs_rot_record_end(fs, slot);
			slot_taken = false;
			e = -EALREADY;
		}
		/* Settled on the live mount unless a lock stopped it (issue 12):
		 * the unlock's recovery finishes it before the gate opens. */
		int settled = e == 0 ? 1 : e;
		if (e < 0 && slot_taken && e != -EACCES)
			settled = settle_dir(fs, dfd, old_img, old_len, new_img, (size_t)new_len,
			                     &om, &nm);
		if (e < 0 && settled == 1) {
			lfs_info("rotation: the conversion of directory %s was finished after a "
			         "failure (%s)",
			         rel[0] ? rel : "d/", strerror(-e));
			e = 0;
		}
		if (e == 0) {
			struct lfs_irec rec;
			const struct lfs_epoch_keys *k;
			bool v2 = nm.version == 2 && lfs_keyring_get(fs->kr, nm.epoch, &k) == 0;
			if (v2) {
				v2 = lfs_dirmeta_open(new_img, (size_t)new_len, k, &rec) == 0;
				lfs_keyring_put(fs->kr);
			}
			if (up)
				lfs_up_backing_attrs(dfd, true);
			pthread_mutex_lock(&in->meta_lock);
			in->dirmeta = nm;
			in->have_dirmeta = true;
			if (v2) {
				in->rec = rec;
				in->have_rec = true;
				in->fmt = 2;
			}
			pthread_mutex_unlock(&in->meta_lock);
			lfs_rot_record_end(fs, slot);
			unsplit(w->r, in);
			*epoch = nm.epoch;
			pthread_mutex_lock(&w->r->lock);
			w->r->dirs_done++;
			pthread_mutex_unlock(&w->r->lock);
			if (skipped)
				lfs_warn("rotation: %u names of backing directory %s authenticate "
				         "under no live epoch (see fsck)",
				         skipped, rel[0] ? rel : "d/");
		} else if (slot_taken && settled == 0) {
			/* Undone: every name under the old epoch, as before. */
			lfs_warn("rotation: the conversion of directory %s failed (%s) and was "
			         "undone",
			         rel[0] ? rel : "d/", strerror(-e));
			lfs_rot_record_end(fs, slot);
		} else if (slot_taken) {
			/* Half converted: the record stays for the next recovery,
			 * which finishes it (lfs_redir_convert is idempotent).
			 * Meanwhile the live mount looks for names under both
			 * epochs (.lethefs.dir is still the old one, since
			 * finishing failed), so that none goes missing. */
			lfs_journal_keep(fs->journal, slot);
			/* Names go under the epoch of .lethefs.dir on disk (the
			 * new one only if it was replaced, and then every name
			 * had moved before it), found under either. */
			struct lfs_dirmeta cur;
			bool now_new = lfs_dirmeta_load(dfd, &cur) == 0 && cur.epoch == nm.epoch;
			pthread_mutex_lock(&in->meta_lock);
			if (in->have_dirmeta && in->dirmeta.epoch == om.epoch && now_new) {
				in->dirmeta = nm;
				in->dirmeta.alt_epoch = om.epoch;
			} else if (in->have_dirmeta && in->dirmeta.epoch == om.epoch) {
				in->dirmeta.alt_epoch = nm.epoch;
			}
			pthread_mutex_unlock(&in->meta_lock);
			keep_ref = split(w->r, in);
			lfs_err("rotation: directory %s is left half converted (%s); its names are "
			        "served under both epochs until the next pass or mount finishes it",
			        rel[0] ? rel : "d/", strerror(-e));
		}
	}
	if (e == -EALREADY) {
		*epoch = om.epoch;
		e = 0;
	}
	if (dfd >= 0)
		lfs_rot_keep_times(in, dfd);
	if (metafd >= 0)
		close(metafd);
	pthread_rwlock_unlock(&in->io_lock);
	/* Objects replaced under their names: the kernel must look them up
	 * again (never with the directory's io_lock held). */
	for (size_t i = 0; i < replaced.n; i++) {
		if (dfd >= 0)
			lfs_fs_forget_entry(fs, in, dfd, replaced.v[i]);
		free(replaced.v[i]);
	}
	free(replaced.v);
	if (dfd >= 0)
		close(dfd);
	if (ifd >= 0)
		lfs_inode_unpin(fs, in);
	if (!keep_ref)
		lfs_inode_release(fs, in);
	return e;
}
