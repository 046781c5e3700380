/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the keyring (keymgmt/keyring.c), its life cycle:
 * generating the data keys and their derived keys, sealing, locking and
 * unlocking, and the sealed file's checks (wrong key, flipped byte,
 * truncated). Hand-built files, peek and changes to an unlocked ring
 * have their own test_keyring_*.c. */
#include "keyringrig.h"

/* ---- lifecycle ------------------------------------------------------- */

static void test_generate(void **state)
{
	(void)state;
	struct lfs_keyring kr;
	const struct lfs_epoch_keys *k;
	lfs_keyring_init(&kr, uuid_a, X);
	assert_locked(&kr);
	assert_int_equal(lfs_keyring_generate(&kr, 2), 0);
	assert_true(kr.unlocked);
	assert_int_equal(kr.current_epoch, 1);
	assert_int_equal(lfs_keyring_get(&kr, 0, &k), 0);
	assert_int_equal(k->epoch, 1);
	assert_false(sodium_is_zero(k->data_key, 32));
	lfs_keyring_put(&kr);
	assert_int_equal(lfs_keyring_generate(&kr, 2), -EBUSY);
	lfs_keyring_destroy(&kr);
}

/* The per-purpose keys are the documented derivations of the data key. */
static void test_epoch_key_derivation(void **state)
{
	(void)state;
	struct sealed s;
	uint8_t want[32];
	make_sealed(&s);
	const uint8_t *dk = s.keys.data_key;
	lfs_kdf_derive(want, dk, 1, LFS_KDF_CTX_CONTENT);
	assert_memory_equal(s.keys.content, want, 32);
	lfs_kdf_derive(want, dk, 1, LFS_KDF_CTX_HDRMAC);
	assert_memory_equal(s.keys.hdr_mac, want, 32);
	lfs_kdf_derive(want, dk, 1, LFS_KDF_CTX_NAMEMAC);
	assert_memory_equal(s.keys.name_mac, want, 32);
	lfs_kdf_derive(want, dk, 1, LFS_KDF_CTX_NAMEENC);
	assert_memory_equal(s.keys.name_enc, want, 32);
	lfs_kdf_derive(want, dk, 1, LFS_KDF_CTX_LINK);
	assert_memory_equal(s.keys.link, want, 32);
	lfs_kdf_derive(want, dk, 1, LFS_KDF_CTX_XATTR);
	assert_memory_equal(s.keys.xattr_name_mac, want, 32);
	lfs_kdf_derive(want, dk, 2, LFS_KDF_CTX_XATTR);
	assert_memory_equal(s.keys.xattr_name_enc, want, 32);
	lfs_kdf_derive(want, dk, 3, LFS_KDF_CTX_XATTR);
	assert_memory_equal(s.keys.xattr_value, want, 32);
}

static void test_seal_lock_unlock(void **state)
{
	(void)state;
	struct lfs_keyring kr;
	const struct lfs_epoch_keys *k;
	uint8_t file[LFS_KEYRING_MAX_FILE_LEN], master[32], master2[32];
	size_t len;
	lfs_keyring_init(&kr, uuid_a, X);
	assert_int_equal(lfs_keyring_generate(&kr, 2), 0);
	assert_int_equal(lfs_keyring_get(&kr, 1, &k), 0);
	struct lfs_epoch_keys before = *k;
	lfs_keyring_put(&kr);
	assert_int_equal(lfs_keyring_seal(&kr, file, &len), 0);
	assert_int_equal(len, FILE_LEN(1));
	assert_int_equal(lfs_keyring_copy_master(&kr, master), 0);
	uint64_t gen = kr.generation;

	lfs_keyring_lock(&kr);
	assert_false(kr.unlocked);
	assert_true(kr.generation > gen); /* caches must see the change */
	assert_locked(&kr);
	assert_int_equal(lfs_keyring_seal(&kr, file, &len), -EACCES);
	assert_int_equal(lfs_keyring_copy_master(&kr, master2), -EACCES);

	gen = kr.generation;
	assert_int_equal(lfs_keyring_unlock(&kr, master, file, FILE_LEN(1)), 0);
	assert_true(kr.generation > gen);
	assert_int_equal(lfs_keyring_get(&kr, 0, &k), 0);
	assert_memory_equal(k, &before, sizeof(before));
	lfs_keyring_put(&kr);
	assert_int_equal(lfs_keyring_copy_master(&kr, master2), 0);
	assert_memory_equal(master, master2, 32);
	assert_int_equal(lfs_keyring_unlock(&kr, master, file, FILE_LEN(1)), -EBUSY);
	lfs_keyring_destroy(&kr);
}

