/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "trustpath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool lfs_trust_owner_ok(const struct stat *st, uid_t also_uid)
{
	return (st->st_uid == 0 || st->st_uid == also_uid) && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

static int check_dir_fd(int fd, const char *shown, uid_t also_uid, char *why, size_t whylen)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "cannot stat %s: %s", shown, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, whylen, "%s is not a directory", shown);
		return -1;
	}
	if (!lfs_trust_owner_ok(&st, also_uid)) {
		snprintf(why, whylen,
		         "%s is owned by uid %u with mode %04o: it must belong to root and be "
		         "writable by nobody else",
		         shown, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

int lfs_trust_open_dir(const char *dir, uid_t also_uid, char *why, size_t whylen)
{
	char copy[4096], shown[4096] = "/";
	if (dir[0] != '/' || strlen(dir) >= sizeof(copy)) {
		snprintf(why, whylen, "%s is not an absolute path", dir);
		return -1;
	}
	snprintf(copy, sizeof(copy), "%s", dir);
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || check_dir_fd(fd, "/", also_uid, why, whylen) < 0) {
		if (fd < 0)
			snprintf(why, whylen, "cannot open /: %s", strerror(errno));
		else
			close(fd);
		return -1;
	}
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		size_t sl = strlen(shown);
		snprintf(shown + sl, sizeof(shown) - sl, "%s%s", sl > 1 ? "/" : "", c);
		if (!strcmp(c, ".") || !strcmp(c, "..")) {
			snprintf(why, whylen, "%s: '.' and '..' are not allowed in the path", dir);
			close(fd);
			return -1;
		}
		int next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next < 0) {
			snprintf(why, whylen, "%s: %s", shown,
			         errno == ENOTDIR || errno == ELOOP
			             ? "not a directory (symlinks are not followed)"
			             : strerror(errno));
			return -1;
		}
		fd = next;
		if (check_dir_fd(fd, shown, also_uid, why, whylen) < 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

int lfs_trust_open_parent(const char *path, uid_t also_uid, char *base, size_t baselen, char *why,
                          size_t whylen)
{
	const char *slash = strrchr(path, '/');
	if (path[0] != '/' || !slash || !slash[1] || strlen(slash + 1) >= baselen ||
	    !strcmp(slash + 1, ".") || !strcmp(slash + 1, "..")) {
		snprintf(why, whylen, "%s is not an absolute path to a file", path);
		return -1;
	}
	char dir[4096];
	size_t dl = (size_t)(slash - path);
	if (dl >= sizeof(dir)) {
		snprintf(why, whylen, "%s is too long", path);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%.*s", (int)(dl ? dl : 1), dl ? path : "/");
	snprintf(base, baselen, "%s", slash + 1);
	return lfs_trust_open_dir(dir, also_uid, why, whylen);
}

int lfs_open_beneath(int dirfd, const char *rel)
{
	char copy[4096];
	if (rel[0] == '/' || strlen(rel) >= sizeof(copy))
		return -EINVAL;
	snprintf(copy, sizeof(copy), "%s", rel);
	int fd = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char *save = NULL;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "..")) {
			close(fd);
			return -EINVAL;
		}
		if (!strcmp(c, "."))
			continue;
		int next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		struct stat st;
		if (next < 0 && fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			e = ELOOP; /* a symlink, not a missing directory */
		close(fd);
		if (next < 0)
			return -e;
		fd = next;
	}
	return fd;
}

int lfs_open_confined_parent(int base_dirfd, const char *path, const char *abs_root, char *base,
                             size_t baselen, char *why, size_t whylen)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (!*name || strlen(name) >= baselen || !strcmp(name, ".") || !strcmp(name, "..")) {
		snprintf(why, whylen, "'%s' does not name a file", path);
		return -EINVAL;
	}
	snprintf(base, baselen, "%s", name);
	char dir[4096];
	size_t dl = slash ? (size_t)(slash - path) : 0;
	if (dl >= sizeof(dir)) {
		snprintf(why, whylen, "'%s' is too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%.*s", (int)dl, path);
	int fd;
	if (path[0] != '/') {
		fd = lfs_open_beneath(base_dirfd, dl ? dir : ".");
		if (fd < 0) {
			snprintf(why, whylen,
			         "'%s' must stay inside the vault without '..' or symlinks: %s",
			         path, strerror(-fd));
			return fd == -EINVAL || fd == -ELOOP ? -EPERM : fd;
		}
	} else {
		size_t rl = strlen(abs_root);
		if (strncmp(path, abs_root, rl) != 0 || path[rl] != '/') {
			snprintf(why, whylen,
			         "'%s' is outside the vault and outside %s, the only other place "
			         "allowed",
			         path, abs_root);
			return -EPERM;
		}
		fd = lfs_trust_open_dir(dl ? dir : "/", geteuid(), why, whylen);
		if (fd < 0)
			return -EPERM;
	}
	/* O_PATH descriptors cannot be fsync'ed or read as directories. */
	int rd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int e = errno;
	close(fd);
	if (rd < 0) {
		snprintf(why, whylen, "cannot open the directory of '%s': %s", path, strerror(e));
		return -e;
	}
	return rd;
}
