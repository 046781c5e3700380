/* SPDX-License-Identifier: Apache-2.0 */
/* The rotation journal of lethefs 0.1 (replay.c): reported at unlock
 * (lfs_rotation_recover, rotate.h), applied only by fsck on request. */
#ifndef LETHEFS_ROTATION_REPLAY_H
#define LETHEFS_ROTATION_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

#include "../fs/content.h"
#include "../keymgmt/keyring.h"

/* Applies VAULT/lethefs.rotation.journal with the checks of a journal
 * record (record.h) and removes it; what receives the object's path. 0
 * when applied (or its object is gone: -ENOENT/-ESTALE also remove it),
 * -ENOENT when there is no such file, -EINVAL when it is unusable. */
int lfs_rot_apply_legacy(int vault_dirfd, int data_dirfd, int mount_fd, const struct lfs_layout *l,
                         struct lfs_keyring *kr, char *what, size_t whatlen);

/* Whether such a journal is in the vault. */
bool lfs_rotation_legacy_journal_exists(int vault_dirfd);

#endif
