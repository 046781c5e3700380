/* SPDX-License-Identifier: Apache-2.0 */
/* The backing-store writer's planted nodes against the code that opens
 * backing files it did not just create: lfs_open_regular (every small
 * vault file, .lethefs.dir, sidecars, the staging pending metadata) and the
 * recovery of a journal record's target (a rotation batch, kind 9).
 *
 * Opening a node has effects of its own before any type check can refuse
 * it: a device node's open runs its driver (as root), and a FIFO's open
 * releases a writer blocked on it. The FIFO is the observable stand-in for
 * a device here: a child blocks opening it for writing, and must still be
 * blocked once the code under test has refused the node. A backing
 * directory replaced by a symlink must not lead a recovery out of the
 * vault (to a copy of the vault on another filesystem, for example a
 * root-owned backup: its file would be rewritten under the new epoch). */
#include "crashrig.h"

#include <signal.h>
#include <time.h>

#include "../../common/fileutil.h"
#include "../../fs/fileio.h"
#include "../../fs/obj2.h"
#include "../../rotation/batch.h"
#include "../../rotation/pass.h"

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A child blocked in open(path, flags) until something opens the FIFO's
 * other end (O_WRONLY: for reading; O_RDONLY: for writing). */
static pid_t blocked_start(int dirfd, const char *name, int flags)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = openat(dirfd, name, flags);
		_exit(fd >= 0 ? 0 : 1);
	}
	sleep_ms(300); /* in its open by then */
	return pid;
}

static pid_t writer_start(int dirfd, const char *name)
{
	return blocked_start(dirfd, name, O_WRONLY);
}

/* Whether the writer's open returned (someone opened the FIFO), waiting up
 * to ms for it; stops the writer either way. */
static bool writer_released(pid_t pid, long ms)
{
	int st;
	for (long t = 0; t < ms; t += 20) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return true;
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return false;
}

