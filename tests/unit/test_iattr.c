/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for inode attributes (fs/iattr.c, FORMAT.md 14.9): the 68-byte
 * sealed value, its binding and epoch in the clear but authenticated,
 * every byte protected, and only a regular file's record carried. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "../../fs/content.h"
#include "../../fs/iattr.h"

static const uint8_t bind1[LFS_IATTR_BIND_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

static struct lfs_irec sample(void)
{
	struct lfs_irec r;
	memset(&r, 0, sizeof(r));
	r.type = LFS_IREC_REG;
	r.mode = 04751;
	r.uid = 0xdeadbeef;
	r.gid = 12345;
	return r;
}

static void test_roundtrip(void **state)
{
	(void)state;
	uint8_t key[32], raw[LFS_IATTR_LEN], bind[LFS_IATTR_BIND_LEN];
	test_fill(key, sizeof(key), 0x11);
	struct lfs_irec r = sample(), back;
	assert_int_equal(LFS_IATTR_LEN, 68); /* fits a 256-byte ext4 inode */
	assert_int_equal(lfs_iattr_seal(key, 7, bind1, &r, raw), 0);
	uint32_t epoch = 0;
	assert_int_equal(lfs_iattr_epoch(raw, sizeof(raw), &epoch), 0);
	assert_int_equal(epoch, 7);
	assert_int_equal(lfs_iattr_open(key, raw, sizeof(raw), &back, bind), 0);
	assert_memory_equal(bind, bind1, sizeof(bind));
	assert_int_equal(back.type, LFS_IREC_REG);
	assert_int_equal(back.mode, 04751);
	assert_int_equal(back.uid, 0xdeadbeef);
	assert_int_equal(back.gid, 12345);
	/* A fresh nonce every time: two seals of one record differ. */
	uint8_t raw2[LFS_IATTR_LEN];
	assert_int_equal(lfs_iattr_seal(key, 7, bind1, &r, raw2), 0);
	assert_memory_not_equal(raw, raw2, sizeof(raw));
}

static void test_every_byte_protected(void **state)
{
	(void)state;
	uint8_t key[32], raw[LFS_IATTR_LEN], bind[LFS_IATTR_BIND_LEN];
	test_fill(key, sizeof(key), 0x22);
	struct lfs_irec r = sample(), back;
	assert_int_equal(lfs_iattr_seal(key, 3, bind1, &r, raw), 0);
	for (size_t i = 0; i < sizeof(raw); i++) {
		raw[i] ^= 0x01;
		int e = lfs_iattr_open(key, raw, sizeof(raw), &back, bind);
		/* Byte 0 is the version (refused as malformed), bytes 1-4 the
		 * epoch (epoch 2 is well formed: authentication fails). */
		assert_true(e == -EBADMSG || (i == 0 && e == -EINVAL));
		raw[i] ^= 0x01;
	}
	assert_int_equal(lfs_iattr_open(key, raw, sizeof(raw), &back, bind), 0);
}

static void test_wrong_key_and_length(void **state)
{
	(void)state;
	uint8_t key[32], other[32], raw[LFS_IATTR_LEN + 1], bind[LFS_IATTR_BIND_LEN];
	test_fill(key, sizeof(key), 0x33);
	test_fill(other, sizeof(other), 0x34);
	struct lfs_irec r = sample(), back;
	assert_int_equal(lfs_iattr_seal(key, 3, bind1, &r, raw), 0);
	assert_int_equal(lfs_iattr_open(other, raw, LFS_IATTR_LEN, &back, bind), -EBADMSG);
	assert_int_equal(lfs_iattr_open(key, raw, LFS_IATTR_LEN - 1, &back, bind), -EINVAL);
	raw[LFS_IATTR_LEN] = 0;
	assert_int_equal(lfs_iattr_open(key, raw, LFS_IATTR_LEN + 1, &back, bind), -EINVAL);
	assert_int_equal(lfs_iattr_open(key, raw, 0, &back, bind), -EINVAL);
	uint32_t epoch;
	raw[1] = raw[2] = raw[3] = raw[4] = 0; /* epoch 0 */
	assert_int_equal(lfs_iattr_epoch(raw, LFS_IATTR_LEN, &epoch), -EINVAL);
}

static void test_only_regular_records(void **state)
{
	(void)state;
	uint8_t key[32], raw[LFS_IATTR_LEN];
	test_fill(key, sizeof(key), 0x44);
	struct lfs_irec r = sample();
	assert_int_equal(lfs_iattr_seal(key, 0, bind1, &r, raw), -EINVAL); /* epoch 0 */
	r.type = LFS_IREC_DIR;
	assert_int_equal(lfs_iattr_seal(key, 1, bind1, &r, raw), -EINVAL);
	r = sample();
	r.type = LFS_IREC_CHR;
	r.rdev_major = 1;
	assert_int_equal(lfs_iattr_seal(key, 1, bind1, &r, raw), -EINVAL);
	r = sample();
	r.mode = 010000;
	assert_int_equal(lfs_iattr_seal(key, 1, bind1, &r, raw), -EINVAL);
	r = sample();
	r.acl[3] = 1; /* what an attribute cannot carry stays in the header */
	assert_int_equal(lfs_iattr_fits(&r), 0);
	assert_int_equal(lfs_iattr_seal(key, 1, bind1, &r, raw), -EINVAL);
}

/* The header flag that says "the attribute is the record" exists in
 * version-2 headers only; an unknown flag is still refused. */
static void test_header_flag(void **state)
{
	(void)state;
	struct lfs_epoch_keys k;
	memset(&k, 0, sizeof(k));
	test_fill(k.inode, sizeof(k.inode), 0x55);
	test_fill(k.hdr_mac, sizeof(k.hdr_mac), 0x56);
	struct lfs_file_header h, back;
	struct lfs_irec r = sample();
	uint8_t raw[LFS_FILE_HDR_MAX];
	lfs_header_new(&h, LFS_CIPHER_XCHACHA20POLY1305, 5, LFS_FILE_V2);
	h.flags = LFS_HDR_FLAG_IATTR | LFS_HDR_FLAG_SPARSE;
	assert_int_equal(lfs_header_encode(&h, &k, &r, raw), (int)LFS_FILE_HDR_V2_LEN);
	assert_int_equal(lfs_header_parse(raw, LFS_FILE_HDR_V2_LEN, &back), 0);
	assert_int_equal(back.flags, LFS_HDR_FLAG_IATTR | LFS_HDR_FLAG_SPARSE);
	raw[6] |= 0x04; /* a flag no version defines */
	assert_int_equal(lfs_header_parse(raw, LFS_FILE_HDR_V2_LEN, &back), -EINVAL);
	lfs_header_new(&h, LFS_CIPHER_XCHACHA20POLY1305, 5, LFS_FILE_V1);
	h.flags = LFS_HDR_FLAG_IATTR;
	assert_int_equal(lfs_header_encode(&h, &k, NULL, raw), (int)LFS_FILE_HDR_V1_LEN);
	assert_int_equal(lfs_header_parse(raw, LFS_FILE_HDR_V1_LEN, &back), -EINVAL);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_every_byte_protected),
	    cmocka_unit_test(test_wrong_key_and_length),
	    cmocka_unit_test(test_only_regular_records),
	    cmocka_unit_test(test_header_flag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
