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
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LFS_WORKPOOL_THREADS_MAX 8

struct lfs_workjob;

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
/* Stops and joins the helpers. No job may be running. */
void lfs_workpool_destroy(struct lfs_workpool *p);
/* Calls fn(arg, i) exactly once for every i < n, on this thread and on
 * idle helpers, and returns when all those calls have returned. fn must be
 * safe to run on several threads at once for different i. */
void lfs_workpool_run(struct lfs_workpool *p, size_t n, void (*fn)(void *arg, size_t i), void *arg);

#endif
