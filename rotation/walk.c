/* SPDX-License-Identifier: Apache-2.0 */
/* The tree walk of a rotation pass: every directory, file, symlink and
 * xattr of the backing tree, counted or converted one at a time, on the
 * iterative walker of fs/treewalk.h (a tree of any depth costs heap, not
 * the worker's stack).
 *
 * Fail-closed: every object the pass could not read or convert counts in
 * w->errors, and the older epochs are retired only after a counting pass
 * with nothing left and no error (rotate.c). */
#define _GNU_SOURCE
#include "walk.h"
#include "batch.h"
#include "convert.h"
#include "../common/fileutil.h"
#include "../common/log.h"
#include "../fs/dirnames.h"
#include "../fs/symlink.h"
#include "../fs/longlink.h"
#include "../fs/tree.h"
#include "../fs/treewalk.h"
#include "../journal/journal.h"
#include "../staging/stage_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

/* Per directory of the walk: its inode, held while it is listed
 * (converting), because symlinks are replaced under its io_lock. */
struct level {
	struct lfs_inode *inode;
	int hold_err; /* why inode is NULL: ENOENT, renamed or removed since */
};

static bool keep_going(void *ctx)
{
	return lfs_rot_keep_going(ctx);
}

/* A directory: its names (if old) and xattrs, then its entries. */
static int enter(void *ctx, struct lfs_treewalk *tw, int parentfd, const char *name, int dfd,
                 void *level)
{
	struct walk *w = ctx;
	const char *rel = lfs_treewalk_path(tw);
	if (dfd < 0) {
		if (dfd != -ENOENT)
			lfs_rot_note_error(w, "directory", rel, NULL, dfd);
		return 0;
	}
	struct lfs_dirmeta m;
	int e = lfs_dirmeta_load(dfd, &m);
	if (e < 0) {
		/* Removed since it was opened (an rmdir renames the directory
		 * to a hidden name, empties it of its .lethefs.dir, removes
		 * it): not an error, and nothing in it to count (rmdir found
		 * it empty; what comes in while it is removed is new, and a
		 * rename or link voids the count). Was "cannot convert
		 * directory ...: Input/output error". */
		if (!lfs_rot_dir_vanished(dfd, parentfd, name))
			lfs_rot_note_error(w, "directory", rel, NULL, e);
		return 0;
	}
	uint32_t epoch = m.epoch;
	if (lfs_epoch_is_staging(epoch))
		return 0; /* its own key, never rotated */
	if (lfs_rot_is_old(w->r, epoch)) {
		w->found++;
		/* The batch's files first: the directory's conversion takes its
		 * io_lock, which a request waiting for one of them may hold. */
		if (!w->count_only)
			lfs_rot_batch_drain(w);
		if (!w->count_only &&
		    (e = lfs_rot_convert_dir(w, parentfd, name, dfd, rel, &epoch)) < 0)
			lfs_rot_note_error(w, "directory", rel, NULL, e);
	}
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(dfd, proc);
	int nx = lfs_rot_convert_xattrs(w, proc, w->count_only);
	if (nx < 0)
		lfs_rot_note_error(w, "xattrs of directory", rel, NULL, nx);
	else
		w->found += (uint64_t)nx;
	if (!w->count_only) {
		struct level *lv = level;
		lv->inode = lfs_rot_hold_dir(w->fs, parentfd, name, dfd);
		lv->hold_err = lv->inode ? 0 : errno ? errno : ENOENT;
	}
	return 1;
}

static void leave(void *ctx, struct lfs_treewalk *tw, void *level)
{
	struct walk *w = ctx;
	struct level *lv = level;
	(void)tw;
	if (lv->inode)
		lfs_inode_release(w->fs, lv->inode);
}

static void lost(void *ctx, struct lfs_treewalk *tw, void *level, int err)
{
	(void)level;
	lfs_rot_note_error(ctx, "directory", lfs_treewalk_path(tw), NULL, err);
}

