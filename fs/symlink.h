/* SPDX-License-Identifier: Apache-2.0 */
/* Symlink targets of the vault's tree, which carry no epoch: during a
 * rotation a target may still be under an older live epoch. */
#ifndef LETHEFS_SYMLINK_H
#define LETHEFS_SYMLINK_H

#include <stddef.h>
#include <stdint.h>

#include "../keymgmt/keyring.h"

/* Decrypts a symlink target trying the current epoch first, then the other
 * live data epochs (a rotation may be under way). out holds enc_len bytes.
 * Returns the plaintext length and the epoch that fit, or -EBADMSG. */
int lfs_link_decrypt_any(struct lfs_keyring *kr, const char *enc, size_t enc_len, char *out,
                         uint32_t *epoch);

#endif
