/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the POSIX ACL reader (fs/acl.c): an ACL value decrypted from the
 * vault is authenticated, but a value that breaks the ACL rules must be
 * refused, never half-interpreted. An accepted ACL keeps its size through
 * chmod and inheritance, keeps only permission bits 0-7, and implies a
 * mode without set-ID or type bits of its own. */
#include "fuzz_common.h"

#include <errno.h>
#include <sys/stat.h>

#include "../../common/bytes.h"
#include "../../fs/acl.h"

FZ_DEFINE_INIT

static void perms_ok(const uint8_t *acl, size_t len)
{
	for (size_t o = LFS_ACL_HDR; o < len; o += LFS_ACL_ENTRY)
		FZ_CHECK(get_le16(acl + o + 2) <= 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int n = lfs_acl_check(data, size);
	FZ_CHECK(n >= 0 || n == -EINVAL);
	if (n <= 0)
		return 0;
	FZ_CHECK(size == LFS_ACL_HDR + (size_t)n * LFS_ACL_ENTRY);
	uint8_t *acl = malloc(size);
	FZ_CHECK(acl != NULL);
	mode_t mode = S_IFREG | S_ISUID | 07777;
	lfs_acl_equiv_mode(data, size, &mode);
	FZ_CHECK((mode & ~(mode_t)0777) == (S_IFREG | S_ISUID | 07000));
	memcpy(acl, data, size);
	lfs_acl_chmod(acl, size, (mode_t)(size & 0777));
	FZ_CHECK(lfs_acl_check(acl, size) == n);
	perms_ok(acl, size);
	memcpy(acl, data, size);
	mode = S_IFDIR | 0777;
	lfs_acl_create_masq(acl, size, &mode);
	FZ_CHECK(lfs_acl_check(acl, size) == n);
	FZ_CHECK((mode & ~(mode_t)0777) == S_IFDIR);
	perms_ok(acl, size);
	free(acl);
	return 0;
}
