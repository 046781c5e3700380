/* SPDX-License-Identifier: Apache-2.0 */
/* Write-behind of shared mounts: see sharedwb.h.
 *
 * Per inode, two segments of LFS_SWB_SEGMENT bytes: WRITEs are copied into
 * the filling one (a write that continues the previous one through the
 * same descriptor extends its extent), and the worker takes the whole
 * filling segment when it is done with the other. So a writer that sends
 * requests faster than the engine takes them builds segments of several
 * MiB, each written in one call per extent, and one that sends them slower
 * has each written at once. The plaintext lives in the daemon's locked
 * memory (mlockall, daemon/mount.c) and is wiped when written.
 *
 * Locks: q->lock for the queue; fs->swb_lock for the list of queues, taken
 * before a q->lock (drain_all) and never while holding one. The worker is
 * a detached thread started when a queue gets its first extent and ending
 * when both segments are empty; the handles using the descriptors it
 * writes through wait for it before they close them (release). */
#define _GNU_SOURCE
#include "sharedwb.h"
#include "fileio.h"
#include "fs.h"
#include "stage_hooks.h"
#include "../common/log.h"
#include "../common/monotonic.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <sodium.h>

struct swb_extent {
	int fd;
	uint64_t off;
	size_t len, at; /* bytes, and where they start in the segment */
	int64_t charged;
};

struct swb_segment {
	char *buf;
	size_t used;
	unsigned n;
	uint64_t last;          /* the queue's count of WRITEs when its last came */
	struct swb_extent *ext; /* LFS_SWB_EXTENTS, with buf (have_buffers) */
};

struct lfs_swb {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* any change below */
	struct lfs_fs *fs;
	struct lfs_inode *inode;
	struct lfs_swb *next; /* fs->swb_list */
	struct swb_segment seg[2];
	unsigned fill; /* the segment WRITEs go to */
	bool running;  /* a worker owns the queue (until both are empty) */
	/* Someone waits for the queue (gather no longer: gather()). */
	bool kick;
	/* Failures: the latest one's errno, and how many there were (each
	 * handle remembers the count it has reported: lfs_swb_settle).
	 * broken: a write failed; what is queued behind it is dropped, until
	 * the queue is empty. reported: some handle has reported the latest
	 * failure (until then a handle opened now reports it too). */
	int err;
	uint64_t failures;
	bool broken;
	bool reported;
	/* WRITEs queued so far, and of them written (or dropped): a waiter
	 * waits for what was queued when it came, not for a writer that
	 * keeps queueing. */
	uint64_t queued, done;
	uint64_t end; /* the end of what is queued, while running */
};

/* The worker's stack may hold key material, as a handler's (fs/gate.c). */
#define WORKER_STACK_WIPE (32 * 1024)

/* A new worker lets the first segment gather the writes that follow for up
 * to LFS_SWB_GATHER_MS, unless it holds LFS_SWB_GATHER_BYTES already or
 * someone waits for the queue (a FLUSH, a SETATTR, a GETATTR: the gate).
 * Without it the worker took the first WRITE of a small file alone and
 * the rest of it as a second segment: on a network engine a second round
 * of the length's lock, stat, header, old last block, journal record,
 * data, clearing and unlock (docs/PERFORMANCE.md, "Sequential write and
 * a small file's segments on GlusterFS"). A writer that keeps writing fills the segment at once;
 * one that stops is followed by a request that waits, so the delay is
 * only paid by a lone write nobody waits for. */
#define LFS_SWB_GATHER_MS    5
#define LFS_SWB_GATHER_BYTES (1u << 20)

static void gather(struct lfs_swb *q)
{
	struct timespec until = lfs_monotonic_after_ms(LFS_SWB_GATHER_MS);
	while (!q->kick && q->seg[q->fill].used < LFS_SWB_GATHER_BYTES &&
	       pthread_cond_timedwait(&q->cond, &q->lock, &until) == 0)
		;
}

