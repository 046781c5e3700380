/* SPDX-License-Identifier: Apache-2.0 */
/* The tree walk of a rotation pass (walk.c): every directory, file,
 * symlink and xattr of the backing tree, counted or converted. */
#ifndef LETHEFS_ROTATION_WALK_H
#define LETHEFS_ROTATION_WALK_H

#include <stdbool.h>

#include "state.h"

/* One pass over the whole tree from d/ (w->count_only: counting). */
void lfs_rot_walk(struct walk *w);
/* Whether the pass goes on: not stopped, the gate open and the keys
 * there, and no lock came since the pass began (w->lock_gen). */
bool lfs_rot_keep_going(struct walk *w);
/* A file of the pass could not be converted (path: below d/). */
void lfs_rot_file_error(struct walk *w, const char *path, int e);

#endif
