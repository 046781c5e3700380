/* SPDX-License-Identifier: Apache-2.0 */
/* Control-socket server. Each connection gets a short-lived thread (at
 * most MAX_CLIENTS at once) because an unlock may take seconds: Argon2id,
 * and the growing delay after failures. The listening thread polls once a
 * second, which also drives the idle lock. */
#define _GNU_SOURCE
#include "control.h"
#include "ctl_commands.h"
#include "../common/log.h"
#include "../common/trustpath.h"
#include "../fs/gate.h"
#include "../staging/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>

#define MAX_CLIENTS 8
/* Connections from uid 0 beyond MAX_CLIENTS: however many slow clients
 * the admin group keeps open, root's lock and status get through. */
#define ROOT_RESERVED 2
/* The whole request (line and payload) must arrive within this time,
 * however it is spread over packets. */
#define CLIENT_TIMEOUT_S  10
#define MAX_PEER_GROUPS   256
#define THREAD_STACK_WIPE (64 * 1024)

static atomic_int active_clients; /* all slots in use, reserved ones included */
static atomic_int root_extra;     /* of which in the reserved slots */

void lfs_control_default_path(const struct lfs_vault_config *cfg, char out[108])
{
	if (cfg->control_socket[0]) {
		snprintf(out, 108, "%s", cfg->control_socket);
		return;
	}
	char uuid[33];
	sodium_bin2hex(uuid, sizeof(uuid), cfg->uuid, 16);
	snprintf(out, 108, "%s/%s.sock", LFS_RUN_DIR, uuid);
}

static int resolve_group(const char *name, gid_t *gid)
{
	char buf[4096];
	struct group gr, *res = NULL;
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res) {
		*gid = res->gr_gid;
		return 0;
	}
	char *end;
	unsigned long v = strtoul(name, &end, 10);
	if (*name && !*end && v < UINT_MAX) {
		*gid = (gid_t)v;
		return 0;
	}
	return -ENOENT;
}

/* A socket file left by a daemon that died is removed; one that answers
 * belongs to a live daemon and is left alone. Only a socket of root's (or
 * of this daemon's user) in a directory only root can change is ever
 * unlinked: the path may come from an unauthenticated config. */
static int clear_stale(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()))
		return -EEXIST;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int live = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	if (live)
		return -EADDRINUSE;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int lfs_control_bind(struct lfs_control *c, const struct lfs_vault_config *cfg, char *err,
                     size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->listen_fd = -1;
	c->wake[0] = c->wake[1] = -1;
	lfs_control_default_path(cfg, c->path);
	if (cfg->admin_group[0]) {
		if (resolve_group(cfg->admin_group, &c->admin_gid) < 0) {
			snprintf(err, errlen, "admin_group '%s' does not exist", cfg->admin_group);
			return -ENOENT;
		}
		c->have_admin_gid = true;
	}
	char why[512];
	int r = cfg->control_socket[0] ? 0 : lfs_run_dir_ensure(why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "%s", why);
		return r;
	}
	if (cfg->control_socket[0]) {
		char base[108];
		int dfd =
		    lfs_trust_open_parent(c->path, geteuid(), base, sizeof(base), why, sizeof(why));
		if (dfd < 0) {
			snprintf(err, errlen,
			         "control_socket %s in lethefs.conf is refused: %s (clients would "
			         "have to trust whoever can write there)",
			         c->path, why);
			return -EPERM;
		}
		close(dfd);
	}
	r = clear_stale(c->path);
	if (r < 0) {
		snprintf(err, errlen,
		         r == -EADDRINUSE ? "control socket %s is live: this vault is already "
		                            "mounted"
		                          : "cannot use control socket path %s: %s",
		         c->path, strerror(-r));
		return r;
	}
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", c->path);
	/* Created with no permission for anyone but the owner, then widened
	 * to the admin group: no window in which others could connect. */
	mode_t old = umask(0177);
	r = c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? -errno
	                                                                                 : 0;
	umask(old);
	struct stat st;
	if (r == 0 && c->have_admin_gid &&
	    (chown(c->path, (uid_t)-1, c->admin_gid) < 0 || chmod(c->path, 0660) < 0))
		r = -errno;
	if (r == 0 && (listen(c->listen_fd, 16) < 0 || lstat(c->path, &st) < 0))
		r = -errno;
	if (r < 0) {
		snprintf(err, errlen, "cannot create control socket %s: %s", c->path, strerror(-r));
		if (c->listen_fd >= 0)
			close(c->listen_fd);
		c->listen_fd = -1;
		return r;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		c->wake[0] = c->wake[1] = -1;
	return 0;
}

struct client {
	struct lfs_control *ctl;
	int fd;
	bool reserved; /* holds one of root's reserved slots */
	int64_t deadline;
};

static bool peer_allowed(struct lfs_control *c, int fd, const struct ucred *cred)
{
	if (cred->uid == 0)
		return true;
	if (!c->have_admin_gid)
		return false;
	if (cred->gid == c->admin_gid)
		return true;
	gid_t groups[MAX_PEER_GROUPS];
	socklen_t len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == c->admin_gid)
			return true;
	return false;
}

