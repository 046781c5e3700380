/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the readers of file contents and directory metadata: the file
 * header parser of both versions and its authentication (a version-1 MAC,
 * a version-2 sealed inode record), block opening (including the
 * sparse-hole rule) at each version's offset, the size arithmetic of each
 * version, and the .lethefs.dir decoder and record opener.
 *
 * The input is a backing file: a header, then one stored block. When the
 * header does not parse, a fixed sparse header of the version the input's
 * fifth byte names stands in, so that block opening is fuzzed on every
 * input, not only on those that found the magic. */
#include "fuzz_common.h"

#include <errno.h>

#include "../../fs/content.h"
#include "../../fs/dirmeta.h"

FZ_DEFINE_INIT

static void fixed_keys(struct lfs_epoch_keys *k, uint32_t epoch)
{
	memset(k, 0, sizeof(*k));
	k->epoch = epoch;
	fz_key(k->hdr_mac, sizeof(k->hdr_mac), FZ_SEED_HDR_MAC);
	fz_key(k->inode, sizeof(k->inode), FZ_SEED_INODE);
}

static void fallback_header(struct lfs_file_header *h, unsigned version)
{
	memset(h, 0, sizeof(*h));
	h->version = (uint8_t)version;
	h->cipher = LFS_CIPHER_XCHACHA20POLY1305;
	h->flags = LFS_HDR_FLAG_SPARSE;
	h->epoch = 1;
}

static void check_header(const uint8_t *data, const struct lfs_file_header *h)
{
	struct lfs_epoch_keys k;
	struct lfs_irec rec, back;
	uint8_t again[LFS_FILE_HDR_MAX];
	size_t len = lfs_header_len(h->version);
	FZ_CHECK(len != 0 && h->epoch != 0);
	/* IATTR (FORMAT.md 14.9) exists in version 2 only. */
	FZ_CHECK((h->flags & ~(LFS_HDR_FLAG_SPARSE |
	                       (h->version == LFS_FILE_V2 ? LFS_HDR_FLAG_IATTR : 0))) == 0);
	fixed_keys(&k, h->epoch);
	if (lfs_header_verify(data, h, &k, &rec) != 0)
		return;
	/* Authentic: encoding it again gives the same public bytes, and a
	 * version-2 record (under a fresh nonce) opens to the same values. */
	FZ_CHECK(lfs_header_encode(h, &k, &rec, again) == (int)len);
	FZ_CHECK(memcmp(again, data, 32) == 0);
	if (h->version == LFS_FILE_V1) {
		FZ_CHECK(memcmp(again, data, len) == 0);
		return;
	}
	struct lfs_file_header h2;
	FZ_CHECK(lfs_header_parse(again, len, &h2) == 0);
	FZ_CHECK(lfs_header_verify(again, &h2, &k, &back) == 0);
	FZ_CHECK(memcmp(&back, &rec, sizeof(rec)) == 0);
	FZ_CHECK((rec.mode & ~07777u) == 0 && rec.type >= LFS_IREC_REG && rec.type <= LFS_IREC_BLK);
}

/* Opens the bytes after the header as block 0, final when the input's
 * last byte is odd (lets the fuzzer reach both branches). */
static void open_block(const struct lfs_file_header *h, const uint8_t *in, size_t len, bool final)
{
	static uint8_t plain[LFS_BLOCK_SIZE];
	struct lfs_layout l;
	struct lfs_aead_key key;
	uint8_t root[32];
	if (!lfs_cipher_available((enum lfs_cipher_id)h->cipher))
		return;
	lfs_layout_init(&l, (enum lfs_cipher_id)h->cipher, h->version);
	fz_key(root, sizeof(root), FZ_SEED_CONTENT);
	lfs_file_key(&key, (enum lfs_cipher_id)h->cipher, root, h->file_id);
	int r = lfs_block_open(&l, &key, h, 0, final, in, len, plain);
	if (r >= 0) {
		FZ_CHECK(r <= (int)LFS_BLOCK_SIZE);
		FZ_CHECK((size_t)r == len - l.overhead || r == (int)LFS_BLOCK_SIZE);
	} else {
		FZ_CHECK(r == -EBADMSG);
	}
	lfs_aead_key_wipe(&key);
}

/* The first 8 bytes as a backing file size: whatever lfs_plain_size
 * accepts, lfs_backing_size maps back to, for both header versions. */
static void check_sizes(const uint8_t *data, size_t size)
{
	uint64_t backing = 0, plain;
	struct lfs_layout l;
	memcpy(&backing, data, size < 8 ? size : 8);
	backing >>= 12; /* keep plain * overhead far from 2^64 */
	for (int c = LFS_CIPHER_XCHACHA20POLY1305; c <= LFS_CIPHER_AES256GCM; c++) {
		for (unsigned v = LFS_FILE_V1; v <= LFS_FILE_V2; v++) {
			lfs_layout_init(&l, (enum lfs_cipher_id)c, v);
			if (lfs_plain_size(&l, backing, &plain))
				FZ_CHECK(lfs_backing_size(&l, plain) == backing);
			else
				/* The intact prefix is shorter, except below a
				 * version-2 header (no prefix at all). */
				FZ_CHECK(lfs_backing_size(&l, plain) < backing ||
				         (v == LFS_FILE_V2 && backing < l.hdr_len && plain == 0));
		}
	}
}

static void check_dirmeta(const uint8_t *data, size_t size)
{
	struct lfs_dirmeta m;
	struct lfs_epoch_keys k;
	struct lfs_irec rec, back;
	uint8_t again[LFS_DIRMETA_MAX];
	if (lfs_dirmeta_decode(data, size, &m) != 0)
		return;
	FZ_CHECK(m.epoch != 0 && (m.version == 1 || m.version == 2));
	FZ_CHECK(size ==
	         (m.version == 1 ? (size_t)LFS_DIRMETA_V1_LEN : (size_t)LFS_DIRMETA_V2_LEN));
	fixed_keys(&k, m.epoch);
	if (m.version == 1) {
		FZ_CHECK(lfs_dirmeta_encode(&m, NULL, NULL, again) == LFS_DIRMETA_V1_LEN);
		FZ_CHECK(memcmp(again, data, size) == 0);
		FZ_CHECK(lfs_dirmeta_open(data, size, &k, &rec) == -EINVAL);
		return;
	}
	if (lfs_dirmeta_open(data, size, &k, &rec) != 0)
		return;
	FZ_CHECK(lfs_dirmeta_encode(&m, &k, &rec, again) == LFS_DIRMETA_V2_LEN);
	FZ_CHECK(memcmp(again, data, 32) == 0);
	FZ_CHECK(lfs_dirmeta_open(again, LFS_DIRMETA_V2_LEN, &k, &back) == 0);
	FZ_CHECK(memcmp(&back, &rec, sizeof(rec)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lfs_file_header h;
	if (lfs_header_parse(data, size, &h) == 0)
		check_header(data, &h);
	else
		fallback_header(&h, size > 4 && data[4] == 2 ? LFS_FILE_V2 : LFS_FILE_V1);
	size_t hdr = lfs_header_len(h.version);
	if (size > hdr)
		open_block(&h, data + hdr, size - hdr, data[size - 1] & 1);
	check_sizes(data, size);
	check_dirmeta(data, size);
	return 0;
}
