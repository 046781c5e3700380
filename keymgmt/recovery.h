/* SPDX-License-Identifier: Apache-2.0 */
/* Recovery keys: the vault's master key written as text for a paper
 * backup, with a checksum so that a mistyped character is reported before
 * anything is tried against the vault. Crypto and text only: no I/O.
 *
 * Text:  LRK1-XXXX-XXXX-...-XXXX   (16 groups of 4 base32 characters)
 * Bytes: master key (32) || check (8), base32 (RFC 4648 alphabet, no
 *        padding: 40 bytes are exactly 64 characters)
 * check = first 8 bytes of BLAKE2b-128("lethefs recovery key v1" || master)
 * See docs/KEYS.md. */
#ifndef LETHEFS_RECOVERY_H
#define LETHEFS_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "keyslots.h"

#define LFS_RECOVERY_PREFIX    "LRK1"
#define LFS_RECOVERY_CHECK_LEN 8
#define LFS_RECOVERY_CHARS     64 /* base32 characters after the prefix */
#define LFS_RECOVERY_GROUP     4
/* "LRK1" + 16 × ("-" + 4 characters), without the terminating NUL. */
#define LFS_RECOVERY_TEXT_LEN                                                                      \
	(4 + (LFS_RECOVERY_CHARS / LFS_RECOVERY_GROUP) * (1 + LFS_RECOVERY_GROUP))

/* Writes the canonical text and a NUL into out. */
void lfs_recovery_encode(const uint8_t master[LFS_MASTER_KEY_LEN],
                         char out[LFS_RECOVERY_TEXT_LEN + 1]);

/* Parses text (len bytes, not necessarily NUL-terminated). Case, spaces,
 * tabs, dashes and line breaks are ignored; the LRK1 prefix may be left
 * out. Returns 0 with master filled, or -EINVAL with *why set to a
 * message that never quotes the key's characters. */
int lfs_recovery_decode(const char *text, size_t len, uint8_t master[LFS_MASTER_KEY_LEN],
                        const char **why);

#endif
