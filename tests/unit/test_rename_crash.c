/* SPDX-License-Identifier: Apache-2.0 */
/* Crash and error sweep of rename(2) onto an empty directory
 * (fs/rename_dir.c) without a mount, on the wrapped backing-store calls of
 * crashrig.h: for every call of the operation, a crash before it, a crash
 * after it, ENOSPC and EIO; after each, the one recovery function runs and
 * the backing tree must be the one before the rename or the one after it
 * (never a missing target, never a leftover hidden directory), with no
 * record left pending. */
#include "crashrig.h"

#include <dirent.h>

#include "../../fs/dirmeta.h"
#include "../../fs/rename_dir.h"

/* S (a directory holding the file "f") and D (an empty directory), both
 * with their metadata, directly in d/. */
static void prepare(struct rig *g)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s/d/* %s/d/.lethefs.tmp.*", g->dir, g->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(mkdirat(g->data_fd, "S", 0700), 0);
	assert_int_equal(mkdirat(g->data_fd, "D", 0700), 0);
	int s = openat(g->data_fd, "S", O_RDONLY | O_DIRECTORY);
	int d = openat(g->data_fd, "D", O_RDONLY | O_DIRECTORY);
	assert_int_equal(lfs_dirmeta_create_root(s, &g->kr), 0);
	assert_int_equal(lfs_dirmeta_create_root(d, &g->kr), 0);
	int f = openat(s, "f", O_CREAT | O_WRONLY, 0600);
	assert_true(f >= 0);
	close(f);
	close(s);
	close(d);
}

/* 0: the tree before the rename; 1: after; -1: anything else. */
static int state(struct rig *g)
{
	struct stat st;
	bool s = fstatat(g->data_fd, "S", &st, 0) == 0;
	bool d = fstatat(g->data_fd, "D", &st, 0) == 0;
	bool d_has_f = fstatat(g->data_fd, "D/f", &st, 0) == 0;
	bool d_meta = fstatat(g->data_fd, "D/" LFS_DIRMETA_NAME, &st, 0) == 0;
	int leftovers = 0;
	DIR *dir = fdopendir(openat(g->data_fd, ".", O_RDONLY | O_DIRECTORY));
	struct dirent *de;
	while (dir && (de = readdir(dir)) != NULL)
		leftovers += !strncmp(de->d_name, ".lethefs.tmp.", 13);
	if (dir)
		closedir(dir);
	if (leftovers || !d || !d_meta)
		return -1;
	if (s && !d_has_f)
		return 0;
	if (!s && d_has_f)
		return 1;
	return -1;
}

static bool rename_over(struct rig *g, void *ctx)
{
	(void)ctx;
	return lfs_rename_over_empty_dir(&g->fs, g->data_fd, "S", g->data_fd, "D") == 0;
}

static int run_op(struct rig *g, int at, enum fault kind, int *ncalls)
{
	const struct rig_op op = {.run = rename_over};
	return rig_run(g, &op, at, kind, ncalls);
}

static int recover_and_check(struct rig *g, const char *what, int at)
{
	rig_fs(g);
	struct lfs_recovery rc = {.journal = &g->journal,
	                          .kr = &g->kr,
	                          .layout = &g->fs.layout,
	                          .data_dirfd = g->data_fd,
	                          .handle_mount_fd = g->fs.handle_mount_fd};
	assert_int_equal(lfs_recover(&rc), 0);
	unsigned pending;
	assert_int_equal(lfs_journal_pending(&g->journal, &pending), 0);
	rig_fs_done(g);
	int s = state(g);
	if (s < 0 || pending)
		fail_msg("rename, %s at call %d: neither before nor after, %u pending", what, at,
		         pending);
	return s;
}

static void test_rename_sweep(void **st)
{
	(void)st;
	struct rig g;
	rig_init(&g);
	prepare(&g);
	int ncalls;
	assert_int_equal(run_op(&g, 0, FAULT_NONE, &ncalls), 0);
	assert_int_equal(recover_and_check(&g, "no fault", 0), 1);
	static const struct {
		enum fault kind;
		const char *name;
	} faults[] = {{FAULT_CRASH_BEFORE, "crash before"},
	              {FAULT_CRASH_AFTER, "crash after"},
	              {FAULT_ENOSPC, "ENOSPC"},
	              {FAULT_EIO, "EIO"}};
	unsigned crashes = 0, errors = 0;
	for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++) {
		for (int at = 1; at <= ncalls; at++) {
			prepare(&g);
			int dummy;
			int rc = run_op(&g, at, faults[f].kind, &dummy);
			int side = recover_and_check(&g, faults[f].name, at);
			if (faults[f].kind == FAULT_ENOSPC || faults[f].kind == FAULT_EIO) {
				if (rc == 1 && side != 0)
					fail_msg("rename, %s at call %d: failed but renamed",
					         faults[f].name, at);
				if (rc == 0 && side != 1)
					fail_msg("rename, %s at call %d: succeeded but not renamed",
					         faults[f].name, at);
				errors++;
			} else {
				assert_int_equal(rc, 99);
				crashes++;
			}
		}
	}
	printf("# rename sweep: %d calls, %u crashes and %u injected errors, no loss\n", ncalls,
	       crashes, errors);
	rig_done(&g);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rename_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
