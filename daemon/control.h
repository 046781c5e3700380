/* SPDX-License-Identifier: Apache-2.0 */
/* The control socket of a mount (protocol: ctlproto.h and
 * docs/CONTROL.md). Created before the mount so that a second mount of a
 * vault already being served fails at once; served by one thread that
 * also drives the idle timer. */
#ifndef LETHEFS_CONTROL_H
#define LETHEFS_CONTROL_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ctl_registry.h"
#include "session.h"

struct lfs_control {
	int listen_fd;
	char path[108];
	dev_t dev; /* of the socket file: unlink only our own */
	ino_t ino;
	bool have_admin_gid;
	gid_t admin_gid;
	struct lfs_session *session;
	pthread_t thread;
	bool running;
	volatile int stop;
	int wake[2];    /* a byte here ends the poll at once (stop) */
	bool published; /* our entry is in the registry (ctl_registry.h) */
	pid_t published_pid;
};

/* The socket path of a vault: its configured control_socket, else
 * /run/lethefs/<uuid>.sock. */
void lfs_control_default_path(const struct lfs_vault_config *cfg, char out[108]);

/* Binds and listens (mode 0600, or 0660 with group admin_group). A
 * configured control_socket must lie in a directory only root can change
 * (common/trustpath.h). Returns 0, -EADDRINUSE when a live daemon already
 * serves this path, or another negative errno with err explaining. */
int lfs_control_bind(struct lfs_control *c, const struct lfs_vault_config *cfg, char *err,
                     size_t errlen);
/* Starts serving (after daemonizing: threads do not survive fork), makes
 * this process the socket's listener as SO_PEERCRED reports it, and
 * publishes the mount in the registry. */
int lfs_control_start(struct lfs_control *c, struct lfs_session *s);
/* Stops the thread, closes and removes the socket. */
void lfs_control_stop(struct lfs_control *c);

#endif
