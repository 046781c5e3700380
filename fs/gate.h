/* SPDX-License-Identifier: Apache-2.0 */
/* Locking a mounted volume: the gate every FUSE request passes (fs/gate.c)
 * and the lock sequence that empties the kernel's caches (fs/lockdown.c). */
#ifndef LETHEFS_GATE_H
#define LETHEFS_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "fs.h"

/* The operation table with every handler behind the gate. */
extern const struct fuse_lowlevel_ops lfs_gated_ops;

/* Counts as activity now (an unlock: the idle time starts there). */
void lfs_fs_touch(struct lfs_fs *fs);
/* Seconds since the last file operation (for idle_lock). */
int64_t lfs_fs_idle_seconds(struct lfs_fs *fs);

/* Locks the volume: stop new opens, flush and drop the kernel's cached
 * pages and names, revoke every open handle (later use fails EIO), then
 * wipe the keys. The caller checks for open handles first when the lock is
 * not forced. Returns the number of inodes whose caches were dropped. */
long lfs_fs_lockdown(struct lfs_fs *fs);
/* Opens the gate after the keyring was unlocked. */
void lfs_fs_open_gate(struct lfs_fs *fs);
/* Makes the kernel forget the entry backing of directory dir, open on
 * dirfd (rotation replaced that symlink by a new one: the kernel's cached
 * inode would keep reading the old). Never from inside a FUSE handler, and
 * never with dir's io_lock held (the kernel may be waiting on it). */
void lfs_fs_forget_entry(struct lfs_fs *fs, struct lfs_inode *dir, int dirfd, const char *backing);

#endif
