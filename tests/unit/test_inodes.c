/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the inode table (fs/inode.c, fs/inode_sets.c, fs/slab.c)
 * on real files of a temporary directory: forgetting many inodes frees them
 * and gives their slabs back, lookups after a forget find a new inode,
 * unhashed inodes leave their list in any order, and the sets a lock or a
 * shred walks hold exactly the inodes they concern. Run under ASan too
 * (make asan): the slab poisons freed inodes. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../fs/fs.h"

#define NFILES 3000

struct rig {
	char dir[64];
	int dir_fd;
	struct lfs_keyring kr;
	struct lfs_fs fs;
	struct lfs_inode *in[NFILES];
};

static int rig_setup(void **state)
{
	struct rig *g = calloc(1, sizeof(*g));
	assert_non_null(g);
	snprintf(g->dir, sizeof(g->dir), "/tmp/lethefs-inodes.XXXXXX");
	assert_non_null(mkdtemp(g->dir));
	g->dir_fd = open(g->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(g->dir_fd >= 0);
	for (int i = 0; i < NFILES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%05d", i);
		int fd = openat(g->dir_fd, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(mkdirat(g->dir_fd, "sub", 0700), 0);
	uint8_t uuid[LFS_UUID_LEN] = {0};
	lfs_keyring_init(&g->kr, uuid, LFS_CIPHER_XCHACHA20POLY1305);
	int dfd = dup(g->dir_fd);
	assert_true(dfd >= 0);
	assert_int_equal(lfs_fs_init(&g->fs, &g->kr, dfd, g->dir), 0);
	*state = g;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *g = *state;
	lfs_fs_destroy(&g->fs);
	lfs_keyring_destroy(&g->kr);
	for (int i = 0; i < NFILES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%05d", i);
		unlinkat(g->dir_fd, name, 0);
	}
	unlinkat(g->dir_fd, "sub", AT_REMOVEDIR);
	close(g->dir_fd);
	rmdir(g->dir);
	free(g);
	return 0;
}

/* One lookup of name through the table (as lfs_do_lookup counts it). */
static struct lfs_inode *look(struct rig *g, const char *name)
{
	struct lfs_inode *in = lfs_inode_hold(&g->fs, g->dir_fd, name);
	assert_non_null(in);
	return in;
}

static struct lfs_inode *look_file(struct rig *g, int i)
{
	char name[32];
	snprintf(name, sizeof(name), "f%05d", i);
	return look(g, name);
}

static void count_visit(struct lfs_fs *fs, struct lfs_inode *in, void *arg)
{
	(void)fs, (void)in;
	(*(size_t *)arg)++;
}

static size_t count_set(struct rig *g, enum lfs_inode_set set, uint32_t id)
{
	size_t n = 0;
	lfs_fs_for_each_in(&g->fs, set, id, count_visit, &n);
	return n;
}

static void test_forget_many(void **state)
{
	struct rig *g = *state;
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), 0);
	for (int i = 0; i < NFILES; i++)
		g->in[i] = look_file(g, i);
	/* A second lookup finds the same inode and counts it. */
	for (int i = 0; i < NFILES; i++)
		assert_ptr_equal(look_file(g, i), g->in[i]);
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), NFILES);
	assert_true(g->fs.nbuckets >= NFILES);
	assert_int_equal(g->fs.inode_slab.live, NFILES);
	assert_true(g->fs.inode_slab.pages >= NFILES / g->fs.inode_slab.per_page);
	/* Forget every other one, then the rest, as BATCH_FORGET does. */
	for (int i = 0; i < NFILES; i += 2)
		lfs_inode_forget(&g->fs, g->in[i], 2);
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), NFILES / 2);
	for (int i = NFILES - 1; i >= 1; i -= 2) {
		lfs_inode_forget(&g->fs, g->in[i], 1);
		lfs_inode_forget(&g->fs, g->in[i], 1);
	}
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), 0);
	/* The memory went back: at most one empty slab is kept, and the
	 * bucket array shrank back to its first size. */
	assert_int_equal(g->fs.inode_slab.live, 0);
	assert_true(g->fs.inode_slab.pages <= 1);
	assert_int_equal(g->fs.nbuckets, 1024);
}

