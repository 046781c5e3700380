/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the file contents format (fs/content.c): the
 * authenticated header of both versions (48 bytes with a MAC, 152 bytes
 * with a sealed inode record), size arithmetic per header version, and
 * block sealing. Tests that depend on the cipher run once per cipher;
 * AES-256-GCM ones are skipped on CPUs without AES-NI. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>

#include "../../fs/content.h"

static enum lfs_cipher_id xchacha = LFS_CIPHER_XCHACHA20POLY1305;
static enum lfs_cipher_id aesgcm = LFS_CIPHER_AES256GCM;

/* A cmocka test entry whose name says which cipher it ran with. */
#define CIPHER_TEST(fn, id)                                                                        \
	{                                                                                          \
#fn "_" #id, fn, NULL, NULL, &id                                                   \
	}

/* Everything a block operation needs, with fixed keys and a fresh header. */
struct fixture {
	struct lfs_layout l;
	struct lfs_aead_key key;
	struct lfs_file_header h;
	uint8_t content_root[32];
};

static enum lfs_cipher_id cipher_of(void **state)
{
	enum lfs_cipher_id id = *(enum lfs_cipher_id *)*state;
	if (!lfs_cipher_available(id))
		skip();
	return id;
}

static void fixture_init(struct fixture *f, enum lfs_cipher_id id, uint16_t flags)
{
	lfs_layout_init(&f->l, id, LFS_FILE_V1);
	test_fill(f->content_root, sizeof(f->content_root), 0x40);
	lfs_header_new(&f->h, id, 3, LFS_FILE_V1);
	f->h.flags = flags;
	lfs_file_key(&f->key, id, f->content_root, f->h.file_id);
}

/* Seals plain as block blockno into out; returns the stored length. */
static size_t seal(const struct fixture *f, uint64_t blockno, bool final, const uint8_t *plain,
                   size_t len, uint8_t *out)
{
	randombytes_buf(out, f->l.nonce_len);
	lfs_block_seal(&f->l, &f->key, &f->h, blockno, final, plain, len, out);
	return len + f->l.overhead;
}

/* ---- header ---------------------------------------------------------- */

/* Fixed keys of one epoch: a header MAC key (version 1) and an inode key
 * (version 2). */
static void fixed_keys(struct lfs_epoch_keys *k, uint32_t epoch)
{
	memset(k, 0, sizeof(*k));
	k->epoch = epoch;
	test_fill(k->hdr_mac, sizeof(k->hdr_mac), 0x10);
	test_fill(k->inode, sizeof(k->inode), 0x60);
}

static void fixed_record(struct lfs_irec *r)
{
	assert_int_equal(lfs_irec_make(r, S_IFREG | 04750, 1234, 5678, 0), 0);
}

/* Encodes a fresh header of version v; returns its length. */
static size_t make_header(unsigned v, enum lfs_cipher_id id, uint32_t epoch, uint8_t *buf,
                          struct lfs_file_header *h, const struct lfs_epoch_keys *k)
{
	struct lfs_irec rec;
	fixed_record(&rec);
	lfs_header_new(h, id, epoch, v);
	int n = lfs_header_encode(h, k, &rec, buf);
	assert_int_equal(n, (int)lfs_header_len(v));
	return (size_t)n;
}

