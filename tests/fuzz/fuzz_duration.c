/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the duration parser (common/duration.c: systemd.time(7)
 * spellings, fractions, compounds). Besides crashes, checks that an
 * accepted duration is within LFS_DURATION_MAX, that a rejected one leaves
 * the output alone, and that what lfs_format_duration writes parses back
 * to the same number of seconds. */
#include "fuzz_common.h"

#include "../../common/duration.h"

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256)
		return 0;
	char text[257];
	memcpy(text, data, size);
	text[size] = '\0';
	uint64_t v = 0x5a5a5a5a;
	if (lfs_parse_duration(text, &v) < 0) {
		FZ_CHECK(v == 0x5a5a5a5a);
		return 0;
	}
	FZ_CHECK(v <= LFS_DURATION_MAX);
	char back[64];
	FZ_CHECK(lfs_format_duration(v, back, sizeof(back)) > 0);
	uint64_t again = 0;
	FZ_CHECK(lfs_parse_duration(back, &again) == 0);
	FZ_CHECK(again == v);
	return 0;
}
