/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the Argon2id bounds of keyslots (keymgmt/kdf_bounds.c):
 * floor and ceiling by slot type, and that an out-of-bounds slot is
 * refused by unwrap before Argon2id runs. */
#include "testutil.h"

#include <errno.h>
#include <time.h>

#include "../../keymgmt/kdf_bounds.h"
#include "../../keymgmt/keyslots.h"

#define MiB (1ULL << 20)

static void test_open_bounds(void **state)
{
	(void)state;
	/* The test vaults' cheap setting still opens, 8 KiB does not. */
	assert_int_equal(lfs_kdf_bounds_open(LFS_SLOT_PASSPHRASE, 1, 8 * MiB), LFS_KDF_OK);
	assert_int_equal(lfs_kdf_bounds_open(LFS_SLOT_PASSPHRASE, 1, 8192), LFS_KDF_BELOW_FLOOR);
	assert_int_equal(lfs_kdf_bounds_open(LFS_SLOT_PASSPHRASE, 3, 256 * MiB), LFS_KDF_OK);
	/* Key files and key providers may be cheap. */
	assert_int_equal(lfs_kdf_bounds_open(LFS_SLOT_KEYFILE, 1, 8192), LFS_KDF_OK);
	assert_int_equal(lfs_kdf_bounds_open(LFS_SLOT_EXTPASS, 1, 8192), LFS_KDF_OK);
	/* Ceiling: passes, memory and their product, for every type. */
	assert_int_equal(lfs_kdf_bounds_open(LFS_SLOT_PASSPHRASE, 4, 1024 * MiB), LFS_KDF_OK);
	assert_int_equal(lfs_kdf_bounds_open(LFS_SLOT_PASSPHRASE, 5, 1024 * MiB),
	                 LFS_KDF_ABOVE_CEILING);
	assert_int_equal(lfs_kdf_bounds_open(LFS_SLOT_KEYFILE, 1, 1025 * MiB),
	                 LFS_KDF_ABOVE_CEILING);
	assert_int_equal(lfs_kdf_bounds_open(LFS_SLOT_EXTPASS, 17, 8 * MiB), LFS_KDF_ABOVE_CEILING);
	assert_int_equal(lfs_kdf_bounds_open(LFS_SLOT_PASSPHRASE, 4294967295ULL, 4096 * MiB),
	                 LFS_KDF_ABOVE_CEILING);
}

static void test_write_bounds(void **state)
{
	(void)state;
	assert_int_equal(lfs_kdf_bounds_write(LFS_SLOT_PASSPHRASE, 2, 64 * MiB, false), LFS_KDF_OK);
	assert_int_equal(lfs_kdf_bounds_write(LFS_SLOT_PASSPHRASE, 1, 64 * MiB, false),
	                 LFS_KDF_BELOW_FLOOR);
	assert_int_equal(lfs_kdf_bounds_write(LFS_SLOT_PASSPHRASE, 2, 63 * MiB, false),
	                 LFS_KDF_BELOW_FLOOR);
	assert_int_equal(lfs_kdf_bounds_write(LFS_SLOT_PASSPHRASE, 1, 8 * MiB, true), LFS_KDF_OK);
	assert_int_equal(lfs_kdf_bounds_write(LFS_SLOT_PASSPHRASE, 1, 8192, true),
	                 LFS_KDF_BELOW_FLOOR);
	assert_int_equal(lfs_kdf_bounds_write(LFS_SLOT_KEYFILE, 1, 8 * MiB, false), LFS_KDF_OK);
}

/* An edited slot (huge or tiny parameters) is refused without running
 * Argon2id: in microseconds, not minutes. */
static void test_unwrap_refuses_fast(void **state)
{
	(void)state;
	struct lfs_keyslots ks;
	uint8_t master[LFS_MASTER_KEY_LEN], out[LFS_MASTER_KEY_LEN];
	memset(&ks, 0, sizeof(ks));
	test_fill(master, sizeof(master), 0x11);
	assert_int_equal(lfs_keyslot_wrap(&ks, 0, LFS_SLOT_PASSPHRASE, "pw", 2, 1, 8 * MiB, master),
	                 0);
	uint64_t edits[][2] = {{1, 8192}, {4294967295ULL, 4096 * MiB}, {16, 1024 * MiB}};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		struct lfs_keyslots e = ks;
		e.slot[0].opslimit = edits[i][0];
		e.slot[0].memlimit = edits[i][1];
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(lfs_keyslot_unwrap(&e, 0, "pw", 2, out), -ERANGE);
		int which = -1;
		assert_int_equal(lfs_keyslots_unwrap_any(&e, "pw", 2, out, &which), -ERANGE);
		clock_gettime(CLOCK_MONOTONIC, &b);
		assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 50);
	}
	/* Below the opening floor nothing is written either. */
	assert_int_equal(lfs_keyslot_wrap(&ks, 1, LFS_SLOT_PASSPHRASE, "pw", 2, 1, 8192, master),
	                 -ERANGE);
	assert_int_equal(lfs_keyslot_wrap(&ks, 1, LFS_SLOT_KEYFILE, "k", 1, 1, 8192, master), 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_bounds),
	    cmocka_unit_test(test_write_bounds),
	    cmocka_unit_test(test_unwrap_refuses_fast),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