static void test_lookup_after_forget(void **state)
{
	struct rig *g = *state;
	struct lfs_inode *a = look_file(g, 7);
	struct stat st;
	assert_int_equal(fstatat(g->dir_fd, "f00007", &st, 0), 0);
	assert_int_equal(a->ino, st.st_ino);
	assert_int_equal(a->nlookup, 1);
	lfs_inode_forget(&g->fs, a, 1);
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), 0);
	/* Looked up again: a fresh inode with one lookup, descriptor usable. */
	struct lfs_inode *b = look_file(g, 7);
	assert_int_equal(b->nlookup, 1);
	assert_int_equal(b->ino, st.st_ino);
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), 1);
	int fd = lfs_inode_pin(&g->fs, b);
	assert_true(fd >= 0);
	struct stat st2;
	assert_int_equal(fstat(fd, &st2), 0);
	assert_int_equal(st2.st_ino, st.st_ino);
	lfs_inode_unpin(&g->fs, b);
	lfs_inode_forget(&g->fs, b, 1);
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), 0);
}

/* Past the descriptor budget, a new inode gets its file handle when it is
 * made (outside the locks), not when it is parked: parking it is then a
 * close. Every inode, parked or not, still pins its own object. */
static void test_handle_taken_at_creation_past_budget(void **state)
{
	struct rig *g = *state;
	if (g->fs.handle_mount_fd < 0)
		skip(); /* file handles need root */
	g->fs.fd_budget = 8;
	for (int i = 0; i < 32; i++) {
		g->in[i] = look_file(g, i);
		/* The newest is open; past the budget it has its handle. */
		assert_true(g->in[i]->fd >= 0);
		if (i >= 8)
			assert_non_null(g->in[i]->fh);
	}
	assert_true(g->fs.open_fds <= 8 + 1);
	for (int i = 0; i < 32; i++) {
		int fd = lfs_inode_pin(&g->fs, g->in[i]);
		assert_true(fd >= 0);
		struct stat st;
		assert_int_equal(fstat(fd, &st), 0);
		assert_int_equal(st.st_ino, g->in[i]->ino);
		lfs_inode_unpin(&g->fs, g->in[i]);
	}
	for (int i = 0; i < 32; i++)
		lfs_inode_forget(&g->fs, g->in[i], 1);
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), 0);
}

/* lfs_inode_get_pinned: a new inode comes pinned (not on the LRU list, so
 * never parked before its lookup unpins it), a known one unpinned; the
 * unpin of a new one past the budget parks the list's tail. */
static void test_get_pinned(void **state)
{
	struct rig *g = *state;
	g->fs.fd_budget = 4;
	for (int i = 0; i < 12; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%05d", i);
		int fd = openat(g->dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &st), 0);
		int err = 0;
		bool pinned = false;
		g->in[i] = lfs_inode_get_pinned(&g->fs, fd, &st, &err, &pinned);
		assert_non_null(g->in[i]);
		assert_true(pinned);
		assert_int_equal(g->in[i]->fd_pins, 1);
		assert_false(g->in[i]->in_lru);
		assert_true(g->in[i]->fd >= 0);
		lfs_inode_unpin(&g->fs, g->in[i]);
		assert_int_equal(g->in[i]->fd_pins, 0);
		if (g->fs.handle_mount_fd >= 0)
			assert_true(g->fs.open_fds <= 4);
		/* Known now: found again, unpinned. */
		fd = openat(g->dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_ptr_equal(lfs_inode_get_pinned(&g->fs, fd, &st, &err, &pinned), g->in[i]);
		assert_false(pinned);
		assert_int_equal(g->in[i]->fd_pins, 0);
	}
	for (int i = 0; i < 12; i++)
		lfs_inode_forget(&g->fs, g->in[i], 2);
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), 0);
}

/* Parked inodes whose backing number is seen naming another object are
 * unhashed; they must leave the unhashed list in any order. */
