/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the keyslot file decoder. Decoding is strict (every byte is
 * either a field or a checked-zero reserved byte), so anything it accepts
 * must re-encode to exactly the same bytes: a difference would mean two
 * files decode alike, i.e. some byte is silently ignored. */
#include "fuzz_common.h"

#include "../../keymgmt/keyslots.h"

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lfs_keyslots ks;
	uint8_t again[LFS_KEYSLOTS_FILE_LEN];
	if (lfs_keyslots_decode(data, size, &ks) != 0)
		return 0;
	FZ_CHECK(size == LFS_KEYSLOTS_FILE_LEN);
	lfs_keyslots_encode(&ks, again);
	FZ_CHECK(memcmp(again, data, size) == 0);
	int used = lfs_keyslots_count_used(&ks);
	FZ_CHECK(used >= 0 && used <= LFS_NSLOTS);
	for (int i = 0; i < LFS_NSLOTS; i++) {
		const struct lfs_keyslot *s = &ks.slot[i];
		/* Unlock will hand these to Argon2id: they must be bounded. */
		if (s->type != LFS_SLOT_EMPTY)
			FZ_CHECK(s->memlimit <= LFS_KDF_MEMLIMIT_MAX && s->opslimit >= 1);
		FZ_CHECK(strcmp(lfs_slot_type_name(s->type), "unknown") != 0);
	}
	return 0;
}