static void test_open_regular_opens_no_planted_node(void **state)
{
	(void)state;
	char dir[64] = "/tmp/lethefs-planted.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(mkfifoat(dfd, "fifo", 0600), 0);
	assert_int_equal(mkfifoat(dfd, "outside", 0600), 0);
	assert_int_equal(mkdirat(dfd, "d", 0700), 0);
	int vfd = openat(dfd, "d", O_RDONLY | O_DIRECTORY);
	assert_true(vfd >= 0);
	assert_int_equal(mkfifoat(vfd, "fifo", 0600), 0);
	char target[96];
	snprintf(target, sizeof(target), "%s/outside", dir);
	assert_int_equal(symlinkat(target, vfd, "link"), 0);
	assert_int_equal(mkdirat(vfd, "sub", 0700), 0);
	int fd = openat(vfd, "file", O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);

	/* A FIFO: refused, and never opened. */
	pid_t w = writer_start(vfd, "fifo");
	assert_int_equal(lfs_open_regular(vfd, "fifo"), -EINVAL);
	unsigned char *data = NULL;
	size_t len = 0;
	assert_int_equal(lfs_read_small_file(vfd, "fifo", 64, &data, &len), -EINVAL);
	if (writer_released(w, 500))
		fail_msg("lfs_open_regular opened a planted FIFO before refusing it");
	/* A symlink (to a FIFO outside): not followed. */
	w = writer_start(dfd, "outside");
	assert_int_equal(lfs_open_regular(vfd, "link"), -ELOOP);
	if (writer_released(w, 500))
		fail_msg("lfs_open_regular followed a symlink");
	/* A directory: refused. A regular file: read. */
	assert_int_equal(lfs_open_regular(vfd, "sub"), -EINVAL);
	assert_int_equal(lfs_read_small_file(vfd, "file", 64, &data, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "abc", 3);
	free(data);
	fd = lfs_open_regular(vfd, "file");
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	close(fd);
	assert_int_equal(lfs_open_regular(vfd, "missing"), -ENOENT);

	close(vfd);
	close(dfd);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The audit log's opens (created when absent, appended to): a FIFO planted
 * under the name with a reader waiting is never opened for writing. */
static void test_open_regular_create_opens_no_planted_node(void **state)
{
	(void)state;
	char dir[64] = "/tmp/lethefs-planted.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(mkfifoat(dfd, "log", 0600), 0);
	pid_t r = blocked_start(dfd, "log", O_RDONLY);
	assert_int_equal(
	    lfs_open_regular_create(dfd, "log", O_WRONLY | O_APPEND | O_NONBLOCK, 0600), -EINVAL);
	assert_int_equal(lfs_open_regular_flags(dfd, "log", O_RDWR | O_APPEND), -EINVAL);
	if (writer_released(r, 500))
		fail_msg("a FIFO planted as a log was opened for writing before it was refused");
	/* Absent: created with the mode, opened with the flags. */
	int fd = lfs_open_regular_create(dfd, "new", O_RDWR | O_APPEND, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND), O_RDWR | O_APPEND);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	struct stat st;
	assert_int_equal(fstatat(dfd, "new", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Present: opened, not truncated nor re-created. */
	fd = lfs_open_regular_create(dfd, "new", O_RDWR | O_APPEND, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "y", 1), 1);
	close(fd);
	assert_int_equal(fstatat(dfd, "new", &st, 0), 0);
	assert_int_equal(st.st_size, 2);
	/* A dangling symlink: neither followed nor created through. */
	assert_int_equal(symlinkat("/tmp/lethefs-planted-nowhere", dfd, "dangling"), 0);
	assert_int_equal(lfs_open_regular_create(dfd, "dangling", O_WRONLY, 0600), -ELOOP);
	assert_int_equal(access("/tmp/lethefs-planted-nowhere", F_OK), -1);
	close(dfd);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* --- a rotation batch's record against a tampered tree ---------------- */

#define NFILES 2
static const size_t sizes[NFILES] = {100, 9000};

static uint8_t *pattern(size_t len, uint8_t seed)
{
	uint8_t *p = malloc(len);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13);
	return p;
}

/* Format-2 files sub/f0, sub/f1 under epoch 1, written and synced. */
static void prepare(struct rig *g)
{
	rig_fs(g);
	mkdirat(g->data_fd, "sub", 0700);
	int sfd = openat(g->data_fd, "sub", O_RDONLY | O_DIRECTORY);
	assert_true(sfd >= 0);
	for (unsigned i = 0; i < NFILES; i++) {
		char name[8];
		snprintf(name, sizeof(name), "f%u", i);
		rig_new_file2(g, sfd, name);
		int fd;
		struct lfs_inode *in = rig_inode_at(g, sfd, name, O_RDWR, &fd);
		uint8_t *data = pattern(sizes[i], (uint8_t)i);
		assert_int_equal(lfs_fileio_write(&g->fs, in, fd, (char *)data, sizes[i], 0),
		                 (ssize_t)sizes[i]);
		free(data);
		assert_int_equal(fsync(fd), 0);
		lfs_inode_forget(&g->fs, in, 1);
		close(fd);
	}
	close(sfd);
	rig_fs_done(g);
}

/* A pass over sub/ that dies at wrapped call `at` (0: never). */
static void convert_child(struct rig *g, int at)
{
	rig_fs(g);
	calls = 0;
	fault_at = at;
	fault_kind = FAULT_CRASH_BEFORE;
	struct lfs_rotation r;
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.lock, NULL);
	r.target = 2;
	atomic_store(&g->fs.access, LFS_ACCESS_UNLOCKED);
	struct walk w = {
	    .r = &r, .fs = &g->fs, .treefd = -1, .lock_gen = atomic_load(&g->fs.lock_gen)};
	w.batch = lfs_rot_batch_new(&w);
	int sfd = openat(g->data_fd, "sub", O_RDONLY | O_DIRECTORY);
	for (unsigned i = 0; i < NFILES; i++) {
		char name[8], rel[16];
		snprintf(name, sizeof(name), "f%u", i);
		snprintf(rel, sizeof(rel), "sub/%s", name);
		(void)lfs_rot_batch_add(&w, sfd, name, rel);
	}
	lfs_rot_batch_free(w.batch);
	_exit(0);
}

static uint32_t epoch_at(int dirfd, const char *name)
{
	uint8_t raw[LFS_FILE_HDR_V2_LEN];
	struct lfs_file_header h;
	int fd = openat(dirfd, name, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, raw, sizeof(raw), 0), (ssize_t)sizeof(raw));
	close(fd);
	assert_int_equal(lfs_header_parse(raw, sizeof(raw), &h), 0);
	return h.epoch;
}

