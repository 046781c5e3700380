/* SPDX-License-Identifier: Apache-2.0 */
/* The external anchor, checked: the copies of a vault's audit entries that
 * went to a systemd journal (audit_forward.h) against the vault's log. A
 * log rolled back together with its head verifies on its own; the journal
 * still holds the seqs and hashes of what was there, so a later seq in the
 * journal, or another hash at the same seq, is a rollback (docs/AUDIT.md
 * section 6). */
#ifndef LETHEFS_AUDIT_JOURNAL_H
#define LETHEFS_AUDIT_JOURNAL_H

#include <stdint.h>

#include "audit.h"
#include "audit_report.h"

/* Runs after lfs_audit_verify found the log intact: reads the journal
 * (dir: a directory of journal files, such as systemd-journal-remote
 * writes; NULL: this host's journal), keeps the records of this vault
 * (LETHEFS_UUID) and compares them with the log. Fills the journal_*
 * members of rep and, on a contradiction, its problem
 * (LFS_AUDIT_ROLLED_BACK). Returns 0, or -errno when the journal cannot be
 * opened or the log read. */
int lfs_audit_check_journal(int vault_dirfd, const struct lfs_vault_config *cfg, const char *dir,
                            struct lfs_audit_report *rep);

/* The same for one log: name in dirfd; host names a shared mount's own
 * log (its copies carry LETHEFS_HOST), NULL the main log (copies without
 * LETHEFS_HOST). */
int lfs_audit_check_journal_log(int dirfd, const char *name, const uint8_t uuid[16],
                                const char *host, const char *dir, struct lfs_audit_report *rep);

#endif
