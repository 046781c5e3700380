/* SPDX-License-Identifier: Apache-2.0 */
/* Header read-ahead for tree walks: see prefetch.h. */
#define _GNU_SOURCE
#include "prefetch.h"
#include "content.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Prefetch threads running in the process: a walk moves from directory to
 * directory faster than one prefetch ends, but more than two would only
 * queue up behind the same disk. */
#define PREFETCH_THREADS_MAX 2
static atomic_int running;
/* Off on a mount with inode attributes: a lookup there reads no header
 * (FORMAT.md 14.9), and opening each file ahead only to have its inode
 * read cost the lookups about a fifth of the daemon's CPU during a du on
 * two cores (docs/PERFORMANCE.md, "Lookups on -o iattr mounts"): ext4
 * reads inodes ahead itself, and the lookups' helper threads keep several
 * of their reads in flight. */
static atomic_bool enabled = true;

void lfs_prefetch_enable(bool on)
{
	atomic_store(&enabled, on);
}

void lfs_prefetch_arm(struct lfs_inode *dir)
{
	__atomic_store_n(&dir->prefetch_armed, true, __ATOMIC_RELAXED);
}

/* Queues the read of the header of the regular backing file dfd/name. The
 * entry is opened O_PATH and checked first: whoever writes the backing
 * store may have swapped a device node or a FIFO in since the listing,
 * and opening those for reading has effects of its own. */
static void prefetch_one(int dfd, const char *name)
{
	int pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return;
	struct stat st;
	if (fstat(pfd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		char proc[LFS_PROC_PATH_MAX];
		lfs_proc_path(pfd, proc);
		int rfd = open(proc, O_RDONLY | O_NOATIME | O_NONBLOCK | O_CLOEXEC);
		if (rfd < 0 && errno == EPERM)
			rfd = open(proc, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (rfd >= 0) {
			(void)posix_fadvise(rfd, 0, LFS_FILE_HDR_MAX, POSIX_FADV_WILLNEED);
			close(rfd);
		}
	}
	close(pfd);
}

/* The listing is read with getdents64 into a buffer on this thread's
 * stack: readdir's malloc would give each prefetch thread a malloc arena
 * of its own, whose pages mlockall keeps resident. */
static void *prefetch_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192] __attribute__((aligned(8)));
	unsigned seen = 0;
	ssize_t n;
	while (seen < LFS_PREFETCH_MAX_ENTRIES && (n = getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t at = 0; at < n && seen < LFS_PREFETCH_MAX_ENTRIES; seen++) {
			struct dirent64 *de = (struct dirent64 *)(buf + at);
			if (de->d_reclen == 0 || de->d_reclen > n - at)
				break;
			at += de->d_reclen;
			if (de->d_type == DT_REG || de->d_type == DT_UNKNOWN)
				prefetch_one(fd, de->d_name);
		}
	}
	close(fd);
	atomic_fetch_sub(&running, 1);
	return NULL;
}

void lfs_prefetch_start(struct lfs_inode *dir, int dirfd)
{
	if (!atomic_load(&enabled) || !__atomic_load_n(&dir->prefetch_armed, __ATOMIC_RELAXED))
		return;
	if (atomic_fetch_add(&running, 1) >= PREFETCH_THREADS_MAX) {
		atomic_fetch_sub(&running, 1); /* stays armed for the next lookup */
		return;
	}
	if (!__atomic_exchange_n(&dir->prefetch_armed, false, __ATOMIC_RELAXED)) {
		atomic_fetch_sub(&running, 1); /* another request took it */
		return;
	}
	/* Its own open file description: the listing's position is not ours. */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pthread_attr_t attr;
	pthread_t t;
	bool started = false;
	if (fd >= 0 && pthread_attr_init(&attr) == 0) {
		/* (the binary's thread-local storage takes 64 KiB of it) */
		if (pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
		    pthread_attr_setstacksize(&attr, 256 * 1024) == 0)
			started =
			    pthread_create(&t, &attr, prefetch_thread, (void *)(intptr_t)fd) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!started) {
		if (fd >= 0)
			close(fd);
		atomic_fetch_sub(&running, 1);
	}
}
