/* SPDX-License-Identifier: Apache-2.0 */
/* Inode attributes (iattr.h). */
#include "iattr.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#define NONCE_OFF LFS_IATTR_AD_LEN
#define CT_OFF    (LFS_IATTR_AD_LEN + 24u)

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int lfs_iattr_fits(const struct lfs_irec *r)
{
	static const uint8_t zero[16];
	return r->type == LFS_IREC_REG && (r->mode & ~07777u) == 0 && r->flags == 0 &&
	       r->rdev_major == 0 && r->rdev_minor == 0 && r->version == 0 &&
	       memcmp(r->parent, zero, 16) == 0 && memcmp(r->acl, zero, 16) == 0;
}

int lfs_iattr_seal(const uint8_t key[32], uint32_t epoch, const uint8_t bind[LFS_IATTR_BIND_LEN],
                   const struct lfs_irec *r, uint8_t out[LFS_IATTR_LEN])
{
	if (!lfs_iattr_fits(r) || epoch == 0)
		return -EINVAL;
	uint8_t plain[LFS_IATTR_PLAIN];
	plain[0] = r->type;
	plain[1] = (uint8_t)r->mode;
	plain[2] = (uint8_t)(r->mode >> 8);
	put_le32(plain + 3, r->uid);
	put_le32(plain + 7, r->gid);
	out[0] = LFS_IATTR_VERSION;
	put_le32(out + 1, epoch);
	memcpy(out + 5, bind, LFS_IATTR_BIND_LEN);
	randombytes_buf(out + NONCE_OFF, 24);
	int e = crypto_aead_xchacha20poly1305_ietf_encrypt(out + CT_OFF, NULL, plain, sizeof(plain),
	                                                   out, LFS_IATTR_AD_LEN, NULL,
	                                                   out + NONCE_OFF, key);
	sodium_memzero(plain, sizeof(plain));
	return e == 0 ? 0 : -EIO;
}

int lfs_iattr_epoch(const uint8_t *in, size_t len, uint32_t *epoch)
{
	if (len != LFS_IATTR_LEN || in[0] != LFS_IATTR_VERSION)
		return -EINVAL;
	*epoch = get_le32(in + 1);
	return *epoch ? 0 : -EINVAL;
}

int lfs_iattr_open(const uint8_t key[32], const uint8_t *in, size_t len, struct lfs_irec *r,
                   uint8_t bind[LFS_IATTR_BIND_LEN])
{
	uint32_t epoch;
	if (lfs_iattr_epoch(in, len, &epoch) < 0)
		return -EINVAL;
	uint8_t plain[LFS_IATTR_PLAIN];
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, in + CT_OFF,
	                                               LFS_IATTR_PLAIN + 16u, in, LFS_IATTR_AD_LEN,
	                                               in + NONCE_OFF, key) != 0)
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->type = plain[0];
	r->mode = (uint16_t)(plain[1] | plain[2] << 8);
	r->uid = get_le32(plain + 3);
	r->gid = get_le32(plain + 7);
	sodium_memzero(plain, sizeof(plain));
	if (!lfs_iattr_fits(r))
		return -EINVAL;
	memcpy(bind, in + 5, LFS_IATTR_BIND_LEN);
	return 0;
}
