/* SPDX-License-Identifier: Apache-2.0 */
/* An offline command's hold on a vault (cli.h): refused while mounted,
 * and its control socket occupied meanwhile. */
#define _GNU_SOURCE
#include "cli.h"
#include "../common/mountinfo.h"
#include "../daemon/control.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Refuses a mounted vault, then occupies its control socket for the whole
 * command (rekey, upgrade): a mount started meanwhile finds it live and
 * fails at once, so no daemon can work on the vault meanwhile (a rekey's
 * old master key, an upgrade's half converted tree). */
int lfs_claim_vault(const char *cmd, const char *path, struct lfs_vault *v, struct lfs_control *ctl)
{
	char where[PATH_MAX], err[512];
	if (lfs_mounted_at(path, where, sizeof(where))) {
		lfs_cli_error("%s is mounted on %s: unmount it first (umount %s); %s runs "
		              "only on an unmounted vault",
		              path, where, where, cmd);
		return LFS_EXIT_MOUNTED;
	}
	int r = lfs_control_bind(ctl, &v->cfg, err, sizeof(err));
	if (r == -EADDRINUSE) {
		lfs_cli_error("%s is in use: its control socket %s answers (mounted, or "
		              "another rekey or upgrade); unmount it first",
		              path, ctl->path);
		return LFS_EXIT_MOUNTED;
	}
	if (r < 0) {
		lfs_cli_error("%s", err);
		return LFS_EXIT_ERROR;
	}
	return LFS_EXIT_OK;
}
