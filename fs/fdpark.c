/* SPDX-License-Identifier: Apache-2.0 */
/* Descriptor parking (docs/DESIGN.md): every inode the kernel remembers
 * needs its backing object at hand, but descriptors are limited. Up to a
 * budget of half the descriptor limit they stay open; beyond it the least
 * recently used unpinned ones are closed after saving a file handle, and
 * reopened by handle (or by path from the parent) when pinned again. */
#define _GNU_SOURCE
#include "fs.h"
#include "inode_int.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Half of the (raised) descriptor limit goes to inodes' O_PATH
 * descriptors; the rest serves open files and directories. */
size_t lfs_fdpark_budget(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 512;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	size_t limit = rl.rlim_cur == RLIM_INFINITY ? 1048576 : (size_t)rl.rlim_cur;
	return limit / 2 > 64 ? limit / 2 : 64;
}

/* Parking needs file handles, which need the backing filesystem's support
 * and, to open them, CAP_DAC_READ_SEARCH (root). Probe both once. */
int lfs_fdpark_handles_usable(int data_dir_fd)
{
	int mfd = openat(data_dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -1;
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	int mount_id, ok = 0;
	if (fh) {
		fh->handle_bytes = MAX_HANDLE_SZ;
		if (name_to_handle_at(data_dir_fd, "", fh, &mount_id, AT_EMPTY_PATH) == 0) {
			int fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
			ok = fd >= 0;
			if (fd >= 0)
				close(fd);
		}
		free(fh);
	}
	if (!ok) {
		lfs_warn("file handles unavailable (not root?): one descriptor stays open per "
		         "inode the kernel remembers");
		close(mfd);
		return -1;
	}
	return mfd;
}

_Static_assert(sizeof(((struct lfs_inode *)0)->fh_inline) >=
                   sizeof(struct file_handle) + LFS_INLINE_HANDLE,
               "inline handle room");

void lfs_fdpark_drop(struct lfs_fs *fs, struct lfs_inode *in)
{
	if (!in->in_lru)
		return;
	if (in->lru_prev)
		in->lru_prev->lru_next = in->lru_next;
	else
		fs->lru_head = in->lru_next;
	if (in->lru_next)
		in->lru_next->lru_prev = in->lru_prev;
	else
		fs->lru_tail = in->lru_prev;
	in->lru_prev = in->lru_next = NULL;
	in->in_lru = false;
}

static void lru_push(struct lfs_fs *fs, struct lfs_inode *in)
{
	in->lru_prev = NULL;
	in->lru_next = fs->lru_head;
	if (fs->lru_head)
		fs->lru_head->lru_prev = in;
	fs->lru_head = in;
	if (!fs->lru_tail)
		fs->lru_tail = in;
	in->in_lru = true;
}

/* Closes the descriptor of an unpinned inode after saving its handle.
 * Called with fd_lock held. Inodes whose handle cannot be taken stay open
 * (and leave the list, so they are not tried again until next used). */
static void park(struct lfs_fs *fs, struct lfs_inode *in)
{
	lfs_fdpark_drop(fs, in);
	if (fs->park_by_path && (!in->parent || !in->bname))
		return; /* nowhere to reopen it from: stays open */
	if (!fs->park_by_path && !in->fh) {
		struct lfs_handle_buf hb;
		int mount_id;
		hb.fh.handle_bytes = MAX_HANDLE_SZ;
		if (name_to_handle_at(in->fd, "", &hb.fh, &mount_id, AT_EMPTY_PATH) < 0)
			return;
		size_t len = sizeof(hb.fh) + hb.fh.handle_bytes;
		/* Most handles fit in the inode: no allocation per inode. */
		struct file_handle *fh = hb.fh.handle_bytes <= LFS_INLINE_HANDLE
		                             ? (struct file_handle *)in->fh_inline
		                             : malloc(len);
		if (!fh)
			return;
		memcpy(fh, &hb.fh, len);
		in->fh = fh;
	}
	close(in->fd);
	in->fd = -1;
	fs->open_fds--;
}

/* Reopens a parked inode from its parent's descriptor and its name,
 * reopening parked ancestors first, top down (iteratively: trees can be
 * deep). A name that now holds another object (renamed or removed
 * meanwhile, possibly by another host) is -ESTALE; the kernel's retry
 * looks the path up again, which records the new place. Called with
 * fd_lock held, which keeps every open descriptor open. */
static int reopen_by_path(struct lfs_fs *fs, struct lfs_inode *in)
{
	while (in->fd < 0) {
		struct lfs_inode *x = in;
		while (x->parent && x->parent->fd < 0)
			x = x->parent;
		if (!x->parent || !x->bname)
			return -ESTALE;
		int fd = openat(x->parent->fd, x->bname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0)
			return errno == ENOENT || errno == ENOTDIR ? -ESTALE : -errno;
		if (fstat(fd, &st) < 0 || st.st_ino != x->ino || st.st_dev != x->dev) {
			close(fd);
			return -ESTALE;
		}
		x->fd = fd;
		fs->open_fds++;
		if (x != in)
			lru_push(fs, x); /* unpinned: may be parked again */
	}
	return 0;
}

int lfs_inode_pin(struct lfs_fs *fs, struct lfs_inode *in)
{
	pthread_mutex_lock(&fs->fd_lock);
	if (in->fd < 0 && fs->park_by_path) {
		int e = reopen_by_path(fs, in);
		if (e < 0) {
			pthread_mutex_unlock(&fs->fd_lock);
			return e;
		}
	} else if (in->fd < 0) {
		int fd = open_by_handle_at(fs->handle_mount_fd, in->fh, O_PATH | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			pthread_mutex_unlock(&fs->fd_lock);
			return -e;
		}
		in->fd = fd;
		fs->open_fds++;
	}
	lfs_fdpark_drop(fs, in);
	in->fd_pins++;
	int fd = in->fd;
	pthread_mutex_unlock(&fs->fd_lock);
	return fd;
}

void lfs_fdpark_prepare(struct lfs_fs *fs, struct lfs_inode *in, int fd)
{
	/* (A racy read of the count: at worst one handle too many or too few
	 * is taken here, and park takes a missing one itself.) */
	if (fs->park_by_path || fs->handle_mount_fd < 0 ||
	    __atomic_load_n(&fs->open_fds, __ATOMIC_RELAXED) < fs->fd_budget)
		return;
	struct lfs_handle_buf hb;
	int mount_id;
	hb.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &hb.fh, &mount_id, AT_EMPTY_PATH) < 0 ||
	    hb.fh.handle_bytes > LFS_INLINE_HANDLE)
		return;
	memcpy(in->fh_inline, &hb.fh, sizeof(hb.fh) + hb.fh.handle_bytes);
	in->fh = (struct file_handle *)in->fh_inline;
}

/* An inode nobody pins: its descriptor joins the LRU list, and the list's
 * tail is parked while over budget. Called with fd_lock held. */
void lfs_fdpark_release(struct lfs_fs *fs, struct lfs_inode *in)
{
	if (in->fd < 0 || (fs->handle_mount_fd < 0 && !fs->park_by_path))
		return;
	lru_push(fs, in);
	while (fs->open_fds > fs->fd_budget && fs->lru_tail)
		park(fs, fs->lru_tail);
}

bool lfs_fs_shed_fds(struct lfs_fs *fs)
{
	pthread_mutex_lock(&fs->fd_lock);
	size_t n = 0;
	while (n < 64 && fs->lru_tail) {
		park(fs, fs->lru_tail);
		n++;
	}
	pthread_mutex_unlock(&fs->fd_lock);
	return n > 0;
}

void lfs_inode_unpin(struct lfs_fs *fs, struct lfs_inode *in)
{
	pthread_mutex_lock(&fs->fd_lock);
	if (--in->fd_pins == 0)
		lfs_fdpark_release(fs, in);
	pthread_mutex_unlock(&fs->fd_lock);
}
