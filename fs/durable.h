/* SPDX-License-Identifier: Apache-2.0 */
/* Bytes an fsync made durable, and the rewrites in place that could cost
 * them in a power loss (docs/FORMAT.md 12.11).
 *
 * A stored block is rewritten whole, under a fresh nonce, and spans two
 * pages of the backing file: a power loss may keep one page of the
 * rewrite and not the other, and the block then authenticates as
 * neither. On a disk whose sectors are written atomically the bytes a
 * rewrite leaves as they were stay readable whatever the power does;
 * here they would go with the block. So a rewrite in place of a block
 * holding bytes an fsync made durable, where the write leaves any of them
 * unchanged, goes through the journal durably: the record is synced
 * before the block is written and the file is synced before the record is
 * cleared. Other rewrites (blocks written since the last fsync, or whose
 * every durable byte the write changes) keep the cheaper order that a
 * killed daemon needs. Pure bookkeeping: no FUSE, no I/O. */
#ifndef LETHEFS_DURABLE_H
#define LETHEFS_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lfs_inode;

/* How many plaintext bytes from the start may be durable, given the file's
 * size now (which it becomes when nothing is known). */
uint64_t lfs_durable_size(struct lfs_inode *in, uint64_t size_now);

/* Everything the file holds is durable now (an fsync, a write through an
 * O_SYNC/O_DSYNC descriptor). */
void lfs_durable_all(struct lfs_inode *in);

/* A sync of that durable path failed with err: the file's next fsync
 * reports it once (the sync took the backing file's error, which the
 * application's own fsync would otherwise not see). */
void lfs_durable_failed(struct lfs_inode *in, int err);
/* That error (a positive errno), cleared; 0 when none. */
int lfs_durable_take_error(struct lfs_inode *in);

/* Whether a rewrite of the bytes [from, to) of one block, the block's
 * durable bytes being [block_start, durable_end), leaves any of them as
 * they were: untouched (outside [from, to)) or written again with the same
 * value (a run of at least 8 equal bytes, or all of them when fewer: a
 * database rewriting a page whose first part it already wrote, the kernel
 * writing back a whole page of which a program changed a few bytes).
 * old/new hold the block's plaintext before and after, from block_start. */
bool lfs_durable_kept(const uint8_t *old_plain, const uint8_t *new_plain, uint64_t block_start,
                      uint64_t durable_end, uint64_t from, uint64_t to);

#endif