static void header_roundtrip(enum lfs_cipher_id id, unsigned v)
{
	uint8_t buf[LFS_FILE_HDR_MAX];
	struct lfs_epoch_keys k;
	struct lfs_file_header h, back;
	struct lfs_irec rec, want;
	fixed_keys(&k, 0x01020304);
	fixed_record(&want);
	lfs_header_new(&h, id, 0x01020304, v);
	h.flags = LFS_HDR_FLAG_SPARSE;
	int n = lfs_header_encode(&h, &k, &want, buf);
	assert_int_equal(n, v == LFS_FILE_V1 ? 48 : 152);
	assert_memory_equal(buf, "LTHF", 4);
	assert_int_equal(lfs_header_version(buf, (size_t)n), (int)v);
	assert_int_equal(lfs_header_parse(buf, (size_t)n, &back), 0);
	memset(&rec, 0xee, sizeof(rec));
	assert_int_equal(lfs_header_verify(buf, &back, &k, &rec), 0);
	assert_int_equal(back.version, v);
	assert_int_equal(back.cipher, id);
	assert_int_equal(back.flags, LFS_HDR_FLAG_SPARSE);
	assert_int_equal(back.epoch, 0x01020304);
	assert_memory_equal(back.file_id, h.file_id, LFS_FILE_ID_LEN);
	if (v == LFS_FILE_V2) {
		assert_memory_equal(&rec, &want, sizeof(rec));
		/* The record is encrypted: none of its fields is in the clear. */
		uint8_t plain[LFS_IREC_LEN];
		lfs_irec_encode(&want, plain);
		assert_null(memmem(buf, (size_t)n, plain + 4, 8)); /* uid and gid */
	}
}

static void test_header_roundtrip(void **state)
{
	enum lfs_cipher_id id = cipher_of(state);
	header_roundtrip(id, LFS_FILE_V1);
	header_roundtrip(id, LFS_FILE_V2);
}

/* Fresh headers get fresh random file ids (per-file keys depend on it). */
static void test_header_new_random_id(void **state)
{
	(void)state;
	struct lfs_file_header a, b;
	lfs_header_new(&a, xchacha, 1, LFS_FILE_V2);
	lfs_header_new(&b, xchacha, 1, LFS_FILE_V2);
	assert_memory_not_equal(a.file_id, b.file_id, LFS_FILE_ID_LEN);
	assert_int_equal(a.flags, 0);
	assert_int_equal(a.version, LFS_FILE_V2);
}

static bool header_accepted(const uint8_t *buf, size_t len, const struct lfs_epoch_keys *k)
{
	struct lfs_file_header h;
	struct lfs_irec rec;
	return lfs_header_parse(buf, len, &h) == 0 && lfs_header_verify(buf, &h, k, &rec) == 0;
}

/* Every byte of the header is protected: either the structure check or
 * the MAC (version 1) or the record's AEAD tag (version 2) must catch a
 * change. Several masks so that a change of one bit inside a field that is
 * only partly checked is still caught. */
static void test_header_every_byte_protected(void **state)
{
	(void)state;
	static const uint8_t masks[] = {0x01, 0x80, 0xff};
	uint8_t buf[LFS_FILE_HDR_MAX];
	struct lfs_epoch_keys k;
	struct lfs_file_header h;
	fixed_keys(&k, 9);
	for (unsigned v = LFS_FILE_V1; v <= LFS_FILE_V2; v++) {
		size_t n = make_header(v, xchacha, 9, buf, &h, &k);
		assert_true(header_accepted(buf, n, &k));
		for (size_t i = 0; i < n; i++) {
			for (size_t m = 0; m < sizeof(masks); m++) {
				buf[i] ^= masks[m];
				if (header_accepted(buf, n, &k))
					fail_msg("v%u header byte %zu ^ 0x%02x not detected", v, i,
					         masks[m]);
				buf[i] ^= masks[m];
			}
		}
	}
}

static void test_header_wrong_key(void **state)
{
	(void)state;
	uint8_t buf[LFS_FILE_HDR_MAX];
	struct lfs_epoch_keys k;
	struct lfs_file_header h;
	struct lfs_irec rec;
	fixed_keys(&k, 9);
	make_header(LFS_FILE_V1, xchacha, 9, buf, &h, &k);
	k.hdr_mac[0] ^= 1;
	assert_int_equal(lfs_header_verify(buf, &h, &k, NULL), -EBADMSG);
	fixed_keys(&k, 9);
	make_header(LFS_FILE_V2, xchacha, 9, buf, &h, &k);
	k.inode[0] ^= 1;
	assert_int_equal(lfs_header_verify(buf, &h, &k, &rec), -EBADMSG);
	/* A version-2 header's record under the version-1 MAC key, and the
	 * other way round: keys are per purpose. */
	fixed_keys(&k, 9);
	memcpy(k.inode, k.hdr_mac, 32);
	make_header(LFS_FILE_V2, xchacha, 9, buf, &h, &k);
	fixed_keys(&k, 9);
	assert_int_equal(lfs_header_verify(buf, &h, &k, &rec), -EBADMSG);
}