static void visit_file(struct walk *w, struct lfs_treewalk *tw, int dfd, const char *name)
{
	/* Swapped for a FIFO since the walk saw it: refused, never waited on. */
	int fd = lfs_open_regular(dfd, name);
	uint8_t raw[LFS_FILE_HDR_MAX];
	struct lfs_file_header h;
	struct lfs_irec rec;
	uint64_t plain = 0;
	int e = fd < 0 ? fd : lfs_rot_read_header(w->fs, fd, raw, &h, &rec, &plain);
	if (fd >= 0) {
		char proc[LFS_PROC_PATH_MAX];
		lfs_proc_path(fd, proc);
		int x = lfs_rot_convert_xattrs(w, proc, w->count_only);
		if (x < 0)
			lfs_rot_note_error(w, "xattrs of file", lfs_treewalk_path(tw), name, x);
		else
			w->found += (uint64_t)x;
		close(fd);
	}
	if (e == 0 && !lfs_epoch_is_staging(h.epoch) && lfs_rot_is_old(w->r, h.epoch)) {
		w->found++;
		w->files++;
		w->bytes += plain;
		if (w->count_only)
			return;
		/* Converting without a count first: the totals grow as the walk
		 * finds files. */
		pthread_mutex_lock(&w->r->lock);
		w->r->files_total++;
		w->r->bytes_total += plain;
		pthread_mutex_unlock(&w->r->lock);
		/* The record names the file by handle; its path only when short
		 * enough to record (journal/journal.h). */
		char rel[LFS_JOURNAL_PATH_MAX + 1];
		const char *dir = lfs_treewalk_path(tw);
		int n = snprintf(rel, sizeof(rel), "%s%s%s", dir, dir[0] ? "/" : "", name);
		if (n < 0 || (size_t)n >= sizeof(rel))
			rel[0] = '\0';
		if ((e = lfs_rot_batch_add(w, dfd, name, rel)) < 0)
			lfs_rot_note_error(w, "file", dir, name, e);
	} else if (e < 0 && e != -ENODATA && e != -ENOENT && e != -EACCES) {
		lfs_rot_note_error(w, "file", lfs_treewalk_path(tw), name, e);
	}
}

/* An empty file has no header to re-seal, but its xattrs (and ACLs) are
 * under the old epoch all the same. While the rotation upgrades the vault,
 * it is of format 1 (a format-2 file has a header) and in a directory
 * converted already (the directory's conversion did the others): moved
 * there since, and converted now. */
static void visit_empty_file(struct walk *w, struct lfs_treewalk *tw, int dfd, const char *name,
                             const struct stat *st)
{
	if (lfs_rot_upgrading(w)) {
		w->found++;
		int e = 0;
		if (!w->count_only) {
			lfs_rot_batch_drain(w); /* it takes the file's io_lock */
			e = lfs_rot_up_empty(w, dfd, name, st);
		}
		if (e < 0 && e != -ENOENT && e != -ESTALE)
			lfs_rot_note_error(w, "file", lfs_treewalk_path(tw), name, e);
	}
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	char proc[LFS_PROC_PATH_MAX];
	lfs_proc_path(fd, proc);
	int x = lfs_rot_convert_xattrs(w, proc, w->count_only);
	if (x < 0)
		lfs_rot_note_error(w, "xattrs of file", lfs_treewalk_path(tw), name, x);
	else
		w->found += (uint64_t)x;
	close(fd);
}

/* Converts the symlink or node dirfd/name (what: which, for the log). */
static void convert_node(struct walk *w, struct lfs_treewalk *tw, struct level *lv, int dfd,
                         const char *name, const char *what)
{
	/* Without the directory's inode because it was renamed or removed
	 * under the walk since it was entered: the object is left to the
	 * counting walk. */
	if (!lv->inode && lv->hold_err == ENOENT)
		return;
	lfs_rot_batch_drain(w); /* the conversion takes the directory's io_lock */
	int e = lv->inode ? lfs_rot_convert_link(w, lv->inode, dfd, name) : -lv->hold_err;
	if (e < 0 && e != -ENOENT)
		lfs_rot_note_error(w, what, lfs_treewalk_path(tw), name, e);
}

