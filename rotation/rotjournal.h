/* SPDX-License-Identifier: Apache-2.0 */
/* The rotation journal of lethefs 0.1, VAULT/lethefs.rotation.journal:
 * the one object whose conversion was under way. Only read now (replay.c):
 * conversions run under vault journal records (record.h). */
#ifndef LETHEFS_ROTJOURNAL_H
#define LETHEFS_ROTJOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "../fs/content.h"

/* The journal: "LTHJ" | version u8 | kind u8 | reserved u16 | dev u64 |
 * ino u64 | handle_type i32 | handle_len u32 | handle[128] | old[48] |
 * new[48] | path_len u32 | path | BLAKE2b-128 of everything before it.
 * kind 1 = file (old/new are file headers), 2 = directory (old/new hold
 * the two .lethefs.dir images in their first 32 bytes). A journal whose
 * checksum fails was torn before it was complete: nothing was written to
 * its target yet, so it is discarded. */
#define LFS_ROTJ_FILE       1
#define LFS_ROTJ_DIR        2
#define LFS_ROTJ_HANDLE_MAX 128
#define LFS_ROTJ_PATH_MAX   4096
struct lfs_rotjournal {
	uint8_t kind;
	uint64_t dev, ino;
	int32_t handle_type;
	uint32_t handle_len;
	uint8_t handle[LFS_ROTJ_HANDLE_MAX];
	uint8_t old_raw[LFS_FILE_HDR_V1_LEN];
	uint8_t new_raw[LFS_FILE_HDR_V1_LEN];
	char path[LFS_ROTJ_PATH_MAX]; /* relative to d/, for when handles fail */
};
#define LFS_ROTJ_MAX_LEN (4 + 4 + 16 + 8 + LFS_ROTJ_HANDLE_MAX + 96 + 4 + LFS_ROTJ_PATH_MAX + 16)

/* Encodes j into out (LFS_ROTJ_MAX_LEN bytes); returns the length. */
size_t lfs_rotjournal_encode(const struct lfs_rotjournal *j, uint8_t *out);
/* -EINVAL when malformed or torn. */
int lfs_rotjournal_decode(const uint8_t *in, size_t len, struct lfs_rotjournal *j);

#endif
