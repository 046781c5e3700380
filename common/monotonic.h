/* SPDX-License-Identifier: Apache-2.0 */
/* Monotonic time: whole seconds of CLOCK_MONOTONIC_COARSE, for "was this
 * done in the last few seconds" marks kept beside hot paths (a coarse read
 * costs no system call), and deadlines for timed waits. */
#ifndef LETHEFS_MONOTONIC_H
#define LETHEFS_MONOTONIC_H

#include <stdint.h>
#include <time.h>

static inline int64_t lfs_coarse_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec;
}

/* CLOCK_MONOTONIC in seconds with its fraction: for durations and
 * intervals measured in the daemon (a rotation's pace, a run of renames). */
static inline double lfs_monotonic_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CLOCK_MONOTONIC ms milliseconds from now: the deadline of a
 * pthread_cond_timedwait on a condition whose clock is CLOCK_MONOTONIC. */
static inline struct timespec lfs_monotonic_after_ms(unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

#endif