static void test_unhashed_forget_any_order(void **state)
{
	struct rig *g = *state;
	if (g->fs.handle_mount_fd < 0)
		skip(); /* file handles need root */
	enum { N = 400 };
	struct lfs_inode *old[N], *fresh[N];
	for (int i = 0; i < N; i++)
		old[i] = look_file(g, i);
	/* Park them all: each now holds a file handle, no descriptor. */
	g->fs.fd_budget = 1;
	while (lfs_fs_shed_fds(&g->fs))
		;
	/* A lookup whose descriptor is another file but whose stat names
	 * old[i]'s number: the handles differ, so old[i] is unhashed. */
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%05d", N + i);
		int fd = openat(g->dir_fd, name, O_PATH | O_CLOEXEC);
		assert_true(fd >= 0);
		struct stat st = {.st_dev = old[i]->dev, .st_ino = old[i]->ino, .st_mode = S_IFREG};
		int err = 0;
		fresh[i] = lfs_inode_get(&g->fs, fd, &st, &err);
		assert_non_null(fresh[i]);
		assert_ptr_not_equal(fresh[i], old[i]);
		assert_true(old[i]->unhashed);
	}
	assert_int_equal(g->fs.nunhashed, N);
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), 2 * N);
	/* Middle, then ends, then the rest. */
	for (int i = N / 4; i < 3 * N / 4; i++)
		lfs_inode_forget(&g->fs, old[i], 1);
	lfs_inode_forget(&g->fs, old[0], 1);
	lfs_inode_forget(&g->fs, old[N - 1], 1);
	assert_int_equal(g->fs.nunhashed, N / 4 - 1 + N / 4 - 1);
	for (int i = 1; i < N / 4; i++)
		lfs_inode_forget(&g->fs, old[i], 1);
	for (int i = 3 * N / 4; i < N - 1; i++)
		lfs_inode_forget(&g->fs, old[i], 1);
	assert_int_equal(g->fs.nunhashed, 0);
	assert_null(g->fs.unhashed);
	for (int i = 0; i < N; i++)
		lfs_inode_forget(&g->fs, fresh[i], 1);
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), 0);
	assert_int_equal(g->fs.inode_slab.live, 0);
}

static void test_sets(void **state)
{
	struct rig *g = *state;
	enum { N = 200 };
	struct lfs_inode *in[N];
	for (int i = 0; i < N; i++)
		in[i] = look_file(g, i);
	struct lfs_inode *sub = look(g, "sub");
	/* Nothing opened yet: a lock's page pass sees the root and the
	 * directory, its name pass the same. */
	assert_int_equal(count_set(g, LFS_SET_PAGED, 0), 2);
	assert_int_equal(count_set(g, LFS_SET_DIRS, 0), 2);
	for (int i = 0; i < N; i += 10)
		lfs_inode_note_open(&g->fs, in[i]);
	lfs_inode_note_open(&g->fs, in[0]); /* twice: counted once */
	assert_int_equal(count_set(g, LFS_SET_PAGED, 0), 2 + N / 10);
	/* Staging ids 5 and 69 share a list: each sees only its own. */
	for (int i = 0; i < N; i++)
		lfs_inode_set_stage(&g->fs, in[i], i % 3 == 0 ? 5 : i % 3 == 1 ? 69 : 0, false);
	lfs_inode_set_stage(&g->fs, sub, 5, true);
	size_t fives = 0, sixtynines = 0;
	for (int i = 0; i < N; i++) {
		fives += i % 3 == 0;
		sixtynines += i % 3 == 1;
	}
	assert_int_equal(count_set(g, LFS_SET_STAGE, 5), fives + 1);
	assert_int_equal(count_set(g, LFS_SET_STAGE, 69), sixtynines);
	assert_int_equal(count_set(g, LFS_SET_STAGE, 7), 0);
	/* Moving an inode between ids moves it between lists. */
	lfs_inode_set_stage(&g->fs, in[1], 5, false);
	assert_int_equal(count_set(g, LFS_SET_STAGE, 5), fives + 2);
	assert_int_equal(count_set(g, LFS_SET_STAGE, 69), sixtynines - 1);
	lfs_inode_set_stage(&g->fs, in[1], 0, false);
	assert_int_equal(count_set(g, LFS_SET_STAGE, 5), fives + 1);
	/* A forgotten inode leaves every set. */
	lfs_inode_forget(&g->fs, in[0], 1);
	lfs_inode_forget(&g->fs, sub, 1);
	assert_int_equal(count_set(g, LFS_SET_STAGE, 5), fives - 1);
	assert_int_equal(count_set(g, LFS_SET_PAGED, 0), 1 + N / 10 - 1);
	assert_int_equal(count_set(g, LFS_SET_DIRS, 0), 1);
	for (int i = 1; i < N; i++)
		lfs_inode_forget(&g->fs, in[i], 1);
	assert_int_equal(count_set(g, LFS_SET_STAGE, 5), 0);
	assert_int_equal(count_set(g, LFS_SET_STAGE, 69), 0);
	assert_int_equal(count_set(g, LFS_SET_PAGED, 0), 1);
	assert_int_equal(lfs_fs_inodes_cached(&g->fs), 0);
}

