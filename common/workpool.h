/* SPDX-License-Identifier: Apache-2.0 */
/* A few helper threads that share the items of one job with the thread
 * that asked for it (docs/PERFORMANCE.md, "Tree work at many files").
 *
 * A READDIRPLUS reply looks up every entry it names: per entry a few
 * system calls and, after a cache drop, a disk read of the file's header
 * that the handler would otherwise wait for one after another. The caller
 * of lfs_workpool_run works on its items itself and idle helpers join in,
 * each taking the next item not yet taken; the call returns when every
 * item is done. Results go wherever fn(arg, i) puts them (by index), so
 * the caller assembles them in order afterwards. The caller never waits
 * for a helper to become free: with every helper busy elsewhere it does
 * all the items alone, as it would without a pool.
 *
 * Helpers start on first use (never before the daemon forks) and clear
 * the stack their items used after each job (LFS_WORKPOOL_STACK_WIPE):
 * an item may derive keys there. */
#ifndef LETHEFS_WORKPOOL_H
#define LETHEFS_WORKPOOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LFS_WORKPOOL_THREADS_MAX 8

/* One job: on the caller's stack from post to wait. */
struct lfs_workjob {
	struct lfs_workjob *next; /* among the pool's posted jobs */
	void (*fn)(void *arg, size_t i);
	void *arg;
	size_t n;
	atomic_size_t next_item; /* the first item nobody took yet */
	unsigned helpers;        /* helpers working on it (pool lock) */
	bool posted;             /* on the pool's list (pool lock) */
	bool shared;             /* offered to the helpers */
};

struct lfs_workpool {
	pthread_mutex_t lock;
	pthread_cond_t work;      /* a job was posted, or the pool stops */
	pthread_cond_t done;      /* a helper left a job */
	struct lfs_workjob *jobs; /* posted jobs with items left to take */
	pthread_t threads[LFS_WORKPOOL_THREADS_MAX];
	unsigned want; /* helpers to run */
	unsigned started;
	pid_t started_in; /* threads do not survive fork: restarted there */
	bool stopping;
	bool ready;
};

/* A pool of up to nthreads helpers (at most LFS_WORKPOOL_THREADS_MAX; 0:
 * lfs_workpool_run does everything on the caller). Starts no thread. */
void lfs_workpool_init(struct lfs_workpool *p, unsigned nthreads);
/* Lowers the number of helpers to at most nthreads (at least 1), before
 * the first job (helpers already started stay). */
void lfs_workpool_cap(struct lfs_workpool *p, unsigned nthreads);
/* Stops and joins the helpers. No job may be running. */
void lfs_workpool_destroy(struct lfs_workpool *p);
/* Calls fn(arg, i) exactly once for every i < n, on this thread and on
 * idle helpers, and returns when all those calls have returned. fn must be
 * safe to run on several threads at once for different i. */
void lfs_workpool_run(struct lfs_workpool *p, size_t n, void (*fn)(void *arg, size_t i), void *arg);
/* lfs_workpool_run in three steps, for a caller that does its own share
 * by calling its item function directly rather than through fn (so that
 * scripts/stack-depth.py sees which function its thread runs): post the
 * job, call fn(arg, i) for every i that lfs_workjob_take returns below n,
 * then lfs_workpool_wait (which returns when the helpers' items are
 * done). */
void lfs_workpool_post(struct lfs_workpool *p, struct lfs_workjob *job, size_t n,
                       void (*fn)(void *arg, size_t i), void *arg);
size_t lfs_workjob_take(struct lfs_workjob *job);
void lfs_workpool_wait(struct lfs_workpool *p, struct lfs_workjob *job);

#endif