static void serve_client(struct lfs_control *c, int fd, int64_t deadline)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		lfs_ctl_reply_error(fd, "internal", "cannot read peer credentials");
		return;
	}
	struct lfs_audit_caller who;
	lfs_audit_caller_from_pid(&who, cred.uid, cred.pid);
	if (!peer_allowed(c, fd, &cred)) {
		lfs_warn("control socket: refused uid %u pid %d (%s): not root or in the admin "
		         "group",
		         (unsigned)who.uid, (int)who.pid, who.exe[0] ? who.exe : "?");
		struct lfs_audit_detail d[] = {{"mountpoint", c->session->mountpoint, 0},
		                               {"gid", NULL, (long long)cred.gid}};
		lfs_session_audit(c->session, "socket-refused", "refused", &who, d, 2);
		lfs_ctl_reply_error(fd, "denied",
		                    "only root and members of the admin group may use this "
		                    "control socket");
		return;
	}
	/* Answers must not block on a client that does not read either. */
	struct timeval tv = {.tv_sec = CLIENT_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	char line[LFS_CTL_HEADER_MAX];
	size_t n;
	struct lfs_ctl_request req;
	if (lfs_ctl_read_line(fd, line, sizeof(line), &n, deadline) < 0 ||
	    lfs_ctl_parse_request(line, n, &req) < 0) {
		lfs_ctl_reply_error(fd, "bad-request", "malformed request");
		return;
	}
	lfs_ctl_dispatch(c->session, fd, &req, &who, deadline);
}

static void *client_thread(void *arg)
{
	struct client *cl = arg;
	serve_client(cl->ctl, cl->fd, cl->deadline);
	/* The unlock ran on this stack (key derivations leave residue), and
	 * glibc keeps the stacks of finished threads for reuse. */
	sodium_stackzero(THREAD_STACK_WIPE);
	close(cl->fd);
	if (cl->reserved)
		atomic_fetch_sub(&root_extra, 1);
	free(cl);
	atomic_fetch_sub(&active_clients, 1);
	return NULL;
}

/* One of root's reserved slots, for a connection from uid 0. */
static bool take_root_slot(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0)
		return false;
	if (atomic_fetch_add(&root_extra, 1) < ROOT_RESERVED)
		return true;
	atomic_fetch_sub(&root_extra, 1);
	return false;
}

static void accept_one(struct lfs_control *c)
{
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	int64_t deadline = lfs_ctl_now_ms() + CLIENT_TIMEOUT_S * 1000;
	bool reserved = false;
	if (atomic_fetch_add(&active_clients, 1) >= MAX_CLIENTS) {
		reserved = take_root_slot(fd);
		if (!reserved) {
			atomic_fetch_sub(&active_clients, 1);
			/* The answer must not block the accepting thread. */
			if (fcntl(fd, F_SETFL, O_NONBLOCK) == 0)
				lfs_ctl_reply_error(fd, "overloaded",
				                    "too many control connections; try again");
			close(fd);
			return;
		}
	}
	struct client *cl = malloc(sizeof(*cl));
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (cl) {
		cl->ctl = c;
		cl->fd = fd;
		cl->reserved = reserved;
		cl->deadline = deadline;
	}
	if (!cl || pthread_create(&t, &attr, client_thread, cl) != 0) {
		free(cl);
		close(fd);
		if (reserved)
			atomic_fetch_sub(&root_extra, 1);
		atomic_fetch_sub(&active_clients, 1);
	}
	pthread_attr_destroy(&attr);
}

static void *listen_thread(void *arg)
{
	struct lfs_control *c = arg;
	while (!c->stop) {
		struct pollfd p[2] = {{.fd = c->listen_fd, .events = POLLIN},
		                      {.fd = c->wake[0], .events = POLLIN}};
		if (poll(p, 2, 1000) > 0 && (p[0].revents & POLLIN))
			accept_one(c);
		lfs_session_tick(c->session);
		sodium_stackzero(THREAD_STACK_WIPE);
	}
	return NULL;
}

/* Publishes where this mount's socket is (ctl_registry.h). listen() again
 * first: the kernel reports as a socket's peer the process that last
 * called listen() on it, and the socket was bound before daemonizing. */
static void publish(struct lfs_control *c, struct lfs_session *s)
{
	char why[512];
	struct lfs_mount_entry e = {.pid = getpid()};
	if (listen(c->listen_fd, 16) < 0)
		lfs_warn("cannot listen on %s again: %s", c->path, strerror(errno));
	snprintf(e.socket, sizeof(e.socket), "%s", c->path);
	snprintf(e.mountpoint, sizeof(e.mountpoint), "%s", s->mountpoint);
	if (lfs_registry_publish(&e, why, sizeof(why)) < 0) {
		lfs_warn("cannot publish the control socket of %s (%s): lethefs unlock, lock "
		         "and status need --socket %s",
		         s->mountpoint, why, c->path);
		return;
	}
	c->published = true;
	c->published_pid = e.pid;
}

int lfs_control_start(struct lfs_control *c, struct lfs_session *s)
{
	c->session = s;
	publish(c, s);
	int r = pthread_create(&c->thread, NULL, listen_thread, c);
	c->running = r == 0;
	return -r;
}

void lfs_control_stop(struct lfs_control *c)
{
	if (c->running) {
		c->stop = 1;
		if (c->wake[1] >= 0 && write(c->wake[1], "", 1) < 0)
			lfs_debug("cannot wake the control thread: %s", strerror(errno));
		pthread_join(c->thread, NULL);
		c->running = false;
	}
	/* Clients still being served (a slow unlock) hold the session: wait
	 * for them, at most the unlock delay plus a margin. */
	for (int i = 0;
	     i < (LFS_UNLOCK_DELAY_MAX + CLIENT_TIMEOUT_S) * 10 && atomic_load(&active_clients) > 0;
	     i++)
		usleep(100000);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	c->listen_fd = -1;
	for (int i = 0; i < 2; i++) {
		if (c->wake[i] >= 0)
			close(c->wake[i]);
		c->wake[i] = -1;
	}
	if (c->published && c->session)
		lfs_registry_remove(c->session->mountpoint, c->published_pid);
	c->published = false;
	struct stat st;
	if (c->path[0] && lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
}
