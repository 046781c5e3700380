/* SPDX-License-Identifier: Apache-2.0 */
#include "acl.h"
#include "../common/bytes.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

enum {
	TAG_USER_OBJ = 0x01,
	TAG_USER = 0x02,
	TAG_GROUP_OBJ = 0x04,
	TAG_GROUP = 0x08,
	TAG_MASK = 0x10,
	TAG_OTHER = 0x20,
};
#define UNDEFINED_ID 0xFFFFFFFFu

int lfs_acl_type(const char *name)
{
	if (strcmp(name, LFS_ACL_XATTR_ACCESS) == 0)
		return LFS_ACL_ACCESS;
	if (strcmp(name, LFS_ACL_XATTR_DEFAULT) == 0)
		return LFS_ACL_DEFAULT;
	return -1;
}

static uint16_t tag_at(const uint8_t *acl, size_t i)
{
	return get_le16(acl + LFS_ACL_HDR + i * LFS_ACL_ENTRY);
}

static uint16_t perm_at(const uint8_t *acl, size_t i)
{
	return get_le16(acl + LFS_ACL_HDR + i * LFS_ACL_ENTRY + 2);
}

static void set_perm(uint8_t *acl, size_t i, uint16_t perm)
{
	put_le16(acl + LFS_ACL_HDR + i * LFS_ACL_ENTRY + 2, perm);
}

static uint32_t id_at(const uint8_t *acl, size_t i)
{
	return get_le32(acl + LFS_ACL_HDR + i * LFS_ACL_ENTRY + 4);
}

int lfs_acl_check(const uint8_t *acl, size_t len)
{
	if (len < LFS_ACL_HDR || (len - LFS_ACL_HDR) % LFS_ACL_ENTRY != 0 ||
	    get_le32(acl) != LFS_ACL_VERSION)
		return -EINVAL;
	size_t n = (len - LFS_ACL_HDR) / LFS_ACL_ENTRY;
	if (n > LFS_ACL_MAX_ENTRIES)
		return -EINVAL;
	unsigned user_obj = 0, group_obj = 0, other = 0, mask = 0, named = 0;
	for (size_t i = 0; i < n; i++) {
		uint16_t tag = tag_at(acl, i);
		uint32_t id = id_at(acl, i);
		if (perm_at(acl, i) & ~7u)
			return -EINVAL;
		/* In tag order, as the kernel's posix_acl_valid requires (it
		 * does not order named entries by id, nor do we). */
		if (i > 0 && tag < tag_at(acl, i - 1))
			return -EINVAL;
		switch (tag) {
		case TAG_USER_OBJ:
		case TAG_GROUP_OBJ:
		case TAG_MASK:
		case TAG_OTHER:
			if (id != UNDEFINED_ID)
				return -EINVAL;
			user_obj += tag == TAG_USER_OBJ;
			group_obj += tag == TAG_GROUP_OBJ;
			mask += tag == TAG_MASK;
			other += tag == TAG_OTHER;
			break;
		case TAG_USER:
		case TAG_GROUP:
			if (id == UNDEFINED_ID)
				return -EINVAL;
			named++;
			break;
		default:
			return -EINVAL;
		}
	}
	if (n == 0)
		return 0;
	if (user_obj != 1 || group_obj != 1 || other != 1 || mask > 1 || (named && !mask))
		return -EINVAL;
	return (int)n;
}

int lfs_acl_equiv_mode(const uint8_t *acl, size_t len, mode_t *mode)
{
	size_t n = (len - LFS_ACL_HDR) / LFS_ACL_ENTRY;
	mode_t m = 0;
	int not_equiv = 0;
	for (size_t i = 0; i < n; i++) {
		mode_t p = perm_at(acl, i) & 7u;
		switch (tag_at(acl, i)) {
		case TAG_USER_OBJ:
			m |= p << 6;
			break;
		case TAG_GROUP_OBJ:
			m |= p << 3;
			break;
		case TAG_OTHER:
			m |= p;
			break;
		case TAG_MASK: /* after GROUP_OBJ: the mask is what the group bits show */
			m = (m & ~(mode_t)S_IRWXG) | (p << 3);
			not_equiv = 1;
			break;
		default:
			not_equiv = 1;
		}
	}
	*mode = (*mode & ~(mode_t)(S_IRWXU | S_IRWXG | S_IRWXO)) | m;
	return not_equiv;
}

void lfs_acl_chmod(uint8_t *acl, size_t len, mode_t mode)
{
	size_t n = (len - LFS_ACL_HDR) / LFS_ACL_ENTRY;
	bool has_mask = false;
	for (size_t i = 0; i < n; i++)
		has_mask |= tag_at(acl, i) == TAG_MASK;
	for (size_t i = 0; i < n; i++) {
		switch (tag_at(acl, i)) {
		case TAG_USER_OBJ:
			set_perm(acl, i, (mode >> 6) & 7u);
			break;
		case TAG_GROUP_OBJ:
			if (!has_mask)
				set_perm(acl, i, (mode >> 3) & 7u);
			break;
		case TAG_MASK:
			set_perm(acl, i, (mode >> 3) & 7u);
			break;
		case TAG_OTHER:
			set_perm(acl, i, mode & 7u);
			break;
		}
	}
}

int lfs_acl_create_masq(uint8_t *acl, size_t len, mode_t *mode_p)
{
	size_t n = (len - LFS_ACL_HDR) / LFS_ACL_ENTRY;
	mode_t mode = *mode_p;
	int not_equiv = 0;
	size_t group_obj = n, mask = n;
	for (size_t i = 0; i < n; i++) {
		mode_t p = perm_at(acl, i);
		switch (tag_at(acl, i)) {
		case TAG_USER_OBJ:
			p &= (mode >> 6) & 7u;
			set_perm(acl, i, (uint16_t)p);
			mode &= (p << 6) | ~(mode_t)S_IRWXU;
			break;
		case TAG_OTHER:
			p &= mode & 7u;
			set_perm(acl, i, (uint16_t)p);
			mode &= p | ~(mode_t)S_IRWXO;
			break;
		case TAG_GROUP_OBJ:
			group_obj = i;
			break;
		case TAG_MASK:
			mask = i;
			not_equiv = 1;
			break;
		default:
			not_equiv = 1;
		}
	}
	/* The group bits limit the mask when there is one, else the group. */
	size_t g = mask < n ? mask : group_obj;
	if (g < n) {
		mode_t p = perm_at(acl, g) & ((mode >> 3) & 7u);
		set_perm(acl, g, (uint16_t)p);
		mode &= (p << 3) | ~(mode_t)S_IRWXG;
	}
	*mode_p = mode;
	return not_equiv;
}
