/* SPDX-License-Identifier: Apache-2.0 */
/* File contents format: an authenticated header, then fixed-size blocks
 * each sealed with the vault's AEAD. This unit is pure arithmetic and
 * crypto over byte buffers; it never touches FUSE or file descriptors.
 *
 *   header v1 := magic "LTHF" | version 1 | cipher u8 | flags u16 | epoch u32
 *                | reserved u32 (0) | file_id[16] | mac[16]            (48 bytes)
 *   header v2 := the same first 32 bytes with version 2 | the sealed inode
 *                record (irec.h) with those 32 bytes as AD            (152 bytes)
 *   block i   := nonce | AEAD(plain_i, ad_i)         (plain_i <= 4096 bytes)
 *   ad_i      := file_id | epoch u32 | version u8 | cipher u8 | final u8 | i u64
 *
 * Blocks start right after the header, so where block i lies depends on
 * the file's header version: every offset comes from a per-file layout
 * (lfs_layout_init with the version), never from a constant. "final" is 1
 * only for the file's last block, so a file cut at a block boundary is
 * detected (the new last block was sealed with final = 0). A format-1 empty
 * file has no header (0 bytes); a format-2 file always has one. */
#ifndef LETHEFS_CONTENT_H
#define LETHEFS_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "irec.h"
#include "../keymgmt/cipher.h"
#include "../keymgmt/keyring.h"

#define LFS_BLOCK_SIZE      4096u
#define LFS_FILE_ID_LEN     16u
#define LFS_FILE_V1         1u
#define LFS_FILE_V2         2u
#define LFS_FILE_HDR_V1_LEN 48u
#define LFS_FILE_HDR_V2_LEN (LFS_IREC_AD_LEN + LFS_IREC_SEALED_LEN) /* 152 */
#define LFS_FILE_HDR_MAX    LFS_FILE_HDR_V2_LEN
/* The file has, or once had, a hole: an all-zero stored block then reads
 * as zeros. Without this flag an all-zero block is tampering (EIO). */
#define LFS_HDR_FLAG_SPARSE 0x0001u
/* Format 2: the file's type, mode, owner and group are those of its inode
 * attribute (iattr.h, a backing xattr bound to this header's file id), not
 * the header's record (docs/FORMAT.md 14.9). */
#define LFS_HDR_FLAG_IATTR 0x0002u

struct lfs_file_header {
	uint8_t version;
	uint8_t cipher;
	uint16_t flags;
	uint32_t epoch;
	uint8_t file_id[LFS_FILE_ID_LEN];
};

/* One file's layout: the vault's cipher and the file's header version. */
struct lfs_layout {
	enum lfs_cipher_id cipher;
	uint8_t version; /* the header's: LFS_FILE_V1 or LFS_FILE_V2 */
	size_t hdr_len;  /* 48 or 152: where block 0 starts */
	size_t nonce_len;
	size_t block_disk; /* nonce + 4096 + tag */
	size_t overhead;   /* nonce + tag */
};

/* Header length of a version, 0 for an unknown one. */
size_t lfs_header_len(unsigned version);
/* version must be LFS_FILE_V1 or LFS_FILE_V2. */
void lfs_layout_init(struct lfs_layout *l, enum lfs_cipher_id cipher, unsigned version);

/* Plaintext size for a backing file of the given size. Returns false when
 * the backing size cannot come from a well-formed file (then *plain is the
 * size of the intact prefix). */
bool lfs_plain_size(const struct lfs_layout *l, uint64_t backing, uint64_t *plain);
/* Backing size of a well-formed file of the given plaintext size. */
uint64_t lfs_backing_size(const struct lfs_layout *l, uint64_t plain);
static inline uint64_t lfs_block_offset(const struct lfs_layout *l, uint64_t blockno)
{
	return l->hdr_len + blockno * l->block_disk;
}

/* A fresh header (random file id) of the given version. */
void lfs_header_new(struct lfs_file_header *h, enum lfs_cipher_id cipher, uint32_t epoch,
                    unsigned version);
/* The version a backing file starting with these len bytes declares: 1,
 * 2, or -EINVAL when the magic or the version is not one of ours. */
int lfs_header_version(const uint8_t *in, size_t len);
/* Structural checks only (no key needed): magic, version, cipher,
 * reserved bits, a non-zero epoch; len must cover the version's length.
 * -EINVAL if malformed. */
int lfs_header_parse(const uint8_t *in, size_t len, struct lfs_file_header *h);
/* Authenticates a header that parsed into h under the keys of its epoch:
 * version 1 by its MAC (constant-time), version 2 by opening its inode
 * record into rec (which may be NULL only for version 1). -EBADMSG if it
 * was altered, -EINVAL when a version-2 record is malformed. */
int lfs_header_verify(const uint8_t *in, const struct lfs_file_header *h,
                      const struct lfs_epoch_keys *k, struct lfs_irec *rec);
/* Encodes h under the keys of its epoch into out: version 1 with its MAC,
 * version 2 with rec sealed under a fresh nonce. Returns the header's
 * length, or -EINVAL (no or a bad record for version 2), -EIO (cipher). */
int lfs_header_encode(const struct lfs_file_header *h, const struct lfs_epoch_keys *k,
                      const struct lfs_irec *rec, uint8_t out[LFS_FILE_HDR_MAX]);

/* Seals plain (len <= 4096) as block blockno into out (len + overhead
 * bytes). nonce must be fresh random bytes of l->nonce_len. */
/* Returns 0, or -EIO when the cipher failed (out then holds nothing). */
int lfs_block_seal(const struct lfs_layout *l, const struct lfs_aead_key *k,
                   const struct lfs_file_header *h, uint64_t blockno, bool final,
                   const uint8_t *plain, size_t len, uint8_t *out);
/* Opens a stored block of in_len bytes. Returns the plaintext length, or
 * -EBADMSG when it does not authenticate. An all-zero non-final full block
 * of a sparse file is a hole and reads as zeros. */
int lfs_block_open(const struct lfs_layout *l, const struct lfs_aead_key *k,
                   const struct lfs_file_header *h, uint64_t blockno, bool final, const uint8_t *in,
                   size_t in_len, uint8_t *plain);

/* Derives the per-file AEAD key from an epoch's content root. */
/* Returns 0, or -EIO when the cipher cannot run here. */
int lfs_file_key(struct lfs_aead_key *out, enum lfs_cipher_id cipher,
                 const uint8_t content_root[32], const uint8_t file_id[LFS_FILE_ID_LEN]);

#endif
