/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the audit log back: a bounded line reader (for verify and show)
 * and the verifier, which checks every chain link, every MAC when given the
 * key, and the head file, and explains the first problem it meets. */
#ifndef LETHEFS_AUDIT_VERIFY_H
#define LETHEFS_AUDIT_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "audit_reader.h"
#include "audit_report.h"

/* Verifies the vault's log. key: the audit key, or NULL to check only the
 * chain and structure. Returns 0 when the check ran (rep->problem says how
 * it went), or -errno when the log could not be read. */
int lfs_audit_verify(int vault_dirfd, const struct lfs_vault_config *cfg, const uint8_t *key,
                     struct lfs_audit_report *rep);

/* The same for one log file: name in dirfd (its head is name.head),
 * chained from genesis. A name that is not a regular file: -EINVAL. */
int lfs_audit_verify_log(int dirfd, const char *name, const uint8_t genesis[32], const uint8_t *key,
                         struct lfs_audit_report *rep);

#endif
