/* SPDX-License-Identifier: Apache-2.0 */
/* The rotation's journal records (docs/FORMAT.md section 12.5): before an
 * object is converted to the target epoch, a record naming it and holding
 * its old and new header (a file) or .lethefs.dir (a directory) goes into
 * the vault journal, synced; it is cleared once the object is converted.
 * Recovery (daemon/recover.c) finishes a conversion a crash interrupted
 * with the apply functions below. */
#ifndef LETHEFS_ROTATION_RECORD_H
#define LETHEFS_ROTATION_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "../fs/content.h"
#include "../fs/dirmeta.h"
#include "../fs/fs.h"
#include "../fs/overwrite.h"
#include "../journal/journal.h"
#include "../keymgmt/keyring.h"

/* Payloads: the old and the new image back to back. A file's two headers
 * have the same version (96 or 304 bytes: a file changes format by a
 * conversion, rotation/upconvert.h); a directory's .lethefs.dir may go
 * from version 1 to 2 (64, 184 or 304 bytes). */
#define LFS_ROT_PAYLOAD_MAX (2 * LFS_FILE_HDR_MAX)

/* Writes the record of kind LFS_JK_ROTATE_FILE or LFS_JK_ROTATE_DIR for
 * the object open on fd (rel: its path below d/, may be too long to
 * record) and syncs it: the object's old blocks are fsync'd data that the
 * conversion rewrites in place. */
int lfs_rot_record_begin(struct lfs_fs *fs, uint8_t kind, int fd, const char *rel,
                         const uint8_t *old_img, size_t old_len, const uint8_t *new_img,
                         size_t new_len, unsigned *slot);
void lfs_rot_record_end(struct lfs_fs *fs, unsigned slot);

/* Recovery of a file record on the file open read-write on fd: if its
 * header is still the old one, every block not yet under the new header is
 * re-sealed and the new header written; if it is the new one, nothing is
 * left to do. The record's headers must both authenticate under their
 * epochs, carry the same flags and no staging epoch. -ESTALE when the file
 * carries neither header (another file now), -EINVAL when the record is
 * unusable, -EIO when a block authenticates under neither header. */
int lfs_rot_apply_file(enum lfs_cipher_id cipher, struct lfs_keyring *kr, struct lfs_overwriter *w,
                       int fd, const uint8_t *payload, size_t len);
/* Recovery of a directory record on the directory open on dirfd: its names
 * are moved to the new epoch (idempotent). -ESTALE when the directory has
 * another id now. */
int lfs_rot_apply_dir(struct lfs_keyring *kr, int dirfd, const uint8_t *payload, size_t len);

#endif
