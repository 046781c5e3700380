/* SPDX-License-Identifier: Apache-2.0 */
/* POSIX ACL values (fs/acl.c) against what Linux does on ext4: the mode
 * an ACL implies, chmod of an ACL, inheritance from a default ACL, and the
 * structural checks on values read back from the vault. */
#include "testutil.h"
#include "../../fs/acl.h"
#include "../../fs/names.h"
#include "../../common/bytes.h"

#include <errno.h>
#include <sys/stat.h>

#define U_OBJ 0x01
#define U     0x02
#define G_OBJ 0x04
#define G     0x08
#define MASK  0x10
#define OTHER 0x20
#define NOID  0xFFFFFFFFu

struct ent {
	uint16_t tag, perm;
	uint32_t id;
};

static size_t build(uint8_t *out, const struct ent *e, size_t n)
{
	put_le32(out, 2);
	for (size_t i = 0; i < n; i++) {
		put_le16(out + 4 + 8 * i, e[i].tag);
		put_le16(out + 6 + 8 * i, e[i].perm);
		put_le32(out + 8 + 8 * i, e[i].id);
	}
	return 4 + 8 * n;
}

static uint16_t perm_of(const uint8_t *acl, size_t len, uint16_t tag)
{
	for (size_t o = 4; o < len; o += 8)
		if (get_le16(acl + o) == tag)
			return get_le16(acl + o + 2);
	fail_msg("no entry with tag %#x", tag);
	return 0;
}

static void test_check(void **state)
{
	(void)state;
	uint8_t b[128];
	const struct ent minimal[] = {{U_OBJ, 6, NOID}, {G_OBJ, 4, NOID}, {OTHER, 4, NOID}};
	assert_int_equal(lfs_acl_check(b, build(b, minimal, 3)), 3);
	/* Named entries in any id order (as the kernel accepts them). */
	const struct ent named[] = {{U_OBJ, 7, NOID}, {U, 5, 1004},    {U, 6, 0},
	                            {G_OBJ, 5, NOID}, {MASK, 7, NOID}, {OTHER, 0, NOID}};
	assert_int_equal(lfs_acl_check(b, build(b, named, 6)), 6);
	assert_int_equal(lfs_acl_check(b, 4), 0); /* header only: no ACL */
	const struct ent no_mask[] = {
	    {U_OBJ, 7, NOID}, {U, 5, 1000}, {G_OBJ, 5, NOID}, {OTHER, 0, NOID}};
	assert_int_equal(lfs_acl_check(b, build(b, no_mask, 4)), -EINVAL);
	const struct ent order[] = {{G_OBJ, 5, NOID}, {U_OBJ, 7, NOID}, {OTHER, 0, NOID}};
	assert_int_equal(lfs_acl_check(b, build(b, order, 3)), -EINVAL);
	const struct ent perm[] = {{U_OBJ, 8, NOID}, {G_OBJ, 5, NOID}, {OTHER, 0, NOID}};
	assert_int_equal(lfs_acl_check(b, build(b, perm, 3)), -EINVAL);
	const struct ent named_noid[] = {
	    {U_OBJ, 7, NOID}, {U, 5, NOID}, {G_OBJ, 5, NOID}, {MASK, 7, NOID}, {OTHER, 0, NOID}};
	assert_int_equal(lfs_acl_check(b, build(b, named_noid, 5)), -EINVAL);
	size_t len = build(b, minimal, 3);
	assert_int_equal(lfs_acl_check(b, len - 1), -EINVAL); /* cut */
	put_le32(b, 1);
	assert_int_equal(lfs_acl_check(b, len), -EINVAL); /* version */
}

/* setfacl -m u:1000:rw on a 0640 file: mode 0660 (mask rw), stored. */
static void test_equiv_mode(void **state)
{
	(void)state;
	uint8_t b[128];
	const struct ent minimal[] = {{U_OBJ, 7, NOID}, {G_OBJ, 5, NOID}, {OTHER, 1, NOID}};
	mode_t mode = S_IFREG | S_ISGID | 0600;
	assert_int_equal(lfs_acl_equiv_mode(b, build(b, minimal, 3), &mode), 0);
	assert_int_equal(mode, S_IFREG | S_ISGID | 0751);
	const struct ent named[] = {
	    {U_OBJ, 6, NOID}, {U, 6, 1000}, {G_OBJ, 4, NOID}, {MASK, 6, NOID}, {OTHER, 0, NOID}};
	mode = S_IFREG | 0640;
	assert_int_equal(lfs_acl_equiv_mode(b, build(b, named, 5), &mode), 1);
	assert_int_equal(mode, S_IFREG | 0660);
}

