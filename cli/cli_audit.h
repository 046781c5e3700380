/* SPDX-License-Identifier: Apache-2.0 */
/* Audit entries written by CLI commands (keyslot changes, key export,
 * failed secrets): the caller is this process. */
#ifndef LETHEFS_CLI_AUDIT_H
#define LETHEFS_CLI_AUDIT_H

#include <stddef.h>

#include "../common/event.h"
#include "../keymgmt/keyring.h"
#include "../keymgmt/vault.h"

/* The command being run ("keyslot add"), for audit entries. */
extern const char *lfs_cli_command;

/* Appends a security event to the vault's audit log, keyed when kr is
 * unlocked, with this process as the caller and the command as a detail.
 * Prints why and returns -1 when it cannot. */
int lfs_cli_audit(struct lfs_vault *v, struct lfs_keyring *kr, const char *event,
                  const char *outcome, const struct lfs_audit_detail *details, size_t ndetails);

#endif