static void test_unlock_rejected(void **state)
{
	(void)state;
	struct sealed s;
	struct lfs_keyring kr;
	uint8_t uuid_b[LFS_UUID_LEN];
	make_sealed(&s);

	lfs_keyring_init(&kr, uuid_a, X);
	s.master[0] ^= 1;
	assert_int_equal(lfs_keyring_unlock(&kr, s.master, s.file, s.len), -EKEYREJECTED);
	assert_locked(&kr);
	s.master[0] ^= 1;
	lfs_keyring_destroy(&kr);

	memcpy(uuid_b, uuid_a, sizeof(uuid_b));
	uuid_b[0] ^= 1;
	lfs_keyring_init(&kr, uuid_b, X);
	assert_int_equal(lfs_keyring_unlock(&kr, s.master, s.file, s.len), -EKEYREJECTED);
	assert_locked(&kr);
	lfs_keyring_destroy(&kr);

	/* The config says AES-GCM but the ring was sealed for XChaCha20. */
	lfs_keyring_init(&kr, uuid_a, LFS_CIPHER_AES256GCM);
	assert_int_equal(lfs_keyring_unlock(&kr, s.master, s.file, s.len), -EKEYREJECTED);
	assert_locked(&kr);
	lfs_keyring_destroy(&kr);
}

static void test_get_errors(void **state)
{
	(void)state;
	struct lfs_keyring kr;
	const struct lfs_epoch_keys *k;
	lfs_keyring_init(&kr, uuid_a, X);
	assert_int_equal(lfs_keyring_get(&kr, 1, &k), -EACCES);
	assert_true(lock_is_free(&kr));
	assert_int_equal(lfs_keyring_generate(&kr, 2), 0);
	assert_int_equal(lfs_keyring_get(&kr, 2, &k), -EIO);
	assert_true(lock_is_free(&kr));
	assert_int_equal(lfs_keyring_get(&kr, 0xffffffffu, &k), -EIO);
	assert_true(lock_is_free(&kr));
	lfs_keyring_destroy(&kr);
}

/* Any single changed byte of the sealed file makes unlock fail (header
 * fields by structure or AD, the rest by the AEAD tag), and a failed
 * unlock leaves the ring locked. */
static void test_flipped_byte_rejected(void **state)
{
	(void)state;
	struct sealed s;
	struct lfs_keyring kr;
	make_sealed(&s);
	lfs_keyring_init(&kr, uuid_a, X);
	for (size_t i = 0; i < s.len; i++) {
		s.file[i] ^= 0x04;
		int r = lfs_keyring_unlock(&kr, s.master, s.file, s.len);
		if (r == 0)
			fail_msg("flipped byte %zu of %zu accepted", i, s.len);
		assert_false(kr.unlocked);
		s.file[i] ^= 0x04;
	}
	assert_locked(&kr);
	assert_int_equal(lfs_keyring_unlock(&kr, s.master, s.file, s.len), 0);
	lfs_keyring_destroy(&kr);
}

static void test_truncated_rejected(void **state)
{
	(void)state;
	struct sealed s;
	struct lfs_keyring kr;
	make_sealed(&s);
	lfs_keyring_init(&kr, uuid_a, X);
	for (size_t len = 0; len < s.len; len++)
		assert_int_equal(lfs_keyring_unlock(&kr, s.master, s.file, len), -EINVAL);
	assert_int_equal(lfs_keyring_unlock(&kr, s.master, s.file, s.len + 1), -EINVAL);
	assert_locked(&kr);
	lfs_keyring_destroy(&kr);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_fill(uuid_a, sizeof(uuid_a), 0xa0);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generate),           cmocka_unit_test(test_epoch_key_derivation),
	    cmocka_unit_test(test_seal_lock_unlock),   cmocka_unit_test(test_unlock_rejected),
	    cmocka_unit_test(test_get_errors),         cmocka_unit_test(test_flipped_byte_rejected),
	    cmocka_unit_test(test_truncated_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
