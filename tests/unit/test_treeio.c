/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the tree-walk helpers of issue 22 on real files of a
 * directory under /var/tmp (a disk filesystem: tmpfs pages never leave the
 * page cache): the header read-ahead (fs/prefetch.c) brings every listed
 * file's first page into the page cache, once per arming, and never opens
 * what is not a regular file; the closer (fs/closer.c) closes a removed
 * file's last descriptor on its threads and every queued one by the time it
 * is destroyed, and anything else at once. No timing is asserted beyond
 * "eventually" (a generous bound for a loaded machine). */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../fs/closer.h"
#include "../../fs/inode_int.h"
#include "../../fs/prefetch.h"

#define NFILES    64
#define FILE_SIZE (4 * 4096)

struct rig {
	char dir[64];
	int dir_fd;
};

static int rig_setup(void **state)
{
	struct rig *g = calloc(1, sizeof(*g));
	assert_non_null(g);
	snprintf(g->dir, sizeof(g->dir), "/var/tmp/lethefs-treeio.XXXXXX");
	assert_non_null(mkdtemp(g->dir));
	g->dir_fd = open(g->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(g->dir_fd >= 0);
	uint8_t buf[FILE_SIZE];
	test_fill(buf, sizeof(buf), 7);
	for (int i = 0; i < NFILES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%03d", i);
		int fd = openat(g->dir_fd, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
		assert_int_equal(fsync(fd), 0);
		close(fd);
	}
	assert_int_equal(mkfifoat(g->dir_fd, "fifo", 0600), 0);
	*state = g;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *g = *state;
	for (int i = 0; i < NFILES; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%03d", i);
		unlinkat(g->dir_fd, name, 0);
	}
	unlinkat(g->dir_fd, "fifo", 0);
	unlinkat(g->dir_fd, "gone", 0);
	close(g->dir_fd);
	rmdir(g->dir);
	free(g);
	return 0;
}

/* Whether page 0 of file i is in the page cache; with drop, evicts it
 * first (a clean page: POSIX_FADV_DONTNEED drops it). */
static bool first_page_cached(struct rig *g, int i, bool drop)
{
	char name[32];
	snprintf(name, sizeof(name), "f%03d", i);
	int fd = openat(g->dir_fd, name, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (drop)
		assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	void *m = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(m != MAP_FAILED);
	unsigned char vec[FILE_SIZE / 4096];
	assert_int_equal(mincore(m, FILE_SIZE, vec), 0);
	munmap(m, FILE_SIZE);
	close(fd);
	return vec[0] & 1;
}

static int cached_count(struct rig *g)
{
	int n = 0;
	for (int i = 0; i < NFILES; i++)
		n += first_page_cached(g, i, false);
	return n;
}

static void evict_all(struct rig *g)
{
	for (int i = 0; i < NFILES; i++)
		first_page_cached(g, i, true);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void test_prefetch_reads_listed_headers(void **state)
{
	struct rig *g = *state;
	evict_all(g);
	if (cached_count(g) > 0)
		skip(); /* this filesystem keeps clean pages (tmpfs-like) */
	struct lfs_inode dir;
	memset(&dir, 0, sizeof(dir));
	/* Not armed (never listed): nothing is read. */
	lfs_prefetch_start(&dir, g->dir_fd);
	sleep_ms(300);
	assert_int_equal(cached_count(g), 0);
	/* Listed: the first lookup reads every file's header ahead, once. */
	lfs_prefetch_arm(&dir);
	assert_true(dir.prefetch_armed);
	lfs_prefetch_start(&dir, g->dir_fd);
	assert_false(dir.prefetch_armed);
	int n = 0;
	for (int t = 0; t < 200 && (n = cached_count(g)) < NFILES; t++)
		sleep_ms(50);
	assert_int_equal(n, NFILES);
	/* Disarmed: a second lookup reads nothing again. */
	evict_all(g);
	lfs_prefetch_start(&dir, g->dir_fd);
	sleep_ms(300);
	assert_int_equal(cached_count(g), 0);
	/* Off (a mount with inode attributes): armed, and still nothing. */
	lfs_prefetch_enable(false);
	lfs_prefetch_arm(&dir);
	lfs_prefetch_start(&dir, g->dir_fd);
	sleep_ms(300);
	assert_int_equal(cached_count(g), 0);
	lfs_prefetch_enable(true);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_closer(void **state)
{
	struct rig *g = *state;
	struct lfs_closer c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(lfs_closer_init(&c, 4), 0); /* fewer than the files below */
	/* A file that still has its name: closed at once, no thread. */
	int kept = openat(g->dir_fd, "f000", O_PATH | O_CLOEXEC);
	assert_true(kept >= 0);
	lfs_closer_close(&c, kept);
	assert_false(fd_open(kept));
	assert_int_equal(c.started, 0);
	/* Removed files: closed on the closer's threads, all of them by the
	 * time it is destroyed. */
	enum { N = 16 };
	int fds[N];
	for (int i = 0; i < N; i++) {
		int w = openat(g->dir_fd, "gone", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		assert_true(w >= 0);
		assert_int_equal(write(w, "x", 1), 1);
		close(w);
		fds[i] = openat(g->dir_fd, "gone", O_PATH | O_CLOEXEC);
		assert_true(fds[i] >= 0);
		assert_int_equal(unlinkat(g->dir_fd, "gone", 0), 0);
	}
	for (int i = 0; i < N; i++)
		lfs_closer_close(&c, fds[i]);
	assert_true(c.started >= 1 && c.started <= LFS_CLOSER_THREADS);
	lfs_closer_destroy(&c);
	for (int i = 0; i < N; i++)
		assert_false(fd_open(fds[i]));
}

/* Descriptors queued to close are open but no longer counted among the
 * inodes' (fs.h fd_budget): the queue is sized from the descriptor limit,
 * so that the budget and a full queue together stay well inside it. In a
 * child: a lowered hard limit cannot be raised again. */
static void test_closer_fits_the_limit(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {.rlim_cur = 256, .rlim_max = 256};
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(2);
		size_t budget = lfs_fdpark_budget();
		size_t cap = lfs_closer_capacity(budget);
		/* the budget, a full queue and the open files and directories
		 * the remaining eighths are for */
		_exit(cap >= 1 && budget + cap <= 256 * 5 / 8 ? 0 : 1);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(lfs_closer_capacity(1u << 20), LFS_CLOSER_QUEUE);
	assert_int_equal(lfs_closer_capacity(0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_prefetch_reads_listed_headers, rig_setup,
	                                    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_closer, rig_setup, rig_teardown),
	    cmocka_unit_test(test_closer_fits_the_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
