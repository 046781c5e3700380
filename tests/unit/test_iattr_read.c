/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for reading inode attributes off the backing store
 * (fs/attr_iattr.c, common/xattrat.c): a lookup reads them by name with
 * getxattrat where the kernel has it, by its O_PATH descriptor through
 * /proc/self/fd otherwise, and falls back to the descriptor whenever the
 * name no longer answers. Each test tells the two paths apart: "a" and "b"
 * carry different records, and a read of a's descriptor under b's name
 * gives b's record only by name. The test that turns the call off runs
 * last (it stays off in the process). */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../common/xattrat.h"
#include "../../fs/attr_iattr.h"
#include "../../fs/iattr.h"

struct rig {
	char dir[64];
	int dir_fd;
	int fa; /* O_PATH descriptor of "a" */
	struct lfs_keyring kr;
	struct lfs_fs fs;
};

static const uint8_t id_a[32] = {0xa1, 0xa2, 0xa3};
static const uint8_t id_b[32] = {0xb1, 0xb2, 0xb3};

static struct lfs_irec rec_of(uint16_t mode, uint32_t uid)
{
	struct lfs_irec r;
	memset(&r, 0, sizeof(r));
	r.type = LFS_IREC_REG;
	r.mode = mode;
	r.uid = uid;
	r.gid = uid + 1;
	return r;
}

static void make_file(struct rig *g, const char *name, const uint8_t *id, uint16_t mode)
{
	int fd = openat(g->dir_fd, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	struct lfs_irec r = rec_of(mode, mode);
	assert_int_equal(lfs_iattr_write(&g->fs, fd, 1, id, &r), 0);
	close(fd);
}

static int rig_setup(void **state)
{
	struct rig *g = calloc(1, sizeof(*g));
	assert_non_null(g);
	snprintf(g->dir, sizeof(g->dir), "/tmp/lethefs-iattr-read.XXXXXX");
	assert_non_null(mkdtemp(g->dir));
	g->dir_fd = open(g->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(g->dir_fd >= 0);
	uint8_t uuid[LFS_UUID_LEN] = {0};
	lfs_keyring_init(&g->kr, uuid, LFS_CIPHER_XCHACHA20POLY1305);
	assert_int_equal(lfs_keyring_generate(&g->kr, 2), 0);
	int dfd = dup(g->dir_fd);
	assert_true(dfd >= 0);
	assert_int_equal(lfs_fs_init(&g->fs, &g->kr, dfd, g->dir), 0);
	make_file(g, "a", id_a, 0640);
	make_file(g, "b", id_b, 0604);
	g->fa = openat(g->dir_fd, "a", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	assert_true(g->fa >= 0);
	*state = g;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *g = *state;
	close(g->fa);
	lfs_fs_destroy(&g->fs);
	lfs_keyring_destroy(&g->kr);
	const char *names[] = {"a", "b", "c", "l"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlinkat(g->dir_fd, names[i], 0);
	close(g->dir_fd);
	rmdir(g->dir);
	free(g);
	return 0;
}

/* Reads a's descriptor as found under name: the mode read, or -errno, 0
 * for none. */
static int mode_read(struct rig *g, const char *name, uint8_t bind[LFS_IATTR_BIND_LEN])
{
	struct lfs_irec r;
	const char *why = NULL;
	int n = lfs_iattr_read_at(&g->fs, g->fa, name ? g->dir_fd : -1, name, &r, bind, &why);
	return n == 1 ? (int)r.mode : n;
}

static void test_by_name_and_by_descriptor(void **state)
{
	struct rig *g = *state;
	uint8_t bind[LFS_IATTR_BIND_LEN];
	assert_int_equal(mode_read(g, "a", bind), 0640);
	assert_memory_equal(bind, id_a, sizeof(bind));
	assert_int_equal(mode_read(g, NULL, bind), 0640);
	assert_memory_equal(bind, id_a, sizeof(bind));
	/* The name is what is read where the kernel has the call: under b's
	 * name, b's value (unbound: lfs_attr_bind compares it with a's
	 * header before anything acts on it). */
	int m = mode_read(g, "b", bind);
	if (lfs_xattrat_usable()) {
		assert_int_equal(m, 0604);
		assert_memory_equal(bind, id_b, sizeof(bind));
	} else {
		assert_int_equal(m, 0640);
	}
}

/* A name renamed away since the open (a rotation's conversion): the
 * descriptor answers. */
static void test_renamed_away_reads_descriptor(void **state)
{
	struct rig *g = *state;
	uint8_t bind[LFS_IATTR_BIND_LEN];
	assert_int_equal(renameat(g->dir_fd, "a", g->dir_fd, "c"), 0);
	assert_int_equal(mode_read(g, "a", bind), 0640);
	assert_memory_equal(bind, id_a, sizeof(bind));
}

/* A symlink under the name is not followed (it has no attribute). */
static void test_symlink_not_followed(void **state)
{
	struct rig *g = *state;
	uint8_t bind[LFS_IATTR_BIND_LEN];
	assert_int_equal(symlinkat("b", g->dir_fd, "l"), 0);
	char v[8];
	ssize_t n = lfs_getxattrat(g->dir_fd, "l", LFS_IATTR_NAME, v, sizeof(v));
	assert_true(n == -ENODATA || n == -ENOSYS);
	int m = mode_read(g, "l", bind);
	assert_int_equal(m, lfs_xattrat_usable() ? 0 : 0640);
}

/* The wrapper's answers: the value, none, too small a buffer, no name. */
static void test_wrapper(void **state)
{
	struct rig *g = *state;
	int fd = openat(g->dir_fd, "b", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fsetxattr(fd, "user.t", "xyz", 3, 0), 0);
	close(fd);
	char v[8];
	ssize_t n = lfs_getxattrat(g->dir_fd, "b", "user.t", v, sizeof(v));
	if (n == -ENOSYS)
		skip(); /* a kernel before 6.13 */
	assert_int_equal(n, 3);
	assert_memory_equal(v, "xyz", 3);
	assert_int_equal(lfs_getxattrat(g->dir_fd, "b", "user.none", v, sizeof(v)), -ENODATA);
	assert_int_equal(lfs_getxattrat(g->dir_fd, "b", "user.t", v, 2), -ERANGE);
	assert_int_equal(lfs_getxattrat(g->dir_fd, "gone", "user.t", v, sizeof(v)), -ENOENT);
}

/* Turned off (LETHEFS_NO_XATTRAT=1, or a kernel without the call): every
 * read goes by descriptor, b's name notwithstanding. Runs last. */
static void test_disabled_reads_descriptor(void **state)
{
	struct rig *g = *state;
	uint8_t bind[LFS_IATTR_BIND_LEN];
	lfs_xattrat_disable();
	assert_false(lfs_xattrat_usable());
	char v[8];
	assert_int_equal(lfs_getxattrat(g->dir_fd, "b", LFS_IATTR_NAME, v, sizeof(v)), -ENOSYS);
	assert_int_equal(mode_read(g, "b", bind), 0640);
	assert_memory_equal(bind, id_a, sizeof(bind));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_by_name_and_by_descriptor, rig_setup,
	                                    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_renamed_away_reads_descriptor, rig_setup,
	                                    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_symlink_not_followed, rig_setup, rig_teardown),
	    cmocka_unit_test_setup_teardown(test_wrapper, rig_setup, rig_teardown),
	    cmocka_unit_test_setup_teardown(test_disabled_reads_descriptor, rig_setup,
	                                    rig_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
