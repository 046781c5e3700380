/* SPDX-License-Identifier: Apache-2.0 */
/* Times held across a rotation's conversion of an object (docs/ROTATION.md,
 * "Operations during a rotation"). Re-sealing a file's blocks in place and
 * renaming a directory's entries move the backing object's modification
 * time, which is the plaintext one; the conversion puts the old times back
 * at its end. Meanwhile stat shows the held times, and a utimensat(2)
 * through the mount changes them too, so that the end of the conversion
 * puts back what the user set rather than undoing it. */
#ifndef LETHEFS_HELDTIMES_H
#define LETHEFS_HELDTIMES_H

#include <sys/stat.h>

#include "fs.h"

/* From now on the object's times are st's (taken before any change). */
void lfs_times_hold(struct lfs_inode *in, const struct stat *st);
/* Puts the held times on the object open on fd (any descriptor of it, also
 * O_PATH) and stops holding them. 0 or a negative errno (not held: 0). */
int lfs_times_release(struct lfs_inode *in, int fd);
/* Stops holding them without putting them back. */
void lfs_times_drop(struct lfs_inode *in);
/* A mark to take before a backing stat that lfs_times_settle and
 * lfs_times_apply then correct: they read the object again when a hold
 * of it ended after the mark (the stat may have been taken before the
 * end, in the middle of the conversion). */
uint64_t lfs_times_mark(void);
/* st, a stat of the regular backing file open on fd taken after mark,
 * before it is made the plaintext view: taken again, whole, when a
 * rotation is converting the file from format 1 (its size, mode and owner
 * change with its format: read once the conversion is over, waiting for
 * its io_lock) or a hold of it ended since mark. */
void lfs_times_settle(struct lfs_inode *in, int fd, struct stat *st, uint64_t mark);
/* st, a stat of the object (open on fd) taken after mark: the held times
 * while they are held; if a hold ended since mark, the times the object
 * has now (regular files: lfs_times_settle did that). */
void lfs_times_apply(struct lfs_inode *in, int fd, struct stat *st, uint64_t mark);
/* utimensat(2) on the object open on fd (any descriptor, AT_EMPTY_PATH)
 * with tv (UTIME_NOW, UTIME_OMIT allowed); held times follow. 0 or a
 * negative errno. */
int lfs_times_set(struct lfs_inode *in, int fd, const struct timespec tv[2]);

#endif
