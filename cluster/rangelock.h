/* SPDX-License-Identifier: Apache-2.0 */
/* Byte-range locks on backing files, as open file description locks
 * (F_OFD_SETLK and friends). Cluster filesystems enforce them between
 * hosts (GlusterFS, CephFS, NFSv4: docs/SHARED.md), a local filesystem
 * between processes; either way two descriptors opened separately
 * conflict, also within one process, and a lock lives as long as its open
 * file description: it survives fork (the daemon takes its vault lease
 * before it daemonizes) and goes away when the last descriptor is closed,
 * i.e. when its holder dies. */
#ifndef LETHEFS_RANGELOCK_H
#define LETHEFS_RANGELOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Locks [off, off + len) for reading (shared) or writing (exclusive).
 * wait: wait until granted (polling: rangelock.c says why); else -EAGAIN when another
 * descriptor holds a conflicting lock. Other failures: -errno (-EINVAL or
 * -ENOLCK when the filesystem has no such locks). */
int lfs_range_lock(int fd, bool write, uint64_t off, uint64_t len, bool wait);
/* Like lfs_range_lock with wait, but gives up after timeout_ms with
 * -EAGAIN (polling: OFD locks have no timed wait). */
int lfs_range_lock_timed(int fd, bool write, uint64_t off, uint64_t len, unsigned timeout_ms);
int lfs_range_unlock(int fd, uint64_t off, uint64_t len);
/* Whether a lock conflicting with a `write` (or read) lock on the range is
 * held through another open file description. 0 and *held, or -errno. */
int lfs_range_held(int fd, bool write, uint64_t off, uint64_t len, bool *held);

#endif
