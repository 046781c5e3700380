/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the keyring (keymgmt/keyring.c): generating, sealing,
 * locking and unlocking the data keys, and the sealed file's checks.
 * Some tests build sealed files by hand from the documented layout so that
 * multi-epoch rings and authenticated-but-malformed bodies can be tested. */
#include "testutil.h"

#include <errno.h>

#include "../../keymgmt/kdf.h"
#include "../../keymgmt/keyring.h"

#define X LFS_CIPHER_XCHACHA20POLY1305
/* Sealed file of n epochs: header | nonce | body (8 + 40 n) | tag. */
#define FILE_LEN(n) (LFS_KEYRING_HDR_LEN + 24 + 8 + (n) * LFS_KEYRING_ENTRY_LEN + 16)

static uint8_t uuid_a[LFS_UUID_LEN];

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A generated, sealed ring: returns the file and the master key. */
struct sealed {
	uint8_t file[LFS_KEYRING_MAX_FILE_LEN];
	size_t len;
	uint8_t master[LFS_MASTER_KEY_LEN];
	struct lfs_epoch_keys keys; /* epoch 1 as generated */
};

static void make_sealed(struct sealed *s)
{
	struct lfs_keyring kr;
	const struct lfs_epoch_keys *k;
	lfs_keyring_init(&kr, uuid_a, X);
	assert_int_equal(lfs_keyring_generate(&kr, 2), 0);
	assert_int_equal(lfs_keyring_get(&kr, 0, &k), 0);
	s->keys = *k;
	lfs_keyring_put(&kr);
	assert_int_equal(lfs_keyring_seal(&kr, s->file, &s->len), 0);
	assert_int_equal(lfs_keyring_copy_master(&kr, s->master), 0);
	lfs_keyring_destroy(&kr);
}

/* Whether the ring's rwlock is free: an error path that returned with the
 * read lock held would make this fail (and later deadlock a writer). */
static bool lock_is_free(struct lfs_keyring *kr)
{
	if (pthread_rwlock_trywrlock(&kr->lock) != 0)
		return false;
	pthread_rwlock_unlock(&kr->lock);
	return true;
}

static void assert_locked(struct lfs_keyring *kr)
{
	const struct lfs_epoch_keys *k;
	assert_int_equal(lfs_keyring_get(kr, 0, &k), -EACCES);
	assert_true(lock_is_free(kr));
}

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

/* ---- hand-built files ------------------------------------------------ */

struct entry {
	uint32_t epoch;
	uint32_t flags; /* LFS_EPOCH_*; was reserved before format 2 */
	uint8_t key[32];
};

/* Seals a body in the documented layout under master: lets the tests
 * reach decode_body with contents generate() never produces. */
static size_t craft(const uint8_t master[32], uint8_t cipher, uint32_t current,
		    const struct entry *e, unsigned n, uint8_t *out)
{
	uint8_t body[8 + LFS_KEYRING_MAX_ENTRIES * LFS_KEYRING_ENTRY_LEN] = {0}, wrap[32];
	size_t body_len = 8 + (size_t)n * LFS_KEYRING_ENTRY_LEN;
	body[0] = cipher;
	put32(body + 4, current);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = body + 8 + (size_t)i * LFS_KEYRING_ENTRY_LEN;
		put32(p, e[i].epoch);
		put32(p + 4, e[i].flags);
		memcpy(p + 8, e[i].key, 32);
	}
	memset(out, 0, LFS_KEYRING_HDR_LEN);
	memcpy(out, "LETHEKR1", 8);
	out[8] = 1;
	put32(out + 12, n);
	memcpy(out + 16, uuid_a, LFS_UUID_LEN);
	randombytes_buf(out + LFS_KEYRING_HDR_LEN, 24);
	lfs_kdf_derive(wrap, master, 1, LFS_KDF_CTX_KEYRING);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + LFS_KEYRING_HDR_LEN + 24, NULL, body,
						   body_len, out, LFS_KEYRING_HDR_LEN, NULL,
						   out + LFS_KEYRING_HDR_LEN, wrap);
	return FILE_LEN(n);
}

static void three_epochs(struct entry e[3])
{
	static const uint32_t ids[3] = {1, 5, 9};
	memset(e, 0, 3 * sizeof(*e));
	for (int i = 0; i < 3; i++) {
		e[i].epoch = ids[i];
		test_fill(e[i].key, 32, (uint8_t)(0x10 * (i + 1)));
	}
}

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
	assert_int_equal(peek_with(s.file, 12, LFS_KEYRING_MAX_ENTRIES,
				   FILE_LEN(LFS_KEYRING_MAX_ENTRIES)),
			 0);
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
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_epoch_key_derivation),
		cmocka_unit_test(test_seal_lock_unlock),
		cmocka_unit_test(test_unlock_rejected),
		cmocka_unit_test(test_get_errors),
		cmocka_unit_test(test_flipped_byte_rejected),
		cmocka_unit_test(test_truncated_rejected),
		cmocka_unit_test(test_multi_epoch),
		cmocka_unit_test(test_bad_bodies),
		cmocka_unit_test(test_format_flags),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_peek_bounds),
		cmocka_unit_test(test_add_drop_epoch),
		cmocka_unit_test(test_set_master),
		cmocka_unit_test(test_audit_key),
		cmocka_unit_test(test_audit_key_crafted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