/* A version-2 header's record moved onto another file's header (its own
 * file id) does not open: the first 32 bytes are its associated data. */
static void test_header_record_bound_to_file(void **state)
{
	(void)state;
	uint8_t a[LFS_FILE_HDR_MAX], b[LFS_FILE_HDR_MAX];
	struct lfs_epoch_keys k;
	struct lfs_file_header ha, hb;
	struct lfs_irec rec;
	fixed_keys(&k, 9);
	make_header(LFS_FILE_V2, xchacha, 9, a, &ha, &k);
	make_header(LFS_FILE_V2, xchacha, 9, b, &hb, &k);
	memcpy(b + 32, a + 32, LFS_FILE_HDR_V2_LEN - 32);
	assert_int_equal(lfs_header_verify(b, &hb, &k, &rec), -EBADMSG);
	/* Encoding twice gives two different nonces (and ciphertexts). */
	uint8_t again[LFS_FILE_HDR_MAX];
	struct lfs_irec r2;
	fixed_record(&r2);
	assert_int_equal(lfs_header_encode(&ha, &k, &r2, again), (int)LFS_FILE_HDR_V2_LEN);
	assert_memory_equal(again, a, 32);
	assert_memory_not_equal(again + 32, a + 32, 24);
}

/* Structural rejections, each with a valid MAC so that only parse can
 * catch them. */
static void test_header_parse_rejects(void **state)
{
	(void)state;
	uint8_t buf[LFS_FILE_HDR_MAX];
	struct lfs_epoch_keys k;
	struct lfs_file_header h, out;
	struct lfs_irec rec;
	fixed_keys(&k, 1);
	fixed_record(&rec);
	for (unsigned v = LFS_FILE_V1; v <= LFS_FILE_V2; v++) {
		size_t len = lfs_header_len(v);
		lfs_header_new(&h, xchacha, 1, v);
		lfs_header_encode(&h, &k, &rec, buf);
		assert_int_equal(lfs_header_parse(buf, len, &out), 0);
		assert_int_equal(lfs_header_parse(buf, len - 1, &out), -EINVAL);
		h.cipher = 3;
		lfs_header_encode(&h, &k, &rec, buf);
		assert_int_equal(lfs_header_parse(buf, len, &out), -EINVAL);
		h.cipher = xchacha;
		h.flags = 0x0004; /* unknown; 0x0002 is IATTR in version 2 (test_iattr) */
		lfs_header_encode(&h, &k, &rec, buf);
		assert_int_equal(lfs_header_parse(buf, len, &out), -EINVAL);
		h.flags = 0x0002;
		lfs_header_encode(&h, &k, &rec, buf);
		assert_int_equal(lfs_header_parse(buf, len, &out), v == LFS_FILE_V2 ? 0 : -EINVAL);
		h.flags = 0;
		h.epoch = 0; /* epochs start at 1 */
		lfs_header_encode(&h, &k, &rec, buf);
		assert_int_equal(lfs_header_parse(buf, len, &out), -EINVAL);
		h.epoch = 1;
		lfs_header_encode(&h, &k, &rec, buf);
		buf[12] = 1; /* reserved */
		assert_int_equal(lfs_header_parse(buf, len, &out), -EINVAL);
	}
	/* Unknown versions, and a version 2 without its record. */
	h.version = 3;
	assert_int_equal(lfs_header_encode(&h, &k, &rec, buf), -EINVAL);
	lfs_header_new(&h, xchacha, 1, LFS_FILE_V1);
	lfs_header_encode(&h, &k, &rec, buf);
	buf[4] = 3;
	assert_int_equal(lfs_header_version(buf, 48), -EINVAL);
	assert_int_equal(lfs_header_parse(buf, 48, &out), -EINVAL);
	buf[4] = 0;
	assert_int_equal(lfs_header_parse(buf, 48, &out), -EINVAL);
	lfs_header_new(&h, xchacha, 1, LFS_FILE_V2);
	assert_int_equal(lfs_header_encode(&h, &k, NULL, buf), -EINVAL);
	/* Version 1 bytes claiming version 2 are too short to parse. */
	lfs_header_new(&h, xchacha, 1, LFS_FILE_V1);
	lfs_header_encode(&h, &k, &rec, buf);
	buf[4] = 2;
	assert_int_equal(lfs_header_parse(buf, 48, &out), -EINVAL);
}

