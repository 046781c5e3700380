/* SPDX-License-Identifier: Apache-2.0 */
/* Callers of security events (event.h). */
#define _GNU_SOURCE
#include "event.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* /proc/PID/loginuid or sessionid: a decimal number, 4294967295 when the
 * process never logged in (the kernel's "unset"). */
static int64_t read_proc_id(pid_t pid, const char *what)
{
	char path[64], buf[32];
	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, what);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return LFS_AUDIT_UNSET;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return LFS_AUDIT_UNSET;
	buf[n] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v >= 4294967295ULL)
		return LFS_AUDIT_UNSET;
	return (int64_t)v;
}

void lfs_audit_caller_from_pid(struct lfs_audit_caller *c, uid_t uid, pid_t pid)
{
	char proc[64];
	memset(c, 0, sizeof(*c));
	c->known = true;
	c->uid = uid;
	c->pid = pid;
	snprintf(proc, sizeof(proc), "/proc/%ld/exe", (long)pid);
	ssize_t n = readlink(proc, c->exe, sizeof(c->exe) - 1);
	c->exe[n > 0 ? n : 0] = '\0';
	c->loginuid = read_proc_id(pid, "loginuid");
	c->sessionid = read_proc_id(pid, "sessionid");
}

void lfs_audit_caller_self(struct lfs_audit_caller *c)
{
	lfs_audit_caller_from_pid(c, getuid(), getpid());
}

bool lfs_audit_caller_is_lethefs(const struct lfs_audit_caller *c)
{
	char self[sizeof(c->exe)];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (!c || !c->known || !c->exe[0] || n <= 0)
		return false;
	self[n] = '\0';
	return strcmp(self, c->exe) == 0;
}
