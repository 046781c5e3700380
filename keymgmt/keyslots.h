/* SPDX-License-Identifier: Apache-2.0 */
/* The keyslot file (VAULT/lethefs.keyslots): the master key wrapped once
 * per slot. Fixed layout so that decoding is a few exact-length checks;
 * see docs/FORMAT.md for the byte map. */
#ifndef LETHEFS_KEYSLOTS_H
#define LETHEFS_KEYSLOTS_H

#include <stddef.h>
#include <stdint.h>

#define LFS_NSLOTS             8
#define LFS_KEYSLOTS_HDR_LEN   32
#define LFS_KEYSLOT_LEN        128
#define LFS_KEYSLOTS_FILE_LEN  (LFS_KEYSLOTS_HDR_LEN + LFS_NSLOTS * LFS_KEYSLOT_LEN)
#define LFS_KEYSLOTS_FILE_NAME "lethefs.keyslots"
#define LFS_MASTER_KEY_LEN     32
#define LFS_UUID_LEN           16

enum lfs_slot_type {
	LFS_SLOT_EMPTY = 0,
	LFS_SLOT_PASSPHRASE = 1, /* Argon2id over a typed or piped passphrase */
	LFS_SLOT_KEYFILE = 2,    /* Argon2id (cheap parameters allowed) over a key file */
	LFS_SLOT_EXTPASS = 3,    /* Argon2id over an external program's output */
};

#define LFS_KDF_ARGON2ID13 2

struct lfs_keyslot {
	uint8_t type;
	uint8_t kdf_alg;
	uint64_t opslimit;
	uint64_t memlimit;
	uint8_t salt[16];
	uint8_t nonce[24];
	uint8_t wrapped[LFS_MASTER_KEY_LEN + 16];
};

struct lfs_keyslots {
	uint8_t uuid[LFS_UUID_LEN];
	struct lfs_keyslot slot[LFS_NSLOTS];
};

/* Strict decoding: exact length, magic, version, reserved bytes zero, known
 * types, KDF parameters inside libsodium's bounds. -EINVAL otherwise. */
int lfs_keyslots_decode(const uint8_t *buf, size_t len, struct lfs_keyslots *out);
void lfs_keyslots_encode(const struct lfs_keyslots *ks, uint8_t out[LFS_KEYSLOTS_FILE_LEN]);

/* Largest Argon2id memory a slot may ask for: a hostile file must not make
 * the unlock allocate unbounded memory. */
#define LFS_KDF_MEMLIMIT_MAX (4ULL << 30)

/* Fills slot idx: fresh salt and nonce, wraps master under the secret.
 * Returns 0, -ENOMEM (Argon2id could not allocate), -ERANGE (parameters
 * that could not be opened, kdf_bounds.h) or -EINVAL. */
int lfs_keyslot_wrap(struct lfs_keyslots *ks, int idx, enum lfs_slot_type type, const void *secret,
                     size_t secret_len, uint64_t opslimit, uint64_t memlimit,
                     const uint8_t master[LFS_MASTER_KEY_LEN]);
/* Returns 0 with master filled, -EKEYREJECTED when the secret does not open
 * this slot (or the slot was moved, copied or edited), -ENOENT for an empty
 * slot, -ERANGE (without running Argon2id) when its parameters are out of
 * the bounds of kdf_bounds.h, -ENOMEM. */
int lfs_keyslot_unwrap(const struct lfs_keyslots *ks, int idx, const void *secret,
                       size_t secret_len, uint8_t master[LFS_MASTER_KEY_LEN]);
/* Tries every used slot in order; on success *which is the slot index.
 * Slots out of bounds are skipped with a warning; -ERANGE when every used
 * slot was. */
int lfs_keyslots_unwrap_any(const struct lfs_keyslots *ks, const void *secret, size_t secret_len,
                            uint8_t master[LFS_MASTER_KEY_LEN], int *which);
int lfs_keyslots_count_used(const struct lfs_keyslots *ks);
const char *lfs_slot_type_name(enum lfs_slot_type t);

#endif
