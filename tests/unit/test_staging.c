/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for staging keys and the staging index: the keyring's staging
 * table (add, get, drop, lock), wrapping a staging key under the master key
 * (and what the associated data binds), and the index's strict parser. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>

#include "../../keymgmt/keyring.h"
#include "../../staging/stage_store.h"

#define X  LFS_CIPHER_XCHACHA20POLY1305
#define ID 0x8000abcdu

static void unlocked(struct lfs_keyring *kr, uint8_t fill)
{
	uint8_t uuid[LFS_UUID_LEN];
	memset(uuid, fill, sizeof(uuid));
	lfs_keyring_init(kr, uuid, X);
	assert_int_equal(lfs_keyring_generate(kr, 2), 0);
}

static void test_table(void **state)
{
	(void)state;
	struct lfs_keyring kr;
	const struct lfs_epoch_keys *k;
	uint8_t key[32];
	unlocked(&kr, 1);
	memset(key, 7, sizeof(key));
	assert_int_equal(lfs_keyring_add_staging(&kr, 5, key, 0), -EINVAL); /* not a staging id */
	assert_int_equal(lfs_keyring_get(&kr, ID, &k), -EIO);
	assert_int_equal(lfs_keyring_add_staging(&kr, ID, key, 0), 0);
	assert_int_equal(lfs_keyring_get(&kr, ID, &k), 0);
	assert_int_equal(k->epoch, ID);
	uint8_t content[32];
	memcpy(content, k->content, 32);
	lfs_keyring_put(&kr);
	/* Derived like an epoch, and different from the data epoch's keys. */
	assert_int_equal(lfs_keyring_get(&kr, 0, &k), 0);
	assert_memory_not_equal(content, k->content, 32);
	lfs_keyring_put(&kr);
	assert_true(lfs_keyring_has(&kr, ID));
	lfs_keyring_drop_staging(&kr, ID);
	assert_false(lfs_keyring_has(&kr, ID));
	assert_int_equal(lfs_keyring_get(&kr, ID, &k), -EIO);
	assert_true(lfs_keyring_has(&kr, 0)); /* the data keys stay */
	assert_int_equal(lfs_keyring_add_staging(&kr, ID, key, 0), 0);
	lfs_keyring_lock(&kr);
	assert_int_equal(lfs_keyring_get(&kr, ID, &k), -EACCES);
	assert_int_equal(lfs_keyring_add_staging(&kr, ID, key, 0), -EACCES);
	lfs_keyring_destroy(&kr);
}

static void test_table_full(void **state)
{
	(void)state;
	struct lfs_keyring kr;
	uint8_t key[32] = {0};
	unlocked(&kr, 2);
	for (uint32_t i = 0; i < LFS_MAX_STAGING; i++)
		assert_int_equal(lfs_keyring_add_staging(&kr, LFS_STAGING_ID_BIT | i, key, 0), 0);
	assert_int_equal(lfs_keyring_add_staging(&kr, LFS_STAGING_ID_BIT | 999, key, 0), -ENOSPC);
	/* Re-adding a present id replaces it in place. */
	assert_int_equal(lfs_keyring_add_staging(&kr, LFS_STAGING_ID_BIT | 3, key, 0), 0);
	lfs_keyring_drop_staging(&kr, LFS_STAGING_ID_BIT | 3);
	assert_true(lfs_keyring_has(&kr, LFS_STAGING_ID_BIT | (LFS_MAX_STAGING - 1)));
	assert_int_equal(lfs_keyring_add_staging(&kr, LFS_STAGING_ID_BIT | 999, key, 0), 0);
	lfs_keyring_destroy(&kr);
}

