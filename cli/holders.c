/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "holders.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAMED_MAX 12

static bool below(const char *path, const char *mnt, size_t mlen)
{
	return !strncmp(path, mnt, mlen) && (path[mlen] == '/' || path[mlen] == '\0');
}

static bool link_below(int piddir, const char *name, const char *mnt, size_t mlen)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(piddir, name, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return below(target, mnt, mlen);
}

/* An open descriptor, or a mapping (whose descriptor may be closed: the
 * mapping still holds the file open). */
static bool holds_file(int piddir, const char *mnt, size_t mlen)
{
	bool found = false;
	int fd = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	for (struct dirent *e; d && !found && (e = readdir(d));)
		found = e->d_name[0] != '.' && link_below(dirfd(d), e->d_name, mnt, mlen);
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	if (found)
		return true;
	fd = openat(piddir, "maps", O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "re") : NULL;
	char line[PATH_MAX + 128];
	while (f && !found && fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/');
		if (path) {
			path[strcspn(path, "\n")] = '\0';
			found = below(path, mnt, mlen);
		}
	}
	if (f)
		fclose(f);
	else if (fd >= 0)
		close(fd);
	return found;
}

static void comm_of(int piddir, char *out, size_t len)
{
	snprintf(out, len, "?");
	int fd = openat(piddir, "comm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, out, len - 1);
	close(fd);
	if (n > 0) {
		out[n] = '\0';
		out[strcspn(out, "\n")] = '\0';
	}
}

int lfs_mount_holders(const char *mnt, bool cwd, char *out, size_t outlen)
{
	size_t mlen = strlen(mnt), used = 0;
	int found = 0;
	out[0] = '\0';
	DIR *proc = opendir("/proc");
	for (struct dirent *e; proc && (e = readdir(proc));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == (long)getpid())
			continue;
		int piddir = openat(dirfd(proc), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (piddir < 0)
			continue;
		const char *how = NULL;
		if (holds_file(piddir, mnt, mlen))
			how = "";
		else if (cwd && link_below(piddir, "cwd", mnt, mlen))
			how = ": working directory";
		else if (cwd && link_below(piddir, "root", mnt, mlen))
			how = ": root directory";
		if (how && ++found <= NAMED_MAX && used < outlen) {
			char comm[64];
			comm_of(piddir, comm, sizeof(comm));
			int n = snprintf(out + used, outlen - used, "%s%ld (%s%s)",
			                 used ? ", " : "", pid, comm, how);
			used = n < 0 ? outlen : used + (size_t)n;
		}
		close(piddir);
	}
	if (proc)
		closedir(proc);
	if (found > NAMED_MAX && used < outlen)
		snprintf(out + used, outlen - used, " and %d more", found - NAMED_MAX);
	return found;
}
