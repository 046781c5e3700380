/* SPDX-License-Identifier: Apache-2.0 */
/* Data-key rotation in a mounted volume (docs/ROTATION.md).
 *
 * Invariant: whenever the keyring holds more than one data epoch, a
 * rotation toward the current epoch is under way. So a daemon that starts
 * (or unlocks) with several epochs resumes it, whatever stopped the last
 * one, and an offline rekey that adds an epoch needs no other marker.
 * VAULT/lethefs.rotation only remembers when it started (for status).
 *
 * A background thread walks the backing tree, converting directories'
 * names, files' contents, symlink targets and xattrs of older epochs,
 * one object at a time under that object's io_lock; it pauses while the
 * volume is locked. A pass that finds nothing left retires the older
 * epochs: they are removed from lethefs.keyring and wiped, and audited. */
#ifndef LETHEFS_ROTATE_H
#define LETHEFS_ROTATE_H

#include "state.h"

void lfs_rotation_init(struct lfs_rotation *r, const struct lfs_rotation_env *env);
int lfs_rotation_start(struct lfs_rotation *r);
void lfs_rotation_stop(struct lfs_rotation *r);
/* Starts a rotation: a new epoch, stored before use. -EBUSY when one is
 * under way, -EACCES when locked, -E2BIG when the keyring holds the most
 * epochs it can, -ENOSPC (or -EDQUOT) when the vault's disk has no room
 * for the new keyring file. caller (may be NULL) is named in the
 * "started" audit entry. */
int lfs_rotation_request(struct lfs_rotation *r, uint32_t *epoch,
                         const struct lfs_audit_caller *caller);
/* Waits until the worker is out of its pass, its stack wiped. Called by
 * the lock once the keys are gone (after lfs_fs_lockdown), before anything
 * else may happen to the volume, an unlock's recovery above all: the worker
 * notices the lock before its next object or 1 MiB chunk and leaves the
 * object it was converting under its journal record, which that recovery
 * finishes. Returns at once when no pass runs. */
void lfs_rotation_quiesce(struct lfs_rotation *r);
/* Reports a rotation journal left by lethefs 0.1 (replay.c); the vault
 * journal's records are applied by daemon/recover.c. Called with keys
 * present and before the gate opens. */
void lfs_rotation_recover(struct lfs_rotation *r);

#endif
