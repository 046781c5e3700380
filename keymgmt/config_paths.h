/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs.conf is not authenticated (anyone who can write the vault can
 * edit it), yet two of its settings name places where root writes or
 * unlinks: [audit] log and [access] control_socket. Both are re-checked
 * when a vault is mounted, against common/trustpath.h's rules. */
#ifndef LETHEFS_CONFIG_PATHS_H
#define LETHEFS_CONFIG_PATHS_H

#include <stddef.h>

#include "config.h"

/* Returns 0, or -EPERM with the setting and the reason in why:
 * [audit] log must stay inside the vault (no "..", no symlinks) or lie in
 * LFS_AUDIT_ABS_DIR; control_socket's directory must be root's and not
 * writable by anyone else, all the way from /. */
int lfs_config_check_paths(int vault_dirfd, const struct lfs_vault_config *cfg, char *why,
                           size_t whylen);

#endif
