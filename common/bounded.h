/* SPDX-License-Identifier: Apache-2.0 */
/* Calls that may block for good, made on a few persistent threads and
 * waited for a bounded time (fs/flush.c: the flush of the kernel's pages
 * that the honest st_blocks rule asks for, docs/DESIGN.md), or not waited
 * for at all (fs/prefetch.c: a wait of 0).
 *
 * Each slot is one thread and one call at a time. lfs_bounded_call hands
 * fn and a copy of its argument to an idle slot's thread and waits at most
 * a given time for fn to return. Past it the caller goes on and the slot
 * stays busy until fn returns (its argument is the slot's copy, so nothing
 * of the caller's stack is left in use); with every slot busy, stuck or
 * not, a call is refused at once. That bounds both the threads a stuck call
 * can hold and the caller's wait.
 *
 * The threads persist: starting one per call cost a clone3 and the mmap,
 * mprotect and madvise of a stack, locked under the daemon's mlockall, per
 * created file of a tree extract (docs/PERFORMANCE.md, issue 17). They
 * start on first use (never before the daemon forks; a fork's child starts
 * its own) and never exit: a stuck call cannot be joined, and the pool's
 * memory must outlive it, so a pool is static (lives as long as the
 * process). */
#ifndef LETHEFS_BOUNDED_H
#define LETHEFS_BOUNDED_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LFS_BOUNDED_SLOTS   2
#define LFS_BOUNDED_ARG_MAX 64

struct lfs_bounded;

struct lfs_bounded_slot {
	struct lfs_bounded *pool;
	pthread_t thread;
	pthread_cond_t go;   /* a call was handed to the slot (pool lock) */
	pthread_cond_t done; /* the call returned (pool lock) */
	void (*fn)(void *arg);
	_Alignas(max_align_t) unsigned char arg[LFS_BOUNDED_ARG_MAX];
	pid_t started_in; /* the process whose thread serves the slot, or 0 */
	bool busy;        /* a call is handed and has not been collected */
	bool returned;    /* fn returned */
	bool abandoned;   /* its caller stopped waiting */
};

struct lfs_bounded {
	pthread_mutex_t lock;
	struct lfs_bounded_slot slots[LFS_BOUNDED_SLOTS];
};

/* A pool, for a static variable: struct lfs_bounded p = LFS_BOUNDED_INIT; */
#define LFS_BOUNDED_INIT                                                                           \
	{                                                                                          \
		.lock = PTHREAD_MUTEX_INITIALIZER                                                  \
	}

enum lfs_bounded_result {
	LFS_BOUNDED_DONE,    /* fn returned within the wait */
	LFS_BOUNDED_GAVE_UP, /* fn still runs on its slot's thread */
	LFS_BOUNDED_REFUSED, /* every slot busy (or no thread): fn not called */
};

/* Whether every slot is busy at this moment: a hint for a caller that
 * would prepare a call in vain (it may change at once). */
bool lfs_bounded_full(struct lfs_bounded *p);

/* Calls fn on a copy of the arg_len bytes at arg (at most
 * LFS_BOUNDED_ARG_MAX) on one of p's threads, and waits at most wait_ms
 * for it to return. */
enum lfs_bounded_result lfs_bounded_call(struct lfs_bounded *p, void (*fn)(void *arg),
                                         const void *arg, size_t arg_len, unsigned wait_ms);

#endif
