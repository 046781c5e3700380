/* SPDX-License-Identifier: Apache-2.0 */
#include "audit_keyring.h"

#include <errno.h>
#include <sodium.h>

int lfs_audit_key_from(struct lfs_keyring *kr, uint8_t key[32])
{
	/* Stored by rekey (the key the log was written under so far), else
	 * derived from the master key as every vault did before its first
	 * rekey. */
	int r = kr ? lfs_keyring_copy_audit_key(kr, key) : -EACCES;
	if (r != -ENOENT)
		return r;
	uint8_t master[LFS_MASTER_KEY_LEN];
	r = lfs_keyring_copy_master(kr, master);
	if (r == 0)
		lfs_audit_derive_key(key, master);
	sodium_memzero(master, sizeof(master));
	return r;
}

int lfs_audit_event(struct lfs_audit_log *log, struct lfs_keyring *kr, const char *event,
                    const char *outcome, const struct lfs_audit_caller *caller,
                    const struct lfs_audit_detail *details, size_t ndetails)
{
	uint8_t key[32];
	bool keyed = lfs_audit_key_from(kr, key) == 0;
	int r =
	    lfs_audit_append(log, keyed ? key : NULL, event, outcome, caller, details, ndetails);
	sodium_memzero(key, sizeof(key));
	return r;
}
