/* SPDX-License-Identifier: Apache-2.0 */
/* Telling the service manager how a mount daemon is doing (sd_notify(3)):
 * READY=1 once the mount serves and its control socket is published, a
 * STATUS= line at every lock and unlock, STOPPING=1 once it is unmounted.
 * A daemon not started as a systemd Type=notify service (no NOTIFY_SOCKET
 * in its environment) sends nothing. */
#ifndef LETHEFS_NOTIFY_H
#define LETHEFS_NOTIFY_H

#include <stdbool.h>

/* The mount on mnt serves requests now, locked or not. */
void lfs_notify_ready(const char *mnt, bool locked);
/* The volume was locked or unlocked. */
void lfs_notify_state(const char *mnt, bool locked);
/* The mount is gone; the daemon finishes its last audit entry and exits. */
void lfs_notify_stopping(const char *mnt);

#endif
