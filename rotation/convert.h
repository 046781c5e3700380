/* SPDX-License-Identifier: Apache-2.0 */
/* The conversion of one object to the rotation's target epoch, each under
 * that object's io_lock and journalled (rotjournal.h): a regular file
 * (convert_file.c, with refile.c), a directory's names and a symlink
 * (convert_dir.c, with redir.c), and xattrs (convert_xattrs.c). */
#ifndef LETHEFS_ROTATION_CONVERT_H
#define LETHEFS_ROTATION_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "state.h"

/* Reads and authenticates a file header of either version (rec receives a
 * version-2 header's record); -ENODATA for a format-1 empty file. *plain
 * is the file's plaintext size. */
int lfs_rot_read_header(struct lfs_fs *fs, int fd, uint8_t raw[LFS_FILE_HDR_MAX],
                        struct lfs_file_header *h, struct lfs_irec *rec, uint64_t *plain);
/* Whether the rotation's target epoch is of format 2 (so that format-1
 * objects are converted as they are met: rotation/upconvert.h). */
bool lfs_rot_target_format2(struct walk *w);
/* The regular file dirfd/name (rel: its path below d/). */
int lfs_rot_convert_file(struct walk *w, int dirfd, const char *name, const char *rel);
/* The directory parentfd/name (NULL: the root); *epoch is its epoch after. */
int lfs_rot_convert_dir(struct walk *w, int parentfd, const char *name, const char *rel,
                        uint32_t *epoch);
/* The symlink dirfd/name of directory dir. */
int lfs_rot_convert_link(struct walk *w, struct lfs_inode *dir, int dirfd, const char *name);
/* The xattrs of proc (a /proc/self/fd path): how many are (or, counting,
 * would be) converted, or -errno. */
int lfs_rot_convert_xattrs(struct walk *w, const char *proc, bool count_only);

#endif
