/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the payload parser of a rotation batch record (kind 9,
 * rotation/batch.h), read by recovery and fsck from every authentic
 * record. Every entry it accepts must stay inside the payload and put back
 * into a fresh payload must give the very same bytes. */
#include "fuzz_common.h"

#include <errno.h>

#include "../../rotation/batch.h"

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[LFS_JOURNAL_PAYLOAD_MAX];
	static struct lfs_journal_target t;
	if (size > LFS_JOURNAL_PAYLOAD_MAX)
		return 0;
	uint32_t count = 0, n = 0, len = 0;
	if (lfs_rot_batch_count(data, size, &count) < 0)
		return 0;
	size_t off = 0;
	const uint8_t *old_raw, *new_raw;
	size_t hdr_len;
	int r;
	while ((r = lfs_rot_batch_next(data, size, &off, &t, &old_raw, &new_raw, &hdr_len)) > 0) {
		FZ_CHECK(off <= size && t.handle_len <= LFS_JOURNAL_HANDLE_MAX);
		FZ_CHECK(t.path_len <= LFS_JOURNAL_PATH_MAX && strlen(t.path) == t.path_len);
		FZ_CHECK(old_raw >= data && new_raw + hdr_len <= data + off);
		FZ_CHECK(lfs_rot_batch_put(again, &len, &t, old_raw, new_raw, hdr_len) == 0);
		n++;
	}
	FZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0 && n == count)
		FZ_CHECK(len == size && memcmp(again, data, size) == 0);
	return 0;
}
