/* SPDX-License-Identifier: Apache-2.0 */
#include "notify.h"
#include "../common/log.h"

#include <string.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

static void send_status(const char *what, const char *mnt, bool locked)
{
	/* MAINPID: a daemon that forked after being started (lethefs mount
	 * without -f under NotifyAccess=all) names itself as the service's
	 * main process. */
	int r = sd_notifyf(0, "%sMAINPID=%d\nSTATUS=Serving %s (%s)", what, (int)getpid(), mnt,
	                   locked ? "locked" : "unlocked");
	if (r < 0)
		lfs_warn("cannot notify the service manager: %s", strerror(-r));
}

void lfs_notify_ready(const char *mnt, bool locked)
{
	send_status("READY=1\n", mnt, locked);
}

void lfs_notify_state(const char *mnt, bool locked)
{
	send_status("", mnt, locked);
}

void lfs_notify_stopping(const char *mnt)
{
	int r = sd_notifyf(0, "STOPPING=1\nSTATUS=Unmounted %s", mnt);
	if (r < 0)
		lfs_warn("cannot notify the service manager: %s", strerror(-r));
}
