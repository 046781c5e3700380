/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the keyring's unit tests (test_keyring_*.c): a generated,
 * sealed ring (make_sealed), the check that a ring is locked with its
 * rwlock free, and sealed files built by hand from the documented layout
 * (craft), so that multi-epoch rings and authenticated-but-malformed
 * bodies can be tested. Header-only, like testutil.h. */
#ifndef LETHEFS_KEYRINGRIG_H
#define LETHEFS_KEYRINGRIG_H

#include "testutil.h"

#include <errno.h>

#include "../../keymgmt/kdf.h"
#include "../../keymgmt/keyring.h"

#define X LFS_CIPHER_XCHACHA20POLY1305
/* Sealed file of n epochs: header | nonce | body (8 + 40 n) | tag. */
#define FILE_LEN(n) (LFS_KEYRING_HDR_LEN + 24 + 8 + (n)*LFS_KEYRING_ENTRY_LEN + 16)

static uint8_t uuid_a[LFS_UUID_LEN];

static inline void put32(uint8_t *p, uint32_t v)
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

static inline void make_sealed(struct sealed *s)
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
static inline bool lock_is_free(struct lfs_keyring *kr)
{
	if (pthread_rwlock_trywrlock(&kr->lock) != 0)
		return false;
	pthread_rwlock_unlock(&kr->lock);
	return true;
}

static inline void assert_locked(struct lfs_keyring *kr)
{
	const struct lfs_epoch_keys *k;
	assert_int_equal(lfs_keyring_get(kr, 0, &k), -EACCES);
	assert_true(lock_is_free(kr));
}
struct entry {
	uint32_t epoch;
	uint32_t flags; /* LFS_EPOCH_*; was reserved before format 2 */
	uint8_t key[32];
};

/* Seals a body in the documented layout under master: lets the tests
 * reach decode_body with contents generate() never produces. */
static inline size_t craft(const uint8_t master[32], uint8_t cipher, uint32_t current,
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

static inline void three_epochs(struct entry e[3])
{
	static const uint32_t ids[3] = {1, 5, 9};
	memset(e, 0, 3 * sizeof(*e));
	for (int i = 0; i < 3; i++) {
		e[i].epoch = ids[i];
		test_fill(e[i].key, 32, (uint8_t)(0x10 * (i + 1)));
	}
}

#endif
