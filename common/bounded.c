/* SPDX-License-Identifier: Apache-2.0 */
/* Calls on persistent threads, waited for a bounded time: see bounded.h. */
#define _GNU_SOURCE
#include "bounded.h"
#include "monotonic.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *slot_main(void *arg)
{
	struct lfs_bounded_slot *s = arg;
	struct lfs_bounded *p = s->pool;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!s->busy || s->returned)
			pthread_cond_wait(&s->go, &p->lock);
		/* fn and arg stay as they are until the call is collected. */
		pthread_mutex_unlock(&p->lock);
		s->fn(s->arg);
		pthread_mutex_lock(&p->lock);
		s->returned = true;
		if (s->abandoned)
			s->busy = false; /* nobody is left to collect it */
		else
			pthread_cond_signal(&s->done);
	}
	return NULL;
}

/* Starts the slot's thread in this process (pool lock held). In a fork's
 * child the slot's state is the parent's and its thread is not there: all
 * of it starts afresh. */
static bool slot_start(struct lfs_bounded *p, struct lfs_bounded_slot *s, pid_t self)
{
	s->pool = p;
	s->busy = s->returned = s->abandoned = false;
	pthread_cond_init(&s->go, NULL);
	pthread_cond_init(&s->done, NULL);
	pthread_attr_t attr;
	if (pthread_attr_init(&attr) != 0)
		return false;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Small (the daemon's memory is locked), but not below what glibc
	 * needs beside the binary's static TLS (64 KiB gave EINVAL). */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	bool ok = pthread_create(&s->thread, &attr, slot_main, s) == 0;
	pthread_attr_destroy(&attr);
	s->started_in = ok ? self : 0;
	return ok;
}

bool lfs_bounded_full(struct lfs_bounded *p)
{
	pid_t self = getpid();
	bool full = true;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < LFS_BOUNDED_SLOTS; i++)
		full = full && p->slots[i].started_in == self && p->slots[i].busy;
	pthread_mutex_unlock(&p->lock);
	return full;
}

enum lfs_bounded_result lfs_bounded_call(struct lfs_bounded *p, void (*fn)(void *arg),
                                         const void *arg, size_t arg_len, unsigned wait_ms)
{
	if (arg_len > LFS_BOUNDED_ARG_MAX)
		return LFS_BOUNDED_REFUSED;
	struct timespec until = lfs_monotonic_after_ms(wait_ms);
	pid_t self = getpid();
	pthread_mutex_lock(&p->lock);
	struct lfs_bounded_slot *s = NULL;
	for (size_t i = 0; i < LFS_BOUNDED_SLOTS && !s; i++) {
		struct lfs_bounded_slot *c = &p->slots[i];
		if (c->started_in != self ? slot_start(p, c, self) : !c->busy)
			s = c;
	}
	if (!s) {
		pthread_mutex_unlock(&p->lock);
		return LFS_BOUNDED_REFUSED;
	}
	s->fn = fn;
	memcpy(s->arg, arg, arg_len);
	s->busy = true;
	s->returned = s->abandoned = false;
	pthread_cond_signal(&s->go);
	while (!s->returned &&
	       pthread_cond_clockwait(&s->done, &p->lock, CLOCK_MONOTONIC, &until) != ETIMEDOUT)
		;
	enum lfs_bounded_result r = LFS_BOUNDED_DONE;
	if (s->returned)
		s->busy = false;
	else {
		s->abandoned = true; /* the slot's thread frees it */
		r = LFS_BOUNDED_GAVE_UP;
	}
	pthread_mutex_unlock(&p->lock);
	return r;
}
