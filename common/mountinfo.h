/* SPDX-License-Identifier: Apache-2.0 */
/* Where a vault is mounted, from /proc/self/mountinfo. */
#ifndef LETHEFS_MOUNTINFO_H
#define LETHEFS_MOUNTINFO_H

#include <stdbool.h>
#include <stddef.h>

/* Decodes mountinfo's octal escapes (\040 for a space) in place. */
void lfs_mountinfo_unescape(char *s);

/* A fuse.lethefs mount whose source is this vault (also one whose daemon
 * died and left the mount behind), in this mount namespace. Writes its
 * mount point into where. */
bool lfs_mounted_at(const char *vault, char *where, size_t wlen);

#endif
