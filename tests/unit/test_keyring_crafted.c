/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the keyring's sealed body, on files built by hand from
 * the documented layout (craft): several epochs are all reachable and
 * survive re-sealing, authenticated but malformed bodies are refused, the
 * format flags of the epochs are read, kept and set, and the audit key
 * entry may sit between data epochs. */
#include "keyringrig.h"

/* ---- hand-built files ------------------------------------------------ */

/* A hand-built file unlocks: pins the sealed layout and shows several
 * epochs (a rotation in progress) are all reachable. */
static void test_multi_epoch(void **state)
{
	(void)state;
	struct lfs_keyring kr;
	const struct lfs_epoch_keys *k;
	struct entry e[3];
	uint8_t master[32], file[LFS_KEYRING_MAX_FILE_LEN], resealed[LFS_KEYRING_MAX_FILE_LEN];
	size_t len;
	test_fill(master, sizeof(master), 0x99);
	three_epochs(e);
	len = craft(master, X, 5, e, 3, file);
	lfs_keyring_init(&kr, uuid_a, X);
	assert_int_equal(lfs_keyring_unlock(&kr, master, file, len), 0);
	assert_int_equal(kr.nepochs, 3);
	assert_int_equal(lfs_keyring_get(&kr, 0, &k), 0);
	assert_int_equal(k->epoch, 5);
	assert_memory_equal(k->data_key, e[1].key, 32);
	lfs_keyring_put(&kr);
	assert_int_equal(lfs_keyring_get(&kr, 9, &k), 0);
	assert_memory_equal(k->data_key, e[2].key, 32);
	lfs_keyring_put(&kr);
	assert_int_equal(lfs_keyring_get(&kr, 2, &k), -EIO);

	/* Sealing again keeps every epoch and the current one. */
	assert_int_equal(lfs_keyring_seal(&kr, resealed, &len), 0);
	assert_int_equal(len, FILE_LEN(3));
	lfs_keyring_lock(&kr);
	assert_int_equal(lfs_keyring_unlock(&kr, master, resealed, len), 0);
	assert_int_equal(kr.current_epoch, 5);
	assert_int_equal(lfs_keyring_get(&kr, 1, &k), 0);
	assert_memory_equal(k->data_key, e[0].key, 32);
	lfs_keyring_put(&kr);
	lfs_keyring_destroy(&kr);
}

static void expect_body_rejected(const struct entry *e, unsigned n, uint32_t current,
                                 uint8_t cipher, const char *what)
{
	struct lfs_keyring kr;
	uint8_t master[32], file[LFS_KEYRING_MAX_FILE_LEN];
	test_fill(master, sizeof(master), 0x99);
	size_t len = craft(master, cipher, current, e, n, file);
	lfs_keyring_init(&kr, uuid_a, X);
	int r = lfs_keyring_unlock(&kr, master, file, len);
	if (r == 0)
		fail_msg("%s: unlock accepted it", what);
	assert_locked(&kr);
	lfs_keyring_destroy(&kr);
}

/* Authenticated bodies that are still malformed are refused. */
static void test_bad_bodies(void **state)
{
	(void)state;
	struct entry e[3];
	three_epochs(e);
	expect_body_rejected(e, 3, 7, X, "current epoch not in the ring");
	expect_body_rejected(e, 3, 0, X, "current epoch 0");
	e[2].epoch = 5;
	expect_body_rejected(e, 3, 5, X, "duplicate epoch");
	three_epochs(e);
	e[0].epoch = 0;
	e[2].epoch = 0;
	expect_body_rejected(e, 3, 5, X, "two audit key entries (epoch 0)");
	three_epochs(e);
	e[0].epoch = 0;
	expect_body_rejected(e, 1, 5, X, "only an audit key entry");
	three_epochs(e);
	e[0].epoch = 0;
	e[0].flags = LFS_EPOCH_FORMAT2;
	expect_body_rejected(e, 3, 5, X, "flags on the audit key entry");
	three_epochs(e);
	e[1].flags = 2;
	expect_body_rejected(e, 3, 5, X, "unknown entry flag");
	three_epochs(e);
	e[1].flags = 0x80000000u | LFS_EPOCH_FORMAT2;
	expect_body_rejected(e, 3, 5, X, "unknown entry flag beside FORMAT2");
	three_epochs(e);
	expect_body_rejected(e, 3, 5, 3, "unknown cipher in body");
}

