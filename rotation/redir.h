/* SPDX-License-Identifier: Apache-2.0 */
/* Rotation of what is not file contents (docs/ROTATION.md): the names of
 * one directory, and symlink targets. No FUSE here; the caller excludes
 * FUSE name operations on the directory (its io_lock, taken shared by the
 * gate around every name operation) and journals the conversion. */
#ifndef LETHEFS_REDIR_H
#define LETHEFS_REDIR_H

#include <stdint.h>

#include "../fs/dirmeta.h"
#include "../fs/symlink.h"
#include "../keymgmt/keyring.h"

/* Renames every entry of the directory open on dirfd (O_RDONLY) from the
 * names of old_m to those of new_m (same dirid, new epoch), then replaces
 * .lethefs.dir atomically with new_img (new_len bytes: new_m encoded, of
 * version 2 with the directory's record when it is of format 2). Entries
 * already under new_m (a replay) are left alone; entries that authenticate
 * under neither are left and counted in *skipped. Idempotent, so a crash
 * midway is finished by running it again. */
int lfs_redir_convert(struct lfs_keyring *kr, int dirfd, const struct lfs_dirmeta *old_m,
                      const struct lfs_dirmeta *new_m, const uint8_t *new_img, size_t new_len,
                      unsigned *renamed, unsigned *skipped);

/* Undoes a conversion of lfs_redir_convert that failed before it replaced
 * .lethefs.dir: every entry already under new_m's names goes back to its
 * name under old_m. -ESTALE when .lethefs.dir is not old_m's any more
 * (then only finishing the conversion is right). */
int lfs_redir_undo(struct lfs_keyring *kr, int dirfd, const struct lfs_dirmeta *old_m,
                   const struct lfs_dirmeta *new_m);

/* Re-encrypts the symlink dirfd/name under the current epoch if its
 * target decrypts only under another live epoch: a new symlink under a
 * temporary name (same owner and times), renamed over the old one. treefd
 * is the tree's root, where long targets keep their sidecars.
 * Returns 1 when converted, 0 when already current, -EIO when it
 * authenticates under no live epoch. */
int lfs_relink(struct lfs_keyring *kr, int treefd, int dirfd, const char *name);

#endif
