/* SPDX-License-Identifier: Apache-2.0 */
/* Per-directory metadata file (".lethefs.dir" inside each backing
 * directory): the random directory id that name encryption binds, the key
 * epoch of the names in it and, in format 2, the directory's sealed inode
 * record (irec.h). Kept inside the directory so that renaming a directory
 * never touches its children.
 *   v1 := magic "LTHD" | version 1 | reserved[3] | epoch u32 | reserved u32
 *         | dirid[16]                                                (32 bytes)
 *   v2 := the same first 32 bytes with version 2 | the sealed record with
 *         those 32 bytes as AD                                       (152 bytes) */
#ifndef LETHEFS_DIRMETA_H
#define LETHEFS_DIRMETA_H

#include <stdint.h>
#include <stddef.h>

#include "irec.h"
#include "names.h"
#include "../keymgmt/keyring.h"

#define LFS_DIRMETA_V1_LEN 32
#define LFS_DIRMETA_V2_LEN 152 /* LFS_IREC_AD_LEN + LFS_IREC_SEALED_LEN */
#define LFS_DIRMETA_MAX    LFS_DIRMETA_V2_LEN

struct lfs_dirmeta {
	uint8_t version; /* 1 or 2 */
	uint32_t epoch;
	uint8_t dirid[LFS_DIRID_LEN];
	/* In memory only (0 when read or made): while a rotation's conversion
	 * of the directory is left unfinished on the live mount (the backing
	 * store refused both finishing and undoing it), the epoch some of its
	 * names are under already. Names are then looked for under both
	 * (dirnames.h) until the conversion is finished (docs/ROTATION.md). */
	uint32_t alt_epoch;
};

void lfs_dirmeta_new(struct lfs_dirmeta *m, uint32_t epoch, unsigned version);
/* Encodes m under the keys of its epoch (k and rec are used by version 2
 * only). Returns the length, or -EINVAL (no or a bad record), -EIO. */
int lfs_dirmeta_encode(const struct lfs_dirmeta *m, const struct lfs_epoch_keys *k,
                       const struct lfs_irec *rec, uint8_t out[LFS_DIRMETA_MAX]);
/* Structural checks of either version (no key): the public part into m.
 * -EINVAL if malformed. */
int lfs_dirmeta_decode(const uint8_t *in, size_t len, struct lfs_dirmeta *m);
/* Opens a version-2 image's record under the keys of its epoch: -EBADMSG
 * when it does not authenticate, -EINVAL when it is not version 2 or the
 * record is malformed. */
int lfs_dirmeta_open(const uint8_t *in, size_t len, const struct lfs_epoch_keys *k,
                     struct lfs_irec *rec);
/* Reads dirfd/.lethefs.dir: its bytes (raw may be NULL) and public part.
 * -EIO when missing or malformed. */
int lfs_dirmeta_read(int dirfd, uint8_t raw[LFS_DIRMETA_MAX], size_t *len, struct lfs_dirmeta *m);
/* The public part only (no key needed). */
int lfs_dirmeta_load(int dirfd, struct lfs_dirmeta *m);
/* Writes dirfd/.lethefs.dir as a new file (a directory being built),
 * fsync'd. */
int lfs_dirmeta_store_raw(int dirfd, const uint8_t *raw, size_t len);
/* Replaces dirfd/.lethefs.dir atomically (temporary name, fsync, rename,
 * fsync of the directory): a changed record, a new epoch, a new version. */
int lfs_dirmeta_replace(int dirfd, const uint8_t *raw, size_t len);
/* The root of a new vault, open on dirfd: a fresh directory id under kr's
 * current epoch, of the vault's format; in format 2 its record says mode
 * 0700, owned by the caller's effective uid and gid. */
int lfs_dirmeta_create_root(int dirfd, struct lfs_keyring *kr);
/* The same with the record rec (format 2; format 1 ignores it). */
int lfs_dirmeta_create_root_as(int dirfd, struct lfs_keyring *kr, const struct lfs_irec *rec);

#endif
