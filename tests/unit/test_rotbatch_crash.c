/* SPDX-License-Identifier: Apache-2.0 */
/* Crash and error sweep of a rotation batch (rotation/batch.h), without a
 * mount: several small files converted under one batch record (kind 9),
 * their data synced together, beside one larger file converted alone under
 * its own record. The backing-store calls are wrapped at link time (see
 * crashrig.h), so a forked child dies or gets EIO/ENOSPC at exactly its Nth
 * call, or dies half way through its Nth write. A crash in the middle of the
 * batch leaves some files converted, some half converted and some untouched
 * with the record pending; after the one recovery function every file must
 * read back exactly as before, every block authentic, no record left. */
#include "crashrig.h"

#include "../../common/fileutil.h"
#include "../../fs/fileio.h"
#include "../../fs/obj2.h"
#include "../../rotation/batch.h"
#include "../../rotation/pass.h"

/* Sizes: four batched (one block, a partial block, three blocks, ten) and
 * one above LFS_ROT_BATCH_FILE_MAX, converted alone. */
static const size_t sizes[] = {100, 4096, 9000, 40000, 300000};
#define NFILES (sizeof(sizes) / sizeof(sizes[0]))

static uint8_t *pattern(size_t len, uint8_t seed)
{
	uint8_t *p = malloc(len ? len : 1);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 12));
	return p;
}

static void name_of(unsigned i, char name[8])
{
	snprintf(name, 8, "f%u", i);
}

static struct lfs_inode *open_named(struct rig *g, const char *name, int *fd)
{
	return rig_inode_at(g, g->data_fd, name, O_RDWR, fd);
}

/* Format-2 files under epoch 1, written and synced. */
static void prepare(struct rig *g)
{
	rig_fs(g);
	for (unsigned i = 0; i < NFILES; i++) {
		char name[8];
		name_of(i, name);
		rig_new_file2(g, g->data_fd, name);
		int fd;
		struct lfs_inode *in = open_named(g, name, &fd);
		uint8_t *data = pattern(sizes[i], (uint8_t)i);
		assert_int_equal(lfs_fileio_write(&g->fs, in, fd, (char *)data, sizes[i], 0),
		                 (ssize_t)sizes[i]);
		free(data);
		assert_int_equal(fsync(fd), 0);
		lfs_inode_forget(&g->fs, in, 1);
		close(fd);
	}
	rig_fs_done(g);
}

/* What a pass does with these files: each joins the batch (the large one
 * is converted at once, alone), then the batch runs. */
static bool convert_all(struct rig *g)
{
	struct lfs_rotation r;
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.lock, NULL);
	r.target = 2;
	atomic_store(&g->fs.access, LFS_ACCESS_UNLOCKED);
	struct walk w = {
	    .r = &r, .fs = &g->fs, .treefd = -1, .lock_gen = atomic_load(&g->fs.lock_gen)};
	w.batch = lfs_rot_batch_new(&w);
	assert_non_null(w.batch);
	bool ok = true;
	for (unsigned i = 0; i < NFILES; i++) {
		char name[8];
		name_of(i, name);
		if (lfs_rot_batch_add(&w, g->data_fd, name, name) < 0)
			ok = false;
	}
	lfs_rot_batch_free(w.batch);
	/* Every file's io_lock is free again, for readers and writers. (An
	 * unlock by the wrong thread, which glibc takes for a reader's, passes
	 * this uncontended check: 16-rotate.bats's read after a rotation is
	 * what found it.) */
	for (unsigned i = 0; i < NFILES; i++) {
		char name[8];
		name_of(i, name);
		struct lfs_inode *in = lfs_inode_hold(&g->fs, g->data_fd, name);
		bool r_ok = in && pthread_rwlock_tryrdlock(&in->io_lock) == 0;
		if (r_ok)
			pthread_rwlock_unlock(&in->io_lock);
		bool w_ok = in && pthread_rwlock_trywrlock(&in->io_lock) == 0;
		if (w_ok)
			pthread_rwlock_unlock(&in->io_lock);
		if (!r_ok || !w_ok) {
			fprintf(stderr, "%s: io_lock still taken after the batch\n", name);
			ok = false;
		}
		if (in)
			lfs_inode_release(&g->fs, in);
	}
	return ok && r.errors == 0 && r.files_done == NFILES;
}

static bool run_convert_all(struct rig *g, void *ctx)
{
	(void)ctx;
	return convert_all(g);
}

