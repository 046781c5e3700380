/* SPDX-License-Identifier: Apache-2.0 */
/* The tree walk of a rotation pass (walk.c): every directory, file,
 * symlink and xattr of the backing tree, counted or converted. */
#ifndef LETHEFS_ROTATION_WALK_H
#define LETHEFS_ROTATION_WALK_H

#include <stdbool.h>

#include "pass.h"
#include "state.h"

/* One pass over the whole tree from d/ (w->count_only: counting). */
void lfs_rot_walk(struct walk *w);

#endif
