/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the keyslot file (keymgmt/keyslots.c): wrapping the
 * master key under a secret, binding of each slot to its index, vault and
 * parameters, and the strict decoder. Argon2id runs with the cheapest
 * parameters libsodium allows so the suite stays fast. */
#include "testutil.h"

#include <errno.h>

#include "../../keymgmt/keyslots.h"

#define OPS         1
#define MEM         (8192 * 1024)
#define SLOT_OFF(i) (LFS_KEYSLOTS_HDR_LEN + (size_t)(i)*LFS_KEYSLOT_LEN)

static const char secret[] = "correct horse battery staple";
#define SECRET_LEN (sizeof(secret) - 1)

static void vault_init(struct lfs_keyslots *ks, uint8_t master[LFS_MASTER_KEY_LEN])
{
	memset(ks, 0, sizeof(*ks));
	test_fill(ks->uuid, LFS_UUID_LEN, 0xc0);
	test_fill(master, LFS_MASTER_KEY_LEN, 0x01);
}

static void wrap(struct lfs_keyslots *ks, int idx, enum lfs_slot_type type, const char *s,
                 const uint8_t master[LFS_MASTER_KEY_LEN])
{
	assert_int_equal(lfs_keyslot_wrap(ks, idx, type, s, strlen(s), OPS, MEM, master), 0);
}

static int unwrap(const struct lfs_keyslots *ks, int idx, const char *s,
                  uint8_t out[LFS_MASTER_KEY_LEN])
{
	return lfs_keyslot_unwrap(ks, idx, s, strlen(s), out);
}

/* ---- wrap / unwrap --------------------------------------------------- */

static void test_wrap_unwrap(void **state)
{
	(void)state;
	struct lfs_keyslots ks;
	uint8_t master[32], out[32];
	vault_init(&ks, master);
	wrap(&ks, 0, LFS_SLOT_PASSPHRASE, secret, master);
	assert_int_equal(lfs_keyslots_count_used(&ks), 1);
	assert_int_equal(ks.slot[0].opslimit, OPS);
	assert_int_equal(ks.slot[0].memlimit, MEM);
	assert_int_equal(ks.slot[0].kdf_alg, LFS_KDF_ARGON2ID13);
	assert_int_equal(unwrap(&ks, 0, secret, out), 0);
	assert_memory_equal(out, master, 32);
	/* The wrapped key is not the master key in the clear. */
	assert_memory_not_equal(ks.slot[0].wrapped, master, 32);
}

/* Binary secrets (key files) may contain NUL bytes: the length counts. */
static void test_binary_secret(void **state)
{
	(void)state;
	struct lfs_keyslots ks;
	uint8_t master[32], out[32], key[64] = {0};
	vault_init(&ks, master);
	key[63] = 1;
	assert_int_equal(
	    lfs_keyslot_wrap(&ks, 2, LFS_SLOT_KEYFILE, key, sizeof(key), OPS, MEM, master), 0);
	assert_int_equal(lfs_keyslot_unwrap(&ks, 2, key, sizeof(key), out), 0);
	assert_memory_equal(out, master, 32);
	assert_int_equal(lfs_keyslot_unwrap(&ks, 2, key, sizeof(key) - 1, out), -EKEYREJECTED);
}

static void test_wrong_secret(void **state)
{
	(void)state;
	struct lfs_keyslots ks;
	uint8_t master[32], out[32];
	vault_init(&ks, master);
	wrap(&ks, 0, LFS_SLOT_PASSPHRASE, secret, master);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(unwrap(&ks, 0, "correct horse battery stapl", out), -EKEYREJECTED);
	assert_true(sodium_is_zero(out, sizeof(out))); /* nothing half-decrypted leaks */
	assert_int_equal(unwrap(&ks, 0, "", out), -EKEYREJECTED);
}

/* A slot copied to another index of the same file does not open there. */
static void test_slot_moved(void **state)
{
	(void)state;
	struct lfs_keyslots ks;
	uint8_t master[32], out[32];
	vault_init(&ks, master);
	wrap(&ks, 0, LFS_SLOT_PASSPHRASE, secret, master);
	ks.slot[3] = ks.slot[0];
	memset(&ks.slot[0], 0, sizeof(ks.slot[0]));
	assert_int_equal(unwrap(&ks, 3, secret, out), -EKEYREJECTED);
}

