/* SPDX-License-Identifier: Apache-2.0 */
/* Staging trees deeper than the descriptors a process may hold: the
 * removal of a shredded directory's ciphertext and the sweep of dead
 * markers must reach the bottom of a chain of directories of any depth (a
 * user of the mount, or whoever writes the backing store, can make one).
 * The test lowers RLIMIT_NOFILE to 64 and builds chains of 600 levels:
 * a walk that holds a descriptor per level cannot finish. Real files in a
 * temporary directory; no mocks. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../staging/stage.h"

#define ID    0x8000beefu
#define DEPTH 600

static int tmpdir(char path[64])
{
	snprintf(path, 64, "/tmp/test-stage-deep.XXXXXX");
	assert_non_null(mkdtemp(path));
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	return fd;
}

static void rmtree(const char *path)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

/* A chain dirfd/name/d/d/.../d of depth levels; at the bottom, the file
 * "f" of 5 bytes and (mark != NULL) a symlink "m" to mark. A descriptor
 * at a time. */
static void chain(int dirfd, const char *name, int depth, const char *mark)
{
	assert_int_equal(mkdirat(dirfd, name, 0700), 0);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	for (int i = 0; i < depth; i++) {
		assert_int_equal(mkdirat(fd, "d", 0700), 0);
		int sub = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		assert_true(sub >= 0);
		close(fd);
		fd = sub;
	}
	int f = openat(fd, "f", O_CREAT | O_WRONLY, 0600);
	assert_true(f >= 0);
	assert_int_equal(write(f, "deep\n", 5), 5);
	close(f);
	if (mark)
		assert_int_equal(symlinkat(mark, fd, "m"), 0);
	close(fd);
}

static struct rlimit low_nofile(void)
{
	struct rlimit old, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 64;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	return old;
}

static void test_remove_deep_tree(void **state)
{
	(void)state;
	char path[64];
	int sdir = tmpdir(path);
	char hex[9];
	lfs_stage_id_hex(ID, hex);
	chain(sdir, hex, DEPTH, NULL);
	struct rlimit old = low_nofile();
	uint64_t files = 0, bytes = 0;
	int r = lfs_stage_remove_tree(sdir, ID, &files, &bytes);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(r, 0);
	assert_int_equal(files, 1);
	assert_int_equal(bytes, 5);
	struct stat st;
	assert_int_equal(fstatat(sdir, hex, &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(errno, ENOENT);
	close(sdir);
	rmtree(path);
}

static bool is_dead(uint32_t id, void *arg)
{
	(void)arg;
	return id == ID;
}

static void test_sweep_deep_markers(void **state)
{
	(void)state;
	char path[64];
	int data = tmpdir(path);
	char mark[LFS_STAGING_MARK_LEN + 9];
	memcpy(mark, LFS_STAGING_MARK, LFS_STAGING_MARK_LEN);
	lfs_stage_id_hex(ID, mark + LFS_STAGING_MARK_LEN);
	chain(data, "tree", DEPTH, mark);
	/* A marker of a live directory and a symlink that is no marker stay. */
	char live[LFS_STAGING_MARK_LEN + 9];
	memcpy(live, LFS_STAGING_MARK, LFS_STAGING_MARK_LEN);
	lfs_stage_id_hex(ID + 1, live + LFS_STAGING_MARK_LEN);
	assert_int_equal(symlinkat(live, data, "live"), 0);
	assert_int_equal(symlinkat("elsewhere", data, "other"), 0);
	struct rlimit old = low_nofile();
	long n = lfs_stage_sweep_markers(data, is_dead, NULL);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(n, 1);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "test -z \"$(find '%s' -name m)\"", path);
	assert_int_equal(system(cmd), 0);
	struct stat st;
	assert_int_equal(fstatat(data, "live", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(fstatat(data, "other", &st, AT_SYMLINK_NOFOLLOW), 0);
	close(data);
	rmtree(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_remove_deep_tree),
	    cmocka_unit_test(test_sweep_deep_markers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
