/* SPDX-License-Identifier: Apache-2.0 */
/* Crash sweep of the data path in shared mode, without a mount: for each
 * scenario of tailrig.h and each backing call of its operation, the host
 * crashes before or after the call, another host appends to the file, and
 * only then is the crashed host's journal recovered; nothing either host
 * wrote may be lost (docs/SHARED.md, "other host after a crash"). */
#include "tailrig.h"

/* Shared mode: another host writes the file's end after the crash and
 * before the crashed host's journal is recovered (docs/SHARED.md). Its
 * append either fails (the end it finds does not authenticate) or builds
 * on an end that does; recovery must then keep that append and leave every
 * block authentic. */
static void other_host_then_recover(struct rig *g, const struct scenario *s, int at,
                                    enum fault kind)
{
	prepare(g, s);
	int dummy;
	run_op(g, s, at, kind, &dummy);
	/* The other host: no journal of its own here (it does not crash). */
	int dfd = dup(g->data_fd);
	assert_int_equal(lfs_fs_init(&g->fs, &g->kr, dfd, g->dir), 0);
	int fd;
	struct lfs_inode *in = open_file(g, &fd);
	struct stat st;
	struct lfs_layout l;
	assert_int_equal(fstat(fd, &st), 0);
	file_layout(g, fd, &l);
	uint64_t off;
	lfs_plain_size(&l, (uint64_t)st.st_size, &off);
	uint8_t *a = pattern(3000, 55);
	bool appended = lfs_fileio_write(&g->fs, in, fd, (char *)a, 3000, off) == 3000;
	put_file(g, in, fd);
	lfs_fs_destroy(&g->fs);
	/* Recovery of the crashed host's journal, then the file. */
	rig_fs(g);
	struct lfs_recovery rc = {.journal = &g->journal,
	                          .kr = &g->kr,
	                          .layout = &g->fs.layout,
	                          .data_dirfd = g->data_fd,
	                          .handle_mount_fd = -1};
	assert_int_equal(lfs_recover(&rc), 0);
	in = open_file(g, &fd);
	uint64_t bad = 0;
	long nbad = lfs_fileio_verify(&g->fs, in, fd, &bad);
	assert_int_equal(fstat(fd, &st), 0);
	file_layout(g, fd, &l);
	uint64_t plain;
	lfs_plain_size(&l, (uint64_t)st.st_size, &plain);
	uint8_t *got = malloc(plain ? plain : 1);
	ssize_t n = plain ? lfs_fileio_read(&g->fs, in, fd, (char *)got, plain, 0) : 0;
	size_t new_len;
	uint8_t *want_new = expected_after(s, &new_len);
	uint8_t *want_old = pattern(s->initial, 1);
	bool ok = nbad == 0;
	if (appended) {
		/* What it appended to was the old or the new file. */
		const uint8_t *base = off == s->initial ? want_old : want_new;
		ok = ok && (off == s->initial || off == new_len) && n == (ssize_t)(off + 3000) &&
		     (memcmp(got, base, off) == 0 ||
		      (off == s->initial && block_mix(got, want_old, want_new, off))) &&
		     memcmp(got + off, a, 3000) == 0;
	} else {
		ok = ok && ((n == (ssize_t)s->initial && block_mix(got, want_old, want_new, n)) ||
		            (n == (ssize_t)new_len && memcmp(got, want_new, new_len) == 0));
	}
	if (!ok)
		fail_msg("%s, crash %s call %d, then the other host's append %s at %llu: %ld bad "
		         "blocks (first %llu), %zd bytes, content wrong",
		         s->name, kind == FAULT_CRASH_BEFORE ? "before" : "after", at,
		         appended ? "succeeded" : "failed", (unsigned long long)off, nbad,
		         (unsigned long long)bad, n);
	free(a);
	free(got);
	free(want_new);
	free(want_old);
	put_file(g, in, fd);
	rig_fs_done(g);
}

static void other_host_sweep(unsigned v)
{
	unsigned runs = 0;
	version = v;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *s = &scenarios[i];
		struct rig g;
		rig_init(&g);
		prepare(&g, s);
		int ncalls;
		assert_int_equal(run_op(&g, s, 0, FAULT_NONE, &ncalls), 0);
		for (int at = 1; at <= ncalls; at++) {
			other_host_then_recover(&g, s, at, FAULT_CRASH_BEFORE);
			other_host_then_recover(&g, s, at, FAULT_CRASH_AFTER);
			runs += 2;
		}
		rig_done(&g);
	}
	printf("# other host after a crash, header version %u: %u crashes, each followed by an "
	       "append, no loss\n",
	       v, runs);
}

static void test_tail_crash_other_host(void **state)
{
	(void)state;
	other_host_sweep(LFS_FILE_V1);
}

static void test_tail_crash_other_host_format2(void **state)
{
	(void)state;
	other_host_sweep(LFS_FILE_V2);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tail_crash_other_host),
	    cmocka_unit_test(test_tail_crash_other_host_format2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