static unsigned pending(struct rig *g)
{
	unsigned n = 0;
	assert_int_equal(lfs_journal_open(&g->journal, g->vault_fd, g->kr.uuid, true, 16), 0);
	assert_int_equal(lfs_journal_pending(&g->journal, &n), 0);
	lfs_journal_close(&g->journal);
	return n;
}

/* The files prepared anew and a pass killed once its batch record is
 * durable and before it touched a file: the record pending, every file
 * still under epoch 1. */
static void interrupted_batch(struct rig *g)
{
	for (int at = 1; at < 64; at++) {
		prepare(g);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			convert_child(g, at);
		int st;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		int sfd = openat(g->data_fd, "sub", O_RDONLY | O_DIRECTORY);
		bool untouched = true;
		for (unsigned i = 0; i < NFILES; i++) {
			char name[8];
			snprintf(name, sizeof(name), "f%u", i);
			untouched = untouched && epoch_at(sfd, name) == 1;
		}
		close(sfd);
		if (WEXITSTATUS(st) == 99 && untouched && pending(g) > 0)
			return;
	}
	fail_msg("no crash point left a batch record with every file untouched");
}

static struct lfs_recovery recover(struct rig *g)
{
	rig_fs(g);
	struct lfs_recovery rc = {.journal = &g->journal,
	                          .kr = &g->kr,
	                          .layout = &g->fs.layout,
	                          .data_dirfd = g->data_fd,
	                          .handle_mount_fd = g->fs.handle_mount_fd};
	assert_int_equal(lfs_recover(&rc), 0);
	rig_fs_done(g);
	return rc;
}

/* sub/f0 deleted (its handle is stale: recovery goes by path) and a FIFO
 * planted under its name: the record's entry for it is void, the FIFO is
 * never opened, and sub/f1 is finished. */
static void test_batch_recovery_planted_fifo(void **state)
{
	(void)state;
	struct rig g;
	rig_init(&g);
	interrupted_batch(&g);
	int sfd = openat(g.data_fd, "sub", O_RDONLY | O_DIRECTORY);
	assert_int_equal(unlinkat(sfd, "f0", 0), 0);
	assert_int_equal(mkfifoat(sfd, "f0", 0600), 0);
	pid_t w = writer_start(sfd, "f0");
	recover(&g);
	if (writer_released(w, 500))
		fail_msg("recovery opened a FIFO planted at a batch entry's path");
	assert_int_equal(epoch_at(sfd, "f1"), 2);
	close(sfd);
	rig_done(&g);
}

/* The tree's sub/ moved to another filesystem (a copy there, as a backup
 * of the vault would hold) and replaced by a symlink to it: recovery must
 * not follow the link and rewrite the copy. */
