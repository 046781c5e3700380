/* SPDX-License-Identifier: Apache-2.0 */
/* A rotation batch (rotation/batch.h) against a journal with few slots.
 * A batch writes all its records before it converts any of its files and
 * holds their slots until its files are done. Entries of files with long
 * backing paths (a local user's deep tree of long names: each component up
 * to 255 characters, paths up to 4 KiB) fill a record with two entries,
 * so a batch of many such files needs more records than the journal has
 * slots: the walker then waited for a slot that only it could free, for
 * ever, holding every file of the batch locked, and every FUSE request
 * needing a journal slot waited behind it. Here: 40 files, 3.7 KiB paths,
 * a journal of 16 slots; the pass must end and convert every file. */
#include "crashrig.h"

#include <signal.h>

#include "../../fs/fileio.h"
#include "../../fs/obj2.h"
#include "../../rotation/batch.h"
#include "../../rotation/pass.h"

#define NFILES 40
#define DEPTH  15

/* d/NNN...(250 chars)/... DEPTH levels deep: its descriptor. */
static int deep_dir(struct rig *g)
{
	int fd = dup(g->data_fd);
	for (int i = 0; i < DEPTH; i++) {
		char name[251];
		memset(name, 'a' + i, 250);
		name[250] = '\0';
		mkdirat(fd, name, 0700);
		int next = openat(fd, name, O_RDONLY | O_DIRECTORY);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	return fd;
}

static void prepare(struct rig *g)
{
	rig_fs(g);
	int dfd = deep_dir(g);
	for (unsigned i = 0; i < NFILES; i++) {
		char name[8];
		snprintf(name, sizeof(name), "f%02u", i);
		rig_new_file2(g, dfd, name);
		int fd;
		struct lfs_inode *in = rig_inode_at(g, dfd, name, O_RDWR, &fd);
		char data[100];
		memset(data, (int)i, sizeof(data));
		assert_int_equal(lfs_fileio_write(&g->fs, in, fd, data, sizeof(data), 0),
		                 (ssize_t)sizeof(data));
		lfs_inode_forget(&g->fs, in, 1);
		close(fd);
	}
	close(dfd);
	rig_fs_done(g);
}

/* The pass over the deep directory, in a child that a hang kills. */
static void convert_child(struct rig *g)
{
	alarm(60);
	rig_fs(g);
	struct lfs_rotation r;
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.lock, NULL);
	r.target = 2;
	atomic_store(&g->fs.access, LFS_ACCESS_UNLOCKED);
	struct walk w = {
	    .r = &r, .fs = &g->fs, .treefd = -1, .lock_gen = atomic_load(&g->fs.lock_gen)};
	w.batch = lfs_rot_batch_new(&w);
	int dfd = deep_dir(g);
	int bad = 0;
	for (unsigned i = 0; i < NFILES; i++) {
		char name[8];
		snprintf(name, sizeof(name), "f%02u", i);
		bad += lfs_rot_batch_add(&w, dfd, name, name) < 0;
	}
	lfs_rot_batch_free(w.batch);
	rig_fs_done(g);
	_exit(bad || r.errors || r.files_done != NFILES ? 1 : 0);
}

static void test_batch_of_long_paths_fits_the_journal(void **state)
{
	(void)state;
	struct rig g;
	rig_init(&g);
	prepare(&g);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		convert_child(&g);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
		fail_msg("the batch's walker waited for a journal slot for ever (deadlock)");
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* Every file under the new epoch, no record left. */
	int dfd = deep_dir(&g);
	for (unsigned i = 0; i < NFILES; i++) {
		char name[8];
		uint8_t raw[LFS_FILE_HDR_V2_LEN];
		struct lfs_file_header h;
		snprintf(name, sizeof(name), "f%02u", i);
		int fd = openat(dfd, name, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, raw, sizeof(raw), 0), (ssize_t)sizeof(raw));
		close(fd);
		assert_int_equal(lfs_header_parse(raw, sizeof(raw), &h), 0);
		assert_int_equal(h.epoch, 2);
	}
	close(dfd);
	unsigned pending = 1;
	assert_int_equal(lfs_journal_open(&g.journal, g.vault_fd, g.kr.uuid, true, 16), 0);
	assert_int_equal(lfs_journal_pending(&g.journal, &pending), 0);
	lfs_journal_close(&g.journal);
	assert_int_equal(pending, 0);
	rig_done(&g);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batch_of_long_paths_fits_the_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
