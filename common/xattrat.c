/* SPDX-License-Identifier: Apache-2.0 */
/* getxattrat(2) where the kernel has it: see xattrat.h. */
#define _GNU_SOURCE
#include "xattrat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The number is one for every architecture on the common syscall table
 * (Linux 6.13); the C library of Debian 12 knows neither it nor the
 * argument structure. */
#ifndef SYS_getxattrat
#if defined(__x86_64__) || defined(__aarch64__) || defined(__riscv)
#define SYS_getxattrat 464
#endif
#endif

/* struct xattr_args of <linux/xattr.h> (Linux 6.13). */
struct lfs_xattr_args {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

static atomic_bool missing;

void lfs_xattrat_disable(void)
{
	atomic_store(&missing, true);
}

bool lfs_xattrat_usable(void)
{
	return !atomic_load(&missing);
}

ssize_t lfs_getxattrat(int dirfd, const char *name, const char *attr, void *buf, size_t size)
{
#ifdef SYS_getxattrat
	if (atomic_load(&missing))
		return -ENOSYS;
	struct lfs_xattr_args a = {(uint64_t)(uintptr_t)buf, (uint32_t)size, 0};
	long n = syscall(SYS_getxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, attr, &a, sizeof(a));
	if (n >= 0)
		return (ssize_t)n;
	int e = errno;
	if (e == ENOSYS)
		atomic_store(&missing, true);
	return -e;
#else
	(void)dirfd, (void)name, (void)attr, (void)buf, (void)size;
	return -ENOSYS;
#endif
}