static void test_batch_recovery_symlinked_dir(void **state)
{
	(void)state;
	struct stat a, b;
	if (stat("/dev/shm", &b) < 0 || stat("/tmp", &a) < 0 || a.st_dev == b.st_dev)
		skip(); /* needs a second filesystem */
	struct rig g;
	rig_init(&g);
	interrupted_batch(&g);
	char copy[64] = "/dev/shm/lethefs-planted.XXXXXX", cmd[256], link[128];
	assert_non_null(mkdtemp(copy));
	snprintf(cmd, sizeof(cmd), "cp -a %s/d/sub %s/sub && rm -rf %s/d/sub", g.dir, copy, g.dir);
	assert_int_equal(system(cmd), 0);
	snprintf(link, sizeof(link), "%s/sub", copy);
	assert_int_equal(symlinkat(link, g.data_fd, "sub"), 0);
	int cfd = open(link, O_RDONLY | O_DIRECTORY);
	assert_true(cfd >= 0);
	struct lfs_recovery rc = recover(&g);
	uint32_t e0 = epoch_at(cfd, "f0"), e1 = epoch_at(cfd, "f1");
	close(cfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", copy);
	assert_int_equal(system(cmd), 0);
	if (e0 != 1 || e1 != 1)
		fail_msg("recovery followed d/sub, a symlink, out of the vault and converted the "
		         "copy there (epochs %u and %u)",
		         e0, e1);
	/* Refused, not done: the record stays for a tree put right. */
	assert_int_equal(rc.completed, 0);
	assert_true(rc.failed > 0);
	rig_done(&g);
}

/* A FIFO swapped in under a file's name between the walk's look at it and
 * the conversion's open (lfs_rot_batch_add re-resolves the name): never
 * opened, reported. */
static void test_batch_add_opens_no_planted_fifo(void **state)
{
	(void)state;
	struct rig g;
	rig_init(&g);
	prepare(&g);
	rig_fs(&g);
	int sfd = openat(g.data_fd, "sub", O_RDONLY | O_DIRECTORY);
	assert_int_equal(unlinkat(sfd, "f0", 0), 0);
	assert_int_equal(mkfifoat(sfd, "f0", 0600), 0);
	pid_t w = writer_start(sfd, "f0");
	struct lfs_rotation r;
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.lock, NULL);
	r.target = 2;
	atomic_store(&g.fs.access, LFS_ACCESS_UNLOCKED);
	struct walk wk = {
	    .r = &r, .fs = &g.fs, .treefd = -1, .lock_gen = atomic_load(&g.fs.lock_gen)};
	wk.batch = lfs_rot_batch_new(&wk);
	assert_non_null(wk.batch);
	int e0 = lfs_rot_batch_add(&wk, sfd, "f0", "sub/f0");
	assert_int_equal(lfs_rot_batch_add(&wk, sfd, "f1", "sub/f1"), 0);
	lfs_rot_batch_free(wk.batch);
	bool released = writer_released(w, 500);
	rig_fs_done(&g);
	if (released)
		fail_msg("the rotation opened a FIFO swapped in under a file's name");
	assert_int_equal(e0, -EINVAL);
	assert_int_equal(epoch_at(sfd, "f1"), 2);
	close(sfd);
	rig_done(&g);
}

/* sub/NAME read whole through the file layer: its contents equal want
 * (len bytes) and every block authenticates. */
static void assert_reads(struct rig *g, const char *name, const uint8_t *want, size_t len)
{
	rig_fs(g);
	int sfd = openat(g->data_fd, "sub", O_RDONLY | O_DIRECTORY);
	int fd;
	struct lfs_inode *in = rig_inode_at(g, sfd, name, O_RDWR, &fd);
	uint64_t bad = 0;
	assert_int_equal(lfs_fileio_verify(&g->fs, in, fd, &bad), 0);
	uint8_t *got = malloc(len + 1);
	assert_int_equal(lfs_fileio_read(&g->fs, in, fd, (char *)got, len + 1, 0), (ssize_t)len);
	assert_memory_equal(got, want, len);
	free(got);
	lfs_inode_forget(&g->fs, in, 1);
	close(fd);
	close(sfd);
	rig_fs_done(g);
}

/* A batch record replayed: the journal as it was while the record was
 * pending, put back after the batch was finished and one of its files was
 * replaced by a new file under the same name. The finished file is left
 * as it is (already under its new header), the new file is another file
 * (its header is not the record's old one): neither is re-sealed. */
