/* SPDX-License-Identifier: Apache-2.0 */
/* A pass's continuation and its errors (pass.h). */
#define _GNU_SOURCE
#include "pass.h"
#include "../common/log.h"

#include <errno.h>
#include <string.h>

/* An object the pass could not read or convert. Once a lock has
 * interrupted the pass, a failure is what the lock did (the keys went away
 * under the worker), not a fault of the object: the pass is abandoned and
 * its results void (lfs_rot_keep_going), and the next pass after the
 * unlock visits the object again. Counting it would report errors that do
 * not exist and could stop the rotation as failed. */
void lfs_rot_note_error(struct walk *w, const char *what, const char *rel, const char *name, int e)
{
	if (!lfs_rot_keep_going(w)) {
		lfs_debug("rotation: %s %s%s%s left for the next pass (paused): %s", what,
		          rel[0] ? rel : "d/", name ? "/" : "", name ? name : "", strerror(-e));
		return;
	}
	w->errors++;
	lfs_warn("rotation: cannot %s %s %s%s%s: %s", w->count_only ? "read" : "convert", what,
	         rel[0] ? rel : "d/", name ? "/" : "", name ? name : "", strerror(-e));
	pthread_mutex_lock(&w->r->lock);
	w->r->errors++;
	pthread_mutex_unlock(&w->r->lock);
	/* A full backing store fails every object that needs room the same
	 * way: the pass stops here and the rotation is held (rotate.c), rather
	 * than trying every other object, pass after pass. */
	if (!w->count_only && (e == -ENOSPC || e == -EDQUOT))
		w->nospace = -e;
}

void lfs_rot_file_error(struct walk *w, const char *path, int e)
{
	lfs_rot_note_error(w, "file", path, NULL, e);
}

bool lfs_rot_keep_going(struct walk *w)
{
	return !w->nospace && !atomic_load(&w->r->stop) &&
	       atomic_load(&w->fs->lock_gen) == w->lock_gen &&
	       atomic_load(&w->fs->access) == LFS_ACCESS_UNLOCKED &&
	       lfs_keyring_is_unlocked(w->fs->kr);
}
