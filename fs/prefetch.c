/* SPDX-License-Identifier: Apache-2.0 */
/* Header read-ahead for tree walks: see prefetch.h. */
#define _GNU_SOURCE
#include "prefetch.h"
#include "content.h"

#include "../common/bounded.h"
#include "../common/monotonic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Prefetches run on the two persistent threads of this pool (a walk moves
 * from directory to directory faster than one prefetch ends, but more than
 * two would only queue up behind the same disk), handed over without
 * waiting (common/bounded.h, a wait of 0). A thread started per prefetch
 * cost a clone3 and a locked stack per directory listed: two per directory
 * of an rm -rf (docs/PERFORMANCE.md, issue 17). */
static struct lfs_bounded prefetchers = LFS_BOUNDED_INIT;
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

/* A directory whose headers were asked for this recently is not read
 * ahead again when it is opened again: rm -rf opens each directory twice
 * (to list it, then to remove what it listed), and the second read-ahead
 * opened every file once more only to find its header in the page cache
 * (about 6 system calls per removed file, docs/PERFORMANCE.md, "Tree
 * operations"). */
#define PREFETCH_AGAIN_AFTER 5

void lfs_prefetch_arm(struct lfs_inode *dir)
{
	int64_t last = __atomic_load_n(&dir->prefetched_at, __ATOMIC_RELAXED);
	if (last && lfs_coarse_seconds() - last < PREFETCH_AGAIN_AFTER)
		return;
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
static void prefetch_dir(void *arg)
{
	int fd = *(const int *)arg;
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
}

void lfs_prefetch_start(struct lfs_inode *dir, int dirfd)
{
	if (!atomic_load(&enabled) || !__atomic_load_n(&dir->prefetch_armed, __ATOMIC_RELAXED))
		return;
	if (lfs_bounded_full(&prefetchers))
		return; /* stays armed for the next lookup */
	if (!__atomic_exchange_n(&dir->prefetch_armed, false, __ATOMIC_RELAXED))
		return; /* another request took it */
	/* Its own open file description: the listing's position is not ours. */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* Done or still running, the prefetch owns fd from here. */
	if (lfs_bounded_call(&prefetchers, prefetch_dir, &fd, sizeof(fd), 0) ==
	    LFS_BOUNDED_REFUSED) {
		close(fd);
		lfs_prefetch_arm(dir); /* both busy: the next lookup tries again */
	} else {
		__atomic_store_n(&dir->prefetched_at, lfs_coarse_seconds(), __ATOMIC_RELAXED);
	}
}
