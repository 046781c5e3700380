/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LETHEFS_TREE_H
#define LETHEFS_TREE_H

#include <stdint.h>

#include "fs.h"

/* The backing root of the tree an object with this staging id (0: none)
 * belongs to, d/ or VAULT/staging/ID/, as a new O_PATH descriptor the
 * caller closes; or -errno. */
int lfs_tree_fd(struct lfs_fs *fs, uint32_t stage_id);

#endif
