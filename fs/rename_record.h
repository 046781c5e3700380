/* SPDX-License-Identifier: Apache-2.0 */
/* A rename without replacement on a backing filesystem that has no
 * RENAME_NOREPLACE (GlusterFS, NFS: cluster/backing.h) takes two steps, a
 * link under the new name and an unlink of the old one, so it runs under
 * a journal record (kind 8, LFS_JK_RENAME, docs/FORMAT.md 12.10): a crash between them
 * leaves the object under both names, and recovery removes the old one
 * when both still name the recorded object. */
#ifndef LETHEFS_RENAME_RECORD_H
#define LETHEFS_RENAME_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "fs.h"
#include "../journal/journal.h"

/* Renames olddirfd/old to newdirfd/newname unless newname exists (EEXIST),
 * on any backing filesystem. The record is written when the two-step
 * fallback runs and both names lie below the vault's tree; elsewhere (a
 * staging tree) a crash can leave both names. */
int lfs_fs_rename_noreplace(struct lfs_fs *fs, int olddirfd, const char *old, int newdirfd,
                            const char *newname);

/* Payload: u32 length of the new name's path (relative to d/), the path.
 * decode checks the path like the record's own (relative, no "." or ".."
 * component, no NUL). */
size_t lfs_rename_record_encode(const char *newpath, size_t len, uint8_t *p);
int lfs_rename_record_decode(const uint8_t *p, size_t len, char *newpath, size_t cap);

/* Recovery: removes the old name (the record's path) when it and the new
 * name are both links of the recorded inode. 0 when done or nothing to
 * do; a negative errno keeps the record. */
int lfs_rename_record_apply(int data_dirfd, const struct lfs_journal_record *r);

#endif
