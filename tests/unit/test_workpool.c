/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the helper pool (common/workpool.c) that looks up the
 * entries of a READDIRPLUS reply: every item runs exactly once, helpers do
 * share the work, results collected by index come out in the caller's
 * order however the threads interleave, two callers at once each get
 * their own items, and a pool without helpers (or one job of one item)
 * runs on the caller alone. */
#define _GNU_SOURCE
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../../common/workpool.h"

#define ITEMS 2000

struct job {
	atomic_int runs[ITEMS];
	pthread_t by[ITEMS];
	char out[ITEMS][16]; /* the "reply entry" each item produces */
	unsigned delay_us;   /* per item, varied by index */
	size_t base;         /* the first item's name */
};

static void item(void *arg, size_t i)
{
	struct job *j = arg;
	atomic_fetch_add(&j->runs[i], 1);
	j->by[i] = pthread_self();
	if (j->delay_us)
		usleep(j->delay_us * (unsigned)((i * 7919) % 5)); /* out of order */
	snprintf(j->out[i], sizeof(j->out[i]), "f%05zu", j->base + i);
}

static struct job *new_job(unsigned delay_us, size_t base)
{
	struct job *j = calloc(1, sizeof(*j));
	assert_non_null(j);
	j->delay_us = delay_us;
	j->base = base;
	return j;
}

static void assert_each_once_in_order(struct job *j, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(atomic_load(&j->runs[i]), 1);
		char want[16];
		snprintf(want, sizeof(want), "f%05zu", j->base + i);
		assert_string_equal(j->out[i], want);
	}
	for (size_t i = n; i < ITEMS; i++)
		assert_int_equal(atomic_load(&j->runs[i]), 0);
}

static size_t threads_used(struct job *j, size_t n)
{
	pthread_t seen[LFS_WORKPOOL_THREADS_MAX + 1];
	size_t nseen = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < nseen && !pthread_equal(seen[k], j->by[i]))
			k++;
		if (k == nseen) {
			assert_true(nseen < LFS_WORKPOOL_THREADS_MAX + 1);
			seen[nseen++] = j->by[i];
		}
	}
	return nseen;
}

static void test_each_item_once(void **state)
{
	(void)state;
	struct lfs_workpool p;
	lfs_workpool_init(&p, 3);
	static const size_t sizes[] = {0, 1, 2, 3, 4, 5, 64, 1000, ITEMS};
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct job *j = new_job(0, 0);
		lfs_workpool_run(&p, sizes[s], item, j);
		assert_each_once_in_order(j, sizes[s]);
		free(j);
	}
	lfs_workpool_destroy(&p);
}

/* Items that take different times finish out of order: the results, kept
 * by index, still read in the caller's order, and the helpers took part. */
static void test_out_of_order_results_in_order(void **state)
{
	(void)state;
	struct lfs_workpool p;
	lfs_workpool_init(&p, 3);
	struct job *j = new_job(200, 0);
	lfs_workpool_run(&p, 64, item, j);
	assert_each_once_in_order(j, 64);
	size_t used = threads_used(j, 64);
	assert_true(used >= 2);
	assert_true(used <= 4); /* the caller and 3 helpers */
	bool caller_took_part = false;
	for (size_t i = 0; i < 64; i++)
		caller_took_part |= pthread_equal(j->by[i], pthread_self()) != 0;
	assert_true(caller_took_part);
	free(j);
	lfs_workpool_destroy(&p);
}

static void test_no_helpers_runs_on_caller(void **state)
{
	(void)state;
	struct lfs_workpool p;
	lfs_workpool_init(&p, 0);
	struct job *j = new_job(0, 0);
	lfs_workpool_run(&p, 100, item, j);
	assert_each_once_in_order(j, 100);
	assert_int_equal(threads_used(j, 100), 1);
	assert_true(pthread_equal(j->by[0], pthread_self()));
	free(j);
	lfs_workpool_destroy(&p);
}

struct caller {
	struct lfs_workpool *p;
	struct job *j;
	size_t n;
};

static void *run_caller(void *arg)
{
	struct caller *c = arg;
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < c->n; i++)
			atomic_store(&c->j->runs[i], 0);
		lfs_workpool_run(c->p, c->n, item, c->j);
		for (size_t i = 0; i < c->n; i++)
			if (atomic_load(&c->j->runs[i]) != 1)
				return (void *)1;
	}
	return NULL;
}

/* Two handlers list at once: each job gets all its items and only its own. */
static void test_two_callers(void **state)
{
	(void)state;
	struct lfs_workpool p;
	lfs_workpool_init(&p, 2);
	struct caller a = {&p, new_job(20, 0), 300}, b = {&p, new_job(20, 5000), 200};
	pthread_t ta, tb;
	assert_int_equal(pthread_create(&ta, NULL, run_caller, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, run_caller, &b), 0);
	void *ra, *rb;
	pthread_join(ta, &ra);
	pthread_join(tb, &rb);
	assert_null(ra);
	assert_null(rb);
	assert_each_once_in_order(a.j, a.n);
	assert_each_once_in_order(b.j, b.n);
	free(a.j);
	free(b.j);
	lfs_workpool_destroy(&p);
}

/* A pool whose helpers never started (never used) stops cleanly, and one
 * that is destroyed leaves no thread behind that could touch it. */
static void test_destroy(void **state)
{
	(void)state;
	struct lfs_workpool p;
	lfs_workpool_init(&p, 3);
	lfs_workpool_destroy(&p);
	lfs_workpool_init(&p, LFS_WORKPOOL_THREADS_MAX + 5); /* capped */
	assert_int_equal(p.want, LFS_WORKPOOL_THREADS_MAX);
	struct job *j = new_job(0, 0);
	lfs_workpool_run(&p, ITEMS, item, j);
	assert_each_once_in_order(j, ITEMS);
	assert_int_equal(p.started, LFS_WORKPOOL_THREADS_MAX);
	lfs_workpool_destroy(&p);
	free(j);
}

/* A cap before the first job lowers the helpers (never below one); once
 * they run it changes nothing. */
static void test_cap(void **state)
{
	(void)state;
	struct lfs_workpool p;
	lfs_workpool_init(&p, 3);
	lfs_workpool_cap(&p, 0);
	assert_int_equal(p.want, 1);
	lfs_workpool_cap(&p, 5);
	assert_int_equal(p.want, 1);
	struct job *j = new_job(100, 0);
	lfs_workpool_run(&p, 64, item, j);
	assert_each_once_in_order(j, 64);
	assert_true(threads_used(j, 64) <= 2);
	assert_int_equal(p.started, 1);
	lfs_workpool_destroy(&p);
	lfs_workpool_init(&p, 3);
	lfs_workpool_run(&p, 64, item, j);
	lfs_workpool_cap(&p, 1);
	assert_int_equal(p.want, 3);
	lfs_workpool_destroy(&p);
	free(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_item_once),
	    cmocka_unit_test(test_out_of_order_results_in_order),
	    cmocka_unit_test(test_no_helpers_runs_on_caller),
	    cmocka_unit_test(test_two_callers),
	    cmocka_unit_test(test_destroy),
	    cmocka_unit_test(test_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