/* The format is the current epoch's flag (FORMAT.md 4.2): read from the
 * sealed body, kept by sealing, given to every new epoch, and set on all
 * epochs by an upgrade's last step. */
static void test_format_flags(void **state)
{
	(void)state;
	struct lfs_keyring kr;
	struct entry e[3];
	const struct lfs_epoch_keys *k;
	uint8_t master[32], file[LFS_KEYRING_MAX_FILE_LEN];
	size_t len;
	test_fill(master, sizeof(master), 0x99);
	three_epochs(e);
	e[2].flags = LFS_EPOCH_FORMAT2; /* epoch 9 */
	len = craft(master, X, 5, e, 3, file);
	lfs_keyring_init(&kr, uuid_a, X);
	assert_int_equal(lfs_keyring_format(&kr), -EACCES);
	assert_int_equal(lfs_keyring_unlock(&kr, master, file, len), 0);
	assert_int_equal(lfs_keyring_format(&kr), 1); /* current 5 is not flagged */
	assert_int_equal(lfs_keyring_get(&kr, 9, &k), 0);
	assert_int_equal(k->flags, LFS_EPOCH_FORMAT2);
	lfs_keyring_put(&kr);
	assert_int_equal(lfs_keyring_set_current(&kr, 9), 0);
	assert_int_equal(lfs_keyring_format(&kr), 2);
	assert_int_equal(lfs_keyring_set_current(&kr, 5), 0);
	/* A new epoch is of format 2. */
	uint32_t ne = 0;
	assert_int_equal(lfs_keyring_add_epoch(&kr, &ne), 0);
	assert_int_equal(ne, 10);
	assert_int_equal(lfs_keyring_format(&kr), 2);
	/* Flags survive sealing and unlocking. */
	assert_int_equal(lfs_keyring_seal(&kr, file, &len), 0);
	lfs_keyring_lock(&kr);
	assert_int_equal(lfs_keyring_unlock(&kr, master, file, len), 0);
	assert_int_equal(lfs_keyring_get(&kr, 1, &k), 0);
	assert_int_equal(k->flags, 0);
	lfs_keyring_put(&kr);
	assert_int_equal(lfs_keyring_get(&kr, 10, &k), 0);
	assert_int_equal(k->flags, LFS_EPOCH_FORMAT2);
	lfs_keyring_put(&kr);
	/* The upgrade's last step flags every epoch. */
	assert_int_equal(lfs_keyring_set_format2(&kr), 0);
	assert_int_equal(lfs_keyring_get(&kr, 1, &k), 0);
	assert_int_equal(k->flags, LFS_EPOCH_FORMAT2);
	lfs_keyring_put(&kr);
	lfs_keyring_destroy(&kr);
	/* A new vault of either format. */
	for (int f = 1; f <= 2; f++) {
		lfs_keyring_init(&kr, uuid_a, X);
		assert_int_equal(lfs_keyring_generate(&kr, f), 0);
		assert_int_equal(lfs_keyring_format(&kr), f);
		lfs_keyring_destroy(&kr);
	}
	lfs_keyring_init(&kr, uuid_a, X);
	assert_int_equal(lfs_keyring_generate(&kr, 3), -EINVAL);
	lfs_keyring_destroy(&kr);
}

/* A hand-built ring with the audit key entry between data epochs. */
static void test_audit_key_crafted(void **state)
{
	(void)state;
	struct lfs_keyring kr;
	struct entry e[3];
	uint8_t master[32], file[LFS_KEYRING_MAX_FILE_LEN], got[32];
	test_fill(master, sizeof(master), 0x99);
	three_epochs(e);
	e[1].epoch = 0;
	size_t len = craft(master, X, 9, e, 3, file);
	lfs_keyring_init(&kr, uuid_a, X);
	assert_int_equal(lfs_keyring_unlock(&kr, master, file, len), 0);
	assert_int_equal(kr.nepochs, 2);
	assert_int_equal(lfs_keyring_copy_audit_key(&kr, got), 0);
	assert_memory_equal(got, e[1].key, 32);
	lfs_keyring_destroy(&kr);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_fill(uuid_a, sizeof(uuid_a), 0xa0);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_multi_epoch),
	    cmocka_unit_test(test_bad_bodies),
	    cmocka_unit_test(test_format_flags),
	    cmocka_unit_test(test_audit_key_crafted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
