/* SPDX-License-Identifier: Apache-2.0 */
/* Format-2 objects that are regular backing files (docs/FORMAT.md 14.3):
 * a regular file, a symlink (its target is its contents), a FIFO, a socket
 * or a device node, each its header (with its sealed inode record) and, for
 * a symlink, one content block. Used where such an object is made whole:
 * creation through the mount and the conversion of format-1 objects. No
 * FUSE here. */
#ifndef LETHEFS_OBJ2_H
#define LETHEFS_OBJ2_H

#include <stddef.h>
#include <stdint.h>

#include "content.h"
#include "irec.h"
#include "../keymgmt/keyring.h"

/* Writes the object into the empty regular file open read-write on fd: a
 * fresh version-2 header under k's epoch holding rec, then content (len
 * bytes, at most one block: a symlink's target; len 0 for anything else)
 * sealed as the file's one and final block, all in one pwrite from offset
 * 0, with the header flags given. h receives the header. Returns 0 or a
 * negative errno. */
int lfs_obj2_write(int fd, enum lfs_cipher_id cipher, const struct lfs_epoch_keys *k,
                   const struct lfs_irec *rec, const void *content, size_t len, uint16_t flags,
                   struct lfs_file_header *h);

/* A fresh hidden temporary name (".lethefs.tmp." and 16 hex digits). */
#define LFS_OBJ2_TMP_LEN 32
void lfs_obj2_tmp_name(char out[LFS_OBJ2_TMP_LEN]);

#endif
