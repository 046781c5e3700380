/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "target.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lfs_journal_target_of(int fd, const char *data_path, bool handles, struct lfs_journal_target *t)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	return lfs_journal_target_of_known(fd, (uint64_t)st.st_dev, (uint64_t)st.st_ino, data_path,
	                                   handles, t);
}

int lfs_journal_target_of_known(int fd, uint64_t dev, uint64_t ino, const char *data_path,
                                bool handles, struct lfs_journal_target *t)
{
	memset(t, 0, sizeof(*t));
	t->dev = dev;
	t->ino = ino;
	if (handles) {
		struct {
			struct file_handle fh;
			unsigned char bytes[LFS_JOURNAL_HANDLE_MAX];
		} h;
		int mnt;
		h.fh.handle_bytes = LFS_JOURNAL_HANDLE_MAX;
		if (name_to_handle_at(fd, "", &h.fh, &mnt, AT_EMPTY_PATH) == 0) {
			t->handle_type = h.fh.handle_type;
			t->handle_len = h.fh.handle_bytes;
			memcpy(t->handle, h.fh.f_handle, h.fh.handle_bytes);
		}
	}
	char proc[64], path[PATH_MAX];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(proc, path, sizeof(path) - 1);
	size_t dl = strlen(data_path);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	if (strcmp(path, data_path) == 0)
		return 0; /* the data directory itself: empty path */
	if ((size_t)n > dl + 1 && strncmp(path, data_path, dl) == 0 && path[dl] == '/' &&
	    (size_t)n - dl - 1 <= LFS_JOURNAL_PATH_MAX) {
		t->path_len = (uint32_t)((size_t)n - dl - 1);
		memcpy(t->path, path + dl + 1, t->path_len);
		t->path[t->path_len] = '\0';
	}
	return 0;
}

/* The path walked beneath data_dirfd one name at a time without following
 * any symlink (O_NOFOLLOW alone checks only the last name): a backing
 * directory replaced by a link must not lead recovery out of the vault.
 * Returns an O_PATH descriptor or -errno (-ENOTDIR: a name on the way is
 * not a directory, a symlink included). */
static int walk_path(int data_dirfd, const char *path)
{
	char buf[LFS_JOURNAL_PATH_MAX + 1];
	snprintf(buf, sizeof(buf), "%s", path);
	int dir = data_dirfd;
	char *name = buf;
	for (;;) {
		char *slash = strchr(name, '/');
		if (slash)
			*slash = '\0';
		int fd =
		    openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC | (slash ? O_DIRECTORY : 0));
		int e = errno;
		if (dir != data_dirfd)
			close(dir);
		if (fd < 0)
			return -e;
		if (!slash)
			return fd;
		dir = fd;
		name = slash + 1;
	}
}

/* The record's path names nothing: a file written through a descriptor
 * whose name went away while it stayed open is recorded under that name
 * ("NAME (deleted)", from /proc): on a backing without RENAME_NOREPLACE
 * (GlusterFS, NFS) a new file is published by link and unlink of its
 * temporary, and a hard link made through the mount moves a file the same
 * way. Another host cannot use the record's file handle, so it looks in
 * the recorded directory for the recorded inode number (GlusterFS keeps
 * inode numbers across hosts; the caller checks the object found, and the
 * record's apply checks its header). An O_PATH descriptor or -ENOENT. */
static int find_by_ino(int data_dirfd, const char *path, uint64_t ino)
{
	const char *slash = strrchr(path, '/');
	int dir = data_dirfd;
	if (slash) {
		char buf[LFS_JOURNAL_PATH_MAX + 1];
		snprintf(buf, sizeof(buf), "%.*s", (int)(slash - path), path);
		if ((dir = walk_path(data_dirfd, buf)) < 0)
			return dir;
	}
	int lfd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int found = -ENOENT;
	DIR *d = lfd < 0 ? NULL : fdopendir(lfd);
	if (!d && lfd >= 0)
		close(lfd);
	struct dirent *de;
	while (d && found == -ENOENT && (de = readdir(d)) != NULL) {
		struct stat st;
		if ((uint64_t)de->d_ino != ino || de->d_type == DT_DIR ||
		    !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int fd = openat(dir, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == ino &&
		    S_ISREG(st.st_mode))
			found = fd;
		else if (fd >= 0)
			close(fd);
	}
	if (d)
		closedir(d);
	if (dir != data_dirfd)
		close(dir);
	return found;
}

int lfs_journal_target_open(const struct lfs_journal_target *t, int data_dirfd, int mount_fd,
                            int flags)
{
	/* The object is reached without being opened (O_PATH), and checked
	 * before the open that flags ask for: opening a FIFO or a device node
	 * planted at the path has effects of its own. */
	int fd = -1;
	if (t->handle_len && mount_fd >= 0) {
		struct {
			struct file_handle fh;
			unsigned char bytes[LFS_JOURNAL_HANDLE_MAX];
		} h;
		h.fh.handle_bytes = t->handle_len;
		h.fh.handle_type = t->handle_type;
		memcpy(h.fh.f_handle, t->handle, t->handle_len);
		fd = open_by_handle_at(mount_fd, &h.fh, O_PATH | O_CLOEXEC);
	}
	if (fd < 0 && t->path_len) {
		fd = walk_path(data_dirfd, t->path);
		if (fd == -ENOENT && t->ino && !(flags & O_DIRECTORY))
			fd = find_by_ino(data_dirfd, t->path, t->ino);
	} else if (fd < 0 && (fd = openat(data_dirfd, ".", O_PATH | O_CLOEXEC)) < 0)
		fd = -errno;
	if (fd < 0)
		return fd;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/* Another object than the recorded one, or not of the type a record
	 * names (a directory with O_DIRECTORY, else a regular file). */
	bool want_dir = (flags & O_DIRECTORY) != 0;
	if (((uint64_t)st.st_dev == t->dev && (uint64_t)st.st_ino != t->ino) ||
	    (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		close(fd);
		return -ESTALE;
	}
	char proc[32];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	int ofd = open(proc, (flags & ~O_NOFOLLOW) | O_CLOEXEC);
	int e = errno;
	close(fd);
	return ofd < 0 ? -e : ofd;
}
