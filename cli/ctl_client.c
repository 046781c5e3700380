/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "ctl_client.h"
#include "cli.h"
#include "../daemon/control.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *o = s;
	for (char *p = s; *p;) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 4;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
}

int lfs_ctl_mount_source(const char *mnt, char *vault, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint options [optional...] - type source super */
		char *save = NULL, *point = NULL;
		char *tok = strtok_r(line, " \n", &save);
		for (int i = 0; tok && i < 4; i++)
			tok = strtok_r(NULL, " \n", &save);
		point = tok;
		while (tok && strcmp(tok, "-") != 0)
			tok = strtok_r(NULL, " \n", &save);
		char *type = tok ? strtok_r(NULL, " \n", &save) : NULL;
		char *source = type ? strtok_r(NULL, " \n", &save) : NULL;
		if (!point || !source || strcmp(type, "fuse.lethefs") != 0)
			continue;
		unescape_octal(point);
		if (strcmp(point, mnt) != 0)
			continue;
		unescape_octal(source);
		snprintf(vault, len, "%s", source);
		r = 0; /* keep going: the last mount on a path is the visible one */
	}
	free(line);
	fclose(f);
	return r;
}

static int find_socket(const struct lfs_ctl_target *t, char path[108])
{
	if (t->socket) {
		if (strlen(t->socket) >= 108) {
			lfs_cli_error("socket path %s is too long", t->socket);
			return LFS_EXIT_USAGE;
		}
		snprintf(path, 108, "%s", t->socket);
		return 0;
	}
	char mnt[PATH_MAX], vault[PATH_MAX], err[512];
	if (!realpath(t->mountpoint, mnt)) {
		lfs_cli_error("%s: %s", t->mountpoint, strerror(errno));
		return LFS_EXIT_NOT_MOUNTED;
	}
	if (lfs_ctl_mount_source(mnt, vault, sizeof(vault)) < 0) {
		lfs_cli_error("%s is not a mounted lethefs volume", t->mountpoint);
		return LFS_EXIT_NOT_MOUNTED;
	}
	struct lfs_vault v;
	enum lfs_vault_error ve = lfs_vault_open(vault, &v, err, sizeof(err));
	if (ve != LFS_VAULT_OK)
		return lfs_exit_for_vault_error(ve, err);
	lfs_control_default_path(&v.cfg, path);
	lfs_vault_close(&v);
	return 0;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int lfs_ctl_call(const struct lfs_ctl_target *target, const struct lfs_ctl_request *req,
		 const void *payload, char *resp, size_t resplen)
{
	char path[108];
	int r = find_socket(target, path);
	if (r != 0)
		return r;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd >= 0 && target->timeout_ms > 0) {
		/* Bounds the connect (a full backlog), the send and each recv. */
		struct timeval tv = {.tv_sec = target->timeout_ms / 1000,
		                     .tv_usec = (target->timeout_ms % 1000) * 1000};
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
			lfs_cli_error("cannot set a timeout on the socket: %s", strerror(errno));
			close(fd);
			return LFS_EXIT_ERROR;
		}
	}
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS) {
			lfs_cli_error("the daemon on %s did not accept the connection in time",
			              path);
			return LFS_EXIT_TIMEOUT;
		}
		if (e == EACCES || e == EPERM) {
			lfs_cli_error("permission denied on %s: only root and members of the "
			              "vault's admin_group may lock, unlock or query it",
			              path);
			return LFS_EXIT_DENIED;
		}
		lfs_cli_error("no lethefs daemon answers on %s: %s", path, strerror(e));
		return LFS_EXIT_NOT_MOUNTED;
	}
	char line[LFS_CTL_HEADER_MAX];
	int n = lfs_ctl_format_request(req, line, sizeof(line));
	if (n < 0 || send_all(fd, line, (size_t)n) < 0 ||
	    (req->payload_len && send_all(fd, payload, req->payload_len) < 0)) {
		close(fd);
		lfs_cli_error("cannot send the request to %s: %s", path, strerror(errno));
		return LFS_EXIT_ERROR;
	}
	size_t got = 0;
	bool timed_out = false;
	while (got + 1 < resplen) {
		ssize_t k = recv(fd, resp + got, resplen - 1 - got, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			timed_out = true;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (timed_out) {
		lfs_cli_error("the daemon on %s did not answer within %d ms", path,
		              target->timeout_ms);
		return LFS_EXIT_TIMEOUT;
	}
	resp[got] = '\0';
	if (got == 0 || resp[got - 1] != '\n') {
		lfs_cli_error("the daemon on %s closed the connection without an answer", path);
		return LFS_EXIT_ERROR;
	}
	return 0;
}
