/* SPDX-License-Identifier: Apache-2.0 */
#include "cipher.h"

#include <string.h>

const char *lfs_cipher_name(enum lfs_cipher_id id)
{
	switch (id) {
	case LFS_CIPHER_XCHACHA20POLY1305:
		return "xchacha20poly1305";
	case LFS_CIPHER_AES256GCM:
		return "aes256gcm";
	}
	return "unknown";
}

int lfs_cipher_from_name(const char *name, enum lfs_cipher_id *id)
{
	if (strcmp(name, "xchacha20poly1305") == 0)
		*id = LFS_CIPHER_XCHACHA20POLY1305;
	else if (strcmp(name, "aes256gcm") == 0)
		*id = LFS_CIPHER_AES256GCM;
	else
		return -1;
	return 0;
}

int lfs_cipher_available(enum lfs_cipher_id id)
{
	if (id == LFS_CIPHER_XCHACHA20POLY1305)
		return 1;
	if (id == LFS_CIPHER_AES256GCM)
		return crypto_aead_aes256gcm_is_available();
	return 0;
}

size_t lfs_cipher_nonce_len(enum lfs_cipher_id id)
{
	return id == LFS_CIPHER_AES256GCM ? crypto_aead_aes256gcm_NPUBBYTES
	                                  : crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
}

int lfs_aead_key_init(struct lfs_aead_key *k, enum lfs_cipher_id cipher, const uint8_t key[32])
{
	k->cipher = cipher;
	memcpy(k->key, key, LFS_AEAD_KEY_LEN);
	if (cipher == LFS_CIPHER_AES256GCM && (!crypto_aead_aes256gcm_is_available() ||
	                                       crypto_aead_aes256gcm_beforenm(&k->gcm, key) != 0)) {
		sodium_memzero(k, sizeof(*k));
		k->cipher = cipher;
		return -1;
	}
	return 0;
}

void lfs_aead_key_wipe(struct lfs_aead_key *k)
{
	sodium_memzero(k, sizeof(*k));
}

int lfs_aead_seal(const struct lfs_aead_key *k, uint8_t *out, const uint8_t *m, size_t mlen,
                  const uint8_t *ad, size_t adlen, const uint8_t *nonce)
{
	int r;
	if (k->cipher == LFS_CIPHER_AES256GCM)
		r = crypto_aead_aes256gcm_is_available()
		        ? crypto_aead_aes256gcm_encrypt_afternm(out, NULL, m, mlen, ad, adlen, NULL,
		                                                nonce, &k->gcm)
		        : -1;
	else
		r = crypto_aead_xchacha20poly1305_ietf_encrypt(out, NULL, m, mlen, ad, adlen, NULL,
		                                               nonce, k->key);
	/* Whatever a failed call left in out (the plaintext, in some
	 * versions) must not reach the disk. */
	if (r != 0)
		sodium_memzero(out, mlen + LFS_AEAD_TAG_LEN);
	return r == 0 ? 0 : -1;
}

int lfs_aead_open(const struct lfs_aead_key *k, uint8_t *out, const uint8_t *c, size_t clen,
                  const uint8_t *ad, size_t adlen, const uint8_t *nonce)
{
	int r;
	if (clen < LFS_AEAD_TAG_LEN)
		return -1;
	if (k->cipher == LFS_CIPHER_AES256GCM)
		r = crypto_aead_aes256gcm_decrypt_afternm(out, NULL, NULL, c, clen, ad, adlen,
		                                          nonce, &k->gcm);
	else
		r = crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, c, clen, ad, adlen,
		                                               nonce, k->key);
	if (r != 0) {
		sodium_memzero(out, clen - LFS_AEAD_TAG_LEN);
		return -1;
	}
	return 0;
}
