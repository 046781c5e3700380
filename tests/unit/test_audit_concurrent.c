/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the audit log under concurrent writers: threads sharing
 * one log object, and processes that inherited it across fork, keyed and
 * unkeyed appends mixed, leave one valid chain with every entry. */
#define _GNU_SOURCE
#include "auditrig.h"

#include <pthread.h>
#include <sys/wait.h>

/* ---- concurrency -------------------------------------------------------- */

#define WRITERS 4
#define EACH    25

static void *writer(void *arg)
{
	struct fixture *f = arg;
	for (int i = 0; i < EACH; i++)
		if (lfs_audit_append(f->log, (i & 1) ? f->key : NULL, "lock", "success", NULL, NULL,
		                     0) != 0)
			return (void *)1;
	return NULL;
}

static void test_concurrent_threads(void **state)
{
	struct fixture *f = *state;
	pthread_t th[WRITERS];
	for (int i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer, f), 0);
	for (int i = 0; i < WRITERS; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	struct lfs_audit_report rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.entries, WRITERS * EACH);
}

/* Children inherit the parent's log object: each append must still take
 * its own lock. */
static void test_concurrent_processes(void **state)
{
	struct fixture *f = *state;
	pid_t pids[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(writer(f) ? 1 : 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	struct lfs_audit_report rep = verify(f, true);
	assert_int_equal(rep.problem, LFS_AUDIT_INTACT);
	assert_int_equal(rep.entries, WRITERS * EACH);
	assert_int_equal(rep.keyed, WRITERS * (EACH / 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_concurrent_threads),
	    T(test_concurrent_processes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
