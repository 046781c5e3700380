/* SPDX-License-Identifier: Apache-2.0 */
/* File contents format: a 48-byte authenticated header, then fixed-size
 * blocks each sealed with the vault's AEAD. This unit is pure arithmetic
 * and crypto over byte buffers; it never touches FUSE or file descriptors.
 *
 *   header  := magic "LTHF" | version u8 | cipher u8 | flags u16 | epoch u32
 *              | reserved u32 (0) | file_id[16] | mac[16]
 *   block i := nonce | AEAD(plain_i, ad_i)            (plain_i <= 4096 bytes)
 *   ad_i    := file_id | epoch u32 | version u8 | cipher u8 | final u8 | i u64
 *
 * "final" is 1 only for the file's last block, so a file cut at a block
 * boundary is detected (the new last block was sealed with final = 0). */
#ifndef LETHEFS_CONTENT_H
#define LETHEFS_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../keymgmt/cipher.h"

#define LFS_BLOCK_SIZE      4096u
#define LFS_FILE_HDR_LEN    48u
#define LFS_FILE_ID_LEN     16u
#define LFS_FILE_VERSION    1u
/* The file has, or once had, a hole: an all-zero stored block then reads
 * as zeros. Without this flag an all-zero block is tampering (EIO). */
#define LFS_HDR_FLAG_SPARSE 0x0001u

struct lfs_file_header {
	uint8_t version;
	uint8_t cipher;
	uint16_t flags;
	uint32_t epoch;
	uint8_t file_id[LFS_FILE_ID_LEN];
};

struct lfs_layout {
	enum lfs_cipher_id cipher;
	size_t nonce_len;
	size_t block_disk; /* nonce + 4096 + tag */
	size_t overhead;   /* nonce + tag */
};

void lfs_layout_init(struct lfs_layout *l, enum lfs_cipher_id cipher);

/* Plaintext size for a backing file of the given size. Returns false when
 * the backing size cannot come from a well-formed file (then *plain is the
 * size of the intact prefix). */
bool lfs_plain_size(const struct lfs_layout *l, uint64_t backing, uint64_t *plain);
/* Backing size of a well-formed file of the given plaintext size. */
uint64_t lfs_backing_size(const struct lfs_layout *l, uint64_t plain);
static inline uint64_t lfs_block_offset(const struct lfs_layout *l, uint64_t blockno)
{
	return LFS_FILE_HDR_LEN + blockno * l->block_disk;
}

void lfs_header_new(struct lfs_file_header *h, enum lfs_cipher_id cipher, uint32_t epoch);
void lfs_header_encode(const struct lfs_file_header *h, const uint8_t mac_key[32],
		       uint8_t out[LFS_FILE_HDR_LEN]);
/* Structural checks only (no key needed): magic, version, reserved bits.
 * -EINVAL if malformed. */
int lfs_header_parse(const uint8_t *in, size_t len, struct lfs_file_header *h);
/* Constant-time MAC check. -EBADMSG if the header was altered. */
int lfs_header_verify(const uint8_t in[LFS_FILE_HDR_LEN], const uint8_t mac_key[32]);

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
