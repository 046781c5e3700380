/* SPDX-License-Identifier: Apache-2.0 */
/* A rough strength estimate of a new passphrase, for a warning: whoever
 * copies a vault can guess its passphrases offline, at Argon2id's pace. */
#ifndef LETHEFS_PASSQUALITY_H
#define LETHEFS_PASSQUALITY_H

#include <stddef.h>
#include <stdint.h>

/* Bits of a guesser's work, estimated from the character classes used and
 * the length, not counting characters that repeat or continue a run
 * ("aaaa", "1234", "abcd") and counting none for a passphrase that is one
 * of the most common ones (a letter case or trailing digits aside). */
unsigned lfs_passphrase_bits(const char *p, size_t len);

/* Below this the warning is printed. */
#define LFS_PASSPHRASE_WEAK_BITS 60

/* Prints a warning on stderr when the passphrase is weak; never refuses
 * (an empty passphrase is refused when it is read). */
void lfs_warn_weak_passphrase(const char *p, size_t len);

#endif
