/* SPDX-License-Identifier: Apache-2.0 */
/* Key derivation tree. Every key lethefs uses is derived from a root key
 * (the master key, or a data key of one epoch) for exactly one purpose,
 * named by an 8-byte libsodium KDF context. Changing any constant here is
 * a format change: tests/unit/test_kdf.c pins the outputs. */
#ifndef LETHEFS_KDF_H
#define LETHEFS_KDF_H

#include <stdint.h>

#define LFS_KEY_LEN 32

/* Purposes derived from the master key. */
#define LFS_KDF_CTX_KEYRING "lfkrng01" /* wraps the data-key ring file */
#define LFS_KDF_CTX_AUDIT   "lfaudt01" /* authenticates audit entries */
#define LFS_KDF_CTX_STAGING "lfstag01" /* wraps staging directory keys */
#define LFS_KDF_CTX_JOURNAL "lfjrnl01" /* authenticates vault journal records */
#define LFS_KDF_CTX_STAGEXP "lfstex01" /* authenticates staging retention records */
/* From the audit key (not the master key, so that labels survive a rekey). */
#define LFS_KDF_CTX_LABELS "lflabl01" /* authenticates keyslot labels */

/* Purposes derived from a data key (one per epoch). */
#define LFS_KDF_CTX_CONTENT "lfcont01" /* root of per-file content keys */
#define LFS_KDF_CTX_HDRMAC  "lfhmac01" /* authenticates file headers */
#define LFS_KDF_CTX_NAMEMAC "lfnmac01" /* SIV tag of file names */
#define LFS_KDF_CTX_NAMEENC "lfnenc01" /* stream key of file names */
#define LFS_KDF_CTX_LINK    "lflink01" /* symlink targets */
#define LFS_KDF_CTX_XATTR   "lfxatt01" /* xattr names (SIV) and values */
#define LFS_KDF_CTX_INODE   "lfinod01" /* format 2: inode records (type, mode, owner) */
#define LFS_KDF_CTX_IATTR   "lfiatt01" /* format 2: inode attributes (FORMAT.md 14.9) */

void lfs_kdf_derive(uint8_t out[LFS_KEY_LEN], const uint8_t root[LFS_KEY_LEN], uint64_t subkey_id,
                    const char ctx[8]);

/* Per-file content key: keyed BLAKE2b over the file id, so that no two
 * files share a content key (this bounds the number of random nonces used
 * under one AES-GCM key to one file's blocks). */
void lfs_kdf_file_key(uint8_t out[LFS_KEY_LEN], const uint8_t content_root[LFS_KEY_LEN],
                      const uint8_t file_id[16]);

#endif
