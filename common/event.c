/* SPDX-License-Identifier: Apache-2.0 */
/* Callers of security events (event.h). */
#include "event.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
}

void lfs_audit_caller_self(struct lfs_audit_caller *c)
{
	lfs_audit_caller_from_pid(c, getuid(), getpid());
}
