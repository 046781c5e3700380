/* SPDX-License-Identifier: Apache-2.0 */
#include "content.h"
#include "../common/bytes.h"
#include "../keymgmt/kdf.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

static const uint8_t file_magic[4] = {'L', 'T', 'H', 'F'};
#define HDR_MAC_OFFSET 32
#define AD_LEN         (LFS_FILE_ID_LEN + 4 + 1 + 1 + 1 + 8)

void lfs_layout_init(struct lfs_layout *l, enum lfs_cipher_id cipher)
{
	l->cipher = cipher;
	l->nonce_len = lfs_cipher_nonce_len(cipher);
	l->overhead = l->nonce_len + LFS_AEAD_TAG_LEN;
	l->block_disk = LFS_BLOCK_SIZE + l->overhead;
}

bool lfs_plain_size(const struct lfs_layout *l, uint64_t backing, uint64_t *plain)
{
	if (backing == 0) {
		*plain = 0;
		return true;
	}
	/* A header with no block is never written: an empty file has no
	 * header at all. */
	if (backing <= LFS_FILE_HDR_LEN) {
		*plain = 0;
		return false;
	}
	uint64_t data = backing - LFS_FILE_HDR_LEN;
	uint64_t full = data / l->block_disk;
	uint64_t rest = data % l->block_disk;
	*plain = full * LFS_BLOCK_SIZE;
	if (rest == 0)
		return true;
	if (rest <= l->overhead)
		return false;
	*plain += rest - l->overhead;
	return true;
}

uint64_t lfs_backing_size(const struct lfs_layout *l, uint64_t plain)
{
	if (plain == 0)
		return 0;
	uint64_t full = plain / LFS_BLOCK_SIZE;
	uint64_t rest = plain % LFS_BLOCK_SIZE;
	return LFS_FILE_HDR_LEN + full * l->block_disk + (rest ? rest + l->overhead : 0);
}

void lfs_header_new(struct lfs_file_header *h, enum lfs_cipher_id cipher, uint32_t epoch)
{
	memset(h, 0, sizeof(*h));
	h->version = LFS_FILE_VERSION;
	h->cipher = (uint8_t)cipher;
	h->epoch = epoch;
	randombytes_buf(h->file_id, LFS_FILE_ID_LEN);
}

static void header_mac(const uint8_t *in, const uint8_t key[32], uint8_t mac[16])
{
	crypto_generichash(mac, 16, in, HDR_MAC_OFFSET, key, 32);
}

void lfs_header_encode(const struct lfs_file_header *h, const uint8_t mac_key[32],
		       uint8_t out[LFS_FILE_HDR_LEN])
{
	memset(out, 0, LFS_FILE_HDR_LEN);
	memcpy(out, file_magic, 4);
	out[4] = h->version;
	out[5] = h->cipher;
	put_le16(out + 6, h->flags);
	put_le32(out + 8, h->epoch);
	memcpy(out + 16, h->file_id, LFS_FILE_ID_LEN);
	header_mac(out, mac_key, out + HDR_MAC_OFFSET);
}

int lfs_header_parse(const uint8_t *in, size_t len, struct lfs_file_header *h)
{
	if (len < LFS_FILE_HDR_LEN || memcmp(in, file_magic, 4) != 0)
		return -EINVAL;
	if (in[4] != LFS_FILE_VERSION || (in[5] != LFS_CIPHER_XCHACHA20POLY1305 &&
					  in[5] != LFS_CIPHER_AES256GCM))
		return -EINVAL;
	uint16_t flags = get_le16(in + 6);
	if ((flags & ~LFS_HDR_FLAG_SPARSE) != 0 || !sodium_is_zero(in + 12, 4))
		return -EINVAL;
	h->version = in[4];
	h->cipher = in[5];
	h->flags = flags;
	h->epoch = get_le32(in + 8);
	if (h->epoch == 0)
		return -EINVAL;
	memcpy(h->file_id, in + 16, LFS_FILE_ID_LEN);
	return 0;
}

int lfs_header_verify(const uint8_t in[LFS_FILE_HDR_LEN], const uint8_t mac_key[32])
{
	uint8_t mac[16];
	header_mac(in, mac_key, mac);
	int ok = crypto_verify_16(mac, in + HDR_MAC_OFFSET) == 0;
	return ok ? 0 : -EBADMSG;
}

static void block_ad(const struct lfs_file_header *h, uint64_t blockno, bool final,
		     uint8_t ad[AD_LEN])
{
	memcpy(ad, h->file_id, LFS_FILE_ID_LEN);
	put_le32(ad + 16, h->epoch);
	ad[20] = h->version;
	ad[21] = h->cipher;
	ad[22] = final ? 1 : 0;
	put_le64(ad + 23, blockno);
}

int lfs_block_seal(const struct lfs_layout *l, const struct lfs_aead_key *k,
		   const struct lfs_file_header *h, uint64_t blockno, bool final,
		   const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t ad[AD_LEN];
	block_ad(h, blockno, final, ad);
	/* The caller filled out[0..nonce_len) with fresh random bytes. */
	return lfs_aead_seal(k, out + l->nonce_len, plain, len, ad, sizeof(ad), out) == 0 ? 0
											 : -EIO;
}

/* Stored ciphertext is public, so this need not be constant-time; it runs
 * for every block of a sparse file and must be fast. A real block starts
 * with a random nonce, so the first word almost always decides. */
static bool is_hole(const uint8_t *p, size_t n)
{
	static const uint8_t zeros[256];
	for (size_t i = 0; i < n; i += sizeof(zeros)) {
		size_t k = n - i < sizeof(zeros) ? n - i : sizeof(zeros);
		if (memcmp(p + i, zeros, k) != 0)
			return false;
	}
	return true;
}

int lfs_block_open(const struct lfs_layout *l, const struct lfs_aead_key *k,
		   const struct lfs_file_header *h, uint64_t blockno, bool final, const uint8_t *in,
		   size_t in_len, uint8_t *plain)
{
	if (in_len <= l->overhead || in_len > l->block_disk)
		return -EBADMSG;
	if ((h->flags & LFS_HDR_FLAG_SPARSE) && !final && in_len == l->block_disk &&
	    is_hole(in, in_len)) {
		memset(plain, 0, LFS_BLOCK_SIZE);
		return LFS_BLOCK_SIZE;
	}
	uint8_t ad[AD_LEN];
	block_ad(h, blockno, final, ad);
	if (lfs_aead_open(k, plain, in + l->nonce_len, in_len - l->nonce_len, ad, sizeof(ad), in) !=
	    0)
		return -EBADMSG;
	return (int)(in_len - l->overhead);
}

int lfs_file_key(struct lfs_aead_key *out, enum lfs_cipher_id cipher,
		 const uint8_t content_root[32], const uint8_t file_id[LFS_FILE_ID_LEN])
{
	uint8_t k[32];
	lfs_kdf_file_key(k, content_root, file_id);
	int r = lfs_aead_key_init(out, cipher, k);
	sodium_memzero(k, sizeof(k));
	return r == 0 ? 0 : -EIO;
}
