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

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
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
	struct swb_extent ext[LFS_SWB_EXTENTS];
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
	int err;       /* deferred error (positive errno), until reported */
	uint64_t end;  /* the end of what is queued, while running */
};

/* The worker's stack may hold key material, as a handler's (fs/gate.c). */
#define WORKER_STACK_WIPE (32 * 1024)

static int write_segment(struct lfs_swb *q, struct swb_segment *s)
{
	int err = 0;
	for (unsigned i = 0; i < s->n; i++) {
		struct swb_extent *e = &s->ext[i];
		if (err == 0) {
			uint64_t before;
			ssize_t r = lfs_fileio_write_sized(q->fs, q->inode, e->fd, s->buf + e->at,
			                                   e->len, e->off, &before);
			if (r >= 0 && (size_t)r == e->len)
				continue;
			err = r < 0 ? (int)-r : EIO;
			lfs_debug("deferred write of inode %llu at %llu (%zu bytes) failed: %s",
			          (unsigned long long)q->inode->ino, (unsigned long long)e->off,
			          e->len, strerror(err));
		}
		/* Not written (this one failed, or one before it did): the
		 * quota gets back what it was charged for it. */
		if (e->charged)
			lfs_stage_hook_charge(q->fs, q->inode, -e->charged);
	}
	return err;
}

static void *worker(void *arg)
{
	struct lfs_swb *q = arg;
	struct lfs_fs *fs = q->fs;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct swb_segment *s = &q->seg[q->fill];
		if (s->n == 0)
			break;
		q->fill ^= 1; /* empty: written before this one was taken */
		pthread_cond_broadcast(&q->cond);
		int err = q->err;
		pthread_mutex_unlock(&q->lock);
		if (err) {
			/* Writes queued behind a failure are dropped as it was
			 * (each WRITE after it failed): refunded, reported once. */
			for (unsigned i = 0; i < s->n; i++)
				if (s->ext[i].charged)
					lfs_stage_hook_charge(fs, q->inode, -s->ext[i].charged);
		} else {
			err = write_segment(q, s);
		}
		sodium_stackzero(WORKER_STACK_WIPE);
		sodium_memzero(s->buf, s->used);
		pthread_mutex_lock(&q->lock);
		if (err && !q->err)
			q->err = err;
		s->used = 0;
		s->n = 0;
		pthread_cond_broadcast(&q->cond);
	}
	q->running = false;
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
		pthread_mutex_init(&q->lock, NULL);
		pthread_cond_init(&q->cond, NULL);
		q->fs = fs;
		q->inode = inode;
		q->next = fs->swb_list;
		fs->swb_list = q;
		__atomic_store_n(&inode->swb, q, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&fs->swb_lock);
	return q;
}

static void wait_idle(struct lfs_swb *q)
{
	while (q->running)
		pthread_cond_wait(&q->cond, &q->lock);
}

/* The segments' memory, within the budget of all queues (q->lock). */
static bool have_buffers(struct lfs_swb *q)
{
	if (q->seg[0].buf)
		return true;
	size_t want = 2 * (size_t)LFS_SWB_SEGMENT;
	if (atomic_fetch_add(&q->fs->swb_bytes, want) + want > LFS_SWB_TOTAL) {
		atomic_fetch_sub(&q->fs->swb_bytes, want);
		return false;
	}
	q->seg[0].buf = malloc(LFS_SWB_SEGMENT);
	q->seg[1].buf = malloc(LFS_SWB_SEGMENT);
	if (q->seg[0].buf && q->seg[1].buf)
		return true;
	free(q->seg[0].buf);
	free(q->seg[1].buf);
	q->seg[0].buf = q->seg[1].buf = NULL;
	atomic_fetch_sub(&q->fs->swb_bytes, want);
	return false;
}

static void free_buffers(struct lfs_swb *q)
{
	if (!q->seg[0].buf)
		return;
	free(q->seg[0].buf); /* wiped by the worker */
	free(q->seg[1].buf);
	q->seg[0].buf = q->seg[1].buf = NULL;
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

int lfs_swb_write(struct lfs_fs *fs, struct lfs_inode *inode, int fd, const char *buf, size_t size,
                  uint64_t off, int64_t charged)
{
	struct lfs_swb *q = queue_of(fs, inode, true);
	if (!q)
		return 1;
	pthread_mutex_lock(&q->lock);
	if (q->err) {
		int err = q->err;
		pthread_mutex_unlock(&q->lock);
		return -err;
	}
	if (size > LFS_SWB_SEGMENT || !have_buffers(q)) {
		wait_idle(q);
		int err = q->err;
		pthread_mutex_unlock(&q->lock);
		return err ? -err : 1;
	}
	while (!fits(&q->seg[q->fill], fd, size, off) && !q->err)
		pthread_cond_wait(&q->cond, &q->lock);
	if (q->err) {
		int err = q->err;
		pthread_mutex_unlock(&q->lock);
		return -err;
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
	if (off + size > q->end)
		q->end = off + size;
	if (!q->running) {
		q->running = true;
		atomic_fetch_add(&fs->swb_running, 1);
		pthread_attr_t a;
		pthread_t t;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		int r = pthread_create(&t, &a, worker, q);
		pthread_attr_destroy(&a);
		if (r != 0) {
			/* No thread: written here, before the acknowledgement. */
			pthread_mutex_unlock(&q->lock);
			worker(q);
			pthread_mutex_lock(&q->lock);
			int err = q->err;
			q->err = 0;
			pthread_mutex_unlock(&q->lock);
			return -err;
		}
	}
	pthread_mutex_unlock(&q->lock);
	return 0;
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

void lfs_swb_wait(struct lfs_inode *inode)
{
	(void)lfs_swb_settle(inode, 0);
}

int lfs_swb_settle(struct lfs_inode *inode, int report)
{
	struct lfs_swb *q = __atomic_load_n(&inode->swb, __ATOMIC_ACQUIRE);
	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	wait_idle(q);
	int err = q->err;
	if (report)
		q->err = 0;
	pthread_mutex_unlock(&q->lock);
	return -err;
}

void lfs_swb_drain_all(struct lfs_fs *fs)
{
	pthread_mutex_lock(&fs->swb_lock);
	for (struct lfs_swb *q = fs->swb_list; q; q = q->next) {
		pthread_mutex_lock(&q->lock);
		wait_idle(q);
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
