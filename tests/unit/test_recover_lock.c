/* SPDX-License-Identifier: Apache-2.0 */
/* Recovery on a shared vault takes the target file's cross-host lock
 * (daemon/recover.c, lock_target; fs/filelock.h) before it repairs a file a
 * crash left half updated: another host that is writing the file holds that
 * lock, and a repair beside its write would mix the two. A tail update is
 * cut by a crash (the crash rig of test_tail_crash.c), another process
 * stands for the other host and holds the lock, and the recovery must wait:
 * its record stays and the file is untouched until the lock goes, by an
 * unlock or by the death of its holder (a crashed host's locks lapse). Then
 * the file reads back exactly as before or after the update. */
#include "crashrig.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "../../cluster/rangelock.h"
#include "../../common/fileutil.h"
#include "../../fs/filelock.h"
#include "../../fs/fileio.h"

#define OLD_LEN 5000
#define ADD_LEN 2000

static uint8_t *pattern(size_t len, uint8_t seed)
{
	uint8_t *p = malloc(len);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 12));
	return p;
}

static struct lfs_inode *open_file(struct rig *g, int *fd)
{
	return rig_inode_at(g, g->data_fd, "f", O_RDWR | O_CREAT, fd);
}

static void put_file(struct rig *g, struct lfs_inode *in, int fd)
{
	lfs_inode_forget(&g->fs, in, 1);
	close(fd);
}

/* A format-1 file of OLD_LEN bytes, fsync'd. */
static void prepare(struct rig *g)
{
	unlinkat(g->data_fd, "f", 0);
	rig_fs(g);
	int fd;
	struct lfs_inode *in = open_file(g, &fd);
	uint8_t *old = pattern(OLD_LEN, 1);
	assert_int_equal(lfs_fileio_write(&g->fs, in, fd, (char *)old, OLD_LEN, 0), OLD_LEN);
	free(old);
	assert_int_equal(fsync(fd), 0);
	put_file(g, in, fd);
	rig_fs_done(g);
}

struct append_op {
	int fd;
	struct lfs_inode *in;
};

static void append_open(struct rig *g, void *ctx)
{
	struct append_op *a = ctx;
	a->in = open_file(g, &a->fd);
}

static bool append_run(struct rig *g, void *ctx)
{
	struct append_op *a = ctx;
	uint8_t *w = pattern(ADD_LEN, 99);
	bool ok = lfs_fileio_write(&g->fs, a->in, a->fd, (char *)w, ADD_LEN, OLD_LEN) == ADD_LEN;
	free(w);
	return ok;
}

static unsigned pending_records(struct rig *g)
{
	unsigned pending = 0;
	rig_fs(g);
	assert_int_equal(lfs_journal_pending(&g->journal, &pending), 0);
	rig_fs_done(g);
	return pending;
}

/* Crashes the append at the first of its calls after which a record is
 * pending: a file recovery has to repair. Returns the call number. */
static int crash_mid_append(struct rig *g)
{
	struct append_op a = {.fd = -1};
	const struct rig_op op = {.setup = append_open, .run = append_run, .ctx = &a};
	int ncalls;
	prepare(g);
	assert_int_equal(rig_run(g, &op, 0, FAULT_NONE, &ncalls), 0);
	for (int at = 1; at <= ncalls; at++) {
		int dummy;
		prepare(g);
		assert_int_equal(rig_run(g, &op, at, FAULT_CRASH_AFTER, &dummy), 99);
		if (pending_records(g) > 0)
			return at;
	}
	fail_msg("no call of the append leaves a record pending");
	return -1;
}

/* The other host: a process holding the file's cross-host lock until it
 * reads a byte from *release (or is killed). */
