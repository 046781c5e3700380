/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the readers of file contents and directory metadata: the file
 * header parser and MAC check, block opening (including the sparse-hole
 * rule), the size arithmetic, and lfs_dirmeta_decode.
 *
 * The input is a backing file: 48 header bytes then one stored block.
 * When the header does not parse, a fixed sparse header stands in, so that
 * block opening is fuzzed on every input, not only on those that found
 * the magic. */
#include "fuzz_common.h"

#include <errno.h>

#include "../../fs/content.h"
#include "../../fs/dirmeta.h"

FZ_DEFINE_INIT

static void fallback_header(struct lfs_file_header *h)
{
	memset(h, 0, sizeof(*h));
	h->version = LFS_FILE_VERSION;
	h->cipher = LFS_CIPHER_XCHACHA20POLY1305;
	h->flags = LFS_HDR_FLAG_SPARSE;
	h->epoch = 1;
}

static void check_header(const uint8_t *data, const struct lfs_file_header *h)
{
	uint8_t mac_key[32], again[LFS_FILE_HDR_LEN];
	fz_key(mac_key, sizeof(mac_key), FZ_SEED_HDR_MAC);
	FZ_CHECK(h->version == LFS_FILE_VERSION && h->epoch != 0);
	FZ_CHECK((h->flags & ~LFS_HDR_FLAG_SPARSE) == 0);
	if (lfs_header_verify(data, mac_key) != 0)
		return;
	/* Authentic header: encoding it again gives the same bytes. */
	lfs_header_encode(h, mac_key, again);
	FZ_CHECK(memcmp(again, data, LFS_FILE_HDR_LEN) == 0);
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
	lfs_layout_init(&l, (enum lfs_cipher_id)h->cipher);
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
 * accepts, lfs_backing_size maps back to. */
static void check_sizes(const uint8_t *data, size_t size)
{
	uint64_t backing = 0, plain;
	struct lfs_layout l;
	memcpy(&backing, data, size < 8 ? size : 8);
	backing >>= 12; /* keep plain * overhead far from 2^64 */
	for (int c = LFS_CIPHER_XCHACHA20POLY1305; c <= LFS_CIPHER_AES256GCM; c++) {
		lfs_layout_init(&l, (enum lfs_cipher_id)c);
		if (lfs_plain_size(&l, backing, &plain))
			FZ_CHECK(lfs_backing_size(&l, plain) == backing);
		else
			FZ_CHECK(lfs_backing_size(&l, plain) < backing);
	}
}

static void check_dirmeta(const uint8_t *data, size_t size)
{
	struct lfs_dirmeta m;
	uint8_t again[LFS_DIRMETA_LEN];
	if (lfs_dirmeta_decode(data, size, &m) != 0)
		return;
	FZ_CHECK(size == LFS_DIRMETA_LEN && m.epoch != 0);
	lfs_dirmeta_encode(&m, again);
	FZ_CHECK(memcmp(again, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lfs_file_header h;
	if (lfs_header_parse(data, size, &h) == 0)
		check_header(data, &h);
	else
		fallback_header(&h);
	if (size > LFS_FILE_HDR_LEN)
		open_block(&h, data + LFS_FILE_HDR_LEN, size - LFS_FILE_HDR_LEN,
			   data[size - 1] & 1);
	check_sizes(data, size);
	check_dirmeta(data, size);
	return 0;
}
