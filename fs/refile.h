/* SPDX-License-Identifier: Apache-2.0 */
/* Re-encryption of one regular file in place, for data-key rotation
 * (docs/ROTATION.md). The backing inode keeps its identity (hard links,
 * open handles and the inode table stay valid): every block is re-sealed
 * at the same offset under a new header (new file id, new epoch), and the
 * new header is written last.
 *
 * Crash safety comes from a redo journal written before the first block
 * (lfs_rotjournal_*, in the vault): it names the file and holds both
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

#include "content.h"
#include "../keymgmt/keyring.h"

/* Re-seals the file open read-write on fd (plaintext size unchanged)
 * from old_h to new_h, then writes the new header and fdatasyncs. With
 * replay, blocks already sealed under new_h are accepted as they are.
 * -EIO when a block authenticates under neither header (the file is left
 * as it was for that block); -EACCES locked; other negative errno. */
int lfs_refile(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
	       const struct lfs_file_header *old_h, const struct lfs_file_header *new_h,
	       bool replay, uint64_t *plain_bytes);

/* The journal: "LTHJ" | version u8 | kind u8 | reserved u16 | dev u64 |
 * ino u64 | handle_type i32 | handle_len u32 | handle[128] | old[48] |
 * new[48] | path_len u32 | path | BLAKE2b-128 of everything before it.
 * kind 1 = file (old/new are file headers), 2 = directory (old/new hold
 * the two .lethefs.dir images in their first 32 bytes). A journal whose
 * checksum fails was torn before it was complete: nothing was written to
 * its target yet, so it is discarded. */
#define LFS_ROTJ_FILE 1
#define LFS_ROTJ_DIR  2
#define LFS_ROTJ_HANDLE_MAX 128
#define LFS_ROTJ_PATH_MAX 4096
struct lfs_rotjournal {
	uint8_t kind;
	uint64_t dev, ino;
	int32_t handle_type;
	uint32_t handle_len;
	uint8_t handle[LFS_ROTJ_HANDLE_MAX];
	uint8_t old_raw[LFS_FILE_HDR_LEN];
	uint8_t new_raw[LFS_FILE_HDR_LEN];
	char path[LFS_ROTJ_PATH_MAX]; /* relative to d/, for when handles fail */
};
#define LFS_ROTJ_MAX_LEN (4 + 4 + 16 + 8 + LFS_ROTJ_HANDLE_MAX + 96 + 4 + LFS_ROTJ_PATH_MAX + 16)

/* Encodes j into out (LFS_ROTJ_MAX_LEN bytes); returns the length. */
size_t lfs_rotjournal_encode(const struct lfs_rotjournal *j, uint8_t *out);
/* -EINVAL when malformed or torn. */
int lfs_rotjournal_decode(const uint8_t *in, size_t len, struct lfs_rotjournal *j);

#endif
