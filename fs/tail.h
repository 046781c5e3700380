/* SPDX-License-Identifier: Apache-2.0 */
/* Tail updates: every change of a file's last block or of its length runs
 * under one journal record (docs/FORMAT.md, "Crash safety").
 *
 * A file's last block is sealed with final = 1 and every other block with
 * final = 0, so growing a file past its last block, or cutting it, changes
 * two things at two places: the blocks after the old end (or the length)
 * and the old (or new) last block, the "pivot". No order of the two writes
 * leaves a file that authenticates in between. The record holds the old and
 * the new sealed pivot and both backing lengths, and the update always
 * writes the pivot last, so recovery can tell which side of the update the
 * file is on:
 *
 *   - a growth past the pivot is complete when its new last block (the
 *     "check" block) authenticates as final: recovery then writes the new
 *     pivot again (harmless if it is already there); otherwise the blocks
 *     after the old end are cut off and the old pivot is written back;
 *   - anything else (a growth inside the last block, a cut) is redone:
 *     length first, then the new pivot.
 *
 * Pure content logic on descriptors and buffers: no FUSE. */
#ifndef LETHEFS_TAIL_H
#define LETHEFS_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content.h"
#include "../journal/journal.h"
#include "../keymgmt/keyring.h"

#define LFS_TAIL_NONE UINT64_MAX

struct lfs_tail {
	uint8_t file_id[LFS_FILE_ID_LEN];
	uint64_t old_backing, new_backing;
	uint64_t check_block; /* LFS_TAIL_NONE: nothing to check, redo */
	uint64_t pivot_block; /* LFS_TAIL_NONE: no pivot (a new file) */
	uint32_t old_pivot_len, new_pivot_len;
	const uint8_t *old_pivot; /* the pivot as stored before the update */
	const uint8_t *new_pivot; /* the pivot as it must be after */
};

/* Payload of a LFS_JK_TAIL record. encode returns its length (at most
 * LFS_JOURNAL_PAYLOAD_MAX for blocks of at most block_disk bytes); decode
 * points old_pivot/new_pivot into p and returns -EINVAL when malformed.
 * The record does not say which header version the file has: l is the
 * file's layout (lfs_tail_layout), and the lengths are checked against
 * it. */
size_t lfs_tail_encode(const struct lfs_tail *t, uint8_t *p);
int lfs_tail_decode(const uint8_t *p, size_t len, const struct lfs_layout *l, struct lfs_tail *t);

/* The layout of the file open on fd, from the version of its header: a
 * format-2 header makes it version 2; anything else (no header yet, a
 * version-1 header, a torn one) version 1. */
int lfs_tail_layout(int fd, enum lfs_cipher_id cipher, struct lfs_layout *l);

/* Brings the file open read-write on fd to one side of the update t
 * describes (see above) and makes it durable. *completed tells which side.
 * -ESTALE when the file is not the record's (another file id), -EIO when
 * its header does not authenticate, other negative errnos from I/O. */
int lfs_tail_recover(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
                     const struct lfs_tail *t, bool *completed);

/* What recovery runs (fs/tail_settle.c): also right for a file that other
 * hosts changed after the crash (shared mode). An update stopped in the
 * middle leaves an end that does not authenticate (its last block is not
 * sealed as the last one), on which no other host's update of the end can
 * build, since that reads the last block first: lfs_tail_recover. An end
 * that authenticates is one nobody must lose, the update's own or another
 * host's later one: the length stays, and only the pivot is sealed for the
 * place it has now (the record's old or new pivot that fits it, else its
 * plaintext sealed again). */
int lfs_tail_recover_any(const struct lfs_layout *l, struct lfs_keyring *kr, int fd,
                         const struct lfs_tail *t, bool *completed);

/* Whether every block the update wrote before its check block is on disk
 * (authenticates under the file's key k and header h, as a block that is
 * not the last; an all-zero one where the header allows holes). A kill
 * leaves them whole once the check block is; a power loss may keep the
 * check block and not them, and the update must then be undone. Answers
 * yes for an update that cannot be undone (its record lacks the old
 * pivot). */
int lfs_tail_body_ok(const struct lfs_layout *l, const struct lfs_aead_key *k,
                     const struct lfs_file_header *h, int fd, const struct lfs_tail *t, bool *ok);

/* The undo half alone, for an update that failed while the daemon runs
 * (e.g. ENOSPC): cut back to the old length and put the old pivot back. */
int lfs_tail_undo(int fd, const struct lfs_layout *l, const struct lfs_tail *t);

#endif