static pid_t hold_lock(struct rig *g, int *release)
{
	int locked[2], rel[2];
	assert_int_equal(pipe(locked), 0);
	assert_int_equal(pipe(rel), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(locked[0]);
		close(rel[1]);
		int fd = openat(g->data_fd, "f", O_RDWR | O_CLOEXEC);
		char c =
		    fd >= 0 && lfs_range_lock(fd, true, LFS_FLOCK_SIZE, 1, false) == 0 ? 'y' : 'n';
		if (write(locked[1], &c, 1) != 1 || c != 'y')
			_exit(1);
		ssize_t rd = read(rel[0], &c, 1);
		(void)rd;
		_exit(0);
	}
	close(locked[1]);
	close(rel[0]);
	char c = 0;
	assert_int_equal(read(locked[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	close(locked[0]);
	*release = rel[1];
	return pid;
}

struct recovery_run {
	struct lfs_recovery rc;
	int result;
	atomic_bool done;
};

static void *recover_thread(void *arg)
{
	struct recovery_run *r = arg;
	r->result = lfs_recover(&r->rc);
	atomic_store(&r->done, true);
	return NULL;
}

static void file_bytes(struct rig *g, uint8_t *raw, size_t cap, size_t *len)
{
	int fd = openat(g->data_fd, "f", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(lfs_pread_full(fd, raw, cap, 0, len), 0);
	close(fd);
}

/* After the recovery: exactly the old or the new contents, authentic. */
static void check_old_or_new(struct rig *g)
{
	int fd;
	struct lfs_inode *in = open_file(g, &fd);
	uint64_t bad = 0;
	assert_int_equal(lfs_fileio_verify(&g->fs, in, fd, &bad), 0);
	uint8_t got[OLD_LEN + ADD_LEN + 1];
	ssize_t n = lfs_fileio_read(&g->fs, in, fd, (char *)got, sizeof(got), 0);
	uint8_t *old = pattern(OLD_LEN, 1), *add = pattern(ADD_LEN, 99);
	bool is_old = n == OLD_LEN && memcmp(got, old, OLD_LEN) == 0;
	bool is_new = n == OLD_LEN + ADD_LEN && memcmp(got, old, OLD_LEN) == 0 &&
	              memcmp(got + OLD_LEN, add, ADD_LEN) == 0;
	free(old);
	free(add);
	put_file(g, in, fd);
	if (!is_old && !is_new)
		fail_msg(
		    "after recovery the file holds %zd bytes, neither the old nor the new contents",
		    n);
}

/* by_death: the holder is killed instead of unlocking. */
static void recovery_waits_for_lock(bool by_death)
{
	struct rig g;
	rig_init(&g);
	int at = crash_mid_append(&g);
	uint8_t before[16384], during[16384];
	size_t before_len, during_len;
	file_bytes(&g, before, sizeof(before), &before_len);

	int release;
	pid_t holder = hold_lock(&g, &release);
	rig_fs(&g);
	struct recovery_run run = {.rc = {.journal = &g.journal,
	                                  .kr = &g.kr,
	                                  .layout = &g.fs.layout,
	                                  .data_dirfd = g.data_fd,
	                                  .handle_mount_fd = g.fs.handle_mount_fd,
	                                  .lock_targets = true}};
	atomic_init(&run.done, false);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, recover_thread, &run), 0);
	/* The other host keeps its lock: the recovery must not get past it. */
	poll(NULL, 0, 400);
	bool finished_early = atomic_load(&run.done);
	file_bytes(&g, during, sizeof(during), &during_len);
	if (by_death) {
		assert_int_equal(kill(holder, SIGKILL), 0);
	} else {
		char c = 'r';
		assert_int_equal(write(release, &c, 1), 1);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	close(release);
	int st;
	assert_int_equal(waitpid(holder, &st, 0), holder);
	if (finished_early)
		fail_msg("recovery of the append cut at call %d repaired the file while another "
		         "host held its lock",
		         at);
	assert_int_equal(during_len, before_len);
	assert_memory_equal(during, before, before_len);
	assert_int_equal(run.result, 0);
	assert_int_equal(run.rc.failed, 0);
	unsigned pending = 1;
	assert_int_equal(lfs_journal_pending(&g.journal, &pending), 0);
	assert_int_equal(pending, 0);
	check_old_or_new(&g);
	rig_fs_done(&g);
	rig_done(&g);
}

static void test_recovery_waits_for_unlock(void **state)
{
	(void)state;
	recovery_waits_for_lock(false);
}

static void test_recovery_proceeds_when_holder_dies(void **state)
{
	(void)state;
	recovery_waits_for_lock(true);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_recovery_waits_for_unlock),
	    cmocka_unit_test(test_recovery_proceeds_when_holder_dies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
