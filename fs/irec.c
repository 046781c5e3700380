/* SPDX-License-Identifier: Apache-2.0 */
#include "irec.h"
#include "../common/bytes.h"

#include <errno.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sodium.h>

void lfs_irec_encode(const struct lfs_irec *r, uint8_t out[LFS_IREC_LEN])
{
	memset(out, 0, LFS_IREC_LEN);
	out[0] = r->type;
	put_le16(out + 2, r->mode);
	put_le32(out + 4, r->uid);
	put_le32(out + 8, r->gid);
	put_le32(out + 12, r->flags);
	put_le32(out + 16, r->rdev_major);
	put_le32(out + 20, r->rdev_minor);
	put_le64(out + 24, r->version);
	memcpy(out + 32, r->parent, 16);
	memcpy(out + 48, r->acl, 16);
}

static bool is_device(uint8_t type)
{
	return type == LFS_IREC_CHR || type == LFS_IREC_BLK;
}

int lfs_irec_decode(const uint8_t *in, size_t len, struct lfs_irec *r)
{
	if (len != LFS_IREC_LEN)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->type = in[0];
	r->mode = get_le16(in + 2);
	r->uid = get_le32(in + 4);
	r->gid = get_le32(in + 8);
	r->flags = get_le32(in + 12);
	r->rdev_major = get_le32(in + 16);
	r->rdev_minor = get_le32(in + 20);
	r->version = get_le64(in + 24);
	memcpy(r->parent, in + 32, 16);
	memcpy(r->acl, in + 48, 16);
	if (r->type < LFS_IREC_REG || r->type > LFS_IREC_BLK || in[1] != 0 ||
	    (r->mode & ~07777u) != 0 || r->flags != 0 || !sodium_is_zero(in + 64, 16))
		return -EINVAL;
	if (!is_device(r->type) && (r->rdev_major || r->rdev_minor))
		return -EINVAL;
	return 0;
}

int lfs_irec_seal(const uint8_t key[32], const uint8_t ad[LFS_IREC_AD_LEN],
                  const struct lfs_irec *r, uint8_t out[LFS_IREC_SEALED_LEN])
{
	uint8_t plain[LFS_IREC_LEN];
	struct lfs_irec check;
	lfs_irec_encode(r, plain);
	if (lfs_irec_decode(plain, sizeof(plain), &check) < 0)
		return -EINVAL;
	randombytes_buf(out, LFS_IREC_NONCE_LEN);
	int e = crypto_aead_xchacha20poly1305_ietf_encrypt(out + LFS_IREC_NONCE_LEN, NULL, plain,
	                                                   sizeof(plain), ad, LFS_IREC_AD_LEN, NULL,
	                                                   out, key);
	sodium_memzero(plain, sizeof(plain));
	return e == 0 ? 0 : -EIO;
}

int lfs_irec_open(const uint8_t key[32], const uint8_t ad[LFS_IREC_AD_LEN],
                  const uint8_t in[LFS_IREC_SEALED_LEN], struct lfs_irec *r)
{
	uint8_t plain[LFS_IREC_LEN];
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, in + LFS_IREC_NONCE_LEN,
	                                               LFS_IREC_LEN + LFS_IREC_TAG_LEN, ad,
	                                               LFS_IREC_AD_LEN, in, key) != 0)
		return -EBADMSG;
	int e = lfs_irec_decode(plain, sizeof(plain), r);
	sodium_memzero(plain, sizeof(plain));
	return e;
}

mode_t lfs_irec_ifmt(uint8_t type)
{
	switch (type) {
	case LFS_IREC_REG:
		return S_IFREG;
	case LFS_IREC_DIR:
		return S_IFDIR;
	case LFS_IREC_LNK:
		return S_IFLNK;
	case LFS_IREC_FIFO:
		return S_IFIFO;
	case LFS_IREC_SOCK:
		return S_IFSOCK;
	case LFS_IREC_CHR:
		return S_IFCHR;
	case LFS_IREC_BLK:
		return S_IFBLK;
	default:
		return 0;
	}
}

uint8_t lfs_irec_type_of(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return LFS_IREC_REG;
	case S_IFDIR:
		return LFS_IREC_DIR;
	case S_IFLNK:
		return LFS_IREC_LNK;
	case S_IFIFO:
		return LFS_IREC_FIFO;
	case S_IFSOCK:
		return LFS_IREC_SOCK;
	case S_IFCHR:
		return LFS_IREC_CHR;
	case S_IFBLK:
		return LFS_IREC_BLK;
	default:
		return 0;
	}
}

int lfs_irec_make(struct lfs_irec *r, mode_t mode, uid_t uid, gid_t gid, dev_t rdev)
{
	memset(r, 0, sizeof(*r));
	r->type = lfs_irec_type_of(mode);
	if (!r->type || (mode & ~(mode_t)(S_IFMT | 07777)) != 0)
		return -EINVAL;
	r->mode = (uint16_t)(mode & 07777);
	r->uid = (uint32_t)uid;
	r->gid = (uint32_t)gid;
	if (is_device(r->type)) {
		r->rdev_major = major(rdev);
		r->rdev_minor = minor(rdev);
	}
	return 0;
}

void lfs_irec_to_stat(const struct lfs_irec *r, struct stat *st)
{
	st->st_mode = lfs_irec_ifmt(r->type) | r->mode;
	st->st_uid = r->uid;
	st->st_gid = r->gid;
	st->st_rdev = is_device(r->type) ? makedev(r->rdev_major, r->rdev_minor) : 0;
}
