/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lfs_keyring_peek: the vault and the epoch count read from
 * a sealed file's header without the key, and every length or header
 * field that does not match the documented layout refused. */
#include "keyringrig.h"

/* ---- peek ------------------------------------------------------------ */

static void test_peek(void **state)
{
	(void)state;
	struct sealed s;
	uint8_t uuid[LFS_UUID_LEN];
	unsigned n = 0;
	make_sealed(&s);
	assert_int_equal(lfs_keyring_peek(s.file, s.len, uuid, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(uuid, uuid_a, LFS_UUID_LEN);
}

static int peek_with(const uint8_t *good, size_t off, uint8_t val, size_t len)
{
	uint8_t buf[LFS_KEYRING_MAX_FILE_LEN + 64] = {0}, uuid[LFS_UUID_LEN];
	unsigned n;
	memcpy(buf, good, LFS_KEYRING_HDR_LEN);
	buf[off] = val;
	return lfs_keyring_peek(buf, len, uuid, &n);
}

static void test_peek_bounds(void **state)
{
	(void)state;
	struct sealed s;
	uint8_t buf[LFS_KEYRING_MAX_FILE_LEN + 64] = {0}, uuid[LFS_UUID_LEN];
	unsigned n;
	make_sealed(&s);
	memcpy(buf, s.file, s.len);
	for (size_t len = 0; len < s.len; len++)
		assert_int_equal(lfs_keyring_peek(buf, len, uuid, &n), -EINVAL);
	assert_int_equal(lfs_keyring_peek(buf, s.len + 1, uuid, &n), -EINVAL);
	assert_int_equal(lfs_keyring_peek(buf, s.len + LFS_KEYRING_ENTRY_LEN, uuid, &n), -EINVAL);

	/* The epoch count decides the exact length; the largest ring is the
	 * largest file. */
	assert_int_equal(peek_with(s.file, 12, 2, FILE_LEN(2)), 0);
	assert_int_equal(peek_with(s.file, 12, LFS_MAX_EPOCHS, FILE_LEN(LFS_MAX_EPOCHS)), 0);
	/* 64 data epochs and the audit key entry. */
	assert_int_equal(
	    peek_with(s.file, 12, LFS_KEYRING_MAX_ENTRIES, FILE_LEN(LFS_KEYRING_MAX_ENTRIES)), 0);
	assert_int_equal(FILE_LEN(LFS_KEYRING_MAX_ENTRIES), LFS_KEYRING_MAX_FILE_LEN);
	assert_int_equal(peek_with(s.file, 12, LFS_KEYRING_MAX_ENTRIES + 1,
	                           FILE_LEN(LFS_KEYRING_MAX_ENTRIES + 1)),
	                 -EINVAL);
	assert_int_equal(peek_with(s.file, 12, 0, FILE_LEN(0)), -EINVAL);
	assert_int_equal(peek_with(s.file, 15, 1, FILE_LEN(1)), -EINVAL); /* 2^24 + 1 */
	assert_int_equal(peek_with(s.file, 0, 'l', FILE_LEN(1)), -EINVAL);
	assert_int_equal(peek_with(s.file, 8, 2, FILE_LEN(1)), -EINVAL);
	assert_int_equal(peek_with(s.file, 10, 1, FILE_LEN(1)), -EINVAL);
	assert_int_equal(peek_with(s.file, 11, 1, FILE_LEN(1)), -EINVAL);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_fill(uuid_a, sizeof(uuid_a), 0xa0);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_peek),
	    cmocka_unit_test(test_peek_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