/* chmod 0604 with a mask: the mask (not the owning group's entry) takes
 * the group bits, here ---. */
static void test_chmod(void **state)
{
	(void)state;
	uint8_t b[128];
	const struct ent named[] = {
	    {U_OBJ, 7, NOID}, {U, 7, 1000}, {G_OBJ, 5, NOID}, {MASK, 7, NOID}, {OTHER, 5, NOID}};
	size_t len = build(b, named, 5);
	lfs_acl_chmod(b, len, 0604);
	assert_int_equal(perm_of(b, len, U_OBJ), 6);
	assert_int_equal(perm_of(b, len, MASK), 0);
	assert_int_equal(perm_of(b, len, G_OBJ), 5); /* untouched */
	assert_int_equal(perm_of(b, len, U), 7);     /* untouched */
	assert_int_equal(perm_of(b, len, OTHER), 4);
	const struct ent minimal[] = {{U_OBJ, 7, NOID}, {G_OBJ, 7, NOID}, {OTHER, 7, NOID}};
	len = build(b, minimal, 3);
	lfs_acl_chmod(b, len, 0750);
	assert_int_equal(perm_of(b, len, G_OBJ), 5);
	assert_int_equal(perm_of(b, len, OTHER), 0);
}

/* Default u::rwx,g::r-x,g:2000:rwx,m::rwx,o::--- ; creat(0666) gives mode
 * 0660 and an access ACL with mask rw- (as ext4). */
static void test_create_masq(void **state)
{
	(void)state;
	uint8_t b[128];
	const struct ent def[] = {
	    {U_OBJ, 7, NOID}, {G_OBJ, 5, NOID}, {G, 7, 2000}, {MASK, 7, NOID}, {OTHER, 0, NOID}};
	size_t len = build(b, def, 5);
	mode_t mode = S_IFREG | 0666;
	assert_int_equal(lfs_acl_create_masq(b, len, &mode), 1);
	assert_int_equal(mode, S_IFREG | 0660);
	assert_int_equal(perm_of(b, len, U_OBJ), 6);
	assert_int_equal(perm_of(b, len, MASK), 6);
	assert_int_equal(perm_of(b, len, G_OBJ), 5); /* not limited: there is a mask */
	assert_int_equal(perm_of(b, len, OTHER), 0);
	const struct ent minimal[] = {{U_OBJ, 7, NOID}, {G_OBJ, 5, NOID}, {OTHER, 5, NOID}};
	len = build(b, minimal, 3);
	mode = S_IFDIR | 0777;
	assert_int_equal(lfs_acl_create_masq(b, len, &mode), 0);
	assert_int_equal(mode, S_IFDIR | 0755);
}

/* ACL attributes share the encrypted name space under a NUL-led name
 * that no user.* name can have. */
static void test_reserved_names(void **state)
{
	(void)state;
	uint8_t mac[32], enc_key[32];
	test_fill(mac, 32, 1);
	test_fill(enc_key, 32, 2);
	char enc[LFS_ENCNAME_MAX], out[LFS_NAME_MAX + 1];
	size_t n;
	const char acl[] = "\0system.posix_acl_access";
	assert_int_equal(lfs_xattr_name_encrypt(mac, enc_key, acl, sizeof(acl) - 1, enc), 0);
	assert_int_equal(lfs_xattr_name_decrypt(mac, enc_key, enc, strlen(enc), out, &n), 0);
	const char *full = NULL;
	assert_true(lfs_xattr_name_reserved(out, n, &full));
	assert_string_equal(full, "system.posix_acl_access");
	const char other[] = "\0security.selinux";
	assert_int_equal(lfs_xattr_name_encrypt(mac, enc_key, other, sizeof(other) - 1, enc),
	                 -EINVAL);
	assert_false(lfs_xattr_name_reserved("posix", 5, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check),          cmocka_unit_test(test_equiv_mode),
	    cmocka_unit_test(test_chmod),          cmocka_unit_test(test_create_masq),
	    cmocka_unit_test(test_reserved_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
