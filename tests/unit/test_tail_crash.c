/* SPDX-License-Identifier: Apache-2.0 */
/* Crash and full-disk sweep of the data path under the journal, without a
 * mount, over the scenarios of tailrig.h: tail updates (fs/fileio_tail.c),
 * blocks rewritten in place (fs/overwrite.c) and a rotation's conversion of
 * a file (rotation/), for files of both header versions. The backing-store
 * calls are wrapped at link time (-Wl,--wrap, see the Makefile), so a
 * forked child can die (_exit) or get ENOSPC/EIO at exactly its Nth call of
 * an operation, or die half way through its Nth write (torn at the first
 * or the last page boundary inside it, as a kill -9 leaves a write). After
 * each crash the one recovery function runs and the file must read back as
 * it was before the operation or as it is after it, with every block
 * authentic; after each error the operation must have failed cleanly with
 * the old contents intact. Every N from 1 to the operation's number of
 * calls is tried, for each scenario. Another host writing after the crash,
 * and a recovery that meets a full disk, have their own
 * test_tail_crash_*.c. */
#include "tailrig.h"

static uint32_t file_epoch(struct rig *g)
{
	uint8_t raw[LFS_FILE_HDR_MAX];
	struct lfs_file_header h;
	size_t len = lfs_header_len(version);
	int fd = openat(g->data_fd, "f", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, raw, len, 0), (ssize_t)len);
	close(fd);
	assert_int_equal(lfs_header_parse(raw, len, &h), 0);
	return h.epoch;
}

static void sweep(const struct scenario *s, unsigned *crashes, unsigned *errors, unsigned *tears)
{
	struct rig g;
	rig_init(&g);
	prepare(&g, s);
	int ncalls;
	assert_int_equal(run_op(&g, s, 0, FAULT_NONE, &ncalls), 0);
	assert_true(ncalls > 0);
	/* A conversion leaves the contents as they were: its "after" is the
	 * file under the new epoch. */
	int clean = check_file(&g, s, "no fault", 0);
	if (s->op == 'r')
		assert_int_equal(file_epoch(&g), 2);
	else if (s->op == 'u')
		assert_int_equal(file_epoch(&g), 1);
	else
		assert_int_equal(clean, 1);
	static const struct {
		enum fault kind;
		const char *name;
	} faults[] = {{FAULT_CRASH_BEFORE, "crash before"},
	              {FAULT_CRASH_AFTER, "crash after"},
	              {FAULT_ENOSPC, "ENOSPC"},
	              {FAULT_EIO, "EIO"},
	              {FAULT_TEAR_FIRST, "torn at the first page boundary"},
	              {FAULT_TEAR_LAST, "torn at the last page boundary"}};
	for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++) {
		for (int at = 1; at <= ncalls; at++) {
			prepare(&g, s);
			int dummy;
			int rc = run_op(&g, s, at, faults[f].kind, &dummy);
			int side = check_file(&g, s, faults[f].name, at);
			if (faults[f].kind == FAULT_ENOSPC || faults[f].kind == FAULT_EIO) {
				/* An error is never a false success, and a failed
				 * operation costs only its own data. */
				if (rc == 1 && side != 0)
					fail_msg(
					    "v%u %s, %s at call %d: failed but changed the file",
					    version, s->name, faults[f].name, at);
				(*errors)++;
			} else {
				assert_int_equal(rc, 99);
				(*crashes)++;
				*tears += faults[f].kind == FAULT_TEAR_FIRST ||
				          faults[f].kind == FAULT_TEAR_LAST;
			}
		}
	}
	rig_done(&g);
}

static void data_sweep(unsigned v)
{
	unsigned crashes = 0, errors = 0, tears = 0;
	version = v;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		sweep(&scenarios[i], &crashes, &errors, &tears);
	printf("# data path sweep, header version %u: %zu scenarios, %u crashes (%u of them "
	       "torn writes) and %u injected errors, no loss\n",
	       v, sizeof(scenarios) / sizeof(scenarios[0]), crashes, tears, errors);
}

static void test_tail_sweep(void **state)
{
	(void)state;
	data_sweep(LFS_FILE_V1);
}

static void test_tail_sweep_format2(void **state)
{
	(void)state;
	data_sweep(LFS_FILE_V2);
}

/* The same with -o powersafe: the pivots of files whose contents were
 * there before the update count as durable, so every growth and cut of
 * them runs the durable order (record synced, file synced before the
 * record is cleared), under every fault at every call. */
static void test_tail_sweep_format2_powersafe(void **state)
{
	(void)state;
	rig_powersafe = true;
	data_sweep(LFS_FILE_V2);
	rig_powersafe = false;
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tail_sweep),
	    cmocka_unit_test(test_tail_sweep_format2),
	    cmocka_unit_test(test_tail_sweep_format2_powersafe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
