/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "ctl_registry.h"
#include "../common/fileutil.h"
#include "../common/trustpath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

int lfs_run_dir_ensure(char *why, size_t whylen)
{
	/* mkdir's mode is filtered by the umask; the fchmod below is not. */
	if (mkdir(LFS_RUN_DIR, 0700) < 0 && errno != EEXIST) {
		snprintf(why, whylen, "cannot create %s: %s", LFS_RUN_DIR, strerror(errno));
		return -errno;
	}
	int fd = open(LFS_RUN_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(why, whylen, "%s is not a directory (symlinks are refused): %s",
		         LFS_RUN_DIR, strerror(e));
		return -e;
	}
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if ((st.st_uid != 0 || st.st_gid != 0) && fchown(fd, 0, 0) < 0)
		r = -errno;
	else if ((st.st_mode & 07777) != 0755 && fchmod(fd, 0755) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		snprintf(why, whylen, "cannot make %s root's with mode 0755: %s", LFS_RUN_DIR,
		         strerror(-r));
	return r;
}

void lfs_registry_name(const char *mountpoint, char out[64])
{
	uint8_t h[16];
	char hex[33];
	crypto_generichash(h, sizeof(h), (const uint8_t *)mountpoint, strlen(mountpoint), NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	snprintf(out, 64, "%s%s", LFS_REGISTRY_PREFIX, hex);
}

/* Takes "KEY VALUE\n" off the front of *p; the value may hold anything
 * but a newline or a NUL. */
static int take_line(const char **p, const char *end, const char *key, char *val, size_t vlen)
{
	size_t kl = strlen(key);
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	if (!nl || (size_t)(nl - *p) <= kl + 1 || memcmp(*p, key, kl) != 0 || (*p)[kl] != ' ')
		return -EINVAL;
	const char *v = *p + kl + 1;
	size_t n = (size_t)(nl - v);
	if (n == 0 || n >= vlen || memchr(v, '\0', n))
		return -EINVAL;
	memcpy(val, v, n);
	val[n] = '\0';
	*p = nl + 1;
	return 0;
}

int lfs_registry_parse(const char *text, size_t len, struct lfs_mount_entry *e)
{
	static const char magic[] = "lethefs-mount 1\n";
	const char *p = text, *end = text + len;
	char pid[16];
	memset(e, 0, sizeof(*e));
	if (len < sizeof(magic) - 1 || memcmp(text, magic, sizeof(magic) - 1) != 0)
		return -EINVAL;
	p += sizeof(magic) - 1;
	if (take_line(&p, end, "pid", pid, sizeof(pid)) < 0 ||
	    take_line(&p, end, "socket", e->socket, sizeof(e->socket)) < 0 ||
	    take_line(&p, end, "mountpoint", e->mountpoint, sizeof(e->mountpoint)) < 0 || p != end)
		return -EINVAL;
	char *stop;
	errno = 0;
	long v = strtol(pid, &stop, 10);
	if (errno || *stop || pid[0] < '1' || pid[0] > '9' || v <= 0 || v > (1L << 22))
		return -EINVAL;
	if (e->socket[0] != '/' || e->mountpoint[0] != '/')
		return -EINVAL;
	e->pid = (pid_t)v;
	return 0;
}

int lfs_registry_format(const struct lfs_mount_entry *e, char *buf, size_t len)
{
	if (strchr(e->socket, '\n') || strchr(e->mountpoint, '\n'))
		return -EINVAL;
	int n = snprintf(buf, len, "lethefs-mount 1\npid %d\nsocket %s\nmountpoint %s\n",
	                 (int)e->pid, e->socket, e->mountpoint);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

int lfs_registry_publish(const struct lfs_mount_entry *e, char *why, size_t whylen)
{
	char buf[LFS_REGISTRY_FILE_MAX], name[64];
	int n = lfs_registry_format(e, buf, sizeof(buf));
	if (n < 0) {
		snprintf(why, whylen, "mountpoint or socket path cannot be recorded: %s",
		         strerror(-n));
		return n;
	}
	int r = lfs_run_dir_ensure(why, whylen);
	if (r < 0)
		return r;
	/* Readable, not O_PATH: the replacement fsyncs the directory. */
	int dfd = open(LFS_RUN_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", LFS_RUN_DIR, strerror(errno));
		return -errno;
	}
	lfs_registry_name(e->mountpoint, name);
	r = lfs_replace_file(dfd, name, buf, (size_t)n, 0644);
	/* Readable by admin_group members whatever the daemon's umask. */
	if (r == 0 && fchmodat(dfd, name, 0644, 0) < 0)
		r = -errno;
	close(dfd);
	if (r < 0)
		snprintf(why, whylen, "cannot write %s/%s: %s", LFS_RUN_DIR, name, strerror(-r));
	return r;
}

static int read_entry(int dfd, const char *name, struct lfs_mount_entry *e, struct stat *st)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[LFS_REGISTRY_FILE_MAX];
	size_t got = 0;
	int r = fstat(fd, st) < 0 ? -errno : 0;
	if (r == 0 && !S_ISREG(st->st_mode))
		r = -EINVAL;
	if (r == 0)
		r = lfs_read_all(fd, buf, sizeof(buf), &got);
	close(fd);
	if (r == 0 && got == sizeof(buf))
		r = -EINVAL;
	return r < 0 ? r : lfs_registry_parse(buf, got, e);
}

void lfs_registry_remove(const char *mountpoint, pid_t pid)
{
	char name[64];
	struct lfs_mount_entry e;
	struct stat st;
	lfs_registry_name(mountpoint, name);
	int dfd = open(LFS_RUN_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	if (read_entry(dfd, name, &e, &st) == 0 && e.pid == pid)
		unlinkat(dfd, name, 0);
	close(dfd);
}

int lfs_registry_lookup(const char *mountpoint, struct lfs_mount_entry *e, char *why, size_t whylen)
{
	char name[64];
	struct stat st;
	lfs_registry_name(mountpoint, name);
	/* Only root may write there: a registry another user could write
	 * would let them name the socket a secret goes to. */
	int dfd = lfs_trust_open_dir(LFS_RUN_DIR, 0, why, whylen);
	if (dfd < 0) {
		struct stat rs;
		if (stat(LFS_RUN_DIR, &rs) < 0 && errno == ENOENT)
			return -ENOENT;
		return -EPERM;
	}
	int r = read_entry(dfd, name, e, &st);
	close(dfd);
	if (r == -ENOENT)
		return r;
	if (r == 0 && !lfs_trust_owner_ok(&st, 0)) {
		snprintf(why, whylen, "%s/%s is owned by uid %u with mode %04o, not root's alone",
		         LFS_RUN_DIR, name, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (r == 0 && strcmp(e->mountpoint, mountpoint) != 0)
		r = -EINVAL;
	if (r < 0) {
		snprintf(why, whylen, "%s/%s is malformed", LFS_RUN_DIR, name);
		return -EINVAL;
	}
	return 0;
}
