/* SPDX-License-Identifier: Apache-2.0 */
#include "content.h"
#include "../common/bytes.h"
#include "../keymgmt/kdf.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

static const uint8_t file_magic[4] = {'L', 'T', 'H', 'F'};
#define HDR_PUBLIC_LEN 32 /* v1: what the MAC covers; v2: the record's AD */
#define AD_LEN         (LFS_FILE_ID_LEN + 4 + 1 + 1 + 1 + 8)

size_t lfs_header_len(unsigned version)
{
	return version == LFS_FILE_V1   ? LFS_FILE_HDR_V1_LEN
	       : version == LFS_FILE_V2 ? LFS_FILE_HDR_V2_LEN
	                                : 0;
}

void lfs_layout_init(struct lfs_layout *l, enum lfs_cipher_id cipher, unsigned version)
{
	l->cipher = cipher;
	l->version = (uint8_t)version;
	l->hdr_len = lfs_header_len(version);
	l->nonce_len = lfs_cipher_nonce_len(cipher);
	l->overhead = l->nonce_len + LFS_AEAD_TAG_LEN;
	l->block_disk = LFS_BLOCK_SIZE + l->overhead;
}

bool lfs_plain_size(const struct lfs_layout *l, uint64_t backing, uint64_t *plain)
{
	/* Version 1: an empty file has no header at all, and a header with no
	 * block is never written. Version 2: every file has its header, and
	 * an empty one is that header alone. */
	if (l->version == LFS_FILE_V1 && backing == 0) {
		*plain = 0;
		return true;
	}
	if (l->version == LFS_FILE_V2 && backing == l->hdr_len) {
		*plain = 0;
		return true;
	}
	if (backing <= l->hdr_len) {
		*plain = 0;
		return false;
	}
	uint64_t data = backing - l->hdr_len;
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
		return l->version == LFS_FILE_V2 ? l->hdr_len : 0;
	uint64_t full = plain / LFS_BLOCK_SIZE;
	uint64_t rest = plain % LFS_BLOCK_SIZE;
	return l->hdr_len + full * l->block_disk + (rest ? rest + l->overhead : 0);
}

void lfs_header_new(struct lfs_file_header *h, enum lfs_cipher_id cipher, uint32_t epoch,
                    unsigned version)
{
	memset(h, 0, sizeof(*h));
	h->version = (uint8_t)version;
	h->cipher = (uint8_t)cipher;
	h->epoch = epoch;
	randombytes_buf(h->file_id, LFS_FILE_ID_LEN);
}

static void header_mac(const uint8_t *in, const uint8_t key[32], uint8_t mac[16])
{
	crypto_generichash(mac, 16, in, HDR_PUBLIC_LEN, key, 32);
}

int lfs_header_encode(const struct lfs_file_header *h, const struct lfs_epoch_keys *k,
                      const struct lfs_irec *rec, uint8_t out[LFS_FILE_HDR_MAX])
{
	size_t len = lfs_header_len(h->version);
	if (!len || (h->version == LFS_FILE_V2 && !rec))
		return -EINVAL;
	memset(out, 0, len);
	memcpy(out, file_magic, 4);
	out[4] = h->version;
	out[5] = h->cipher;
	put_le16(out + 6, h->flags);
	put_le32(out + 8, h->epoch);
	memcpy(out + 16, h->file_id, LFS_FILE_ID_LEN);
	if (h->version == LFS_FILE_V1) {
		header_mac(out, k->hdr_mac, out + HDR_PUBLIC_LEN);
		return (int)len;
	}
	int r = lfs_irec_seal(k->inode, out, rec, out + HDR_PUBLIC_LEN);
	return r < 0 ? r : (int)len;
}

int lfs_header_version(const uint8_t *in, size_t len)
{
	if (len < 5 || memcmp(in, file_magic, 4) != 0 ||
	    (in[4] != LFS_FILE_V1 && in[4] != LFS_FILE_V2))
		return -EINVAL;
	return in[4];
}

int lfs_header_parse(const uint8_t *in, size_t len, struct lfs_file_header *h)
{
	int v = lfs_header_version(in, len);
	if (v < 0 || len < lfs_header_len((unsigned)v))
		return -EINVAL;
	if (in[5] != LFS_CIPHER_XCHACHA20POLY1305 && in[5] != LFS_CIPHER_AES256GCM)
		return -EINVAL;
	uint16_t flags = get_le16(in + 6);
	uint16_t known = LFS_HDR_FLAG_SPARSE | (v == LFS_FILE_V2 ? LFS_HDR_FLAG_IATTR : 0);
	if ((flags & ~known) != 0 || !sodium_is_zero(in + 12, 4))
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

int lfs_header_verify(const uint8_t *in, const struct lfs_file_header *h,
                      const struct lfs_epoch_keys *k, struct lfs_irec *rec)
{
	if (h->version == LFS_FILE_V2) {
		if (!rec)
			return -EINVAL;
		return lfs_irec_open(k->inode, in, in + HDR_PUBLIC_LEN, rec);
	}
	uint8_t mac[16];
	header_mac(in, k->hdr_mac, mac);
	int ok = crypto_verify_16(mac, in + HDR_PUBLIC_LEN) == 0;
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
