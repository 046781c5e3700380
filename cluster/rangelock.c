/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "rangelock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static void fill(struct flock *fl, short type, uint64_t off, uint64_t len)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = (off_t)off;
	fl->l_len = (off_t)len;
	fl->l_pid = 0; /* required by F_OFD_* */
}

static bool range_ok(uint64_t off, uint64_t len)
{
	return off <= (uint64_t)INT64_MAX && len <= (uint64_t)INT64_MAX - off;
}

/* A wait for a lock polls (F_OFD_SETLK, naps from 0.5 ms doubling to 16
 * ms, 100 ms once it has waited 2 s) rather than blocking in F_OFD_SETLKW:
 * on a GlusterFS replica volume a blocked lock was granted up to 4 s after
 * its holder let go, so two hosts appending to one file in turn spent 8 s
 * of every 8.4 waiting (10 appends of 70 KB each: 8.17 s blocking, 0.27 s
 * polling; docs/SHARED.md, "Locks"). A lock is held for one write's work:
 * a few naps at most. */
int lfs_range_lock(int fd, bool write, uint64_t off, uint64_t len, bool wait)
{
	if (!range_ok(off, len))
		return -EINVAL;
	struct flock fl;
	fill(&fl, write ? F_WRLCK : F_RDLCK, off, len);
	long nap_us = 500, waited_us = 0;
	for (;;) {
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EACCES && errno != EAGAIN)
			return -errno;
		if (!wait)
			return -EAGAIN; /* POSIX allows either for "held elsewhere" */
		struct timespec nap = {0, nap_us * 1000L};
		nanosleep(&nap, NULL);
		waited_us += nap_us;
		if (waited_us >= 2000000L)
			nap_us = 100000L;
		else if (nap_us < 16000L)
			nap_us *= 2;
	}
}

int lfs_range_lock_timed(int fd, bool write, uint64_t off, uint64_t len, unsigned timeout_ms)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	unsigned nap_ms = 5;
	for (;;) {
		int r = lfs_range_lock(fd, write, off, len, false);
		if (r != -EAGAIN)
			return r;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t spent = (int64_t)(now.tv_sec - start.tv_sec) * 1000 +
		                (now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= (int64_t)timeout_ms)
			return -EAGAIN;
		struct timespec nap = {0, (long)nap_ms * 1000000L};
		nanosleep(&nap, NULL);
		if (nap_ms < 200)
			nap_ms *= 2;
	}
}

int lfs_range_unlock(int fd, uint64_t off, uint64_t len)
{
	if (!range_ok(off, len))
		return -EINVAL;
	struct flock fl;
	fill(&fl, F_UNLCK, off, len);
	while (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

int lfs_range_held(int fd, bool write, uint64_t off, uint64_t len, bool *held)
{
	if (!range_ok(off, len))
		return -EINVAL;
	struct flock fl;
	fill(&fl, write ? F_WRLCK : F_RDLCK, off, len);
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	*held = fl.l_type != F_UNLCK;
	return 0;
}