/* ---- size arithmetic ------------------------------------------------- */

static void check_plain_size(const struct lfs_layout *l, uint64_t backing, bool ok, uint64_t plain)
{
	uint64_t got = 12345;
	bool r = lfs_plain_size(l, backing, &got);
	if (r != ok || got != plain)
		fail_msg("v%u lfs_plain_size(%llu) = %d/%llu, expected %d/%llu", l->version,
		         (unsigned long long)backing, r, (unsigned long long)got, ok,
		         (unsigned long long)plain);
}

static void test_layout(void **state)
{
	enum lfs_cipher_id id = *(enum lfs_cipher_id *)*state; /* no CPU support needed */
	for (unsigned v = LFS_FILE_V1; v <= LFS_FILE_V2; v++) {
		struct lfs_layout l;
		lfs_layout_init(&l, id, v);
		size_t nonce = id == LFS_CIPHER_AES256GCM ? 12 : 24, H = v == 1 ? 48 : 152;
		assert_int_equal(l.version, v);
		assert_int_equal(l.hdr_len, H);
		assert_int_equal(l.nonce_len, nonce);
		assert_int_equal(l.overhead, nonce + 16);
		assert_int_equal(l.block_disk, 4096 + nonce + 16);
		assert_int_equal(lfs_block_offset(&l, 0), H);
		assert_int_equal(lfs_block_offset(&l, 3), H + 3 * l.block_disk);
	}
	assert_int_equal(lfs_header_len(0), 0);
	assert_int_equal(lfs_header_len(3), 0);
}

static void test_sizes_known(void **state)
{
	enum lfs_cipher_id id = *(enum lfs_cipher_id *)*state;
	for (unsigned v = LFS_FILE_V1; v <= LFS_FILE_V2; v++) {
		struct lfs_layout l;
		lfs_layout_init(&l, id, v);
		const uint64_t H = l.hdr_len, O = l.overhead, D = l.block_disk;
		const uint64_t big = (5ULL << 30) + 123; /* > 4 GiB: no 32-bit truncation */
		const uint64_t big_backing = H + (big / 4096) * D + (big % 4096) + O;
		const struct {
			uint64_t plain, backing;
		} cases[] = {
		    /* empty: no header in version 1, the header alone in 2 */
		    {0, v == 1 ? 0 : H},   {1, H + 1 + O},
		    {4095, H + 4095 + O},  {4096, H + D},
		    {4097, H + D + 1 + O}, {8192, H + 2 * D},
		    {big, big_backing},    {5ULL << 30, H + (5ULL << 30) / 4096 * D},
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			assert_int_equal(lfs_backing_size(&l, cases[i].plain), cases[i].backing);
			check_plain_size(&l, cases[i].backing, true, cases[i].plain);
		}
	}
}

/* Backing sizes that no well-formed file has: a version-1 header alone (or
 * part of it), anything shorter than a version-2 header, or a trailing
 * block too short to hold its nonce and tag. */
