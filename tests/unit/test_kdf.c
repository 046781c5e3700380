/* SPDX-License-Identifier: Apache-2.0 */
/* Known-answer tests for the key derivation tree (keymgmt/kdf.c).
 *
 * The expected values below were computed once from the implementation and
 * cross-checked against an independent BLAKE2b (Python hashlib). They are
 * part of the on-disk format: every vault ever created derives its keys
 * this way. If one of these tests fails after a code change, that change is
 * a FORMAT CHANGE that makes existing vaults unreadable; do not "fix" the
 * test by pasting in the new value. */
#include "testutil.h"

#include "../../keymgmt/kdf.h"

/* Fixed inputs: root = 00 01 .. 1f, file id = a0 a1 .. af. */
static void fixed_root(uint8_t root[LFS_KEY_LEN])
{
	test_fill(root, LFS_KEY_LEN, 0x00);
}

struct kat {
	const char *ctx;
	uint64_t subkey_id;
	const char *hex;
};

static const struct kat derive_kats[] = {
    {LFS_KDF_CTX_KEYRING, 1, "9972905d3cc6c175c7b0add6899e271d121d803278b0c47acc6acbef5fd74958"},
    {LFS_KDF_CTX_AUDIT, 1, "532a99a9456b64ee16c0b2ba1c5864f1e455a3722f61ae3b96efb6214ff57a55"},
    {LFS_KDF_CTX_STAGING, 1, "f4781b4e613f4a14173b586248e4c1417205ee81e343f053f2e9eb775143319c"},
    {LFS_KDF_CTX_STAGEXP, 1, "4e5bf5e18c477ae40aef32da290fe49fa52697ba60d3a913373baede6140c1cd"},
    /* Rooted at the audit key, not the master key (FORMAT.md 3.4, 5). */
    {LFS_KDF_CTX_LABELS, 1, "d8a7af7c002fa5c1656c21a678ebdebdd872de876d3131c9176075e72bed8343"},
    {LFS_KDF_CTX_CONTENT, 1, "813568e3afd659e9b3db17cee0dc55f38e8991d88d3acc1a56ca09b940a958fe"},
    {LFS_KDF_CTX_HDRMAC, 1, "3f98e5cd7b97bb8c95247ab3acc07558986b34b4349990e728fa0f7a310504d0"},
    {LFS_KDF_CTX_NAMEMAC, 1, "6d35fed22cdd00f3e2b4f00ee9480ecc96a0842d11bd64a45c8eb20cb9dc0a5a"},
    {LFS_KDF_CTX_NAMEENC, 1, "5c382b74af4e4105ddfbda11bbdd5c16df6fac3a7e554d56a5c6484d41a303d7"},
    {LFS_KDF_CTX_LINK, 1, "78f7f42dd6686b8b3c031448ecdac5c4f7608add525b55880230de6edfc8795e"},
    /* The keyring derives three xattr keys from one context (ids 1..3). */
    {LFS_KDF_CTX_XATTR, 1, "b9861aaf0729e9269f2c47488f2a9c878142eb935b26ca0e70b0d46d978b611a"},
    {LFS_KDF_CTX_XATTR, 2, "cdc1518e0d74d41d8e37e2854195cd9ce41d466d3a4ef71a498d052359d0abaa"},
    {LFS_KDF_CTX_XATTR, 3, "3573939f350c6ca08f80787e13c90ffacd07a4f9f848fe09bfeaa0607646a57d"},
    /* Format 2: the key that seals inode records (cross-checked with
     * Python's hashlib.blake2b, key = root, salt = id, person = ctx). */
    {LFS_KDF_CTX_INODE, 1, "5bea453db627c659b02b6bde5088acbdc789488afb166b154bcbd655922796fa"},
};
#define N_KATS (sizeof(derive_kats) / sizeof(derive_kats[0]))

static void test_derive_known_answers(void **state)
{
	(void)state;
	uint8_t root[LFS_KEY_LEN], out[LFS_KEY_LEN];
	fixed_root(root);
	for (size_t i = 0; i < N_KATS; i++) {
		lfs_kdf_derive(out, root, derive_kats[i].subkey_id, derive_kats[i].ctx);
		assert_hex_equal(out, sizeof(out), derive_kats[i].hex);
	}
}

