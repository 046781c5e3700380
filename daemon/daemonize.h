/* SPDX-License-Identifier: Apache-2.0 */
/* Going to the background so that `lethefs mount` returns only once the
 * daemon can be reached: libfuse's fuse_daemonize lets the parent exit as
 * soon as the child exists, before the child has made itself the control
 * socket's listener and published it (control.h). Here the parent waits
 * for lfs_daemonize_ready(). */
#ifndef LETHEFS_DAEMONIZE_H
#define LETHEFS_DAEMONIZE_H

/* Forks. The parent waits and exits (0 once the child reported ready, 1
 * if the child died first); the child starts a new session, moves to /,
 * points stdin/stdout/stderr at /dev/null and returns 0. -errno if the
 * fork fails (nothing changed). */
int lfs_daemonize_begin(void);
/* Called by the child once it serves: the waiting parent exits 0. A no-op
 * without lfs_daemonize_begin (foreground). */
void lfs_daemonize_ready(void);

#endif