static void test_sizes_malformed(void **state)
{
	enum lfs_cipher_id id = *(enum lfs_cipher_id *)*state;
	for (unsigned v = LFS_FILE_V1; v <= LFS_FILE_V2; v++) {
		struct lfs_layout l;
		lfs_layout_init(&l, id, v);
		const uint64_t H = l.hdr_len, O = l.overhead, D = l.block_disk;
		for (uint64_t b = v == 1 ? 1 : 0; b < H; b++)
			check_plain_size(&l, b, false, 0);
		check_plain_size(&l, H, v == 2, 0);
		for (uint64_t b = H + 1; b <= H + O; b++)
			check_plain_size(&l, b, false, 0);
		/* After whole blocks the intact prefix is reported. */
		for (uint64_t b = H + D + 1; b <= H + D + O; b++)
			check_plain_size(&l, b, false, 4096);
		check_plain_size(&l, H + O + 1, true, 1);
	}
}

/* Over a range covering several blocks: whenever a backing size is valid,
 * it is exactly the backing size of its plain size, and every plain size
 * maps back to itself. */
static void test_sizes_inverse(void **state)
{
	enum lfs_cipher_id id = *(enum lfs_cipher_id *)*state;
	for (unsigned v = LFS_FILE_V1; v <= LFS_FILE_V2; v++) {
		struct lfs_layout l;
		lfs_layout_init(&l, id, v);
		for (uint64_t b = 0; b < l.hdr_len + 3 * l.block_disk + 10; b++) {
			uint64_t p;
			if (lfs_plain_size(&l, b, &p))
				assert_int_equal(lfs_backing_size(&l, p), b);
		}
		for (uint64_t p = 0; p < 3 * LFS_BLOCK_SIZE + 10; p++) {
			uint64_t back;
			assert_true(lfs_plain_size(&l, lfs_backing_size(&l, p), &back));
			assert_int_equal(back, p);
		}
	}
}

/* ---- blocks ---------------------------------------------------------- */

static void test_block_roundtrip(void **state)
{
	enum lfs_cipher_id id = cipher_of(state);
	static const size_t lens[] = {1, 17, 4095, 4096};
	struct fixture f;
	uint8_t plain[LFS_BLOCK_SIZE], out[LFS_BLOCK_SIZE + 64], back[LFS_BLOCK_SIZE];
	fixture_init(&f, id, 0);
	randombytes_buf(plain, sizeof(plain));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (int final = 0; final <= 1; final++) {
			size_t n = seal(&f, 5, final, plain, lens[i], out);
			assert_int_equal(lfs_block_open(&f.l, &f.key, &f.h, 5, final, out, n, back),
			                 (int)lens[i]);
			assert_memory_equal(back, plain, lens[i]);
		}
	}
}

/* The ciphertext is not the plaintext and two seals of the same block use
 * different nonces (so identical blocks do not look identical on disk). */
static void test_block_randomized(void **state)
{
	enum lfs_cipher_id id = cipher_of(state);
	struct fixture f;
	uint8_t plain[64] = {0}, a[64 + 64], b[64 + 64];
	fixture_init(&f, id, 0);
	size_t n = seal(&f, 0, true, plain, sizeof(plain), a);
	seal(&f, 0, true, plain, sizeof(plain), b);
	assert_memory_not_equal(a, b, n);
	assert_false(sodium_is_zero(a + f.l.nonce_len, sizeof(plain)));
}

static void expect_badmsg(const struct fixture *f, const struct lfs_file_header *h,
                          uint64_t blockno, bool final, const uint8_t *in, size_t len,
                          const char *what)
{
	uint8_t back[LFS_BLOCK_SIZE];
	int r = lfs_block_open(&f->l, &f->key, h, blockno, final, in, len, back);
	if (r != -EBADMSG)
		fail_msg("%s: lfs_block_open returned %d, expected -EBADMSG", what, r);
}

