/* SPDX-License-Identifier: Apache-2.0 */
/* The tree walk of a rotation pass (walk.c): every directory, file,
 * symlink and xattr of the backing tree, counted or converted. */
#ifndef LETHEFS_ROTATION_WALK_H
#define LETHEFS_ROTATION_WALK_H

#include <stdbool.h>

#include "state.h"

/* Visits the directory parentfd/name (name NULL: the root), rel being its
 * path below d/. */
void lfs_rot_walk_dir(struct walk *w, int parentfd, const char *name, const char *rel, int depth);
/* Whether the pass goes on: not stopped, and the keys are there. */
bool lfs_rot_keep_going(struct walk *w);

#endif
