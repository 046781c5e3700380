/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the names a directory listing returned (fs/dirseen.c):
 * nothing is filtered before a restart, everything returned before it is
 * after, names returned after a restart are not, a rewind forgets all,
 * and two listings' hashes differ (each its own key). */
#include "testutil.h"

#include <stdio.h>

#include "../../fs/dirseen.h"

static int setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static void name_of(char *buf, size_t len, int i)
{
	snprintf(buf, len, "patient-record-%05d.hl7", i);
}

static void test_restart_filters_what_was_returned(void **state)
{
	(void)state;
	struct lfs_dirseen s;
	lfs_dirseen_init(&s);
	char n[64];
	for (int i = 0; i < 1000; i += 2) {
		name_of(n, sizeof(n), i);
		lfs_dirseen_add(&s, n);
	}
	name_of(n, sizeof(n), 0);
	assert_false(lfs_dirseen_has(&s, n)); /* no restart yet */
	assert_true(lfs_dirseen_restart(&s));
	for (int i = 0; i < 1000; i++) {
		name_of(n, sizeof(n), i);
		if (lfs_dirseen_has(&s, n) != (i % 2 == 0))
			fail_msg("%s: %d", n, lfs_dirseen_has(&s, n));
	}
	/* Returned after the restart: a second restart filters those too. */
	name_of(n, sizeof(n), 1);
	lfs_dirseen_add(&s, n);
	assert_false(lfs_dirseen_has(&s, n));
	assert_true(lfs_dirseen_restart(&s));
	assert_true(lfs_dirseen_has(&s, n));
	assert_false(lfs_dirseen_has(&s, "patient-record-00003.hl7"));
	lfs_dirseen_free(&s);
}

static void test_rewind_forgets(void **state)
{
	(void)state;
	struct lfs_dirseen s;
	lfs_dirseen_init(&s);
	lfs_dirseen_add(&s, "a");
	lfs_dirseen_restart(&s);
	assert_true(lfs_dirseen_has(&s, "a"));
	lfs_dirseen_clear(&s);
	assert_false(lfs_dirseen_has(&s, "a"));
	/* A restart with nothing returned filters nothing. */
	assert_true(lfs_dirseen_restart(&s));
	assert_false(lfs_dirseen_has(&s, "a"));
	lfs_dirseen_free(&s);
}

static void test_keys_differ(void **state)
{
	(void)state;
	struct lfs_dirseen a, b;
	lfs_dirseen_init(&a);
	lfs_dirseen_init(&b);
	assert_memory_not_equal(a.key, b.key, sizeof(a.key));
	lfs_dirseen_add(&a, "x");
	lfs_dirseen_add(&b, "x");
	assert_true(a.h[0] != b.h[0]);
	lfs_dirseen_free(&a);
	lfs_dirseen_free(&b);
}

/* A listing past the budget keeps no more names and says so at its
 * restart; every byte comes back when the sets are freed. */
static void test_budget(void **state)
{
	(void)state;
	assert_int_equal(lfs_dirseen_bytes_in_use(), 0);
	struct lfs_dirseen big, small;
	lfs_dirseen_init(&big);
	lfs_dirseen_init(&small);
	char n[64];
	size_t i = 0;
	while (!big.lost) {
		snprintf(n, sizeof(n), "%zu", i++);
		lfs_dirseen_add(&big, n);
		if (i > ((size_t)80 << 20) / 8)
			fail_msg("no budget after %zu names", i);
	}
	assert_true(i > ((size_t)60 << 20) / 8);
	assert_true(lfs_dirseen_bytes_in_use() <= (size_t)64 << 20);
	/* Another listing finds the budget spent: it keeps nothing. */
	lfs_dirseen_add(&small, "a");
	assert_true(small.lost);
	assert_false(lfs_dirseen_restart(&small));
	assert_false(lfs_dirseen_restart(&big));
	snprintf(n, sizeof(n), "%d", 7);
	assert_true(lfs_dirseen_has(&big, n)); /* what it kept still counts */
	lfs_dirseen_free(&big);
	lfs_dirseen_free(&small);
	assert_int_equal(lfs_dirseen_bytes_in_use(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_restart_filters_what_was_returned),
	    cmocka_unit_test(test_rewind_forgets),
	    cmocka_unit_test(test_keys_differ),
	    cmocka_unit_test(test_budget),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
