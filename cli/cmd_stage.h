/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs stage: the subcommands of cmd_stage.c and cmd_stage_list.c. */
#ifndef LETHEFS_CMD_STAGE_H
#define LETHEFS_CMD_STAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "../keymgmt/vault.h"
#include "../staging/stage_store.h"

/* "CMD PATH: not inside a lethefs mount: nothing was changed"; exit 11. */
int lfs_stage_not_in_mount(const char *cmd, const char *path);
int lfs_stage_list(int argc, char **argv);
/* The staging directories of the vault at path as its files say (no key
 * needed), and the staging clock's now. 0 also when the vault has none;
 * a negative errno when they cannot be read. When the vault itself does
 * not open, says why and puts the exit code in *vault_exit (else 0). */
int lfs_stage_read_vault(const char *path, struct lfs_stage_index *ix, bool *index_damaged,
                         int64_t *now, int *vault_exit);
int lfs_stage_show(int argc, char **argv);

#endif