/* A slot copied into another vault (other uuid) does not open. */
static void test_uuid_changed(void **state)
{
	(void)state;
	struct lfs_keyslots ks;
	uint8_t master[32], out[32];
	vault_init(&ks, master);
	wrap(&ks, 0, LFS_SLOT_PASSPHRASE, secret, master);
	ks.uuid[15] ^= 1;
	assert_int_equal(unwrap(&ks, 0, secret, out), -EKEYREJECTED);
}

/* Editing any field of a slot makes it fail to open. Lowering the KDF
 * cost in particular must not give a cheaper way to test passphrases. */
static void test_slot_edited(void **state)
{
	(void)state;
	struct lfs_keyslots ks, edited;
	uint8_t master[32], out[32];
	vault_init(&ks, master);
	wrap(&ks, 0, LFS_SLOT_PASSPHRASE, secret, master);

	edited = ks;
	edited.slot[0].opslimit = OPS + 1;
	assert_int_equal(unwrap(&edited, 0, secret, out), -EKEYREJECTED);
	edited = ks;
	edited.slot[0].memlimit = MEM * 2;
	assert_int_equal(unwrap(&edited, 0, secret, out), -EKEYREJECTED);
	edited = ks;
	edited.slot[0].type = LFS_SLOT_KEYFILE;
	assert_int_equal(unwrap(&edited, 0, secret, out), -EKEYREJECTED);
	edited = ks;
	edited.slot[0].salt[0] ^= 1;
	assert_int_equal(unwrap(&edited, 0, secret, out), -EKEYREJECTED);
	edited = ks;
	edited.slot[0].nonce[23] ^= 1;
	assert_int_equal(unwrap(&edited, 0, secret, out), -EKEYREJECTED);
	edited = ks;
	edited.slot[0].wrapped[47] ^= 1;
	assert_int_equal(unwrap(&edited, 0, secret, out), -EKEYREJECTED);
	assert_int_equal(unwrap(&ks, 0, secret, out), 0);
}

static void test_unwrap_bad_index_or_empty(void **state)
{
	(void)state;
	struct lfs_keyslots ks;
	uint8_t master[32], out[32];
	vault_init(&ks, master);
	assert_int_equal(unwrap(&ks, 0, secret, out), -ENOENT);
	assert_int_equal(unwrap(&ks, -1, secret, out), -EINVAL);
	assert_int_equal(unwrap(&ks, LFS_NSLOTS, secret, out), -EINVAL);
}

static void test_wrap_rejects_bad_args(void **state)
{
	(void)state;
	struct lfs_keyslots ks;
	uint8_t master[32];
	vault_init(&ks, master);
	const size_t n = SECRET_LEN;
	assert_int_equal(
	    lfs_keyslot_wrap(&ks, -1, LFS_SLOT_PASSPHRASE, secret, n, OPS, MEM, master), -EINVAL);
	assert_int_equal(lfs_keyslot_wrap(&ks, 8, LFS_SLOT_PASSPHRASE, secret, n, OPS, MEM, master),
	                 -EINVAL);
	assert_int_equal(lfs_keyslot_wrap(&ks, 0, LFS_SLOT_EMPTY, secret, n, OPS, MEM, master),
	                 -EINVAL);
	assert_int_equal(lfs_keyslot_wrap(&ks, 0, 4, secret, n, OPS, MEM, master), -EINVAL);
	assert_int_equal(lfs_keyslot_wrap(&ks, 0, LFS_SLOT_PASSPHRASE, secret, n, 0, MEM, master),
	                 -EINVAL);
	assert_int_equal(lfs_keyslot_wrap(&ks, 0, LFS_SLOT_PASSPHRASE, secret, n, OPS,
	                                  LFS_KDF_MEMLIMIT_MAX + 1, master),
	                 -EINVAL);
	assert_int_equal(lfs_keyslots_count_used(&ks), 0);
}

/* ---- encode / decode ------------------------------------------------- */

