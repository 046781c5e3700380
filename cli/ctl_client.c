/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "ctl_client.h"
#include "cli.h"
#include "../common/trustpath.h"
#include "../daemon/ctl_registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* Set for the duration of a quiet lfs_ctl_call: nothing is printed. */
static bool ctl_quiet;

#define ctl_error(...)                                                                             \
	do {                                                                                       \
		if (!ctl_quiet)                                                                    \
			lfs_cli_error(__VA_ARGS__);                                                \
	} while (0)

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

int lfs_vault_of_mount(const char *mnt, char *vault, size_t len)
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

int lfs_lethefs_mount_of(const char *path, char *mnt, size_t mntlen, char *vault, size_t vlen)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	char want[32];
	snprintf(want, sizeof(want), "%u:%u", major(st.st_dev), minor(st.st_dev));
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;
	while (r == -ENOENT && getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint options [optional...] - type source super */
		char *save = NULL;
		char *tok = strtok_r(line, " \n", &save);
		char *dev = NULL, *point = NULL;
		for (int i = 0; tok && i < 4; i++) {
			tok = strtok_r(NULL, " \n", &save);
			if (i == 1)
				dev = tok;
			if (i == 3)
				point = tok;
		}
		while (tok && strcmp(tok, "-") != 0)
			tok = strtok_r(NULL, " \n", &save);
		char *type = tok ? strtok_r(NULL, " \n", &save) : NULL;
		char *source = type ? strtok_r(NULL, " \n", &save) : NULL;
		if (!dev || !point || !source || strcmp(type, "fuse.lethefs") != 0 ||
		    strcmp(dev, want) != 0)
			continue;
		unescape_octal(point);
		unescape_octal(source);
		snprintf(mnt, mntlen, "%s", point);
		snprintf(vault, vlen, "%s", source);
		r = 0;
	}
	free(line);
	fclose(f);
	return r;
}

/* Where to connect, and who must answer there. */
struct ctl_location {
	char path[108];
	pid_t pid; /* the daemon's, from the registry; 0 = unknown (--socket) */
};

/* Outcome of one attempt to locate and verify: 0, an exit code, or
 * RETRY (a mount whose daemon has not published itself yet). */
#define RETRY (-1)

static int locate(const struct lfs_ctl_target *t, struct ctl_location *loc)
{
	char mnt[PATH_MAX], vault[PATH_MAX], why[512];
	struct lfs_mount_entry e;
	loc->pid = 0;
	if (t->socket) {
		if (strlen(t->socket) >= sizeof(loc->path) || t->socket[0] != '/') {
			ctl_error("socket path %s must be absolute and shorter than 108 bytes",
			          t->socket);
			return LFS_EXIT_USAGE;
		}
		snprintf(loc->path, sizeof(loc->path), "%s", t->socket);
		/* If the mount published this socket, its daemon is known too. */
		if (realpath(t->mountpoint, mnt) &&
		    lfs_registry_lookup(mnt, &e, why, sizeof(why)) == 0 &&
		    !strcmp(e.socket, loc->path))
			loc->pid = e.pid;
		return 0;
	}
	if (!realpath(t->mountpoint, mnt)) {
		ctl_error("%s: %s", t->mountpoint, strerror(errno));
		return LFS_EXIT_NOT_MOUNTED;
	}
	if (lfs_vault_of_mount(mnt, vault, sizeof(vault)) < 0) {
		ctl_error("%s is not a mounted lethefs volume", t->mountpoint);
		return LFS_EXIT_NOT_MOUNTED;
	}
	/* Never from the vault's lethefs.conf: whoever can write the vault
	 * could name any socket there. */
	int r = lfs_registry_lookup(mnt, &e, why, sizeof(why));
	if (r == -ENOENT)
		return RETRY;
	if (r < 0) {
		ctl_error("the control socket of %s cannot be trusted: %s", t->mountpoint, why);
		return LFS_EXIT_UNTRUSTED;
	}
	snprintf(loc->path, sizeof(loc->path), "%s", e.socket);
	loc->pid = e.pid;
	return 0;
}

/* Every directory of the path is root's (or the caller's) and writable
 * by nobody else, and the socket itself is root's: only root could have
 * put a listener there. */
static int verify_path(const char *path)
{
	char base[108], why[512];
	uid_t me = geteuid();
	int dfd = lfs_trust_open_parent(path, me, base, sizeof(base), why, sizeof(why));
	if (dfd < 0) {
		ctl_error("control socket %s cannot be trusted: %s", path, why);
		return LFS_EXIT_UNTRUSTED;
	}
	struct stat st;
	int r = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW);
	int e = errno;
	close(dfd);
	if (r < 0) {
		ctl_error("no lethefs daemon answers on %s: %s", path, strerror(e));
		return LFS_EXIT_NOT_MOUNTED;
	}
	if (!S_ISSOCK(st.st_mode) || (st.st_uid != 0 && st.st_uid != me)) {
		ctl_error("control socket %s cannot be trusted: %s owned by uid %u", path,
		          S_ISSOCK(st.st_mode) ? "a socket" : "not a socket but a file",
		          (unsigned)st.st_uid);
		return LFS_EXIT_UNTRUSTED;
	}
	return 0;
}

