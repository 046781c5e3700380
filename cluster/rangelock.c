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

int lfs_range_lock(int fd, bool write, uint64_t off, uint64_t len, bool wait)
{
	if (!range_ok(off, len))
		return -EINVAL;
	struct flock fl;
	fill(&fl, write ? F_WRLCK : F_RDLCK, off, len);
	for (;;) {
		if (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EACCES)
			return -EAGAIN; /* POSIX allows either for "held elsewhere" */
		return -errno;
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
