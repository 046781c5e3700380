/* SPDX-License-Identifier: Apache-2.0 */
/* Having the kernel write back the dirty pages of a file past the end the
 * daemon knows (stat's st_blocks and lseek's holes must count them), with
 * a bounded wait.
 *
 * The invalidation that makes the kernel write them back is asked from a
 * thread of its own, never waited for longer than FLUSH_WAIT_MS: libfuse
 * warns that invalidating from the path of an operation on the same inode
 * can deadlock, and a GETATTR the kernel sent from chown(2) (which holds the
 * inode's lock) was seen blocked in it for good, waiting on a page under
 * writeback. Past the wait the handler answers from the daemon's own view
 * (what the disk holds), as it does when too many flushes are under way. */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

/* Flushes at once (their threads included, stuck or not): worker threads
 * stay free to serve the writes the kernel sends meanwhile. */
#define MAX_FLUSHERS 2
#define FLUSH_WAIT_MS 2000

static _Atomic int flushers;

struct flush_job {
	struct fuse_session *se;
	fuse_ino_t ino;
	off_t from;
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool done, abandoned; /* lock */
};

static void job_free(struct flush_job *j)
{
	pthread_cond_destroy(&j->done_cv);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static void *flush_thread(void *arg)
{
	struct flush_job *j = arg;
	fuse_lowlevel_notify_inval_inode(j->se, j->ino, j->from, 0);
	pthread_mutex_lock(&j->lock);
	bool abandoned = j->abandoned;
	j->done = true;
	pthread_cond_signal(&j->done_cv);
	pthread_mutex_unlock(&j->lock);
	if (abandoned)
		job_free(j); /* the handler gave up waiting: the job is ours */
	atomic_fetch_sub(&flushers, 1);
	return NULL;
}

void lfs_flush_kernel_pages(struct lfs_fs *fs, fuse_ino_t ino, struct lfs_inode *inode,
			    uint64_t from)
{
	if (!fs->writeback || !fs->se || !S_ISREG(inode->type) || atomic_load(&inode->writers) == 0)
		return;
	if (atomic_fetch_add(&flushers, 1) >= MAX_FLUSHERS) {
		atomic_fetch_sub(&flushers, 1);
		return;
	}
	struct flush_job *j = calloc(1, sizeof(*j));
	if (!j) {
		atomic_fetch_sub(&flushers, 1);
		return;
	}
	j->se = fs->se;
	j->ino = ino;
	j->from = (off_t)(from & ~(uint64_t)4095);
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_t attr;
	pthread_t th;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Small (the daemon's memory is locked), but not below what glibc
	 * needs beside the process's static TLS: 64 KiB gave EINVAL. */
	pthread_attr_setstacksize(&attr, 512 * 1024);
	int e = pthread_create(&th, &attr, flush_thread, j);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		job_free(j);
		atomic_fetch_sub(&flushers, 1);
		return;
	}
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += FLUSH_WAIT_MS / 1000;
	pthread_mutex_lock(&j->lock);
	while (!j->done) {
		if (pthread_cond_timedwait(&j->done_cv, &j->lock, &until) == ETIMEDOUT)
			break;
	}
	bool done = j->done;
	if (!done)
		j->abandoned = true;
	pthread_mutex_unlock(&j->lock);
	if (done)
		job_free(j);
}
