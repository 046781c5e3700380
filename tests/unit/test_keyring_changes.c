/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for changes to an unlocked keyring: rotation (an epoch added
 * and dropped), a new master key, and the audit key entry, each surviving
 * a seal and unlock as it should. */
#include "keyringrig.h"

/* Rotation: a new epoch becomes current, survives a seal/unlock, and a
 * dropped epoch is gone (EIO), also from the re-sealed file. */
static void test_add_drop_epoch(void **state)
{
	(void)state;
	struct lfs_keyring kr, back;
	const struct lfs_epoch_keys *k;
	uint8_t file[LFS_KEYRING_MAX_FILE_LEN], master[LFS_MASTER_KEY_LEN], old_key[32];
	size_t len;
	uint32_t e = 0, list[LFS_MAX_EPOCHS], cur = 0;
	lfs_keyring_init(&kr, uuid_a, X);
	assert_int_equal(lfs_keyring_add_epoch(&kr, &e), -EACCES);
	assert_int_equal(lfs_keyring_generate(&kr, 2), 0);
	assert_int_equal(lfs_keyring_get(&kr, 1, &k), 0);
	memcpy(old_key, k->data_key, 32);
	lfs_keyring_put(&kr);
	assert_int_equal(lfs_keyring_add_epoch(&kr, &e), 0);
	assert_int_equal(e, 2);
	assert_int_equal(lfs_keyring_epochs(&kr, list, LFS_MAX_EPOCHS, &cur), 2);
	assert_int_equal(cur, 2);
	assert_int_equal(lfs_keyring_get(&kr, 0, &k), 0);
	assert_int_equal(k->epoch, 2);
	assert_memory_not_equal(k->data_key, old_key, 32);
	lfs_keyring_put(&kr);
	assert_int_equal(lfs_keyring_drop_epoch(&kr, 2), -EBUSY);
	assert_int_equal(lfs_keyring_drop_epoch(&kr, 7), -ENOENT);
	assert_int_equal(lfs_keyring_drop_epoch(&kr, 1), 0);
	assert_int_equal(lfs_keyring_get(&kr, 1, &k), -EIO);
	assert_int_equal(lfs_keyring_seal(&kr, file, &len), 0);
	assert_int_equal(len, FILE_LEN(1));
	assert_int_equal(lfs_keyring_copy_master(&kr, master), 0);
	lfs_keyring_init(&back, uuid_a, X);
	assert_int_equal(lfs_keyring_unlock(&back, master, file, len), 0);
	assert_int_equal(lfs_keyring_get(&back, 1, &k), -EIO);
	assert_int_equal(lfs_keyring_get(&back, 0, &k), 0);
	assert_int_equal(k->epoch, 2);
	lfs_keyring_put(&back);
	/* The next epoch is above the highest ever kept, never a reused id. */
	assert_int_equal(lfs_keyring_add_epoch(&back, &e), 0);
	assert_int_equal(e, 3);
	assert_int_equal(lfs_keyring_set_current(&back, 2), 0);
	assert_int_equal(lfs_keyring_set_current(&back, 9), -ENOENT);
	lfs_keyring_destroy(&back);
	lfs_keyring_destroy(&kr);
}

/* A new master key re-seals the same data keys; the old master no longer
 * opens the new file. */
static void test_set_master(void **state)
{
	(void)state;
	struct sealed s;
	make_sealed(&s);
	struct lfs_keyring kr, back;
	uint8_t file[LFS_KEYRING_MAX_FILE_LEN], m2[LFS_MASTER_KEY_LEN];
	size_t len;
	lfs_keyring_init(&kr, uuid_a, X);
	assert_int_equal(lfs_keyring_unlock(&kr, s.master, s.file, s.len), 0);
	test_fill(m2, sizeof(m2), 0x5c);
	assert_int_equal(lfs_keyring_set_master(&kr, m2), 0);
	assert_int_equal(lfs_keyring_seal(&kr, file, &len), 0);
	lfs_keyring_init(&back, uuid_a, X);
	assert_int_equal(lfs_keyring_unlock(&back, s.master, file, len), -EKEYREJECTED);
	assert_int_equal(lfs_keyring_unlock(&back, m2, file, len), 0);
	lfs_keyring_destroy(&back);
	lfs_keyring_destroy(&kr);
}

