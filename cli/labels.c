/* SPDX-License-Identifier: Apache-2.0 */
/* Keyslot labels around keyslot changes (labels.h). */
#include "labels.h"
#include "cli_error.h"
#include "../audit/audit_keyring.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

int lfs_cli_labels_key(struct lfs_keyring *kr, uint8_t key[32])
{
	uint8_t audit[32];
	int r = lfs_audit_key_from(kr, audit);
	if (r == 0)
		lfs_labels_key(key, audit);
	sodium_memzero(audit, sizeof(audit));
	return r;
}

void lfs_cli_labels_load(struct lfs_vault *v, const uint8_t *key, struct lfs_slot_labels *out)
{
	int r = lfs_labels_load(v->dirfd, v->cfg.uuid, key, out);
	if (r < 0) {
		lfs_cli_error("ignoring %s/%s: %s", v->path, LFS_LABELS_FILE_NAME,
		              r == -EINVAL ? "malformed or of another vault" : strerror(-r));
		memset(out, 0, sizeof(*out));
	}
}

int lfs_cli_labels_begin(struct lfs_vault *v, const uint8_t key[32], const struct lfs_keyslots *ks,
                         int relabel_idx, const char *relabel_text, struct lfs_slot_labels *next)
{
	struct lfs_slot_labels old, both;
	lfs_cli_labels_load(v, key, &old);
	memset(next, 0, sizeof(*next));
	memset(&both, 0, sizeof(both));
	int r = 0;
	for (int i = 0; i < LFS_NSLOTS && r == 0; i++) {
		const struct lfs_slot_label *was = lfs_labels_find(&old, &v->slots, i, true);
		uint8_t h[32];
		if (was)
			r = lfs_labels_put(&both, i, was->slot_hash, was->text);
		if (r < 0 || ks->slot[i].type == LFS_SLOT_EMPTY)
			continue;
		const char *text = i == relabel_idx && relabel_text ? relabel_text
		                   : was                            ? was->text
		                                                    : NULL;
		if (!text)
			continue;
		lfs_slot_hash(h, ks, i);
		r = lfs_labels_put(next, i, h, text);
		if (r == 0)
			r = lfs_labels_put(&both, i, h, text);
	}
	if (r == 0 && both.n)
		r = lfs_labels_store(v->dirfd, v->cfg.uuid, key, &both);
	return r;
}

void lfs_cli_labels_finish(struct lfs_vault *v, const uint8_t key[32],
                           const struct lfs_slot_labels *next)
{
	int r = lfs_labels_store(v->dirfd, v->cfg.uuid, key, next);
	if (r < 0)
		lfs_cli_error("warning: cannot rewrite %s/%s: %s (its stale records are ignored)",
		              v->path, LFS_LABELS_FILE_NAME, strerror(-r));
}