static void test_encode_decode_roundtrip(void **state)
{
	(void)state;
	struct lfs_keyslots ks, back;
	uint8_t master[32], out[32], buf[LFS_KEYSLOTS_FILE_LEN], again[LFS_KEYSLOTS_FILE_LEN];
	vault_init(&ks, master);
	wrap(&ks, 0, LFS_SLOT_PASSPHRASE, secret, master);
	wrap(&ks, 5, LFS_SLOT_EXTPASS, "other", master);
	lfs_keyslots_encode(&ks, buf);
	assert_memory_equal(buf, "LETHEKS1", 8);

	assert_int_equal(lfs_keyslots_decode(buf, sizeof(buf), &back), 0);
	assert_memory_equal(back.uuid, ks.uuid, LFS_UUID_LEN);
	assert_int_equal(lfs_keyslots_count_used(&back), 2);
	assert_int_equal(back.slot[5].type, LFS_SLOT_EXTPASS);
	assert_int_equal(back.slot[5].opslimit, OPS);
	assert_int_equal(back.slot[5].memlimit, MEM);
	lfs_keyslots_encode(&back, again);
	assert_memory_equal(buf, again, sizeof(buf));
	assert_int_equal(unwrap(&back, 5, "other", out), 0);
	assert_memory_equal(out, master, 32);
}

/* A valid encoded file with one slot used (slot 1), for mutation. */
static void valid_file(uint8_t buf[LFS_KEYSLOTS_FILE_LEN])
{
	struct lfs_keyslots ks;
	uint8_t master[32];
	vault_init(&ks, master);
	wrap(&ks, 1, LFS_SLOT_PASSPHRASE, secret, master);
	lfs_keyslots_encode(&ks, buf);
}

static void expect_decode(const uint8_t *buf, size_t len, int want, const char *what)
{
	struct lfs_keyslots out;
	int r = lfs_keyslots_decode(buf, len, &out);
	if (r != want)
		fail_msg("%s: decode returned %d, expected %d", what, r, want);
}

