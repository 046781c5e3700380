/* SPDX-License-Identifier: Apache-2.0 */
/* Taking another host's changes of lethefs.keyring into a live keyring
 * (shared mode, docs/SHARED.md): a rotation started or finished elsewhere
 * adds or retires data epochs. */
#include "keyring.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

static bool has_epoch(const struct lfs_keyring *kr, uint32_t epoch)
{
	for (unsigned i = 0; i < kr->nepochs; i++)
		if (kr->sec->epochs[i].epoch == epoch)
			return true;
	return false;
}

/* With the write lock held: kr becomes what file (opened into from) says. */
static bool take_epochs(struct lfs_keyring *kr, const struct lfs_keyring *from)
{
	bool changed = false;
	/* Retired elsewhere: wiped here too, the remaining ones moved up. */
	for (unsigned i = 0; i < kr->nepochs;) {
		if (has_epoch(from, kr->sec->epochs[i].epoch)) {
			i++;
			continue;
		}
		memmove(&kr->sec->epochs[i], &kr->sec->epochs[i + 1],
		        (kr->nepochs - i - 1) * sizeof(kr->sec->epochs[0]));
		kr->nepochs--;
		sodium_memzero(&kr->sec->epochs[kr->nepochs], sizeof(kr->sec->epochs[0]));
		changed = true;
	}
	for (unsigned j = 0; j < from->nepochs && kr->nepochs < LFS_MAX_EPOCHS; j++) {
		if (has_epoch(kr, from->sec->epochs[j].epoch))
			continue;
		kr->sec->epochs[kr->nepochs++] = from->sec->epochs[j];
		changed = true;
	}
	if (kr->current_epoch != from->current_epoch && has_epoch(kr, from->current_epoch)) {
		kr->current_epoch = from->current_epoch;
		changed = true;
	}
	if (from->sec->has_audit_key &&
	    (!kr->sec->has_audit_key ||
	     sodium_memcmp(kr->sec->audit_key, from->sec->audit_key, 32) != 0)) {
		kr->sec->has_audit_key = true;
		memcpy(kr->sec->audit_key, from->sec->audit_key, 32);
		changed = true;
	}
	return changed;
}

int lfs_keyring_merge(struct lfs_keyring *kr, const uint8_t *file, size_t len, bool *changed)
{
	*changed = false;
	uint8_t master[LFS_MASTER_KEY_LEN];
	int r = lfs_keyring_copy_master(kr, master);
	if (r < 0)
		return r;
	struct lfs_keyring from;
	lfs_keyring_init(&from, kr->uuid, kr->cipher);
	r = lfs_keyring_unlock(&from, master, file, len);
	sodium_memzero(master, sizeof(master));
	if (r == 0) {
		pthread_rwlock_wrlock(&kr->lock);
		if (!kr->sec)
			r = -EACCES;
		else
			*changed = take_epochs(kr, &from);
		pthread_rwlock_unlock(&kr->lock);
	}
	lfs_keyring_destroy(&from); /* wipes */
	return r;
}
