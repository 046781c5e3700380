/* SPDX-License-Identifier: Apache-2.0 */
/* The staging room's side of fs/stage_hooks.h: what the core FUSE
 * handlers call for staging directories (staging/ops_stage.c). */
#ifndef LETHEFS_OPS_STAGE_H
#define LETHEFS_OPS_STAGE_H

#include "stage.h"
#include "../fs/stage_hooks.h"

/* Fills h with the hooks of the staging table st; the daemon hands h to
 * the filesystem (fs->stage). */
void lfs_staging_hooks_init(struct lfs_stage_hooks *h, struct lfs_staging *st);

#endif
