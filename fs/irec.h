/* SPDX-License-Identifier: Apache-2.0 */
/* The inode record of format 2 (docs/FORMAT.md section 14.1): an object's
 * node type, permission bits, owner, group and device number, encrypted
 * and authenticated, so that whoever writes the backing store can neither
 * read nor change who may read a file. It travels sealed inside the
 * object's file header or .lethefs.dir, bound to that header's first 32
 * bytes (magic, version, epoch, the file or directory id) as associated
 * data:
 *
 *   record  := type u8 | reserved u8 | mode u16 | uid u32 | gid u32
 *              | flags u32 (0) | rdev major u32 | rdev minor u32
 *              | version u64 | parent[16] | acl[16] | reserved[16]   (80 bytes)
 *   sealed  := nonce[24] | XChaCha20-Poly1305(key = inode key, nonce,
 *                                             ad = header[0..32), record)
 *
 * version, parent and acl are written as zero and not checked on reading:
 * room for a version counter, a parent binding and an ACL reference that a
 * later version may fill without a format change. Pure functions over
 * buffers: no FUSE, no descriptors. */
#ifndef LETHEFS_IREC_H
#define LETHEFS_IREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define LFS_IREC_LEN        80u
#define LFS_IREC_NONCE_LEN  24u
#define LFS_IREC_TAG_LEN    16u
#define LFS_IREC_SEALED_LEN (LFS_IREC_NONCE_LEN + LFS_IREC_LEN + LFS_IREC_TAG_LEN) /* 120 */
#define LFS_IREC_AD_LEN     32u

/* Node types; numbers are part of the format. */
enum lfs_irec_type {
	LFS_IREC_REG = 1,
	LFS_IREC_DIR = 2,
	LFS_IREC_LNK = 3,
	LFS_IREC_FIFO = 4,
	LFS_IREC_SOCK = 5,
	LFS_IREC_CHR = 6,
	LFS_IREC_BLK = 7,
};

struct lfs_irec {
	uint8_t type;  /* enum lfs_irec_type */
	uint16_t mode; /* permission bits, 07777 at most */
	uint32_t uid, gid;
	uint32_t flags;                  /* zero: no flag is defined */
	uint32_t rdev_major, rdev_minor; /* devices only; zero otherwise */
	uint64_t version;                /* reserved (a version counter) */
	uint8_t parent[16];              /* reserved (a parent binding) */
	uint8_t acl[16];                 /* reserved (an ACL reference) */
};

void lfs_irec_encode(const struct lfs_irec *r, uint8_t out[LFS_IREC_LEN]);
/* Strict: a known type, no mode bit beyond 07777, flags and the reserved
 * bytes zero, a device number only on devices. -EINVAL otherwise. */
int lfs_irec_decode(const uint8_t *in, size_t len, struct lfs_irec *r);

/* Seals r under key with a fresh random nonce. -EINVAL for a record that
 * would not decode, -EIO when the cipher failed. */
int lfs_irec_seal(const uint8_t key[32], const uint8_t ad[LFS_IREC_AD_LEN],
                  const struct lfs_irec *r, uint8_t out[LFS_IREC_SEALED_LEN]);
/* -EBADMSG when in does not authenticate under key and ad, -EINVAL when
 * it does but is malformed (which only a key holder could have written). */
int lfs_irec_open(const uint8_t key[32], const uint8_t ad[LFS_IREC_AD_LEN],
                  const uint8_t in[LFS_IREC_SEALED_LEN], struct lfs_irec *r);

/* Type <-> S_IFMT bits; 0 for anything else. */
mode_t lfs_irec_ifmt(uint8_t type);
uint8_t lfs_irec_type_of(mode_t mode);
/* A record for an object of mode (type and permission bits) owned by uid
 * and gid, with device number rdev (devices only). -EINVAL for a type a
 * record cannot hold or permission bits beyond 07777. */
int lfs_irec_make(struct lfs_irec *r, mode_t mode, uid_t uid, gid_t gid, dev_t rdev);
/* What the kernel is told: st's type, permission bits, owner, group and
 * device number replaced by the record's. */
void lfs_irec_to_stat(const struct lfs_irec *r, struct stat *st);

#endif