/* The process that listens is root (or the caller) and, when the
 * registry names it, the mount's daemon. */
static int verify_peer(int fd, const struct ctl_location *loc, bool last_try)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		ctl_error("cannot read who listens on %s: %s", loc->path, strerror(errno));
		return LFS_EXIT_UNTRUSTED;
	}
	if (cred.uid != 0 && cred.uid != geteuid()) {
		ctl_error("control socket %s is served by uid %u pid %d, not by root: nothing "
		          "was sent",
		          loc->path, (unsigned)cred.uid, (int)cred.pid);
		return LFS_EXIT_UNTRUSTED;
	}
	if (loc->pid && cred.pid != loc->pid) {
		if (!last_try)
			return RETRY;
		ctl_error("control socket %s is served by pid %d, not by the mount's daemon "
		          "(pid %d): nothing was sent",
		          loc->path, (int)cred.pid, (int)loc->pid);
		return LFS_EXIT_UNTRUSTED;
	}
	return 0;
}

/* Connects to a verified daemon. Returns the socket, or -(exit code). */
static int connect_verified(const struct lfs_ctl_target *target, char path[108])
{
	/* A daemon that has just mounted publishes its entry (and becomes
	 * the socket's listener) a moment later: wait up to 3 s for it. */
	for (int attempt = 0;; attempt++) {
		bool last = attempt >= 60;
		struct ctl_location loc;
		int r = locate(target, &loc);
		if (r == RETRY && !last) {
			usleep(50000);
			continue;
		}
		if (r == RETRY) {
			ctl_error("%s is a lethefs mount but its daemon published no control "
			          "socket under %s (use --socket PATH)",
			          target->mountpoint, LFS_RUN_DIR);
			return -LFS_EXIT_NOT_MOUNTED;
		}
		if (r != 0 || (r = verify_path(loc.path)) != 0)
			return -r;
		snprintf(path, 108, "%s", loc.path);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		if (fd >= 0 && target->timeout_ms > 0) {
			/* Bounds the connect (a full backlog), the send and each recv. */
			struct timeval tv = {.tv_sec = target->timeout_ms / 1000,
			                     .tv_usec = (target->timeout_ms % 1000) * 1000};
			if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
			    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
				ctl_error("cannot set a timeout on the socket: %s",
				          strerror(errno));
				close(fd);
				return -LFS_EXIT_ERROR;
			}
		}
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			if (e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS) {
				ctl_error("the daemon on %s did not accept the connection in "
				          "time",
				          path);
				return -LFS_EXIT_TIMEOUT;
			}
			if (e == EACCES || e == EPERM) {
				ctl_error("permission denied on %s: only root and members of the "
				          "vault's admin_group may lock, unlock or query it",
				          path);
				return -LFS_EXIT_DENIED;
			}
			ctl_error("no lethefs daemon answers on %s: %s", path, strerror(e));
			return -LFS_EXIT_NOT_MOUNTED;
		}
		r = verify_peer(fd, &loc, last);
		if (r == 0)
			return fd;
		close(fd);
		if (r != RETRY)
			return -r;
		usleep(50000);
	}
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

static int ctl_call(const struct lfs_ctl_target *target, const struct lfs_ctl_request *req,
                    const void *payload, char *resp, size_t resplen)
{
	char path[108];
	int fd = connect_verified(target, path);
	if (fd < 0)
		return -fd;
	char line[LFS_CTL_HEADER_MAX];
	int n = lfs_ctl_format_request(req, line, sizeof(line));
	int send_err = 0;
	if (n < 0 || send_all(fd, line, (size_t)n) < 0 ||
	    (req->payload_len && send_all(fd, payload, req->payload_len) < 0))
		send_err = n < 0 ? EINVAL : errno;
	/* Even then the daemon may have answered before closing (a refusal
	 * sent without reading the request): read it. */
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
	resp[got] = '\0';
	if (timed_out) {
		ctl_error("the daemon on %s did not answer within %d ms", path, target->timeout_ms);
		return LFS_EXIT_TIMEOUT;
	}
	if ((got == 0 || resp[got - 1] != '\n') && send_err) {
		ctl_error("cannot send the request to %s: %s", path, strerror(send_err));
		return LFS_EXIT_ERROR;
	}
	if (got == 0 || resp[got - 1] != '\n') {
		ctl_error("the daemon on %s closed the connection without an answer", path);
		return LFS_EXIT_ERROR;
	}
	return 0;
}

