/* SPDX-License-Identifier: Apache-2.0 */
/* Extended attributes of a directory entry read by name, relative to the
 * directory's descriptor (getxattrat(2), Linux 6.13), where the kernel has
 * the call: one short path walk, where the O_PATH descriptor callers hold
 * could only be read through /proc/self/fd/N (fgetxattr refuses O_PATH
 * descriptors, and so does getxattrat with AT_EMPTY_PATH). */
#ifndef LETHEFS_XATTRAT_H
#define LETHEFS_XATTRAT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The value of attr of dirfd/name, a symlink itself (never followed):
 * its length, or -errno; -ENOSYS where the kernel has no getxattrat (the
 * answer is remembered: one failed call per process) or after
 * lfs_xattrat_disable. */
ssize_t lfs_getxattrat(int dirfd, const char *name, const char *attr, void *buf, size_t size);

/* Makes lfs_getxattrat answer -ENOSYS from now on, as on a kernel without
 * the call (tests reach the fallback paths with it; LETHEFS_NO_XATTRAT=1
 * in a daemon's environment, daemon/mount.c). */
void lfs_xattrat_disable(void);

/* Whether lfs_getxattrat may still work (not known to be missing). */
bool lfs_xattrat_usable(void);

#endif