/* 0 done, 1 failed, 99 crashed; *ncalls: wrapped calls made. */
static int run_op(struct rig *g, int at, enum fault kind, int *ncalls)
{
	const struct rig_op op = {.run = run_convert_all};
	return rig_run(g, &op, at, kind, ncalls);
}

static uint32_t epoch_of(int fd)
{
	uint8_t raw[LFS_FILE_HDR_MAX];
	struct lfs_file_header h;
	assert_int_equal(pread(fd, raw, LFS_FILE_HDR_V2_LEN, 0), (ssize_t)LFS_FILE_HDR_V2_LEN);
	assert_int_equal(lfs_header_parse(raw, LFS_FILE_HDR_V2_LEN, &h), 0);
	return h.epoch;
}

/* Recovery, then every file as before and authentic, no record pending.
 * Returns how many files are under epoch 2. */
static unsigned check_files(struct rig *g, const char *what, int at)
{
	rig_fs(g);
	struct lfs_recovery rc = {.journal = &g->journal,
	                          .kr = &g->kr,
	                          .layout = &g->fs.layout,
	                          .data_dirfd = g->data_fd,
	                          .handle_mount_fd = g->fs.handle_mount_fd};
	assert_int_equal(lfs_recover(&rc), 0);
	unsigned pending = 0, converted = 0;
	assert_int_equal(lfs_journal_pending(&g->journal, &pending), 0);
	if (pending)
		fail_msg("%s at call %d: %u records pending after recovery", what, at, pending);
	for (unsigned i = 0; i < NFILES; i++) {
		char name[8];
		int fd;
		name_of(i, name);
		struct lfs_inode *in = open_named(g, name, &fd);
		uint64_t bad = 0;
		long nbad = lfs_fileio_verify(&g->fs, in, fd, &bad);
		uint8_t *got = malloc(sizes[i]);
		uint8_t *want = pattern(sizes[i], (uint8_t)i);
		ssize_t n = lfs_fileio_read(&g->fs, in, fd, (char *)got, sizes[i], 0);
		if (nbad != 0 || n != (ssize_t)sizes[i] || memcmp(got, want, sizes[i]) != 0)
			fail_msg("%s at call %d: %s (%zu bytes): %ld bad blocks (first %llu), read "
			         "%zd bytes%s",
			         what, at, name, sizes[i], nbad, (unsigned long long)bad, n,
			         n == (ssize_t)sizes[i] ? ", contents differ" : "");
		converted += epoch_of(fd) == 2;
		free(got);
		free(want);
		lfs_inode_forget(&g->fs, in, 1);
		close(fd);
	}
	rig_fs_done(g);
	return converted;
}

static void test_batch_sweep(void **state)
{
	(void)state;
	struct rig g;
	rig_init(&g);
	prepare(&g);
	int ncalls;
	assert_int_equal(run_op(&g, 0, FAULT_NONE, &ncalls), 0);
	assert_true(ncalls > 0);
	assert_int_equal(check_files(&g, "no fault", 0), NFILES);
	static const struct {
		enum fault kind;
		const char *name;
	} faults[] = {{FAULT_CRASH_BEFORE, "crash before"},
	              {FAULT_CRASH_AFTER, "crash after"},
	              {FAULT_ENOSPC, "ENOSPC"},
	              {FAULT_EIO, "EIO"},
	              {FAULT_TEAR_FIRST, "torn at the first page boundary"},
	              {FAULT_TEAR_LAST, "torn at the last page boundary"}};
	unsigned crashes = 0, errors = 0, mixed = 0;
	for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++) {
		for (int at = 1; at <= ncalls; at++) {
			prepare(&g);
			int dummy;
			int rc = run_op(&g, at, faults[f].kind, &dummy);
			unsigned conv = check_files(&g, faults[f].name, at);
			if (faults[f].kind == FAULT_ENOSPC || faults[f].kind == FAULT_EIO) {
				errors++;
				/* An error is never a false success. */
				if (rc == 0 && conv != NFILES)
					fail_msg("%s at call %d: success, but %u of %zu converted",
					         faults[f].name, at, conv, NFILES);
			} else {
				assert_int_equal(rc, 99);
				crashes++;
			}
			mixed += conv > 0 && conv < NFILES;
		}
	}
	/* The sweep must have met batches cut in the middle. */
	assert_true(mixed > 0);
	printf("# rotation batch sweep: %d calls, %u crashes and %u injected errors, %u of them "
	       "with some files converted and some not; no loss\n",
	       ncalls, crashes, errors, mixed);
	rig_done(&g);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batch_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
