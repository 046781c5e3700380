/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the journal (VAULT/lethefs.journal, read by the recovery at every
 * unlock): the slot decoder and the tail record payload. First byte:
 *   0  the rest is a slot, decoded under the fixed key (almost always
 *      refused: it must never crash, and a refusal must be clean);
 *   1  the rest is a slot that the target seals first (a valid MAC over
 *      the fuzzer's bytes), so the checks behind the MAC are reached; an
 *      accepted record must encode back to the very same bytes;
 *   2  the rest is a tail payload (fs/tail.c); accepted ones must encode
 *      back to the same bytes and describe lengths and blocks that fit;
 *   3  two bytes of bulk length (in blocks and a remainder), then an
 *      overwrite payload (fs/overwrite.c): accepted ones must encode back
 *      and describe a run whose bulk is exactly the length given. */
#include "fuzz_common.h"

#include <errno.h>

#include "../../fs/overwrite.h"
#include "../../fs/tail.h"
#include "../../journal/journal.h"

FZ_DEFINE_INIT

static uint8_t key[LFS_JOURNAL_KEY_LEN], uuid[16];

/* The MAC the journal puts after a record (journal.c): kept in step by the
 * round trip below, which fails if the two ever differ. */
static void seal(uint8_t *slot, size_t body)
{
	static const char domain[] = "lethefs journal record v1";
	crypto_generichash_state st;
	uint8_t s4[4] = {3, 0, 0, 0};
	crypto_generichash_init(&st, key, sizeof(key), 32);
	crypto_generichash_update(&st, (const uint8_t *)domain, sizeof(domain));
	crypto_generichash_update(&st, uuid, sizeof(uuid));
	crypto_generichash_update(&st, s4, sizeof(s4));
	crypto_generichash_update(&st, slot, body);
	crypto_generichash_final(&st, slot + body, 32);
}

static void slot_case(const uint8_t *in, size_t len, bool reseal)
{
	static uint8_t slot[LFS_JOURNAL_LARGE_LEN], again[LFS_JOURNAL_LARGE_LEN];
	static struct lfs_journal_record r;
	if (len > sizeof(slot))
		return;
	memset(slot, 0, sizeof(slot));
	memcpy(slot, in, len);
	size_t total = len;
	if (reseal) {
		if (len < LFS_JOURNAL_REC_FIXED)
			return;
		uint32_t pl = slot[168] | slot[169] << 8 | (uint32_t)slot[170] << 16 |
		              (uint32_t)slot[171] << 24;
		uint32_t yl = slot[172] | slot[173] << 8 | (uint32_t)slot[174] << 16 |
		              (uint32_t)slot[175] << 24;
		uint32_t bl = slot[176] | slot[177] << 8 | (uint32_t)slot[178] << 16 |
		              (uint32_t)slot[179] << 24;
		if (pl > LFS_JOURNAL_PATH_MAX || yl > LFS_JOURNAL_PAYLOAD_MAX ||
		    bl > LFS_JOURNAL_BULK_ROOM(pl, yl))
			return;
		size_t body = LFS_JOURNAL_REC_FIXED + pl + yl;
		if (body + 32 + bl > sizeof(slot))
			return;
		seal(slot, body);
		total = body + 32 + bl;
	}
	int e = lfs_journal_decode(key, uuid, 3, slot, total, &r);
	FZ_CHECK(e == 0 || e == -EINVAL || e == -EBADMSG || e == -ENOENT);
	if (e != 0)
		return;
	FZ_CHECK(reseal);
	FZ_CHECK(r.target.path_len <= LFS_JOURNAL_PATH_MAX &&
	         strlen(r.target.path) == r.target.path_len);
	/* Recovery opens it below the data directory: never absolute, and no
	 * "." or ".." component. */
	FZ_CHECK(r.target.path[0] != '/');
	for (const char *c = r.target.path; *c;) {
		size_t n = strcspn(c, "/");
		FZ_CHECK(n > 0 && !(n == 1 && c[0] == '.') && !(n == 2 && !strncmp(c, "..", 2)));
		c += n + (c[n] == '/');
	}
	FZ_CHECK(r.bulk_len == 0 || (r.bulk >= slot && r.bulk + r.bulk_len <= slot + total));
	FZ_CHECK(lfs_journal_encode(key, uuid, 3, &r, again, total) == 0);
	FZ_CHECK(memcmp(again, slot, total) == 0);
}

/* A tail record, checked against a file of either header version (the
 * record does not say which: recovery takes it from the file). */
static void tail_case(const uint8_t *in, size_t len, unsigned version)
{
	static uint8_t again[LFS_JOURNAL_PAYLOAD_MAX];
	struct lfs_layout l;
	struct lfs_tail t;
	lfs_layout_init(&l, LFS_CIPHER_XCHACHA20POLY1305, version);
	if (lfs_tail_decode(in, len, &l, &t) < 0)
		return;
	FZ_CHECK(len <= LFS_JOURNAL_PAYLOAD_MAX);
	FZ_CHECK(t.old_pivot_len <= l.block_disk && t.new_pivot_len <= l.block_disk);
	if (t.pivot_block != LFS_TAIL_NONE)
		FZ_CHECK(lfs_block_offset(&l, t.pivot_block) + t.new_pivot_len <= t.new_backing);
	FZ_CHECK(lfs_tail_encode(&t, again) == len && memcmp(again, in, len) == 0);
}

static void overwrite_case(const uint8_t *in, size_t len)
{
	uint8_t again[LFS_OVERWRITE_PAYLOAD_LEN];
	struct lfs_layout l;
	struct lfs_overwrite o;
	if (len < 2)
		return;
	lfs_layout_init(&l, LFS_CIPHER_XCHACHA20POLY1305, LFS_FILE_V1);
	size_t bulk = (size_t)in[0] * l.block_disk + in[1] * 17u;
	if (lfs_overwrite_decode(in + 2, len - 2, bulk, &l, &o) < 0)
		return;
	FZ_CHECK(len - 2 == LFS_OVERWRITE_PAYLOAD_LEN);
	FZ_CHECK(o.count >= 1 && o.last_len >= 1 && o.last_len <= l.block_disk);
	FZ_CHECK((size_t)(o.count - 1) * l.block_disk + o.last_len == bulk);
	FZ_CHECK(o.first_block + o.count - 1 <= o.final_block);
	FZ_CHECK(o.last_len == l.block_disk || o.first_block + o.count - 1 == o.final_block);
	FZ_CHECK(lfs_overwrite_encode(&o, again) == LFS_OVERWRITE_PAYLOAD_LEN &&
	         memcmp(again, in + 2, LFS_OVERWRITE_PAYLOAD_LEN) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fz_key(key, sizeof(key), FZ_SEED_MASTER);
	fz_key(uuid, sizeof(uuid), FZ_SEED_UUID);
	switch (data[0] % 4) {
	case 0:
		slot_case(data + 1, size - 1, false);
		break;
	case 1:
		slot_case(data + 1, size - 1, true);
		break;
	case 2:
		tail_case(data + 1, size - 1, LFS_FILE_V1);
		tail_case(data + 1, size - 1, LFS_FILE_V2);
		break;
	default:
		overwrite_case(data + 1, size - 1);
	}
	return 0;
}
