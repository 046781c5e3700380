/* SPDX-License-Identifier: Apache-2.0 */
/* Crash sweep of the data path's recovery on a full disk, without a
 * mount: for each growth among the scenarios of tailrig.h, a crash (or a
 * torn write) at each backing call of the operation, then a recovery that
 * meets ENOSPC at each of its own calls in turn, then a clean recovery,
 * which must leave the old or the new file, every block authentic. */
#include "tailrig.h"

/* Recovery on a full disk: a copy-on-write filesystem may refuse even a
 * rewrite in place (ENOSPC). After a crash, the recovery itself meets an
 * error at each of its backing calls in turn; a clean recovery after it
 * must still leave the old or the new file. (A crash after a growth's
 * pivot was written left the new pivot on disk, and its record does not
 * carry the old one: a redo that rewrote it anyway and, refused, undid the
 * growth cut the file back to a last block sealed as non-final: EIO.) */
static bool recover_run(struct rig *g, void *ctx)
{
	(void)ctx;
	struct lfs_recovery rc = {.journal = &g->journal,
	                          .kr = &g->kr,
	                          .layout = &g->fs.layout,
	                          .data_dirfd = g->data_fd,
	                          .handle_mount_fd = g->fs.handle_mount_fd};
	return lfs_recover(&rc) == 0 && rc.failed == 0;
}

static void full_disk_recovery_sweep(unsigned v)
{
	unsigned runs = 0;
	version = v;
	const struct rig_op rec = {.run = recover_run};
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *s = &scenarios[i];
		if (s->op != 'w' || s->off + s->len <= s->initial)
			continue; /* growths only */
		struct rig g;
		rig_init(&g);
		prepare(&g, s);
		int ncalls;
		assert_int_equal(run_op(&g, s, 0, FAULT_NONE, &ncalls), 0);
		static const enum fault kinds[] = {FAULT_CRASH_AFTER, FAULT_TEAR_FIRST,
		                                   FAULT_TEAR_LAST};
		for (size_t f = 0; f < sizeof(kinds) / sizeof(kinds[0]); f++) {
			for (int at = 1; at <= ncalls; at++) {
				int dummy, rcalls;
				/* The recovery's own calls, counted on one run. */
				prepare(&g, s);
				run_op(&g, s, at, kinds[f], &dummy);
				rig_run(&g, &rec, 0, FAULT_NONE, &rcalls);
				for (int k = 1; k <= rcalls; k++) {
					prepare(&g, s);
					run_op(&g, s, at, kinds[f], &dummy);
					rig_run(&g, &rec, k, FAULT_ENOSPC, &dummy);
					check_file(&g, s, "a crash, then ENOSPC in its recovery",
					           at * 100 + k);
					runs++;
				}
			}
		}
		rig_done(&g);
	}
	printf("# recovery meeting ENOSPC after a crash, header version %u: %u runs, no loss\n", v,
	       runs);
}

static void test_tail_full_disk_recovery(void **state)
{
	(void)state;
	full_disk_recovery_sweep(LFS_FILE_V1);
	full_disk_recovery_sweep(LFS_FILE_V2);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tail_full_disk_recovery),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
