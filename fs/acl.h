/* SPDX-License-Identifier: Apache-2.0 */
/* POSIX ACLs in the kernel's extended-attribute form (what FUSE passes
 * for system.posix_acl_access and system.posix_acl_default): a u32
 * version 2, then entries of u16 tag, u16 perm, u32 id, little-endian,
 * in tag order. These functions implement what a local
 * filesystem does with them (fs/posix_acl.c in Linux): the mode an ACL
 * implies, chmod of an ACL, and the ACLs of a new object from its
 * parent's default ACL. Pure functions; no FUSE, no I/O. */
#ifndef LETHEFS_ACL_H
#define LETHEFS_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LFS_ACL_XATTR_ACCESS  "system.posix_acl_access"
#define LFS_ACL_XATTR_DEFAULT "system.posix_acl_default"
#define LFS_ACL_VERSION       2
#define LFS_ACL_HDR           4
#define LFS_ACL_ENTRY         8
#define LFS_ACL_MAX_ENTRIES   8191 /* what fits in a 64 KiB xattr */

enum { LFS_ACL_ACCESS = 0, LFS_ACL_DEFAULT = 1 };

/* Which ACL an xattr name is, or -1 for any other name. */
int lfs_acl_type(const char *xattr_name);

/* Checks an ACL value: version, size, known tags, permissions, tag order,
 * exactly one USER_OBJ/GROUP_OBJ/OTHER, a MASK whenever there are named
 * entries, at most one MASK. An empty value (header only) is valid and
 * means "no ACL". Returns the entry count or -EINVAL. */
int lfs_acl_check(const uint8_t *acl, size_t len);
/* The permission bits an ACL implies, into *mode (rwx bits replaced,
 * others kept). Returns 0 when the ACL says nothing the mode cannot (it
 * need not be stored), 1 otherwise. acl must have passed lfs_acl_check. */
int lfs_acl_equiv_mode(const uint8_t *acl, size_t len, mode_t *mode);
/* chmod of an access ACL: owner, mask (or group) and other entries take
 * the new mode's bits. In place. */
void lfs_acl_chmod(uint8_t *acl, size_t len, mode_t mode);
/* The access ACL of a new object from a copy of its parent's default ACL,
 * in place, and the new object's mode (*mode, the mode asked for, is
 * reduced). Returns 0 when the result need not be stored, 1 otherwise. */
int lfs_acl_create_masq(uint8_t *acl, size_t len, mode_t *mode);

#endif