/* Applies one byte change to a copy of a valid file and expects -EINVAL. */
static void expect_rejected(const uint8_t *good, size_t off, uint8_t val, const char *what)
{
	uint8_t buf[LFS_KEYSLOTS_FILE_LEN];
	memcpy(buf, good, sizeof(buf));
	buf[off] = val;
	expect_decode(buf, sizeof(buf), -EINVAL, what);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void test_decode_lengths(void **state)
{
	(void)state;
	uint8_t buf[LFS_KEYSLOTS_FILE_LEN + 1] = {0};
	valid_file(buf);
	expect_decode(buf, LFS_KEYSLOTS_FILE_LEN, 0, "valid");
	expect_decode(buf, LFS_KEYSLOTS_FILE_LEN - 1, -EINVAL, "one short");
	expect_decode(buf, LFS_KEYSLOTS_FILE_LEN + 1, -EINVAL, "one long");
	expect_decode(buf, 0, -EINVAL, "empty");
	expect_decode(buf, LFS_KEYSLOTS_HDR_LEN, -EINVAL, "header only");
}

static void test_decode_header_fields(void **state)
{
	(void)state;
	uint8_t good[LFS_KEYSLOTS_FILE_LEN];
	valid_file(good);
	expect_rejected(good, 0, 'X', "magic byte 0");
	expect_rejected(good, 7, '2', "magic byte 7");
	expect_rejected(good, 8, 2, "version 2");
	expect_rejected(good, 9, 1, "version high byte");
	expect_rejected(good, 10, LFS_NSLOTS - 1, "slot count");
	for (size_t off = 12; off < 16; off++)
		expect_rejected(good, off, 1, "header reserved byte");
}

static void test_decode_slot_fields(void **state)
{
	(void)state;
	uint8_t good[LFS_KEYSLOTS_FILE_LEN];
	const size_t s = SLOT_OFF(1);
	valid_file(good);
	expect_rejected(good, s + 0, 4, "unknown slot type 4");
	expect_rejected(good, s + 0, 0xff, "unknown slot type 255");
	expect_rejected(good, s + 1, 1, "unknown kdf");
	for (size_t off = 2; off < 8; off++)
		expect_rejected(good, s + off, 1, "slot reserved byte (2..7)");
	for (size_t off = 112; off < LFS_KEYSLOT_LEN; off++)
		expect_rejected(good, s + off, 1, "slot reserved byte (112..127)");
	/* An empty slot must be all zero: no leftovers of a removed key. */
	for (size_t off = 1; off < LFS_KEYSLOT_LEN; off += 9)
		expect_rejected(good, SLOT_OFF(0) + off, 1, "nonzero byte in empty slot");
	expect_rejected(good, SLOT_OFF(7) + LFS_KEYSLOT_LEN - 1, 1, "last byte of last slot");
}

static void expect_params(const uint8_t *good, uint64_t ops, uint64_t mem, int want,
                          const char *what)
{
	uint8_t buf[LFS_KEYSLOTS_FILE_LEN];
	memcpy(buf, good, sizeof(buf));
	put64(buf + SLOT_OFF(1) + 8, ops);
	put64(buf + SLOT_OFF(1) + 16, mem);
	expect_decode(buf, sizeof(buf), want, what);
}

/* A hostile keyslot file must not make unlock burn unbounded memory or
 * time, nor pass values libsodium refuses. */
static void test_decode_kdf_bounds(void **state)
{
	(void)state;
	uint8_t good[LFS_KEYSLOTS_FILE_LEN];
	valid_file(good);
	expect_params(good, OPS, LFS_KDF_MEMLIMIT_MAX, 0, "memlimit at max");
	expect_params(good, OPS, LFS_KDF_MEMLIMIT_MAX + 1, -EINVAL, "memlimit above max");
	expect_params(good, OPS, UINT64_MAX, -EINVAL, "memlimit 2^64-1");
	expect_params(good, OPS, crypto_pwhash_MEMLIMIT_MIN - 1, -EINVAL, "memlimit below min");
	expect_params(good, 0, MEM, -EINVAL, "opslimit 0");
	expect_params(good, (uint64_t)crypto_pwhash_OPSLIMIT_MAX + 1, MEM, -EINVAL,
	              "opslimit above max");
	expect_params(good, UINT64_MAX, MEM, -EINVAL, "opslimit 2^64-1");
}

/* ---- unwrap_any ------------------------------------------------------ */

static void test_unwrap_any(void **state)
{
	(void)state;
	struct lfs_keyslots ks;
	uint8_t master[32], m4[32], m6[32], out[32];
	int which = -1;
	vault_init(&ks, master);
	/* Distinct payloads per slot so the result shows which slot opened. */
	test_fill(m4, sizeof(m4), 0x44);
	test_fill(m6, sizeof(m6), 0x66);
	wrap(&ks, 1, LFS_SLOT_PASSPHRASE, "alpha", master);
	wrap(&ks, 4, LFS_SLOT_PASSPHRASE, "bravo", m4);
	wrap(&ks, 6, LFS_SLOT_KEYFILE, "charlie", m6);

	assert_int_equal(lfs_keyslots_unwrap_any(&ks, "bravo", 5, out, &which), 0);
	assert_int_equal(which, 4);
	assert_memory_equal(out, m4, 32);
	assert_int_equal(lfs_keyslots_unwrap_any(&ks, "charlie", 7, out, &which), 0);
	assert_int_equal(which, 6);
	assert_memory_equal(out, m6, 32);
	assert_int_equal(lfs_keyslots_unwrap_any(&ks, "alpha", 5, out, &which), 0);
	assert_int_equal(which, 1);
	assert_memory_equal(out, master, 32);
	assert_int_equal(lfs_keyslots_unwrap_any(&ks, "delta", 5, out, &which), -EKEYREJECTED);
}

static void test_slot_type_names(void **state)
{
	(void)state;
	assert_string_equal(lfs_slot_type_name(LFS_SLOT_EMPTY), "empty");
	assert_string_equal(lfs_slot_type_name(LFS_SLOT_PASSPHRASE), "passphrase");
	assert_string_equal(lfs_slot_type_name(LFS_SLOT_KEYFILE), "keyfile");
	assert_string_equal(lfs_slot_type_name(LFS_SLOT_EXTPASS), "extpass");
	assert_string_equal(lfs_slot_type_name((enum lfs_slot_type)9), "unknown");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wrap_unwrap),
	    cmocka_unit_test(test_binary_secret),
	    cmocka_unit_test(test_wrong_secret),
	    cmocka_unit_test(test_slot_moved),
	    cmocka_unit_test(test_uuid_changed),
	    cmocka_unit_test(test_slot_edited),
	    cmocka_unit_test(test_unwrap_bad_index_or_empty),
	    cmocka_unit_test(test_wrap_rejects_bad_args),
	    cmocka_unit_test(test_encode_decode_roundtrip),
	    cmocka_unit_test(test_decode_lengths),
	    cmocka_unit_test(test_decode_header_fields),
	    cmocka_unit_test(test_decode_slot_fields),
	    cmocka_unit_test(test_decode_kdf_bounds),
	    cmocka_unit_test(test_unwrap_any),
	    cmocka_unit_test(test_slot_type_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