static int write_segment(struct lfs_swb *q, struct swb_segment *s)
{
	int err = 0;
	for (unsigned i = 0; i < s->n; i++) {
		struct swb_extent *e = &s->ext[i];
		size_t done = 0;
		/* A short write goes on from where it stopped, as the kernel's
		 * write(2) would: its error (ENOSPC) is the one to report. */
		while (err == 0 && done < e->len) {
			uint64_t before;
			ssize_t r =
			    lfs_fileio_write_sized(q->fs, q->inode, e->fd, s->buf + e->at + done,
			                           e->len - done, e->off + done, &before);
			if (r > 0) {
				done += (size_t)r;
				continue;
			}
			err = r < 0 ? (int)-r : EIO;
			lfs_debug("deferred write of inode %llu at %llu (%zu bytes) failed: %s",
			          (unsigned long long)q->inode->ino,
			          (unsigned long long)(e->off + done), e->len - done,
			          strerror(err));
		}
		/* What was not written (this one failed, or one before it did)
		 * gives back its charge: the growth is the extent's end. */
		uint64_t left = e->len - done;
		int64_t back = e->charged < (int64_t)left ? e->charged : (int64_t)left;
		if (back > 0)
			lfs_stage_hook_charge(q->fs, q->inode, -back);
	}
	return err;
}

