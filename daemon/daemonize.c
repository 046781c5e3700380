/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "daemonize.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int ready_fd = -1;

int lfs_daemonize_begin(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid > 0) {
		close(p[1]);
		char b = 0;
		ssize_t n;
		do
			n = read(p[0], &b, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);
	}
	close(p[0]);
	ready_fd = p[1];
	if (setsid() < 0 || chdir("/") < 0)
		return 0; /* not fatal: the daemon still serves */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	return 0;
}

void lfs_daemonize_ready(void)
{
	if (ready_fd < 0)
		return;
	char b = 1;
	ssize_t n;
	do
		n = write(ready_fd, &b, 1);
	while (n < 0 && errno == EINTR);
	close(ready_fd);
	ready_fd = -1;
}
