/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE
#include "config_paths.h"
#include "../common/trustpath.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int lfs_config_check_paths(int vault_dirfd, const struct lfs_vault_config *cfg, char *why,
                           size_t whylen)
{
	char reason[512], base[256];
	const char *log = cfg->audit_log[0] ? cfg->audit_log : LFS_AUDIT_DEFAULT_NAME;
	int fd = lfs_open_confined_parent(vault_dirfd, log, LFS_AUDIT_ABS_DIR, base, sizeof(base),
	                                  reason, sizeof(reason));
	/* Only a breach of the rules is reported here; a directory that is
	 * merely missing fails when the log is opened (exit 1). */
	if (fd == -EPERM) {
		snprintf(why, whylen, "lethefs.conf: [audit] log = %s is refused: %s", log, reason);
		return fd;
	}
	if (fd < 0)
		return 0;
	close(fd);
	if (cfg->control_socket[0]) {
		fd = lfs_trust_open_parent(cfg->control_socket, geteuid(), base, sizeof(base),
		                           reason, sizeof(reason));
		if (fd < 0) {
			snprintf(why, whylen,
			         "lethefs.conf: [access] control_socket = %s is refused: %s",
			         cfg->control_socket, reason);
			return -EPERM;
		}
		close(fd);
	}
	return 0;
}
