/* SPDX-License-Identifier: Apache-2.0 */
/* lethefs stage: the subcommands of cmd_stage.c and cmd_stage_list.c. */
#ifndef LETHEFS_CMD_STAGE_H
#define LETHEFS_CMD_STAGE_H

/* "CMD PATH: not inside a lethefs mount: nothing was changed"; exit 11. */
int lfs_stage_not_in_mount(const char *cmd, const char *path);
int lfs_stage_list(int argc, char **argv);
int lfs_stage_show(int argc, char **argv);

#endif
