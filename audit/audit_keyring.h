/* SPDX-License-Identifier: Apache-2.0 */
/* Audit entries from code that holds a keyring: the entry is keyed when
 * the keyring is unlocked (the audit key is derived for the one append and
 * wiped), chained only when it is locked. */
#ifndef LETHEFS_AUDIT_KEYRING_H
#define LETHEFS_AUDIT_KEYRING_H

#include "audit.h"
#include "../keymgmt/keyring.h"

/* kr may be NULL (no key). Returns what lfs_audit_append returns. */
int lfs_audit_event(struct lfs_audit_log *log, struct lfs_keyring *kr, const char *event,
                    const char *outcome, const struct lfs_audit_caller *caller,
                    const struct lfs_audit_detail *details, size_t ndetails);

/* The audit key into key (32 bytes, caller wipes): the one the keyring
 * stores since a rekey, else derived from the master key. -EACCES when kr
 * is locked. For events recorded after the keys are gone (a lock). */
int lfs_audit_key_from(struct lfs_keyring *kr, uint8_t key[32]);

#endif