static void *worker(void *arg)
{
	struct lfs_swb *q = arg;
	struct lfs_fs *fs = q->fs;
	pthread_mutex_lock(&q->lock);
	gather(q);
	for (;;) {
		struct swb_segment *s = &q->seg[q->fill];
		if (s->n == 0)
			break;
		q->fill ^= 1; /* empty: written before this one was taken */
		pthread_cond_broadcast(&q->cond);
		int err = q->broken ? q->err : 0;
		pthread_mutex_unlock(&q->lock);
		if (err) {
			/* Queued behind a failure (each such WRITE was acknowledged
			 * before it): dropped, refunded, reported with it. */
			for (unsigned i = 0; i < s->n; i++)
				if (s->ext[i].charged)
					lfs_stage_hook_charge(fs, q->inode, -s->ext[i].charged);
			err = 0;
		} else {
			err = write_segment(q, s);
		}
		sodium_stackzero(WORKER_STACK_WIPE);
		sodium_memzero(s->buf, s->used);
		pthread_mutex_lock(&q->lock);
		if (err) {
			q->err = err;
			q->failures++;
			q->broken = true;
			q->reported = false;
		}
		q->done = s->last;
		s->used = 0;
		s->n = 0;
		pthread_cond_broadcast(&q->cond);
	}
	q->running = false;
	q->broken = false;
	q->end = 0;
	atomic_fetch_sub(&fs->swb_running, 1);
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static struct lfs_swb *queue_of(struct lfs_fs *fs, struct lfs_inode *inode, bool make)
{
	struct lfs_swb *q = __atomic_load_n(&inode->swb, __ATOMIC_ACQUIRE);
	if (q || !make)
		return q;
	pthread_mutex_lock(&fs->swb_lock);
	q = inode->swb;
	if (!q && (q = calloc(1, sizeof(*q))) != NULL) {
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* gather() */
		pthread_mutex_init(&q->lock, NULL);
		pthread_cond_init(&q->cond, &ca);
		pthread_condattr_destroy(&ca);
		q->fs = fs;
		q->inode = inode;
		q->next = fs->swb_list;
		fs->swb_list = q;
		__atomic_store_n(&inode->swb, q, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&fs->swb_lock);
	return q;
}

/* The waits below end a gather: whoever waits needs the queue written. */
static void wait_idle(struct lfs_swb *q)
{
	if (q->running) {
		q->kick = true;
		pthread_cond_broadcast(&q->cond);
	}
	while (q->running)
		pthread_cond_wait(&q->cond, &q->lock);
}

/* Until what was queued before the call is written (q->lock held). */
static void wait_queued(struct lfs_swb *q)
{
	uint64_t upto = q->queued;
	if (q->done < upto) {
		q->kick = true;
		pthread_cond_broadcast(&q->cond);
	}
	while (q->done < upto)
		pthread_cond_wait(&q->cond, &q->lock);
}

/* A failure the handle that remembers *seen has not reported yet: its
 * errno, negative, or 0 (q->lock held). */
static int unreported(const struct lfs_swb *q, const uint64_t *seen)
{
	return seen && *seen != q->failures ? -q->err : 0;
}

/* The segments' memory, within the budget of all queues (q->lock): their
 * buffers and extents in one mapping of their own, unmapped when the last
 * writer goes (lfs_swb_idle), so that an idle queue costs a few hundred
 * bytes and its pages go back to the system (malloc keeps freed chunks of
 * this size in the heap: thousands of files written once each grew the
 * daemon's locked memory by 13 KiB per file). */
#define SEG_EXT_BYTES ((size_t)LFS_SWB_EXTENTS * sizeof(struct swb_extent))
#define MAP_BYTES     (2 * ((size_t)LFS_SWB_SEGMENT + SEG_EXT_BYTES))

static bool have_buffers(struct lfs_swb *q)
{
	if (q->seg[0].buf)
		return true;
	size_t want = 2 * (size_t)LFS_SWB_SEGMENT;
	if (atomic_fetch_add(&q->fs->swb_bytes, want) + want > LFS_SWB_TOTAL) {
		atomic_fetch_sub(&q->fs->swb_bytes, want);
		return false;
	}
	char *m = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		atomic_fetch_sub(&q->fs->swb_bytes, want);
		return false;
	}
	/* Extents first (aligned), then the two data segments. */
	q->seg[0].ext = (struct swb_extent *)(void *)m;
	q->seg[1].ext = q->seg[0].ext + LFS_SWB_EXTENTS;
	q->seg[0].buf = m + 2 * SEG_EXT_BYTES;
	q->seg[1].buf = q->seg[0].buf + LFS_SWB_SEGMENT;
	return true;
}

static void free_buffers(struct lfs_swb *q)
{
	if (!q->seg[0].buf)
		return;
	munmap(q->seg[0].ext, MAP_BYTES); /* data wiped by the worker */
	q->seg[0].buf = q->seg[1].buf = NULL;
	q->seg[0].ext = q->seg[1].ext = NULL;
	atomic_fetch_sub(&q->fs->swb_bytes, 2 * (size_t)LFS_SWB_SEGMENT);
}

static bool fits(const struct swb_segment *s, int fd, size_t size, uint64_t off)
{
	if (s->used + size > LFS_SWB_SEGMENT)
		return false;
	if (s->n < LFS_SWB_EXTENTS)
		return true;
	const struct swb_extent *e = &s->ext[s->n - 1];
	return e->fd == fd && e->off + e->len == off;
}

int lfs_swb_write(struct lfs_fs *fs, struct lfs_inode *inode, uint64_t *seen, int fd,
                  const char *buf, size_t size, uint64_t off, int64_t charged)
{
	struct lfs_swb *q = queue_of(fs, inode, true);
	if (!q)
		return 1;
	pthread_mutex_lock(&q->lock);
	int r = unreported(q, seen);
	if (r == 0 && q->broken)
		r = -q->err;
	if (r == 0 && (size > LFS_SWB_SEGMENT || !have_buffers(q))) {
		/* Written by the caller, after what is queued. */
		wait_queued(q);
		r = unreported(q, seen);
		pthread_mutex_unlock(&q->lock);
		return r < 0 ? r : 1;
	}
	while (r == 0 && !fits(&q->seg[q->fill], fd, size, off)) {
		q->kick = true; /* (a full segment: no gathering) */
		pthread_cond_broadcast(&q->cond);
		pthread_cond_wait(&q->cond, &q->lock);
		r = unreported(q, seen);
	}
	if (r < 0) {
		pthread_mutex_unlock(&q->lock);
		return r;
	}
	struct swb_segment *s = &q->seg[q->fill];
	struct swb_extent *e = s->n ? &s->ext[s->n - 1] : NULL;
	if (e && e->fd == fd && e->off + e->len == off) {
		e->len += size;
		e->charged += charged;
	} else {
		e = &s->ext[s->n++];
		*e = (struct swb_extent){fd, off, size, s->used, charged};
	}
	memcpy(s->buf + s->used, buf, size);
	s->used += size;
	s->last = ++q->queued;
	if (off + size > q->end)
		q->end = off + size;
	if (q->running && s->used >= LFS_SWB_GATHER_BYTES && s->used - size < LFS_SWB_GATHER_BYTES)
		pthread_cond_broadcast(&q->cond); /* enough gathered */
	if (!q->running) {
		q->running = true;
		q->kick = false; /* a new run gathers (gather()) */
		atomic_fetch_add(&fs->swb_running, 1);
		pthread_attr_t a;
		pthread_t t;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		r = pthread_create(&t, &a, worker, q);
		pthread_attr_destroy(&a);
		if (r != 0) {
			/* No thread: written here, before the acknowledgement. */
			q->kick = true;
			pthread_mutex_unlock(&q->lock);
			worker(q);
			pthread_mutex_lock(&q->lock);
			r = unreported(q, seen);
			if (seen) {
				*seen = q->failures;
				q->reported |= r < 0;
			}
		}
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

uint64_t lfs_swb_queued_end(struct lfs_inode *inode)
{
	struct lfs_swb *q = __atomic_load_n(&inode->swb, __ATOMIC_ACQUIRE);
	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	uint64_t end = q->running ? q->end : 0;
	pthread_mutex_unlock(&q->lock);
	return end;
}

uint64_t lfs_swb_open_seen(struct lfs_inode *inode)
{
	struct lfs_swb *q = __atomic_load_n(&inode->swb, __ATOMIC_ACQUIRE);
	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	/* A handle opened now starts past every failure, except the latest
	 * while no handle has reported it: this one then reports it too, as
	 * Linux reports a writeback error nobody has seen to a descriptor
	 * opened after it (a checkpointer's fsync of a file whose writers
	 * wrote it and did not fsync: PostgreSQL). */
	uint64_t n = q->failures - (q->failures && !q->reported);
	pthread_mutex_unlock(&q->lock);
	return n;
}

void lfs_swb_wait(struct lfs_inode *inode)
{
	(void)lfs_swb_settle(inode, NULL, false);
}

int lfs_swb_settle(struct lfs_inode *inode, uint64_t *seen, bool report)
{
	struct lfs_swb *q = __atomic_load_n(&inode->swb, __ATOMIC_ACQUIRE);
	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	wait_queued(q);
	int r = unreported(q, seen);
	if (report && seen) {
		*seen = q->failures;
		q->reported |= r < 0;
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

void lfs_swb_drain_all(struct lfs_fs *fs)
{
	pthread_mutex_lock(&fs->swb_lock);
	for (struct lfs_swb *q = fs->swb_list; q; q = q->next) {
		pthread_mutex_lock(&q->lock);
		wait_queued(q);
		pthread_mutex_unlock(&q->lock);
	}
	pthread_mutex_unlock(&fs->swb_lock);
}

int lfs_swb_busy(struct lfs_fs *fs)
{
	return atomic_load(&fs->swb_running) > 0;
}

void lfs_swb_idle(struct lfs_fs *fs, struct lfs_inode *inode)
{
	struct lfs_swb *q = queue_of(fs, inode, false);
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	wait_idle(q);
	free_buffers(q);
	pthread_mutex_unlock(&q->lock);
}

void lfs_swb_destroy(struct lfs_fs *fs, struct lfs_inode *inode)
{
	struct lfs_swb *q = inode->swb;
	if (!q)
		return;
	pthread_mutex_lock(&fs->swb_lock);
	for (struct lfs_swb **p = &fs->swb_list; *p; p = &(*p)->next)
		if (*p == q) {
			*p = q->next;
			break;
		}
	pthread_mutex_unlock(&fs->swb_lock);
	pthread_mutex_lock(&q->lock);
	wait_idle(q);
	free_buffers(q);
	pthread_mutex_unlock(&q->lock);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	inode->swb = NULL;
	free(q);
}
