/* SPDX-License-Identifier: Apache-2.0 */
/* rename(2) of a directory onto an empty directory, under a journal record
 * (rename_dir.c; docs/FORMAT.md section 12.7). No FUSE here. */
#ifndef LETHEFS_RENAME_DIR_H
#define LETHEFS_RENAME_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs.h"

/* Renames the backing directory pfd/s onto npfd/d, an empty directory
 * (lethefs metadata only), replacing it. -ENOTEMPTY when d holds anything
 * else or either is not a directory; other negative errnos on failure
 * (nothing changed then). */
int lfs_rename_over_empty_dir(struct lfs_fs *fs, int pfd, const char *s, int npfd, const char *d);

/* Recovery of a LFS_JK_RENAME_DIR record on its target, the destination's
 * parent open on npfd: finishes (removes the hidden old target) or undoes
 * (puts it back). *completed says which. -EINVAL for an unusable record. */
int lfs_rename_dir_recover(int npfd, const uint8_t *payload, size_t len, bool *completed);

#endif