/* The audit key entry (epoch id 0): absent in a new ring; once set it is
 * sealed, survives unlock, a master key change, epoch changes and take,
 * and is not a data epoch. */
static void test_audit_key(void **state)
{
	(void)state;
	struct sealed s;
	make_sealed(&s);
	struct lfs_keyring kr, back, live;
	const struct lfs_epoch_keys *k;
	uint8_t file[LFS_KEYRING_MAX_FILE_LEN], m2[LFS_MASTER_KEY_LEN], ak[32], got[32];
	size_t len;
	uint32_t ep;
	lfs_keyring_init(&kr, uuid_a, X);
	assert_int_equal(lfs_keyring_copy_audit_key(&kr, got), -EACCES);
	assert_int_equal(lfs_keyring_set_audit_key(&kr, got), -EACCES);
	assert_int_equal(lfs_keyring_unlock(&kr, s.master, s.file, s.len), 0);
	assert_int_equal(lfs_keyring_copy_audit_key(&kr, got), -ENOENT);
	test_fill(ak, sizeof(ak), 0xad);
	test_fill(m2, sizeof(m2), 0x5c);
	assert_int_equal(lfs_keyring_set_audit_key(&kr, ak), 0);
	assert_int_equal(lfs_keyring_set_master(&kr, m2), 0);
	assert_int_equal(lfs_keyring_add_epoch(&kr, &ep), 0);
	assert_int_equal(ep, 2);
	assert_int_equal(lfs_keyring_seal(&kr, file, &len), 0);
	assert_int_equal(len, FILE_LEN(3)); /* two epochs and the audit key */

	lfs_keyring_init(&back, uuid_a, X);
	assert_int_equal(lfs_keyring_unlock(&back, m2, file, len), 0);
	assert_int_equal(back.nepochs, 2);
	assert_int_equal(back.current_epoch, 2);
	assert_int_equal(lfs_keyring_copy_audit_key(&back, got), 0);
	assert_memory_equal(got, ak, 32);
	assert_int_equal(lfs_keyring_get(&back, 1, &k), 0);
	assert_memory_equal(k->data_key, s.keys.data_key, 32);
	lfs_keyring_put(&back);
	assert_int_equal(lfs_keyring_get(&back, 0, &k), 0); /* 0 = current, not the audit key */
	assert_int_equal(k->epoch, 2);
	lfs_keyring_put(&back);

	/* Retiring the old epoch keeps the audit key in the re-sealed file. */
	assert_int_equal(lfs_keyring_drop_epoch(&back, 1), 0);
	assert_int_equal(lfs_keyring_seal(&back, file, &len), 0);
	assert_int_equal(len, FILE_LEN(2));
	lfs_keyring_lock(&back);
	assert_int_equal(lfs_keyring_unlock(&back, m2, file, len), 0);

	/* take (unlock of a live mount) moves it along. */
	lfs_keyring_init(&live, uuid_a, X);
	assert_int_equal(lfs_keyring_take(&live, &back), 0);
	assert_int_equal(lfs_keyring_copy_audit_key(&live, got), 0);
	assert_memory_equal(got, ak, 32);
	assert_int_equal(lfs_keyring_copy_audit_key(&back, got), -EACCES);
	lfs_keyring_destroy(&live);
	lfs_keyring_destroy(&back);
	lfs_keyring_destroy(&kr);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_fill(uuid_a, sizeof(uuid_a), 0xa0);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_drop_epoch),
	    cmocka_unit_test(test_set_master),
	    cmocka_unit_test(test_audit_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
