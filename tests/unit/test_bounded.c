/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for calls on persistent threads waited for a bounded time
 * (common/bounded.c, the page flushes of fs/flush.c): a call that returns
 * in time is waited for and runs on a copy of its argument; one that blocks
 * is given up after the wait, not before, and keeps its slot until it
 * returns; with every slot held by a blocked call the next is refused at
 * once; slots come back when blocked calls return; the threads persist
 * (the same few serve every call); a call not waited for at all (a wait
 * of 0) returns at once and still runs; a fork's child gets threads of its
 * own. */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../common/bounded.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int returned;

#define MAX_THREADS 16
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t seen[MAX_THREADS];
static int nseen;

struct args {
	int value;
	bool block; /* wait for the gate */
	atomic_int *out;
};

static void note_thread(void)
{
	pthread_mutex_lock(&seen_lock);
	pthread_t self = pthread_self();
	bool known = false;
	for (int i = 0; i < nseen; i++)
		known = known || pthread_equal(seen[i], self);
	if (!known && nseen < MAX_THREADS)
		seen[nseen++] = self;
	pthread_mutex_unlock(&seen_lock);
}

static void call(void *arg)
{
	const struct args *a = arg;
	note_thread();
	if (a->block) {
		pthread_mutex_lock(&gate_lock);
		while (!gate_open)
			pthread_cond_wait(&gate_cv, &gate_lock);
		pthread_mutex_unlock(&gate_lock);
	}
	atomic_store(a->out, a->value);
	atomic_fetch_add(&returned, 1);
}

static void gate_set(bool open)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = open;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_lock);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Calls that return are waited for, on a copy of the argument, by the same
 * threads every time. */
static void test_returns_in_time(void **state)
{
	(void)state;
	static struct lfs_bounded p = LFS_BOUNDED_INIT;
	static atomic_int out;
	nseen = 0;
	for (int i = 1; i <= 1000; i++) {
		struct args a = {.value = i, .out = &out};
		assert_int_equal(lfs_bounded_call(&p, call, &a, sizeof(a), 2000), LFS_BOUNDED_DONE);
		assert_int_equal(atomic_load(&out), i); /* returned before the call did */
	}
	assert_true(nseen >= 1 && nseen <= LFS_BOUNDED_SLOTS);
	struct args big[LFS_BOUNDED_ARG_MAX / sizeof(struct args) + 1] = {{0}};
	assert_true(sizeof(big) > LFS_BOUNDED_ARG_MAX);
	assert_int_equal(lfs_bounded_call(&p, call, big, sizeof(big), 2000), LFS_BOUNDED_REFUSED);
}

/* A blocked call is given up after the wait and holds its slot; with every
 * slot held the next call is refused without waiting; once they return
 * the slots serve again. */
static void test_gives_up_and_recovers(void **state)
{
	(void)state;
	static struct lfs_bounded p = LFS_BOUNDED_INIT;
	static atomic_int out[LFS_BOUNDED_SLOTS + 2];
	gate_set(false);
	atomic_store(&returned, 0);
	for (int i = 0; i < LFS_BOUNDED_SLOTS; i++) {
		struct args a = {.value = 100 + i, .block = true, .out = &out[i]};
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(lfs_bounded_call(&p, call, &a, sizeof(a), 300),
		                 LFS_BOUNDED_GAVE_UP);
		long ms = ms_since(&t0);
		assert_true(ms >= 300);
		assert_true(ms < 5000);
	}
	assert_true(lfs_bounded_full(&p));
	struct args a = {.value = 7, .out = &out[LFS_BOUNDED_SLOTS]};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(lfs_bounded_call(&p, call, &a, sizeof(a), 2000), LFS_BOUNDED_REFUSED);
	assert_true(ms_since(&t0) < 1000);
	assert_int_equal(atomic_load(&out[LFS_BOUNDED_SLOTS]), 0); /* not called */
	/* The given-up calls run on their own copies: the callers' are gone. */
	gate_set(true);
	for (int i = 0; i < 500 && atomic_load(&returned) < LFS_BOUNDED_SLOTS; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&returned), LFS_BOUNDED_SLOTS);
	for (int i = 0; i < LFS_BOUNDED_SLOTS; i++)
		assert_int_equal(atomic_load(&out[i]), 100 + i);
	/* The slots are free again once their threads are back. */
	int done = 0;
	for (int i = 0; i < 500 && done < 2 * LFS_BOUNDED_SLOTS; i++) {
		a.value = 8 + i;
		a.out = &out[LFS_BOUNDED_SLOTS + 1];
		if (lfs_bounded_call(&p, call, &a, sizeof(a), 2000) == LFS_BOUNDED_DONE) {
			assert_int_equal(atomic_load(a.out), 8 + i);
			done++;
		} else
			usleep(10000);
	}
	assert_int_equal(done, 2 * LFS_BOUNDED_SLOTS);
	assert_false(lfs_bounded_full(&p));
}

/* A wait of 0 (fs/prefetch.c) hands the call over and returns at once; the
 * call still runs to its end, and its slot comes back after it. */
static void test_no_wait(void **state)
{
	(void)state;
	static struct lfs_bounded p = LFS_BOUNDED_INIT;
	static atomic_int out;
	assert_false(lfs_bounded_full(&p)); /* no thread yet: not full */
	gate_set(false);
	atomic_store(&returned, 0);
	struct args a = {.value = 5, .block = true, .out = &out};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < LFS_BOUNDED_SLOTS; i++)
		assert_int_equal(lfs_bounded_call(&p, call, &a, sizeof(a), 0), LFS_BOUNDED_GAVE_UP);
	assert_true(ms_since(&t0) < 1000);
	assert_true(lfs_bounded_full(&p));
	assert_int_equal(lfs_bounded_call(&p, call, &a, sizeof(a), 0), LFS_BOUNDED_REFUSED);
	gate_set(true);
	for (int i = 0;
	     i < 500 && (atomic_load(&returned) < LFS_BOUNDED_SLOTS || lfs_bounded_full(&p)); i++)
		usleep(10000);
	assert_int_equal(atomic_load(&returned), LFS_BOUNDED_SLOTS);
	assert_int_equal(atomic_load(&out), 5);
	assert_false(lfs_bounded_full(&p));
}

/* A pool used before a fork serves calls in the child too (the parent's
 * threads are not there), a blocked one included. */
static void test_fork_child(void **state)
{
	(void)state;
	static struct lfs_bounded p = LFS_BOUNDED_INIT;
	static atomic_int out;
	struct args a = {.value = 1, .out = &out};
	assert_int_equal(lfs_bounded_call(&p, call, &a, sizeof(a), 2000), LFS_BOUNDED_DONE);
	gate_set(false);
	a.block = true;
	assert_int_equal(lfs_bounded_call(&p, call, &a, sizeof(a), 100), LFS_BOUNDED_GAVE_UP);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct args b = {.value = 2, .out = &out};
		int ok = lfs_bounded_call(&p, call, &b, sizeof(b), 2000) == LFS_BOUNDED_DONE &&
		         atomic_load(&out) == 2;
		_exit(ok ? 0 : 1);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	gate_set(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_returns_in_time),
	    cmocka_unit_test(test_gives_up_and_recovers),
	    cmocka_unit_test(test_no_wait),
	    cmocka_unit_test(test_fork_child),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