static void visit_link(struct walk *w, struct lfs_treewalk *tw, struct level *lv, int dfd,
                       const char *name)
{
	char *enc = w->x->link_enc, *out = w->x->link_plain;
	ssize_t n = readlinkat(dfd, name, enc, sizeof(w->x->link_enc) - 1);
	uint32_t id, ep = 0;
	if (n < 0) {
		if (errno != ENOENT)
			lfs_rot_note_error(w, "symlink", lfs_treewalk_path(tw), name, -errno);
		return;
	}
	if (lfs_stage_marker_id(enc, (size_t)n, &id))
		return; /* a staging directory's marker, not a link to rotate */
	/* Toward a format-2 epoch a format-1 symlink is converted with its
	 * directory (convert_dir.c), which is then counted: one met here is in
	 * a directory of format 2 already. In a format-2 vault it is refused
	 * there (planted); while the rotation upgrades the vault it was moved
	 * there meanwhile, and is converted whatever its epoch. */
	bool up = lfs_rot_target_format2(w);
	if (up && !lfs_rot_upgrading(w))
		return;
	if (w->count_only) {
		/* A long target lives in the tree's link store (fs/longlink.h). */
		n = w->treefd >= 0 ? lfs_link_read(w->treefd, dfd, name, enc) : -EBADF;
		if (n < 0) {
			lfs_rot_note_error(w, "symlink", lfs_treewalk_path(tw), name, (int)n);
			return;
		}
	}
	if (w->count_only) {
		if (lfs_link_decrypt_any(w->fs->kr, enc, (size_t)n, out, &ep) < 0)
			lfs_rot_note_error(w, "symlink", lfs_treewalk_path(tw), name, -EIO);
		else if (up || ep != w->r->target)
			w->found++;
		sodium_memzero(out, sizeof(w->x->link_plain));
		return;
	}
	convert_node(w, tw, lv, dfd, name, "symlink");
}

/* A FIFO, socket or device node is of format 1: while the rotation
 * upgrades the vault, one met here (in a directory of format 2 already)
 * was moved there meanwhile, and is converted (else it stays, refused
 * where only format 2 may be, or served in a format-1 vault). */
static void visit_node(struct walk *w, struct lfs_treewalk *tw, struct level *lv, int dfd,
                       const char *name)
{
	if (!lfs_rot_upgrading(w))
		return;
	w->found++;
	if (!w->count_only)
		convert_node(w, tw, lv, dfd, name, "special file");
}

static int entry(void *ctx, struct lfs_treewalk *tw, int dfd, const char *name, void *level)
{
	struct walk *w = ctx;
	enum lfs_entry_kind kind = lfs_classify_entry(name);
	if (kind != LFS_ENTRY_NAME && kind != LFS_ENTRY_LONG)
		return 0;
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			lfs_rot_note_error(w, "entry", lfs_treewalk_path(tw), name, -errno);
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return 1;
	if (S_ISREG(st.st_mode) && st.st_size > 0)
		visit_file(w, tw, dfd, name);
	else if (S_ISREG(st.st_mode))
		visit_empty_file(w, tw, dfd, name, &st);
	else if (S_ISLNK(st.st_mode))
		visit_link(w, tw, level, dfd, name);
	else
		visit_node(w, tw, level, dfd, name);
	return 0;
}

void lfs_rot_walk(struct walk *w)
{
	static const struct lfs_treewalk_ops ops = {
	    .enter = enter, .entry = entry, .leave = leave, .lost = lost, .keep_going = keep_going};
	w->treefd = lfs_tree_fd(w->fs, 0);
	if (!w->count_only && !(w->batch = lfs_rot_batch_new(w)))
		lfs_warn("rotation: no memory for a batch: files are converted one at a time");
	if (lfs_treewalk(w->fs->root.fd, &ops, w, sizeof(struct level)) < 0)
		lfs_rot_note_error(w, "tree", "", NULL, -ENOMEM);
	lfs_rot_batch_free(w->batch);
	w->batch = NULL;
	if (w->treefd >= 0)
		close(w->treefd);
}