/* The slab on its own: every object distinct and zeroed, slabs unmapped
 * as they empty, one kept when it is the only one with room. */
static size_t count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	size_t n = 0;
	int c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Slabs merge into few mappings: one mapping per slab would reach
 * vm.max_map_count (65,530) at some 2.6 million cached inodes. */
static void test_slab_mappings(void **state)
{
	(void)state;
	struct lfs_slab s;
	assert_int_equal(lfs_slab_init(&s, 400), 0);
	enum { M = 8000 };
	void **o = calloc(M, sizeof(*o));
	assert_non_null(o);
	size_t before = count_mappings();
	for (int i = 0; i < M; i++)
		assert_non_null(o[i] = lfs_slab_alloc(&s));
	size_t after = count_mappings();
	assert_true(s.pages >= 200);
	assert_true(after < before + s.pages / 10);
	for (int i = 0; i < M; i++)
		lfs_slab_free(&s, o[i]);
	assert_true(s.pages <= 1);
	lfs_slab_destroy(&s);
	free(o);
}

static void test_slab(void **state)
{
	(void)state;
	struct lfs_slab s;
	assert_int_equal(lfs_slab_init(&s, 0), -EINVAL);
	assert_int_equal(lfs_slab_init(&s, 1 << 20), -EINVAL);
	assert_int_equal(lfs_slab_init(&s, 300), 0);
	assert_int_equal(s.obj_size, 304);
	enum { M = 1000 };
	unsigned char *o[M];
	for (int i = 0; i < M; i++) {
		o[i] = lfs_slab_alloc(&s);
		assert_non_null(o[i]);
		for (size_t k = 0; k < s.obj_size; k++)
			assert_int_equal(o[i][k], 0);
		memset(o[i], 0xA5, s.obj_size);
	}
	size_t full_pages = s.pages;
	assert_int_equal(full_pages, (M + s.per_page - 1) / s.per_page);
	for (int i = 0; i < M; i += 2)
		lfs_slab_free(&s, o[i]);
	assert_int_equal(s.pages, full_pages); /* every slab still in use */
	for (int i = 0; i < M; i += 2) {
		o[i] = lfs_slab_alloc(&s); /* reuses the freed room */
		assert_int_equal(o[i][0], 0);
	}
	assert_int_equal(s.pages, full_pages);
	for (int i = 0; i < M; i++)
		lfs_slab_free(&s, o[i]);
	assert_int_equal(s.live, 0);
	assert_true(s.pages <= 1);
	lfs_slab_destroy(&s);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slab),
	    cmocka_unit_test(test_slab_mappings),
	    cmocka_unit_test_setup_teardown(test_forget_many, rig_setup, rig_teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_after_forget, rig_setup, rig_teardown),
	    cmocka_unit_test_setup_teardown(test_handle_taken_at_creation_past_budget, rig_setup,
	                                    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_get_pinned, rig_setup, rig_teardown),
	    cmocka_unit_test_setup_teardown(test_unhashed_forget_any_order, rig_setup,
	                                    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_sets, rig_setup, rig_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
