/* SPDX-License-Identifier: Apache-2.0 */
/* Helper threads sharing a job's items with its caller: see workpool.h. */
#define _GNU_SOURCE
#include "workpool.h"

#include <sodium.h>
#include <stdatomic.h>
#include <unistd.h>

/* What a helper clears below its frame after each job: the deepest chain
 * of an item's frames (a READDIRPLUS entry's lookup: the handler's chain
 * without the reply, about 20 KiB) and 8 KiB for libc's and libsodium's
 * frames. scripts/stack-depth.py (make stack) checks that it covers them. */
#define LFS_WORKPOOL_STACK_WIPE (32 * 1024)

void lfs_workpool_init(struct lfs_workpool *p, unsigned nthreads)
{
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->jobs = NULL;
	p->want = nthreads < LFS_WORKPOOL_THREADS_MAX ? nthreads : LFS_WORKPOOL_THREADS_MAX;
	p->started = 0;
	p->started_in = 0;
	p->stopping = false;
	p->ready = true;
}

void lfs_workpool_cap(struct lfs_workpool *p, unsigned nthreads)
{
	pthread_mutex_lock(&p->lock);
	if (nthreads < 1)
		nthreads = 1;
	if (p->started == 0 && p->want > nthreads)
		p->want = nthreads;
	pthread_mutex_unlock(&p->lock);
}

/* Takes items of job until none is left. */
static void take_items(struct lfs_workjob *job)
{
	size_t i;
	while ((i = atomic_fetch_add(&job->next_item, 1)) < job->n)
		job->fn(job->arg, i);
}

/* Takes job off the list of posted jobs (pool lock held). */
static void unpost(struct lfs_workpool *p, struct lfs_workjob *job)
{
	if (!job->posted)
		return;
	for (struct lfs_workjob **at = &p->jobs; *at; at = &(*at)->next)
		if (*at == job) {
			*at = job->next;
			break;
		}
	job->posted = false;
}

static void *helper(void *arg)
{
	struct lfs_workpool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stopping && !p->jobs)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stopping)
			break;
		struct lfs_workjob *job = p->jobs;
		if (atomic_load(&job->next_item) >= job->n) {
			unpost(p, job); /* every item taken: nothing for us */
			continue;
		}
		job->helpers++;
		pthread_mutex_unlock(&p->lock);
		take_items(job);
		/* The items' frames (keys derived for a header's MAC, names)
		 * lay below this one. */
		sodium_stackzero(LFS_WORKPOOL_STACK_WIPE);
		pthread_mutex_lock(&p->lock);
		unpost(p, job);
		/* The caller's job lives on its stack: not touched after this. */
		if (--job->helpers == 0)
			pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Starts the helpers in this process, once (pool lock held). Returns how
 * many run. */
static unsigned start_helpers(struct lfs_workpool *p)
{
	pid_t self = getpid();
	if (p->started_in != self) {
		p->started = 0; /* a fork's child: the parent's threads are not here */
		p->started_in = self;
		pthread_attr_t attr;
		if (pthread_attr_init(&attr) != 0)
			return 0;
		/* (the binary's thread-local storage takes 64 KiB of it) */
		if (pthread_attr_setstacksize(&attr, 256 * 1024) == 0)
			while (p->started < p->want &&
			       pthread_create(&p->threads[p->started], &attr, helper, p) == 0)
				p->started++;
		pthread_attr_destroy(&attr);
	}
	return p->started;
}

void lfs_workpool_post(struct lfs_workpool *p, struct lfs_workjob *job, size_t n,
                       void (*fn)(void *arg, size_t i), void *arg)
{
	*job = (struct lfs_workjob){.fn = fn, .arg = arg, .n = n};
	atomic_init(&job->next_item, 0);
	if (n > 1 && p->ready && p->want > 0) {
		unsigned wake = 0;
		pthread_mutex_lock(&p->lock);
		if (!p->stopping && (wake = start_helpers(p)) > 0) {
			job->next = p->jobs;
			/* Taken off the list again by lfs_workpool_wait. */
			p->jobs = job;
			job->posted = true;
			job->shared = true;
		}
		pthread_mutex_unlock(&p->lock);
		/* One helper per item beyond the caller's first, woken one by
		 * one after the lock is dropped: a broadcast under it woke every
		 * helper into a queue for that lock (perf of a du of 100,000
		 * files: a sixth of the daemon's context switches were helpers
		 * waking only to wait for the pool's lock again). A helper that
		 * finds the job's items taken goes back to sleep. */
		if (wake > n - 1)
			wake = (unsigned)(n - 1);
		while (wake-- > 0)
			pthread_cond_signal(&p->work);
	}
}

size_t lfs_workjob_take(struct lfs_workjob *job)
{
	return atomic_fetch_add(&job->next_item, 1);
}

void lfs_workpool_wait(struct lfs_workpool *p, struct lfs_workjob *job)
{
	if (!job->shared)
		return;
	pthread_mutex_lock(&p->lock);
	unpost(p, job);
	while (job->helpers > 0)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void lfs_workpool_run(struct lfs_workpool *p, size_t n, void (*fn)(void *arg, size_t i), void *arg)
{
	struct lfs_workjob job;
	lfs_workpool_post(p, &job, n, fn, arg);
	take_items(&job);
	lfs_workpool_wait(p, &job);
}

void lfs_workpool_destroy(struct lfs_workpool *p)
{
	if (!p->ready)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	unsigned n = p->started_in == getpid() ? p->started : 0;
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	p->ready = false;
}