int lfs_ctl_call(const struct lfs_ctl_target *target, const struct lfs_ctl_request *req,
                 const void *payload, char *resp, size_t resplen)
{
	ctl_quiet = target->quiet;
	int r = ctl_call(target, req, payload, resp, resplen);
	ctl_quiet = false;
	return r;
}

/* ---- is a daemon serving this vault, and does it answer? ---- */

/* One status request to e's socket; 1 answered (*uuid_hex filled when the
 * answer names one), 0 no such listener (stale entry), -1 silent past
 * the deadline (stopped or hung). */
static int ping(const char *socket_path, pid_t want_pid, int timeout_ms, char uuid_hex[33])
{
	uuid_hex[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", socket_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid()) || (want_pid && cred.pid != want_pid)) {
		close(fd);
		return 0; /* not the mount's daemon: not ours to wait for */
	}
	struct lfs_ctl_request req = {.verb = LFS_CTL_STATUS};
	char line[LFS_CTL_HEADER_MAX], resp[LFS_CTL_RESPONSE_MAX];
	int n = lfs_ctl_format_request(&req, line, sizeof(line));
	/* A stopped daemon's socket still accepts (the kernel queues the
	 * connection), so only an answer proves it is alive. */
	if (n < 0 || send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		close(fd);
		return -1;
	}
	size_t got = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timespec t1;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long left = timeout_ms -
		            ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		ssize_t k = recv(fd, resp + got, sizeof(resp) - 1 - got, MSG_DONTWAIT);
		if (k <= 0)
			break;
		got += (size_t)k;
		if (resp[got - 1] == '\n' || got + 1 >= sizeof(resp))
			break;
	}
	close(fd);
	if (got == 0 || resp[got - 1] != '\n')
		return -1;
	resp[got] = '\0';
	if (lfs_json_get(resp, got, "uuid", uuid_hex, 33) < 0)
		uuid_hex[0] = '\0';
	return 1;
}

static bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int lfs_ctl_probe_vault(const char *uuid_hex, const char *vault_real, const char *sockets[],
                        int timeout_ms, struct lfs_ctl_probe *out)
{
	memset(out, 0, sizeof(*out));
	/* Paths and the entry on the heap: no frame over 16 KiB. */
	struct scratch {
		char path[PATH_MAX + 64], text[LFS_REGISTRY_FILE_MAX], why[256], v[PATH_MAX];
		struct lfs_mount_entry e;
	} *w = malloc(sizeof(*w));
	DIR *d = w ? opendir(LFS_RUN_DIR) : NULL;
	struct dirent *de;
	int result = 0;
	while (d && result != 1 && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, LFS_REGISTRY_PREFIX, strlen(LFS_REGISTRY_PREFIX)) != 0)
			continue;
		/* The mountpoint the entry names, then the entry re-read with
		 * every trust check (its name must be that mountpoint's). */
		snprintf(w->path, sizeof(w->path), "%s/%s", LFS_RUN_DIR, de->d_name);
		int fd = open(w->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, w->text, sizeof(w->text));
		if (fd >= 0)
			close(fd);
		if (n <= 0 || lfs_registry_parse(w->text, (size_t)n, &w->e) < 0 ||
		    lfs_registry_lookup(w->e.mountpoint, &w->e, w->why, sizeof(w->why)) < 0 ||
		    !pid_alive(w->e.pid))
			continue;
		bool mine = lfs_vault_of_mount(w->e.mountpoint, w->v, sizeof(w->v)) == 0 &&
		            !strcmp(w->v, vault_real);
		for (int i = 0; sockets[i] && !mine; i++)
			mine = !strcmp(w->e.socket, sockets[i]);
		if (!mine)
			continue;
		char got_uuid[33];
		int p = ping(w->e.socket, w->e.pid, timeout_ms, got_uuid);
		if (p == 1 && got_uuid[0] && strcmp(got_uuid, uuid_hex) != 0)
			continue; /* answered, for another vault */
		if (p != 0) {
			out->pid = w->e.pid;
			snprintf(out->mountpoint, sizeof(out->mountpoint), "%s", w->e.mountpoint);
			result = p;
		}
	}
	if (d)
		closedir(d);
	free(w);
	/* A daemon that could not publish itself (not root): its socket. */
	for (int i = 0; result == 0 && sockets[i]; i++) {
		char got_uuid[33];
		int p = ping(sockets[i], 0, timeout_ms, got_uuid);
		if (p == 1 && got_uuid[0] && strcmp(got_uuid, uuid_hex) != 0)
			continue;
		result = p;
	}
	out->state = result;
	return result;
}
