/* SPDX-License-Identifier: Apache-2.0 */
/* Whole seconds of CLOCK_MONOTONIC_COARSE: for "was this done in the last
 * few seconds" marks kept beside hot paths (a coarse read costs no system
 * call). */
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

#endif
