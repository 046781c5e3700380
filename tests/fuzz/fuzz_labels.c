/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the keyslot labels file decoder (keymgmt/slot_labels.c) with the
 * fixed key of fuzz_common.h: an accepted file holds at most
 * LFS_LABELS_MAX records, each for a slot 0-7 with a valid label; it
 * encodes back to the same bytes when every record verified; and looking a
 * label up never returns an unverified record when verification is asked. */
#include "fuzz_common.h"

#include "../../keymgmt/slot_labels.h"

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[32], uuid[16];
	fz_key(key, sizeof(key), FZ_SEED_MASTER);
	fz_key(uuid, sizeof(uuid), FZ_SEED_UUID);
	struct lfs_slot_labels l;
	if (lfs_labels_decode(data, size, uuid, key, &l) != 0)
		return 0;
	FZ_CHECK(l.n <= LFS_LABELS_MAX && size <= LFS_LABELS_FILE_MAX);
	bool all = true;
	for (unsigned i = 0; i < l.n; i++) {
		FZ_CHECK(l.rec[i].slot < LFS_NSLOTS);
		FZ_CHECK(lfs_label_valid(l.rec[i].text, strlen(l.rec[i].text)));
		all = all && l.rec[i].verified;
	}
	if (all) {
		static uint8_t again[LFS_LABELS_FILE_MAX];
		int n = lfs_labels_encode(&l, uuid, key, again);
		FZ_CHECK(n > 0 && (size_t)n == size && !memcmp(again, data, size));
	}
	struct lfs_keyslots ks;
	memset(&ks, 0, sizeof(ks));
	for (int i = 0; i < LFS_NSLOTS; i++) {
		ks.slot[i].type = LFS_SLOT_PASSPHRASE;
		const struct lfs_slot_label *r = lfs_labels_find(&l, &ks, i, true);
		FZ_CHECK(!r || (r->verified && r->slot == i));
	}
	return 0;
}