static void test_wrap(void **state)
{
	(void)state;
	struct lfs_keyring kr, other;
	uint8_t key[32], out[32], file[LFS_STAGE_KEY_FILE_LEN];
	uint32_t flags = 99;
	unlocked(&kr, 3);
	unlocked(&other, 4);
	randombytes_buf(key, sizeof(key));
	assert_int_equal(lfs_stage_key_wrap(&kr, ID, LFS_STAGE_KEY_NEEDS_EXP, key, file), 0);
	assert_memory_equal(file, "LTHSTK01", 8);
	assert_int_equal(lfs_stage_key_unwrap(&kr, file, sizeof(file), ID, out, &flags), 0);
	assert_memory_equal(out, key, 32);
	assert_int_equal(flags, LFS_STAGE_KEY_NEEDS_EXP);
	/* Another id, another vault, a flipped byte, a wrong length. */
	assert_int_equal(lfs_stage_key_unwrap(&kr, file, sizeof(file), ID + 1, out, NULL), -EINVAL);
	assert_int_equal(lfs_stage_key_unwrap(&other, file, sizeof(file), ID, out, NULL),
	                 -EKEYREJECTED);
	for (size_t i = 16; i < sizeof(file); i += 9) {
		file[i] ^= 1;
		assert_int_equal(lfs_stage_key_unwrap(&kr, file, sizeof(file), ID, out, NULL),
		                 -EKEYREJECTED);
		file[i] ^= 1;
	}
	/* The flags are authenticated: clearing "needs a retention record"
	 * (to pass as an older key file) breaks the key. Unknown bits are
	 * refused outright. */
	file[12] = 0;
	assert_int_equal(lfs_stage_key_flags(file, sizeof(file), ID, &flags), 0);
	assert_int_equal(flags, 0);
	assert_int_equal(lfs_stage_key_unwrap(&kr, file, sizeof(file), ID, out, NULL),
	                 -EKEYREJECTED);
	file[12] = 0x80;
	assert_int_equal(lfs_stage_key_flags(file, sizeof(file), ID, &flags), -EINVAL);
	assert_int_equal(lfs_stage_key_unwrap(&kr, file, sizeof(file), ID, out, &flags), -EINVAL);
	assert_int_equal(lfs_stage_key_wrap(&kr, ID, 0x4, key, file), -EINVAL);
	file[12] = LFS_STAGE_KEY_NEEDS_EXP;
	/* A key file of an older version (no flags) still opens. */
	uint8_t old[LFS_STAGE_KEY_FILE_LEN];
	assert_int_equal(lfs_stage_key_wrap(&kr, ID, 0, key, old), 0);
	assert_int_equal(lfs_stage_key_unwrap(&kr, old, sizeof(old), ID, out, &flags), 0);
	assert_int_equal(flags, 0);
	assert_int_equal(lfs_stage_key_unwrap(&kr, file, sizeof(file) - 1, ID, out, NULL), -EINVAL);
	/* Format 2 (docs/FORMAT.md 14.6): the flag is authenticated too;
	 * clearing it (to pass a format-2 directory off as format 1) breaks
	 * the key, and it maps to the keyring's epoch flag. */
	uint32_t both = LFS_STAGE_KEY_NEEDS_EXP | LFS_STAGE_KEY_FORMAT2;
	assert_int_equal(lfs_stage_key_wrap(&kr, ID, both, key, file), 0);
	assert_int_equal(lfs_stage_key_unwrap(&kr, file, sizeof(file), ID, out, &flags), 0);
	assert_int_equal(flags, both);
	assert_int_equal(lfs_stage_key_epoch_flags(flags), LFS_EPOCH_FORMAT2);
	assert_int_equal(lfs_stage_key_epoch_flags(LFS_STAGE_KEY_NEEDS_EXP), 0);
	file[12] = LFS_STAGE_KEY_NEEDS_EXP;
	assert_int_equal(lfs_stage_key_unwrap(&kr, file, sizeof(file), ID, out, &flags),
	                 -EKEYREJECTED);
	file[12] = (uint8_t)both;
	lfs_keyring_lock(&kr);
	assert_int_equal(lfs_stage_key_unwrap(&kr, file, sizeof(file), ID, out, NULL), -EACCES);
	lfs_keyring_destroy(&kr);
	lfs_keyring_destroy(&other);
}

static void test_index(void **state)
{
	(void)state;
	struct lfs_stage_index ix;
	const char good[] = "lethefs-staging-index 1\n# comment\n"
	                    "8000abcd 100 200 0 5\nffffffff 1 2 3 4\n";
	assert_int_equal(lfs_stage_index_parse(good, strlen(good), &ix), 0);
	assert_int_equal(ix.n, 2);
	struct lfs_stage_entry *e = lfs_stage_index_find(&ix, ID);
	assert_non_null(e);
	assert_int_equal(e->expires, 200);
	assert_int_equal(e->used, 5);
	lfs_stage_index_remove(&ix, ID);
	assert_null(lfs_stage_index_find(&ix, ID));
	lfs_stage_index_free(&ix);
	const char *bad[] = {
	    "",
	    "lethefs-staging-index 2\n",
	    "lethefs-staging-index 1\n0000abcd 1 2 3 4\n",                   /* not a staging id */
	    "lethefs-staging-index 1\n8000abcd 1 2 3\n",                     /* missing field */
	    "lethefs-staging-index 1\n8000abcd 1 2 3 4 5\n",                 /* extra field */
	    "lethefs-staging-index 1\n8000ABCD 1 2 3 4\n",                   /* upper case */
	    "lethefs-staging-index 1\n8000abcd -1 2 3 4\n",                  /* negative time */
	    "lethefs-staging-index 1\n8000abcd 1 2 3 4\n8000abcd 1 2 3 4\n", /* duplicate */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(lfs_stage_index_parse(bad[i], strlen(bad[i]), &ix), -EINVAL);
}

static void test_ids(void **state)
{
	(void)state;
	uint32_t id;
	char hex[9];
	lfs_stage_id_hex(ID, hex);
	assert_string_equal(hex, "8000abcd");
	assert_true(lfs_stage_marker_id("lethefs-staging:8000abcd", 24, &id));
	assert_int_equal(id, ID);
	assert_false(lfs_stage_marker_id("lethefs-staging:0000abcd", 24, &id));
	assert_false(lfs_stage_marker_id("lethefs-staging:8000abc", 23, &id));
	assert_false(lfs_stage_marker_id("AAAAAAAAAAAAAAAAAAAAAAAA", 24, &id));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table), cmocka_unit_test(test_table_full),
	    cmocka_unit_test(test_wrap),  cmocka_unit_test(test_index),
	    cmocka_unit_test(test_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
