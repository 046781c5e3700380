/* SPDX-License-Identifier: Apache-2.0 */
/* The tree walk of a rotation pass: every directory, file, symlink and
 * xattr of the backing tree, counted or converted one at a time. */
#define _GNU_SOURCE
#include "walk.h"
#include "convert.h"
#include "rotjournal.h"
#include "../common/log.h"
#include "../fs/dirnames.h"
#include "../fs/symlink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#define MAX_DEPTH 512

static void note_error(struct walk *w, const char *what, const char *rel, int e)
{
	lfs_warn("rotation: cannot convert %s %s: %s", what, rel[0] ? rel : "d/", strerror(-e));
	pthread_mutex_lock(&w->r->lock);
	w->r->errors++;
	pthread_mutex_unlock(&w->r->lock);
}

bool lfs_rot_keep_going(struct walk *w)
{
	return !atomic_load(&w->r->stop) && lfs_keyring_is_unlocked(w->fs->kr);
}

/* Visits the directory parentfd/name (name NULL: the root). */
void lfs_rot_walk_dir(struct walk *w, int parentfd, const char *name, const char *rel, int depth)
{
	uint32_t epoch = 0;
	if (depth > MAX_DEPTH || !lfs_rot_keep_going(w))
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
	if (lfs_rot_is_old(w->r, epoch)) {
		w->found++;
		if (!w->count_only) {
			int e = lfs_rot_convert_dir(w, parentfd, name, rel, &epoch);
			if (e < 0)
				note_error(w, "directory", rel, e);
		}
	}
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(dfd, proc);
	int nx = lfs_rot_convert_xattrs(w, proc, w->count_only);
	w->found += nx > 0 ? (uint64_t)nx : 0;
	struct lfs_inode *dir = w->count_only ? NULL : lfs_inode_hold(w->fs, parentfd, name);
	int lfd = dup(dfd);
	DIR *d = lfd < 0 ? NULL : fdopendir(lfd);
	if (!d && lfd >= 0)
		close(lfd);
	struct dirent *de;
	/* The entry's path, on the heap: this function recurses (up to
	 * MAX_DEPTH), so its frame must stay small (see rotate.c's wipe). */
	char *sub = malloc(LFS_ROTJ_PATH_MAX);
	while (d && sub && lfs_rot_keep_going(w) && (de = readdir(d)) != NULL) {
		enum lfs_entry_kind kind = lfs_classify_entry(de->d_name);
		if (kind != LFS_ENTRY_NAME && kind != LFS_ENTRY_LONG)
			continue;
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		snprintf(sub, LFS_ROTJ_PATH_MAX, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
		if (S_ISDIR(st.st_mode)) {
			lfs_rot_walk_dir(w, dfd, de->d_name, sub, depth + 1);
		} else if (S_ISREG(st.st_mode) && st.st_size > 0) {
			int fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			uint8_t raw[LFS_FILE_HDR_LEN];
			struct lfs_file_header h;
			uint64_t plain = 0;
			int e = fd < 0 ? -errno : lfs_rot_read_header(w->fs, fd, raw, &h, &plain);
			if (fd >= 0) {
				lfs_proc_path(fd, proc);
				int x = lfs_rot_convert_xattrs(w, proc, w->count_only);
				w->found += x > 0 ? (uint64_t)x : 0;
				close(fd);
			}
			if (e == 0 && lfs_rot_is_old(w->r, h.epoch)) {
				w->found++;
				w->files++;
				w->bytes += plain;
				if (!w->count_only &&
				    (e = lfs_rot_convert_file(w, dfd, de->d_name, sub)) < 0)
					note_error(w, "file", sub, e);
			} else if (e < 0 && e != -EACCES && !w->count_only) {
				note_error(w, "file", sub, e);
			}
		} else if (S_ISLNK(st.st_mode) && !w->count_only && dir) {
			int e = lfs_rot_convert_link(w, dir, dfd, de->d_name);
			if (e < 0)
				note_error(w, "symlink", sub, e);
		} else if (S_ISLNK(st.st_mode)) {
			/* Counting: a symlink is old if it does not open under the
			 * current epoch; cheap enough to check with the keys. */
			char *enc = w->x->link_enc, *out = w->x->link_plain;
			ssize_t n = readlinkat(dfd, de->d_name, enc, sizeof(w->x->link_enc) - 1);
			uint32_t ep = 0;
			if (n > 0 &&
			    lfs_link_decrypt_any(w->fs->kr, enc, (size_t)n, out, &ep) >= 0 &&
			    ep != w->r->target)
				w->found++;
			sodium_memzero(out, sizeof(w->x->link_plain));
		}
	}
	free(sub);
	if (d)
		closedir(d);
	if (dir)
		lfs_inode_release(w->fs, dir);
	close(dfd);
}
