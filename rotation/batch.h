/* SPDX-License-Identifier: Apache-2.0 */
/* Small files converted in batches (docs/ROTATION.md, "Batches"): the
 * crash-safety work of a conversion (rotation/record.h) paid once for many
 * files instead of once per file.
 *
 * A batch takes up to LFS_ROT_BATCH_FILES files (each under its io_lock,
 * as a single conversion), then:
 *   1. writes one record of kind LFS_JK_ROTATE_BATCH per up to ~12 KiB of
 *      entries (each entry: the file's target, old header, new header:
 *      what a kind-2 record holds) and syncs the journal once;
 *   2. re-seals every file in place (block records as for one file) and
 *      writes its new header, not synced;
 *   3. syncs the files' data (writeback started for all, then waited on);
 *   4. restores their times and clears the records.
 * Every file's record is durable before the file is touched (1) and the
 * file's conversion durable before its record is cleared (3): what the
 * per-file protocol guarantees, for each file. Recovery applies each entry
 * as a kind-2 record (lfs_rot_apply_file): idempotent, so the files of a
 * batch that were already converted are left as they are. */
#ifndef LETHEFS_ROTATION_BATCH_H
#define LETHEFS_ROTATION_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "../journal/journal.h"

/* Files per batch, and the plaintext size up to which a file joins one
 * (larger files cost more than their syncs: converted alone). */
#define LFS_ROT_BATCH_FILES    128u
#define LFS_ROT_BATCH_FILE_MAX (256u * 1024u)
/* Records one batch writes at most. A batch holds the journal slots of
 * its records until its files are converted, and the walker writes the
 * next batch's records while the finisher holds the last one's: twice
 * this must stay well below the slots a journal has (at least
 * LFS_JOURNAL_MIN_SLOTS, 16, and FUSE requests need theirs), or the
 * walker waits for ever for a slot only it can free. Long backing paths
 * (up to 4 KiB: two entries to a record) end a batch early. */
#define LFS_ROT_BATCH_RECORDS 6u

/* --- the record's payload (batch_record.c) --- */

/* u32 count, then count entries. Adds one entry to payload (*len bytes so
 * far, 0 for none): -E2BIG when it does not fit LFS_JOURNAL_PAYLOAD_MAX
 * (an entry always fits an empty payload), -EINVAL when malformed. */
int lfs_rot_batch_put(uint8_t *payload, uint32_t *len, const struct lfs_journal_target *t,
                      const uint8_t *old_raw, const uint8_t *new_raw, size_t hdr_len);
size_t lfs_rot_batch_entry_len(const struct lfs_journal_target *t, size_t hdr_len);
/* The count of a payload of len bytes (-EINVAL when it cannot be right). */
int lfs_rot_batch_count(const uint8_t *payload, size_t len, uint32_t *count);
/* The entry at *off (0: the first): 1 and *off moved past it, 0 at the end,
 * -EINVAL when malformed. old_raw and new_raw point into payload. */
int lfs_rot_batch_next(const uint8_t *payload, size_t len, size_t *off,
                       struct lfs_journal_target *t, const uint8_t **old_raw,
                       const uint8_t **new_raw, size_t *hdr_len);

/* --- the worker's batch (batch.c) --- */

/* A pass's batches (w: the converting walk). The walker fills one batch
 * while a second thread (the finisher) re-seals, syncs and releases the
 * one before: the walk, the records and the reading of headers on one
 * core, the crypto and the waits for the disk on the other. free converts
 * what is left, waits for the finisher and counts every failure in the
 * walk. */
struct lfs_rot_batch;
struct lfs_rot_batch *lfs_rot_batch_new(struct walk *w);
void lfs_rot_batch_free(struct lfs_rot_batch *b);
/* The regular file dirfd/name (rel: its path below d/) joins the batch of
 * the walk (w->batch), or is converted alone (large, format 1 toward 2).
 * The batch is run when full. Errors of files converted now are returned;
 * those of the batch's files are reported through lfs_rot_file_error. */
int lfs_rot_batch_add(struct walk *w, int dirfd, const char *name, const char *rel);
/* Hands what the batch holds to the finisher (nothing is converted when
 * the pass stops). */
void lfs_rot_batch_run(struct walk *w);
/* The same, then waits for the finisher and releases every file: the
 * walker holds no io_lock afterwards. Before the walker blocks on another
 * lock (a directory's or a symlink's conversion). */
void lfs_rot_batch_drain(struct walk *w);

#endif