static void test_block_tamper(void **state)
{
	enum lfs_cipher_id id = cipher_of(state);
	struct fixture f;
	uint8_t plain[1000], out[1000 + 64];
	fixture_init(&f, id, 0);
	randombytes_buf(plain, sizeof(plain));
	size_t n = seal(&f, 2, false, plain, sizeof(plain), out);
	const size_t spots[] = {0,    f.l.nonce_len - 1, f.l.nonce_len, f.l.nonce_len + 500, n - 16,
	                        n - 1};
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		out[spots[i]] ^= 0x01;
		expect_badmsg(&f, &f.h, 2, false, out, n, "flipped byte");
		out[spots[i]] ^= 0x01;
	}
	expect_badmsg(&f, &f.h, 3, false, out, n, "wrong block number");
	expect_badmsg(&f, &f.h, 2 + (1ULL << 32), false, out, n, "block number high bits");
	expect_badmsg(&f, &f.h, 2, true, out, n, "wrong final flag");
	expect_badmsg(&f, &f.h, 2, false, out, n - 1, "truncated by one");
	expect_badmsg(&f, &f.h, 2, false, out, f.l.overhead, "only nonce and tag");
	expect_badmsg(&f, &f.h, 2, false, out, 0, "empty");

	struct lfs_file_header other = f.h;
	other.file_id[0] ^= 1;
	expect_badmsg(&f, &other, 2, false, out, n, "other file id");
	other = f.h;
	other.epoch++;
	expect_badmsg(&f, &other, 2, false, out, n, "other epoch");
	/* The header version is bound: a block of a version-1 file does not
	 * open under a version-2 header with the same id (an upgrade seals
	 * every block again). */
	other = f.h;
	other.version = LFS_FILE_V2;
	expect_badmsg(&f, &other, 2, false, out, n, "other header version");
	/* The untouched block still opens: the checks above did not damage it. */
	uint8_t back[LFS_BLOCK_SIZE];
	assert_int_equal(lfs_block_open(&f.l, &f.key, &f.h, 2, false, out, n, back),
	                 (int)sizeof(plain));
}

/* A final block cut at the block boundary: the previous block was sealed
 * with final = 0 and must not be accepted as the new last block. */
static void test_block_truncated_file(void **state)
{
	enum lfs_cipher_id id = cipher_of(state);
	struct fixture f;
	uint8_t plain[LFS_BLOCK_SIZE] = {1}, out[LFS_BLOCK_SIZE + 64];
	fixture_init(&f, id, 0);
	size_t n = seal(&f, 0, false, plain, sizeof(plain), out);
	expect_badmsg(&f, &f.h, 0, true, out, n, "non-final block read as final");
}

/* A block moved from another file (its own key and id) does not open,
 * even when presented with that file's header. */
static void test_block_from_other_file(void **state)
{
	enum lfs_cipher_id id = cipher_of(state);
	struct fixture a, b;
	uint8_t plain[100] = {0}, out[100 + 64];
	fixture_init(&a, id, 0);
	fixture_init(&b, id, 0);
	size_t n = seal(&a, 0, true, plain, sizeof(plain), out);
	expect_badmsg(&b, &b.h, 0, true, out, n, "block of other file");
	expect_badmsg(&b, &a.h, 0, true, out, n, "other file's key");
}

static void test_block_oversized(void **state)
{
	enum lfs_cipher_id id = cipher_of(state);
	struct fixture f;
	uint8_t in[LFS_BLOCK_SIZE + 64] = {0};
	fixture_init(&f, id, LFS_HDR_FLAG_SPARSE);
	expect_badmsg(&f, &f.h, 0, false, in, f.l.block_disk + 1, "longer than a block");
}

/* All-zero stored blocks are holes only in sparse files, only when full
 * and not final; anywhere else they are tampering. */
