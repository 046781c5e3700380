/* SPDX-License-Identifier: Apache-2.0 */
/* Deferred closes of removed files' descriptors: see closer.h. */
#define _GNU_SOURCE
#include "closer.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

size_t lfs_closer_capacity(size_t fd_budget)
{
	size_t cap = fd_budget / 4;
	return cap < 1 ? 1 : cap > LFS_CLOSER_QUEUE ? LFS_CLOSER_QUEUE : cap;
}

int lfs_closer_init(struct lfs_closer *c, size_t capacity)
{
	if (capacity < 1)
		capacity = 1;
	if (capacity > LFS_CLOSER_QUEUE)
		capacity = LFS_CLOSER_QUEUE;
	c->capacity = capacity;
	c->queue = calloc(capacity, sizeof(*c->queue));
	if (!c->queue)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->work, NULL);
	c->head = c->count = 0;
	c->started = 0;
	c->stopping = false;
	return 0;
}

static void *closer_thread(void *arg)
{
	struct lfs_closer *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->count == 0 && !c->stopping)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->count == 0)
			break; /* stopping, and nothing left */
		int fd = c->queue[c->head];
		c->head = (c->head + 1) % c->capacity;
		c->count--;
		pthread_mutex_unlock(&c->lock);
		close(fd);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Starts one more thread while there are fewer than LFS_CLOSER_THREADS
 * and more queued descriptors than threads. Called with c->lock held. */
static void maybe_start(struct lfs_closer *c)
{
	if (c->started >= LFS_CLOSER_THREADS || c->count <= c->started)
		return;
	pthread_attr_t attr;
	if (pthread_attr_init(&attr) != 0)
		return;
	/* (the binary's thread-local storage takes 64 KiB of the stack) */
	if (pthread_attr_setstacksize(&attr, 256 * 1024) == 0 &&
	    pthread_create(&c->threads[c->started], &attr, closer_thread, c) == 0)
		c->started++;
	pthread_attr_destroy(&attr);
}

void lfs_closer_close(struct lfs_closer *c, int fd)
{
	struct stat st;
	/* A file with names left, or anything else, closes at once (cheap). */
	if (!c->queue || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink > 0) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (c->stopping || c->count == c->capacity) {
		pthread_mutex_unlock(&c->lock);
		close(fd); /* full: the caller waits, as before */
		return;
	}
	c->queue[(c->head + c->count) % c->capacity] = fd;
	c->count++;
	maybe_start(c);
	if (c->started == 0) {
		/* No thread could start: close it here after all. */
		c->count--;
		pthread_mutex_unlock(&c->lock);
		close(fd);
		return;
	}
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->lock);
}

void lfs_closer_destroy(struct lfs_closer *c)
{
	if (!c->queue)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->work);
	unsigned n = c->started;
	pthread_mutex_unlock(&c->lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(c->threads[i], NULL);
	/* (no thread ever started: nothing was queued) */
	free(c->queue);
	c->queue = NULL;
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->work);
}