static void test_batch_record_replayed(void **state)
{
	(void)state;
	struct rig g;
	rig_init(&g);
	interrupted_batch(&g);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "cp %s/lethefs.journal %s/journal.kept", g.dir, g.dir);
	assert_int_equal(system(cmd), 0);
	recover(&g);
	/* f1 replaced by a new file (a new file id under epoch 1). */
	int sfd = openat(g.data_fd, "sub", O_RDONLY | O_DIRECTORY);
	assert_int_equal(unlinkat(sfd, "f1", 0), 0);
	close(sfd);
	uint8_t *f0 = pattern(sizes[0], 0);
	uint8_t *f1 = pattern(sizes[1], 1);
	f1[0] ^= 0x55; /* other contents than the recorded file's */
	rig_fs(&g);
	sfd = openat(g.data_fd, "sub", O_RDONLY | O_DIRECTORY);
	int fd = openat(sfd, "f1", O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	const struct lfs_epoch_keys *k;
	struct lfs_irec rec;
	struct lfs_file_header h;
	assert_int_equal(lfs_irec_make(&rec, S_IFREG | 0640, 1000, 1000, 0), 0);
	assert_int_equal(lfs_keyring_get(&g.kr, 1, &k), 0);
	assert_int_equal(lfs_obj2_write(fd, g.kr.cipher, k, &rec, NULL, 0, 0, &h), 0);
	lfs_keyring_put(&g.kr);
	int pfd = openat(sfd, "f1", O_PATH);
	struct stat st;
	assert_int_equal(fstat(pfd, &st), 0);
	int err = 0;
	struct lfs_inode *in = lfs_inode_get(&g.fs, pfd, &st, &err);
	assert_non_null(in);
	assert_int_equal(lfs_fileio_write(&g.fs, in, fd, (char *)f1, sizes[1], 0),
	                 (ssize_t)sizes[1]);
	lfs_inode_forget(&g.fs, in, 1);
	close(fd);
	close(sfd);
	rig_fs_done(&g);
	/* The old journal put back: its record authenticates, and recovery
	 * runs it again. */
	snprintf(cmd, sizeof(cmd), "cp %s/journal.kept %s/lethefs.journal", g.dir, g.dir);
	assert_int_equal(system(cmd), 0);
	assert_true(pending(&g) > 0);
	struct lfs_recovery rc = recover(&g);
	assert_int_equal(rc.failed, 0);
	assert_int_equal(pending(&g), 0);
	sfd = openat(g.data_fd, "sub", O_RDONLY | O_DIRECTORY);
	assert_int_equal(epoch_at(sfd, "f0"), 2);
	assert_int_equal(epoch_at(sfd, "f1"), 1);
	close(sfd);
	assert_reads(&g, "f0", f0, sizes[0]);
	assert_reads(&g, "f1", f1, sizes[1]);
	free(f0);
	free(f1);
	rig_done(&g);
}

/* A hard link planted beside a file (the same backing file under a second
 * valid name): the walk meets it twice, the batch takes it once (the
 * second name finds the inode's lock taken by the walker: the batch runs,
 * and the file is then under the new epoch already), no hang, no double
 * conversion. */
static void test_batch_hard_link_twice(void **state)
{
	(void)state;
	struct rig g;
	rig_init(&g);
	prepare(&g);
	int sfd = openat(g.data_fd, "sub", O_RDONLY | O_DIRECTORY);
	assert_int_equal(linkat(sfd, "f0", sfd, "f0link", 0), 0);
	close(sfd);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(60);
		rig_fs(&g);
		struct lfs_rotation r;
		memset(&r, 0, sizeof(r));
		pthread_mutex_init(&r.lock, NULL);
		r.target = 2;
		atomic_store(&g.fs.access, LFS_ACCESS_UNLOCKED);
		struct walk w = {
		    .r = &r, .fs = &g.fs, .treefd = -1, .lock_gen = atomic_load(&g.fs.lock_gen)};
		w.batch = lfs_rot_batch_new(&w);
		int dfd = openat(g.data_fd, "sub", O_RDONLY | O_DIRECTORY);
		int bad = lfs_rot_batch_add(&w, dfd, "f0", "sub/f0") < 0;
		bad += lfs_rot_batch_add(&w, dfd, "f0link", "sub/f0link") < 0;
		bad += lfs_rot_batch_add(&w, dfd, "f1", "sub/f1") < 0;
		lfs_rot_batch_free(w.batch);
		rig_fs_done(&g);
		_exit(bad || r.errors || r.files_done != 2 ? 1 : 0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		fail_msg("a hard link in the same batch hung the walker");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(pending(&g), 0);
	uint8_t *f0 = pattern(sizes[0], 0);
	assert_reads(&g, "f0", f0, sizes[0]);
	assert_reads(&g, "f0link", f0, sizes[0]);
	free(f0);
	rig_done(&g);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_regular_opens_no_planted_node),
	    cmocka_unit_test(test_open_regular_create_opens_no_planted_node),
	    cmocka_unit_test(test_batch_recovery_planted_fifo),
	    cmocka_unit_test(test_batch_recovery_symlinked_dir),
	    cmocka_unit_test(test_batch_add_opens_no_planted_fifo),
	    cmocka_unit_test(test_batch_record_replayed),
	    cmocka_unit_test(test_batch_hard_link_twice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
