/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel cache invalidation after a shred (stage_inval.c). */
#ifndef LETHEFS_STAGE_INVAL_H
#define LETHEFS_STAGE_INVAL_H

#include <stdint.h>

#include "../fs/fs.h"

/* The struct lfs_staging invalidate callback; arg is the struct lfs_fs. */
void lfs_stage_invalidate(void *arg, uint32_t id);
/* The struct lfs_staging restage callback; arg is the struct lfs_fs. */
void lfs_stage_restage(void *arg, uint32_t id, int sdirfd);

#endif
