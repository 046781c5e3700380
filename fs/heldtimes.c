/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "heldtimes.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

void lfs_times_hold(struct lfs_inode *in, const struct stat *st)
{
	pthread_mutex_lock(&in->meta_lock);
	in->times_held = true;
	in->held_atim = st->st_atim;
	in->held_mtim = st->st_mtim;
	pthread_mutex_unlock(&in->meta_lock);
}

/* The syscalls run under meta_lock: a utimensat through the mount is then
 * either before the release (and put back by it) or after it. */
int lfs_times_release(struct lfs_inode *in, int fd)
{
	int r = 0;
	pthread_mutex_lock(&in->meta_lock);
	if (in->times_held) {
		struct timespec ts[2] = {in->held_atim, in->held_mtim};
		r = utimensat(fd, "", ts, AT_EMPTY_PATH) < 0 ? -errno : 0;
		in->times_held = false;
		clock_gettime(CLOCK_MONOTONIC, &in->times_put);
	}
	pthread_mutex_unlock(&in->meta_lock);
	return r;
}

void lfs_times_drop(struct lfs_inode *in)
{
	pthread_mutex_lock(&in->meta_lock);
	in->times_held = false;
	pthread_mutex_unlock(&in->meta_lock);
}

/* A stat taken before the times were put back and applied after it would
 * show the conversion's times: within this long after they were put back,
 * the times are read again (under meta_lock, so after it). */
#define PUT_RECENT_NS 5000000000LL

static bool put_recently(const struct lfs_inode *in)
{
	if (!in->times_put.tv_sec && !in->times_put.tv_nsec)
		return false;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long ns = (long long)(now.tv_sec - in->times_put.tv_sec) * 1000000000LL +
	               (now.tv_nsec - in->times_put.tv_nsec);
	return ns < PUT_RECENT_NS;
}

void lfs_times_settle(struct lfs_inode *in, int fd, struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return;
	pthread_mutex_lock(&in->meta_lock);
	bool wait = in->times_held && in->fmt == 1, again = wait || put_recently(in);
	pthread_mutex_unlock(&in->meta_lock);
	if (wait) {
		/* The conversion holds it exclusively; the callers of a stat
		 * never hold it (a load takes it shared, fs/attr.c). */
		pthread_rwlock_rdlock(&in->io_lock);
		pthread_rwlock_unlock(&in->io_lock);
	}
	struct stat now;
	if (again && fstatat(fd, "", &now, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		*st = now;
}

void lfs_times_apply(struct lfs_inode *in, int fd, struct stat *st)
{
	pthread_mutex_lock(&in->meta_lock);
	struct stat now;
	if (in->times_held) {
		st->st_atim = in->held_atim;
		st->st_mtim = in->held_mtim;
	} else if (!S_ISREG(st->st_mode) && put_recently(in) && /* (settled) */
	           fstatat(fd, "", &now, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0) {
		st->st_atim = now.st_atim;
		st->st_mtim = now.st_mtim;
	}
	pthread_mutex_unlock(&in->meta_lock);
}

int lfs_times_set(struct lfs_inode *in, int fd, const struct timespec tv[2])
{
	pthread_mutex_lock(&in->meta_lock);
	int r = utimensat(fd, "", tv, AT_EMPTY_PATH) < 0 ? -errno : 0;
	if (r == 0 && in->times_held) {
		/* UTIME_NOW: the time the backing object got. */
		struct stat st = {0};
		if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
			clock_gettime(CLOCK_REALTIME, &st.st_atim);
			st.st_mtim = st.st_atim;
		}
		if (tv[0].tv_nsec != UTIME_OMIT)
			in->held_atim = tv[0].tv_nsec == UTIME_NOW ? st.st_atim : tv[0];
		if (tv[1].tv_nsec != UTIME_OMIT)
			in->held_mtim = tv[1].tv_nsec == UTIME_NOW ? st.st_mtim : tv[1];
	}
	pthread_mutex_unlock(&in->meta_lock);
	return r;
}
