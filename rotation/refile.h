/* SPDX-License-Identifier: Apache-2.0 */
/* Re-encryption of one regular file in place, for data-key rotation
 * (docs/ROTATION.md). The backing inode keeps its identity (hard links,
 * open handles and the inode table stay valid): every block is re-sealed
 * at the same offset under a new header (new file id, new epoch), and the
 * new header is written last.
 *
 * Crash safety comes from a redo journal written before the first block
 * (rotjournal.h, in the vault): it names the file and holds both
 * headers. Because every block is authenticated under exactly one of the
 * two headers, a replay can tell, block by block, what is already done:
 * it opens each block under the new header, else under the old one, and
 * re-seals it under the new one. No block is ever written twice over.
 *
 * Pure crypto on descriptors: no FUSE, no inode table. */
#ifndef LETHEFS_REFILE_H
#define LETHEFS_REFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../fs/content.h"
#include "../fs/overwrite.h"
#include "../keymgmt/keyring.h"

/* Re-seals the file open read-write on fd (plaintext size unchanged; l
 * its layout, both headers of its version) from old_h to new_h, then
 * writes new_raw (new_h encoded, with the file's record in version 2) as
 * the header and fdatasyncs. The blocks are rewritten in place under block
 * records through w (NULL: without; see fs/overwrite.h). With replay,
 * blocks already sealed under new_h are accepted as they are. Swapping the
 * headers (old_h the new one, new_h and new_raw the old one still on disk)
 * undoes a conversion that failed half way.
 * -EIO when a block authenticates under neither header (the file is left
 * as it was for that block); -EACCES locked; other negative errno.
 *
 * keep_going (NULL: never asked) is asked before every 1 MiB chunk; when it
 * says no, the file is left half converted (blocks under both headers, the
 * old header in place, which a replay of the caller's record finishes) and
 * -EINTR returned. This is how a lock stops a conversion within one chunk:
 * the file keys derived at the start must not outlive the keyring's wipe
 * by the time a large file takes. */
int lfs_refile(const struct lfs_layout *l, struct lfs_keyring *kr, struct lfs_overwriter *w, int fd,
               const struct lfs_file_header *old_h, const struct lfs_file_header *new_h,
               const uint8_t *new_raw, bool replay, bool (*keep_going)(void *ctx), void *ctx,
               uint64_t *plain_bytes);
/* lfs_refile without the final fdatasync: for a batch of files whose data
 * the caller syncs together (rotation/batch.h) before it clears their
 * record. Until then the conversion is not durable. */
int lfs_refile_unsynced(const struct lfs_layout *l, struct lfs_keyring *kr,
                        struct lfs_overwriter *w, int fd, const struct lfs_file_header *old_h,
                        const struct lfs_file_header *new_h, const uint8_t *new_raw, bool replay,
                        bool (*keep_going)(void *ctx), void *ctx, uint64_t *plain_bytes);

#endif