static void test_sparse_holes(void **state)
{
	enum lfs_cipher_id id = cipher_of(state);
	struct fixture f;
	uint8_t zero[LFS_BLOCK_SIZE + 64] = {0}, back[LFS_BLOCK_SIZE];
	fixture_init(&f, id, LFS_HDR_FLAG_SPARSE);
	memset(back, 0xaa, sizeof(back));
	assert_int_equal(lfs_block_open(&f.l, &f.key, &f.h, 1, false, zero, f.l.block_disk, back),
	                 LFS_BLOCK_SIZE);
	assert_true(sodium_is_zero(back, sizeof(back)));

	expect_badmsg(&f, &f.h, 1, true, zero, f.l.block_disk, "final hole");
	expect_badmsg(&f, &f.h, 1, false, zero, f.l.block_disk - 1, "short hole");
	struct fixture dense;
	fixture_init(&dense, id, 0);
	expect_badmsg(&dense, &dense.h, 1, false, zero, dense.l.block_disk, "hole, not sparse");
}

/* The hole rule must not swallow real data: a sealed block in a sparse
 * file still decrypts, and a zero block with one stray byte is rejected. */
static void test_sparse_only_all_zero(void **state)
{
	enum lfs_cipher_id id = cipher_of(state);
	struct fixture f;
	uint8_t plain[LFS_BLOCK_SIZE], out[LFS_BLOCK_SIZE + 64], back[LFS_BLOCK_SIZE];
	fixture_init(&f, id, LFS_HDR_FLAG_SPARSE);
	randombytes_buf(plain, sizeof(plain));
	size_t n = seal(&f, 4, false, plain, sizeof(plain), out);
	assert_int_equal(lfs_block_open(&f.l, &f.key, &f.h, 4, false, out, n, back),
	                 LFS_BLOCK_SIZE);
	assert_memory_equal(back, plain, sizeof(plain));
	memset(out, 0, n);
	out[n - 1] = 1;
	expect_badmsg(&f, &f.h, 4, false, out, n, "nearly zero block");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    CIPHER_TEST(test_header_roundtrip, xchacha),
	    CIPHER_TEST(test_header_roundtrip, aesgcm),
	    cmocka_unit_test(test_header_new_random_id),
	    cmocka_unit_test(test_header_every_byte_protected),
	    cmocka_unit_test(test_header_wrong_key),
	    cmocka_unit_test(test_header_record_bound_to_file),
	    cmocka_unit_test(test_header_parse_rejects),
	    CIPHER_TEST(test_layout, xchacha),
	    CIPHER_TEST(test_layout, aesgcm),
	    CIPHER_TEST(test_sizes_known, xchacha),
	    CIPHER_TEST(test_sizes_known, aesgcm),
	    CIPHER_TEST(test_sizes_malformed, xchacha),
	    CIPHER_TEST(test_sizes_malformed, aesgcm),
	    CIPHER_TEST(test_sizes_inverse, xchacha),
	    CIPHER_TEST(test_sizes_inverse, aesgcm),
	    CIPHER_TEST(test_block_roundtrip, xchacha),
	    CIPHER_TEST(test_block_roundtrip, aesgcm),
	    CIPHER_TEST(test_block_randomized, xchacha),
	    CIPHER_TEST(test_block_randomized, aesgcm),
	    CIPHER_TEST(test_block_tamper, xchacha),
	    CIPHER_TEST(test_block_tamper, aesgcm),
	    CIPHER_TEST(test_block_truncated_file, xchacha),
	    CIPHER_TEST(test_block_truncated_file, aesgcm),
	    CIPHER_TEST(test_block_from_other_file, xchacha),
	    CIPHER_TEST(test_block_from_other_file, aesgcm),
	    CIPHER_TEST(test_block_oversized, xchacha),
	    CIPHER_TEST(test_block_oversized, aesgcm),
	    CIPHER_TEST(test_sparse_holes, xchacha),
	    CIPHER_TEST(test_sparse_holes, aesgcm),
	    CIPHER_TEST(test_sparse_only_all_zero, xchacha),
	    CIPHER_TEST(test_sparse_only_all_zero, aesgcm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
