/* SPDX-License-Identifier: Apache-2.0 */
/* Per-directory metadata file (".lethefs.dir" inside each backing
 * directory): the random directory id that name encryption binds, and the
 * key epoch of the names in it. Kept inside the directory so that renaming
 * a directory never touches its children.
 *   magic "LTHD" | version u8 | reserved[3] | epoch u32 | reserved u32 | dirid[16] */
#ifndef LETHEFS_DIRMETA_H
#define LETHEFS_DIRMETA_H

#include <stdint.h>
#include <stddef.h>

#include "names.h"

#define LFS_DIRMETA_LEN 32

struct lfs_dirmeta {
	uint32_t epoch;
	uint8_t dirid[LFS_DIRID_LEN];
};

void lfs_dirmeta_new(struct lfs_dirmeta *m, uint32_t epoch);
void lfs_dirmeta_encode(const struct lfs_dirmeta *m, uint8_t out[LFS_DIRMETA_LEN]);
int lfs_dirmeta_decode(const uint8_t *in, size_t len, struct lfs_dirmeta *m);
/* Reads dirfd/.lethefs.dir. -EIO when missing or malformed. */
int lfs_dirmeta_load(int dirfd, struct lfs_dirmeta *m);
/* Writes dirfd/.lethefs.dir (new file, fsync'd). */
int lfs_dirmeta_store(int dirfd, const struct lfs_dirmeta *m);
/* A fresh directory id under epoch, stored in dirfd (a new directory). */
int lfs_dirmeta_create(int dirfd, uint32_t epoch);

#endif
