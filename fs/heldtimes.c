/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "heldtimes.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* Counts the ends of holds (times put back, or dropped), process-wide: an
 * end numbered above the mark a stat took before its backing fstat may
 * have come after that fstat. Each end's changes to the backing object are
 * made before its number is drawn (sequentially consistent), so an end
 * numbered at or below the mark came before the fstat, which saw them. */
static _Atomic uint64_t ends;

uint64_t lfs_times_mark(void)
{
	return atomic_load(&ends);
}

/* Called with in->meta_lock, once the backing object is as the end leaves
 * it. */
static void note_end(struct lfs_inode *in)
{
	in->times_end = atomic_fetch_add(&ends, 1) + 1;
}

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
		note_end(in);
	}
	pthread_mutex_unlock(&in->meta_lock);
	return r;
}

void lfs_times_drop(struct lfs_inode *in)
{
	pthread_mutex_lock(&in->meta_lock);
	if (in->times_held)
		note_end(in);
	in->times_held = false;
	pthread_mutex_unlock(&in->meta_lock);
}

/* Whether a hold of in ended after mark was taken (meta_lock held): a
 * stat taken since may show the conversion's times (and, from format 1,
 * size and mode) with the times put back already, or the object as it
 * was. Replaces a window of 5 s after the end, within which every stat
 * read the backing object again (and after which a stat slower than that
 * showed the conversion's times). */
static bool ended_since(const struct lfs_inode *in, uint64_t mark)
{
	return in->times_end > mark;
}

void lfs_times_settle(struct lfs_inode *in, int fd, struct stat *st, uint64_t mark)
{
	if (!S_ISREG(st->st_mode))
		return;
	pthread_mutex_lock(&in->meta_lock);
	bool wait = in->times_held && in->fmt == 1;
	bool again = !wait && ended_since(in, mark);
	pthread_mutex_unlock(&in->meta_lock);
	if (wait) {
		/* The conversion holds it exclusively; the callers of a stat
		 * never hold it (a load takes it shared, fs/attr.c). */
		pthread_rwlock_rdlock(&in->io_lock);
		pthread_rwlock_unlock(&in->io_lock);
	}
	/* (After the end: seen under meta_lock above, or waited for.) */
	struct stat now;
	if ((wait || again) && fstatat(fd, "", &now, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		*st = now;
}

void lfs_times_apply(struct lfs_inode *in, int fd, struct stat *st, uint64_t mark)
{
	pthread_mutex_lock(&in->meta_lock);
	struct stat now;
	if (in->times_held) {
		st->st_atim = in->held_atim;
		st->st_mtim = in->held_mtim;
	} else if (!S_ISREG(st->st_mode) && ended_since(in, mark) && /* (settled) */
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
