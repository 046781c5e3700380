/* SPDX-License-Identifier: Apache-2.0 */
/* What may be mounted over. A FUSE mount hides what was in the directory
 * (a program that wrote there before the mount loses sight of its files),
 * a dead FUSE mount (daemon killed: every access gives ENOTCONN) must be
 * unmounted first, and a mount stacked over a live one is confusing at
 * best. The first and last are refused unless -o nonempty; a dead mount
 * always (nothing can be mounted over a directory that cannot be stat'ed). */
#ifndef LETHEFS_MOUNTPOINT_H
#define LETHEFS_MOUNTPOINT_H

#include <stdbool.h>

/* Returns 0 when mnt may be mounted over, else prints why and returns an
 * exit code (LFS_EXIT_MOUNT). */
int lfs_mountpoint_check(const char *mnt, bool nonempty);

#endif
