/* SPDX-License-Identifier: Apache-2.0 */
/* The AEAD used for file contents, chosen per vault. Both choices take a
 * 256-bit key and produce a 128-bit tag; they differ in nonce size, which
 * is why the block layout asks this unit for its overhead. */
#ifndef LETHEFS_CIPHER_H
#define LETHEFS_CIPHER_H

#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

enum lfs_cipher_id {
	LFS_CIPHER_XCHACHA20POLY1305 = 1,
	LFS_CIPHER_AES256GCM = 2,
};

#define LFS_AEAD_KEY_LEN   32
#define LFS_AEAD_TAG_LEN   16
#define LFS_AEAD_NONCE_MAX 24

/* A ready-to-use content key. For AES-GCM the expanded key schedule is
 * kept so that each block does not pay for key expansion again. */
struct lfs_aead_key {
	enum lfs_cipher_id cipher;
	uint8_t key[LFS_AEAD_KEY_LEN];
	crypto_aead_aes256gcm_state gcm __attribute__((aligned(16)));
};

const char *lfs_cipher_name(enum lfs_cipher_id id);
/* Returns 0 and the id, or -1 for an unknown name. */
int lfs_cipher_from_name(const char *name, enum lfs_cipher_id *id);
/* Whether this CPU can run it (AES-GCM needs AES-NI and PCLMUL). */
int lfs_cipher_available(enum lfs_cipher_id id);
size_t lfs_cipher_nonce_len(enum lfs_cipher_id id);

/* Returns 0, or -1 when the cipher cannot run on this CPU (AES-GCM without
 * AES-NI): the key is then unusable and every seal fails. */
int lfs_aead_key_init(struct lfs_aead_key *k, enum lfs_cipher_id cipher, const uint8_t key[32]);
void lfs_aead_key_wipe(struct lfs_aead_key *k);

/* out receives ciphertext||tag (mlen + 16 bytes). Returns 0, or -1 (out
 * wiped) when sealing failed: nothing of out may be written anywhere. */
int lfs_aead_seal(const struct lfs_aead_key *k, uint8_t *out, const uint8_t *m, size_t mlen,
                  const uint8_t *ad, size_t adlen, const uint8_t *nonce);
/* Returns 0, or -1 when the tag does not verify (out is then wiped). */
int lfs_aead_open(const struct lfs_aead_key *k, uint8_t *out, const uint8_t *c, size_t clen,
                  const uint8_t *ad, size_t adlen, const uint8_t *nonce);

#endif