static void test_file_key_known_answer(void **state)
{
	(void)state;
	uint8_t root[LFS_KEY_LEN], fid[16], out[LFS_KEY_LEN];
	fixed_root(root);
	test_fill(fid, sizeof(fid), 0xa0);
	lfs_kdf_file_key(out, root, fid);
	assert_hex_equal(out, sizeof(out),
	                 "ac3d8981eefeb30e155a74f77d9b9a34036e76f43915292a241abc568a9d7ad3");
}

/* The context strings are exactly 8 bytes: libsodium reads 8 and ignores a
 * terminator, so a 9-character constant would silently be truncated. */
static void test_contexts_are_8_bytes(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_KATS; i++)
		assert_int_equal(strlen(derive_kats[i].ctx), 8);
}

/* Every (context, id) pair in the table gives a distinct key: two purposes
 * sharing a key would let one oracle attack the other. */
static void test_all_purposes_distinct(void **state)
{
	(void)state;
	uint8_t root[LFS_KEY_LEN], keys[N_KATS][LFS_KEY_LEN];
	fixed_root(root);
	for (size_t i = 0; i < N_KATS; i++)
		lfs_kdf_derive(keys[i], root, derive_kats[i].subkey_id, derive_kats[i].ctx);
	for (size_t i = 0; i < N_KATS; i++)
		for (size_t j = i + 1; j < N_KATS; j++)
			assert_memory_not_equal(keys[i], keys[j], LFS_KEY_LEN);
}

static void test_derive_depends_on_id_and_root(void **state)
{
	(void)state;
	uint8_t root[LFS_KEY_LEN], a[LFS_KEY_LEN], b[LFS_KEY_LEN];
	fixed_root(root);
	lfs_kdf_derive(a, root, 1, LFS_KDF_CTX_CONTENT);
	lfs_kdf_derive(b, root, 2, LFS_KDF_CTX_CONTENT);
	assert_memory_not_equal(a, b, LFS_KEY_LEN);
	root[31] ^= 1;
	lfs_kdf_derive(b, root, 1, LFS_KDF_CTX_CONTENT);
	assert_memory_not_equal(a, b, LFS_KEY_LEN);
}

static void test_file_key_depends_on_id_and_root(void **state)
{
	(void)state;
	uint8_t root[LFS_KEY_LEN], fid[16], a[LFS_KEY_LEN], b[LFS_KEY_LEN];
	fixed_root(root);
	test_fill(fid, sizeof(fid), 0xa0);
	lfs_kdf_file_key(a, root, fid);
	fid[15] ^= 1;
	lfs_kdf_file_key(b, root, fid);
	assert_memory_not_equal(a, b, LFS_KEY_LEN);
	fid[15] ^= 1;
	root[0] ^= 1;
	lfs_kdf_file_key(b, root, fid);
	assert_memory_not_equal(a, b, LFS_KEY_LEN);
}

/* Derivation is a pure function: the same inputs twice, the same key. */
static void test_deterministic(void **state)
{
	(void)state;
	uint8_t root[LFS_KEY_LEN], a[LFS_KEY_LEN], b[LFS_KEY_LEN];
	randombytes_buf(root, sizeof(root));
	lfs_kdf_derive(a, root, 7, LFS_KDF_CTX_LINK);
	lfs_kdf_derive(b, root, 7, LFS_KDF_CTX_LINK);
	assert_memory_equal(a, b, LFS_KEY_LEN);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_derive_known_answers),
	    cmocka_unit_test(test_file_key_known_answer),
	    cmocka_unit_test(test_contexts_are_8_bytes),
	    cmocka_unit_test(test_all_purposes_distinct),
	    cmocka_unit_test(test_derive_depends_on_id_and_root),
	    cmocka_unit_test(test_file_key_depends_on_id_and_root),
	    cmocka_unit_test(test_deterministic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
