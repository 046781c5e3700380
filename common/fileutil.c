/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

int lfs_pread_full(int fd, void *buf, size_t len, off_t off, size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

int lfs_pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int lfs_read_all(int fd, void *buf, size_t len, size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

int lfs_write_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int lfs_open_regular_flags(int dirfd, const char *name, int flags)
{
	/* The node is reached without being opened (O_PATH) and its type
	 * checked first: opening a device node runs its driver's open, and
	 * opening a FIFO releases a process blocked on its other end. Only a
	 * regular file is then opened, through its /proc/self/fd link: the
	 * same inode, whatever was renamed over the name meanwhile. */
	int pfd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	struct stat st;
	int r = fstat(pfd, &st) < 0   ? -errno
	        : S_ISREG(st.st_mode) ? 0
	        : S_ISLNK(st.st_mode) ? -ELOOP /* what O_NOFOLLOW alone says */
	                              : -EINVAL;
	int fd = -1;
	if (r == 0) {
		char proc[32];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
		fd = open(proc, (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC);
		if (fd < 0)
			r = -errno;
	}
	close(pfd);
	return r < 0 ? r : fd;
}

int lfs_open_regular(int dirfd, const char *name)
{
	return lfs_open_regular_flags(dirfd, name, O_RDONLY | O_NONBLOCK);
}

int lfs_open_regular_create(int dirfd, const char *name, int flags, mode_t mode)
{
	/* O_CREAT|O_EXCL opens nothing that exists (a node planted between
	 * the two calls included): the loop takes whichever it finds. */
	for (int tries = 0; tries < 8; tries++) {
		int fd = lfs_open_regular_flags(dirfd, name, flags);
		if (fd != -ENOENT)
			return fd;
		fd = openat(dirfd, name, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EAGAIN;
}

int lfs_read_small_file(int dirfd, const char *name, size_t max, unsigned char **out, size_t *len)
{
	int fd = lfs_open_regular(dirfd, name);
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	/* One spare byte lets us notice a file that grew after fstat. */
	unsigned char *buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	int r = lfs_read_all(fd, buf, max + 1, &got);
	close(fd);
	if (r == 0 && got > max)
		r = -EFBIG;
	if (r < 0) {
		sodium_memzero(buf, max + 1);
		free(buf);
		return r;
	}
	*out = buf;
	*len = got;
	return 0;
}

int lfs_replace_file(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	char prefix[256];
	int n = snprintf(prefix, sizeof(prefix), ".%s.tmp.", name);
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return -ENAMETOOLONG;
	return lfs_replace_file_via(dirfd, name, prefix, data, len, mode);
}

int lfs_replace_file_via(int dirfd, const char *name, const char *tmp_prefix, const void *data,
                         size_t len, mode_t mode)
{
	char tmp[256];
	uint32_t rnd = randombytes_random();
	int n = snprintf(tmp, sizeof(tmp), "%s%08x", tmp_prefix, rnd);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	int r = lfs_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
}

int lfs_fsync_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

DIR *lfs_opendir_fd(int dirfd, int *err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		*err = -errno;
		close(fd);
	}
	return d;
}
