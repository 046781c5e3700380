/* SPDX-License-Identifier: Apache-2.0 */
/* The inode attribute of format 2 (docs/FORMAT.md 14.9): a regular file's
 * type, permission bits, owner and group, sealed into a backing extended
 * attribute small enough for ext4 to keep inside the backing inode, so that
 * a lookup learns them from the inode it reads anyway instead of from the
 * file's header (one random disk read per file after the caches are
 * dropped). Bound to the header's file id by its first 12 bytes:
 *
 *   value   := version u8 (1) | epoch u32 | bind[12] | nonce[24]
 *              | XChaCha20-Poly1305(key = iattr key of epoch, nonce,
 *                                   ad = value[0..17), plain)          (68 bytes)
 *   plain   := type u8 | mode u16 | uid u32 | gid u32                 (11 bytes)
 *
 * bind is the first 12 bytes of the file id of the header it belongs to: a
 * lookup cannot compare it (it does not read the header), every operation
 * that acts on the file does (fs/attr.c). Pure functions over buffers. */
#ifndef LETHEFS_IATTR_H
#define LETHEFS_IATTR_H

#include <stddef.h>
#include <stdint.h>

#include "irec.h"

/* The backing xattr: one letter, so that ext4 stores the name in 4 bytes
 * and the entry fits the 96 bytes a 256-byte inode has for attributes. An
 * encrypted xattr name (section 9.1) is at least 23 characters: no clash. */
#define LFS_IATTR_NAME     "user.l"
#define LFS_IATTR_VERSION  1u
#define LFS_IATTR_BIND_LEN 12u
#define LFS_IATTR_AD_LEN   17u
#define LFS_IATTR_PLAIN    11u
#define LFS_IATTR_LEN      (LFS_IATTR_AD_LEN + 24u + LFS_IATTR_PLAIN + 16u) /* 68 */

/* Seals r (a regular file's record: type, mode, uid and gid; everything
 * else in it must be zero) under key, for the header of epoch whose file id
 * starts with bind. -EINVAL for a record an attribute cannot hold. */
int lfs_iattr_seal(const uint8_t key[32], uint32_t epoch, const uint8_t bind[LFS_IATTR_BIND_LEN],
                   const struct lfs_irec *r, uint8_t out[LFS_IATTR_LEN]);
/* The epoch whose key opens in (len bytes), or -EINVAL when in is not an
 * attribute of a version this reads. */
int lfs_iattr_epoch(const uint8_t *in, size_t len, uint32_t *epoch);
/* Opens in: -EINVAL malformed (length, version), -EBADMSG when it does not
 * authenticate, -EINVAL for a record that breaks a rule. r gets the
 * record (the other fields zero), bind the binding. */
int lfs_iattr_open(const uint8_t key[32], const uint8_t *in, size_t len, struct lfs_irec *r,
                   uint8_t bind[LFS_IATTR_BIND_LEN]);
/* Whether a record can be carried by an attribute: a regular file's. */
int lfs_iattr_fits(const struct lfs_irec *r);

#endif
