/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the rotation journal (rotation/rotjournal.c): round trip, and a
 * torn or altered journal is refused (then discarded, never replayed). */
#include "testutil.h"

#include <errno.h>

#include "../../rotation/rotjournal.h"

static void test_journal_roundtrip(void **state)
{
	(void)state;
	struct lfs_rotjournal j, back;
	uint8_t buf[LFS_ROTJ_MAX_LEN];
	memset(&j, 0, sizeof(j));
	j.kind = LFS_ROTJ_FILE;
	j.dev = 0x1234;
	j.ino = 0x99887766;
	j.handle_type = 1;
	j.handle_len = 8;
	test_fill(j.handle, 8, 3);
	test_fill(j.old_raw, sizeof(j.old_raw), 7);
	test_fill(j.new_raw, sizeof(j.new_raw), 9);
	snprintf(j.path, sizeof(j.path), "abc/def");
	size_t len = lfs_rotjournal_encode(&j, buf);
	assert_int_equal(lfs_rotjournal_decode(buf, len, &back), 0);
	assert_int_equal(back.kind, j.kind);
	assert_int_equal(back.dev, j.dev);
	assert_int_equal(back.ino, j.ino);
	assert_int_equal(back.handle_len, 8);
	assert_memory_equal(back.handle, j.handle, 8);
	assert_memory_equal(back.old_raw, j.old_raw, sizeof(j.old_raw));
	assert_memory_equal(back.new_raw, j.new_raw, sizeof(j.new_raw));
	assert_string_equal(back.path, "abc/def");
	/* Torn (short) or altered anywhere: refused. */
	for (size_t cut = 0; cut < len; cut += 17)
		assert_int_equal(lfs_rotjournal_decode(buf, cut, &back), -EINVAL);
	for (size_t i = 0; i < len; i += 13) {
		buf[i] ^= 1;
		assert_int_equal(lfs_rotjournal_decode(buf, len, &back), -EINVAL);
		buf[i] ^= 1;
	}
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_journal_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
